// dense.hpp's float64 gemm and syrk kernels.
// Compiled once per CPU variant (one file per scalar type / kernel family, so that the variants'
// slowest compiles run in parallel).
#include "products.hpp"

namespace kktunlearn {
namespace dense {
namespace impl {

void gemm_d(int ta, int tb, Index m, Index n, Index k, double alpha, const double* A, Index lda, const double* B,
            Index ldb, double beta, double* C, Index ldc) {
  gemm<double>(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}
void syrk_d(Index n, Index k, const double* A, Index lda, double* C, Index ldc) { syrk<double>(n, k, A, lda, C, ldc); }

}  // namespace impl
}  // namespace dense
}  // namespace kktunlearn
