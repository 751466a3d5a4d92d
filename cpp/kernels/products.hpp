// The templates behind dense.hpp's gemm and syrk kernels (internal to cpp/kernels/): Eigen's blocked
// products on row-major maps, serial (the callers split the work into fixed blocks).
#pragma once

#include "kernels.hpp"

// Eigen's AVX-512 GEMM micro-kernel (arch/AVX512/GemmKernel.h) is compiled twice per scalar type, for
// alpha == 1 (C += AB) and for any alpha (C += alpha AB); each copy is ~5 s of compile. The alpha == 1
// copy is specialized here to call the general one. The results are the same bits: the general kernel
// updates C by fma(acc, alpha, C), which for alpha = 1 is the correctly rounded acc + C that the
// alpha == 1 kernel computes. Guarded to the vendored Eigen's series (5.0.x) and its kernel signature; any
// other Eigen builds both copies as before. (Every kernel file that multiplies includes this header, so no file sees
// the implicit instantiation.)
#if defined(EIGEN_VECTORIZE_AVX512) && defined(EIGEN_USE_AVX512_GEMM_KERNELS) && EIGEN_USE_AVX512_GEMM_KERNELS && \
    EIGEN_VERSION_AT_LEAST(5, 0, 0) && !EIGEN_VERSION_AT_LEAST(5, 1, 0)
namespace Eigen {
namespace internal {
#define KKTUNLEARN_ALPHA1_VIA_GENERAL(S, MR)                                                                         \
  template <>                                                                                                        \
  inline void gemm_kern_avx512<S, MR, 8, true, false, true>(                                                        \
      Index m, Index n, Index k, S * alpha, const S* a, const S* b, S* c, Index ldc, Index inc, Index a_stride,      \
      Index b_stride, Index a_off, Index b_off) {                                                                    \
    gemm_kern_avx512<S, MR, 8, false, false, true>(m, n, k, alpha, a, b, c, ldc, inc, a_stride, b_stride, a_off,     \
                                                   b_off);                                                           \
  }
KKTUNLEARN_ALPHA1_VIA_GENERAL(double, 24)
KKTUNLEARN_ALPHA1_VIA_GENERAL(float, 48)
#undef KKTUNLEARN_ALPHA1_VIA_GENERAL
}  // namespace internal
}  // namespace Eigen
#endif

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
