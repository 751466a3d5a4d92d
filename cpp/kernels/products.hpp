// The templates behind dense.hpp's gemm and syrk kernels (internal to cpp/kernels/): Eigen's blocked
// products on row-major maps, serial (the callers split the work into fixed blocks).
#pragma once

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
}  // namespace impl
}  // namespace dense
}  // namespace kktunlearn
