// dense.hpp's gemm and syrk kernels: Eigen's blocked products on row-major maps (serial; the callers
// split the work into fixed blocks). Compiled once per CPU variant.
#include "kernels.hpp"

namespace kktunlearn {
namespace dense {
namespace impl {
namespace {

template <class T>
using CMap = Eigen::Map<const RowMatrix<T>, 0, Eigen::OuterStride<>>;
template <class T>
using MMap = Eigen::Map<RowMatrix<T>, 0, Eigen::OuterStride<>>;

template <class T>
void gemm(int ta, int tb, Index m, Index n, Index k, T alpha, const T* A, Index lda, const T* B, Index ldb, T beta,
          T* C, Index ldc) {
  MMap<T> Cm(C, m, n, Eigen::OuterStride<>(ldc));
  if (beta == T(0)) {
    Cm.setZero();
  } else if (beta != T(1)) {
    Cm *= beta;
  }
  if (m == 0 || n == 0 || k == 0 || alpha == T(0)) return;
  // stored shapes: A is (k x m) when transposed, else (m x k); B is (n x k) when transposed, else (k x n)
  const CMap<T> Am(A, ta ? k : m, ta ? m : k, Eigen::OuterStride<>(lda));
  const CMap<T> Bm(B, tb ? n : k, tb ? k : n, Eigen::OuterStride<>(ldb));
  if (!ta && !tb) {
    Cm.noalias() += alpha * Am * Bm;
  } else if (!ta && tb) {
    Cm.noalias() += alpha * Am * Bm.transpose();
  } else if (ta && !tb) {
    Cm.noalias() += alpha * Am.transpose() * Bm;
  } else {
    Cm.noalias() += alpha * Am.transpose() * Bm.transpose();
  }
}

template <class T>
void syrk(Index n, Index k, const T* A, Index lda, T* C, Index ldc) {
  MMap<T> Cm(C, n, n, Eigen::OuterStride<>(ldc));
  const CMap<T> Am(A, n, k, Eigen::OuterStride<>(lda));
  Cm.template selfadjointView<Eigen::Lower>().rankUpdate(Am);
}

}  // namespace

void gemv_d(int ta, Index m, Index n, double alpha, const double* A, Index lda, const double* x, double beta,
            double* y) {
  const CMap<double> Am(A, m, n, Eigen::OuterStride<>(lda));
  const Index ny = ta ? n : m, nx = ta ? m : n;
  Eigen::Map<Vectord> ym(y, ny);
  const Eigen::Map<const Vectord> xm(x, nx);
  if (beta == 0.0) {
    ym.setZero();
  } else if (beta != 1.0) {
    ym *= beta;
  }
  if (nx == 0 || alpha == 0.0) return;
  if (ta) {
    ym.noalias() += alpha * (Am.transpose() * xm);
  } else {
    ym.noalias() += alpha * (Am * xm);
  }
}

void trsm_d(int right, int trans, Index m, Index n, const double* L, Index ldl, double* B, Index ldb) {
  using CM = Eigen::Map<const Eigen::MatrixXd, 0, Eigen::OuterStride<>>;
  const Index k = right ? n : m;
  const CM Lm(L, k, k, Eigen::OuterStride<>(ldl));
  Eigen::Map<Eigen::MatrixXd, 0, Eigen::OuterStride<>> Bm(B, m, n, Eigen::OuterStride<>(ldb));
  if (!right && !trans) {
    Lm.triangularView<Eigen::Lower>().solveInPlace(Bm);
  } else if (!right && trans) {
    Lm.transpose().triangularView<Eigen::Upper>().solveInPlace(Bm);
  } else if (right && !trans) {
    Lm.triangularView<Eigen::Lower>().template solveInPlace<Eigen::OnTheRight>(Bm);
  } else {
    Lm.transpose().triangularView<Eigen::Upper>().template solveInPlace<Eigen::OnTheRight>(Bm);
  }
}

void gemm_d(int ta, int tb, Index m, Index n, Index k, double alpha, const double* A, Index lda, const double* B,
            Index ldb, double beta, double* C, Index ldc) {
  gemm<double>(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}
void gemm_f(int ta, int tb, Index m, Index n, Index k, float alpha, const float* A, Index lda, const float* B,
            Index ldb, float beta, float* C, Index ldc) {
  gemm<float>(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}
void syrk_d(Index n, Index k, const double* A, Index lda, double* C, Index ldc) { syrk<double>(n, k, A, lda, C, ldc); }
void syrk_f(Index n, Index k, const float* A, Index lda, float* C, Index ldc) { syrk<float>(n, k, A, lda, C, ldc); }

}  // namespace impl
}  // namespace dense
}  // namespace kktunlearn
