// The kernel implementations behind dense.hpp's table (internal to cpp/kernels/).
#pragma once

#include <kktunlearn/dense.hpp>

namespace kktunlearn {
namespace dense {
namespace impl {

void gemm_d(int ta, int tb, Index m, Index n, Index k, double alpha, const double* A, Index lda, const double* B,
            Index ldb, double beta, double* C, Index ldc);
void gemm_f(int ta, int tb, Index m, Index n, Index k, float alpha, const float* A, Index lda, const float* B,
            Index ldb, float beta, float* C, Index ldc);
void syrk_d(Index n, Index k, const double* A, Index lda, double* C, Index ldc);
void syrk_f(Index n, Index k, const float* A, Index lda, float* C, Index ldc);
void gemv_d(int ta, Index m, Index n, double alpha, const double* A, Index lda, const double* x, double beta,
            double* y);
void trsm_d(int right, int trans, Index m, Index n, const double* L, Index ldl, double* B, Index ldb);
void widen_f(Index rows, Index cols, const float* A, Index lda, double* out);
void normal_row_d(std::uint64_t seed, std::uint32_t stream, std::uint32_t row, std::uint64_t col0, Index len,
                  double scale, double* out, const double* v, double coef);
void normal_row_f(std::uint64_t seed, std::uint32_t stream, std::uint32_t row, std::uint64_t col0, Index len,
                  double scale, float* out, const double* v, double coef);
void outputs_d(Index n, Index m, const double* Z, Index ldz, const double* u, double slope, double* out);
void outputs_f(Index n, Index m, const float* Z, Index ldz, const float* u, double slope, double* out);
void coefficients_d(Index n, Index m, const double* Z, Index ldz, const double* u, const double* c, double slope,
                    double* G, Index ldg);
void coefficients_f(Index n, Index m, const float* Z, Index ldz, const float* u, const double* c, double slope,
                    float* G, Index ldg);

}  // namespace impl
}  // namespace dense
}  // namespace kktunlearn
