// dense.hpp's float32 gemm and syrk kernels.
// Compiled once per CPU variant (one file per scalar type / kernel family, so that the variants'
// slowest compiles run in parallel).
#include "products.hpp"

namespace kktunlearn {
namespace dense {
namespace impl {

void gemm_f(int ta, int tb, Index m, Index n, Index k, float alpha, const float* A, Index lda, const float* B,
            Index ldb, float beta, float* C, Index ldc) {
  gemm<float>(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}
void widen_f(Index rows, Index cols, const float* A, Index lda, double* out) {
  for (Index r = 0; r < rows; ++r) {
    const float* a = A + r * lda;
    double* o = out + r * cols;
    for (Index c = 0; c < cols; ++c) o[c] = static_cast<double>(a[c]);
  }
}
void syrk_f(Index n, Index k, const float* A, Index lda, float* C, Index ldc) { syrk<float>(n, k, A, lda, C, ldc); }

}  // namespace impl
}  // namespace dense
}  // namespace kktunlearn
