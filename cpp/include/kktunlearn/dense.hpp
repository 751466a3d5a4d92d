// kktunlearn: the hot dense kernels behind one table of function pointers (runtime CPU dispatch).
//
// Everything that is d-sized or O(n^3) in the library funnels through a handful of kernels:
//   gemm   C = beta C + alpha op(A) op(B)            (row-major storage, op = identity or transpose)
//   syrk   lower(C) += A A^T                          (the symmetric products of K = X X^T)
//   gemv   y = beta y + alpha op(A) x                 (the multiplier solver's dual residuals)
//   trsm   op(L)^{-1} B, B op(L)^{-1}                 (the multiplier solver's Cholesky solves)
//   widen  double(A) for float A                      (the float32 paths' exact products, double sums)
//   normal_row                                       (the counter-based generator's row segments)
//   outputs, coefficients                            (a training step's sum_j u_j sigma(Z_ij) and
//                                                     c_i u_j sigma'(Z_ij), elementwise over n x m)
// The library's own build of them is compiled into the extension with the rest of the core
// (baseline ISA). On x86-64 the same kernel sources are compiled again for x86-64-v3 (AVX2 + FMA)
// and x86-64-v4 (AVX-512) into small separate modules; kktunlearn/_dispatch.py installs the best one
// the CPU supports with set_active() at import. Only these kernels are compiled per ISA, so a build
// with every CPU variant costs little more than one, and every other line of the core (training
// loops, solvers, bindings) exists once. Each variant is its own shared object with hidden
// visibility, so Eigen code compiled with different flags never mixes inside one object.
//
// The arguments are raw pointers and sizes (a C-style ABI: nothing whose layout could depend on the
// ISA flags crosses the module boundary). The kernels are serial; callers split the work into fixed
// blocks (independent of the thread count), so results stay bit-identical for any thread count.
#pragma once

#include <atomic>
#include <cstdint>
#include <type_traits>

#include "common.hpp"

namespace kktunlearn {
namespace dense {

template <class T>
using GemmFn = void (*)(int ta, int tb, Index m, Index n, Index k, T alpha, const T* A, Index lda, const T* B,
                        Index ldb, T beta, T* C, Index ldc);
template <class T>
using SyrkFn = void (*)(Index n, Index k, const T* A, Index lda, T* C, Index ldc);
/// y = beta y + alpha op(A) x, A stored row-major (m x n, lda); x and y contiguous
template <class T>
using GemvFn = void (*)(int ta, Index m, Index n, T alpha, const T* A, Index lda, const T* x, T beta, T* y);
/// B <- op(L)^{-1} B (right = 0) or B op(L)^{-1} (right = 1), L lower triangular (k x k), op = transpose
/// when trans; column-major storage: L (ldl), B (m x n, ldb)
using TrsmFn = void (*)(int right, int trans, Index m, Index n, const double* L, Index ldl, double* B, Index ldb);
/// out (rows x cols, contiguous) = double(A) for A float, stored row-major with leading dimension lda
using WidenFn = void (*)(Index rows, Index cols, const float* A, Index lda, double* out);
template <class T>
using NormalRowFn = void (*)(std::uint64_t seed, std::uint32_t stream, std::uint32_t row, std::uint64_t col0,
                             Index len, double scale, T* out, const double* v, double coef);

/// out[i] = sum_j double(u_j) double(sigma(Z_ij)), j in order from 0 (no FMA); sigma(z) = sigma'(z) z in T,
/// sigma'(z) = 1 for z > 0, else slope. Z row-major (n x m, ldz).
template <class T>
using OutputsFn = void (*)(Index n, Index m, const T* Z, Index ldz, const T* u, double slope, double* out);
/// G_ij = T(c_i double(u_j) double(sigma'(Z_ij))) (the product left to right, no FMA); Z and G row-major.
template <class T>
using CoefficientsFn = void (*)(Index n, Index m, const T* Z, Index ldz, const T* u, const double* c, double slope,
                                T* G, Index ldg);

/// Bump when the table's layout or a kernel's contract changes (a variant module of another ABI is refused).
constexpr int kKernelAbi = 2;

struct Kernels {
  int abi;
  const char* name;  // "baseline", "avx2", "avx512"
  GemmFn<double> gemm_d;
  GemmFn<float> gemm_f;
  SyrkFn<double> syrk_d;
  SyrkFn<float> syrk_f;
  NormalRowFn<double> normal_row_d;
  NormalRowFn<float> normal_row_f;
  GemvFn<double> gemv_d;
  TrsmFn trsm_d;
  WidenFn widen_f;
  OutputsFn<double> outputs_d;
  OutputsFn<float> outputs_f;
  CoefficientsFn<double> coefficients_d;
  CoefficientsFn<float> coefficients_f;
};

/// This shared object's own build of the kernels (cpp/kernels/*.cpp).
const Kernels* builtin_kernels();

inline std::atomic<const Kernels*>& active_slot() {
  static std::atomic<const Kernels*> slot{nullptr};
  return slot;
}
/// The kernels in use: the installed variant, else the built-in ones.
inline const Kernels& active() {
  const Kernels* k = active_slot().load(std::memory_order_acquire);
  return k ? *k : *builtin_kernels();
}
/// Install a variant's table (nullptr: back to the built-in kernels). Not to be called while kernels run.
inline void set_active(const Kernels* k) {
  if (k && k->abi != kKernelAbi)
    throw InvalidArgument("dense kernels: the variant's ABI " + std::to_string(k->abi) + " is not this core's " +
                          std::to_string(kKernelAbi) + " (mixed builds)");
  active_slot().store(k, std::memory_order_release);
}

namespace detail {
template <class T>
inline GemmFn<T> gemm_fn(const Kernels& k) {
  if constexpr (std::is_same<T, double>::value) return k.gemm_d; else return k.gemm_f;
}
template <class T>
inline SyrkFn<T> syrk_fn(const Kernels& k) {
  if constexpr (std::is_same<T, double>::value) return k.syrk_d; else return k.syrk_f;
}
/// A direct-access operand as (pointer, leading dimension, transposed?) over row-major storage:
/// a row-major a is stored as itself; a column-major a is the row-major storage of a^T.
template <class S>
struct Operand {
  const S* p;
  Index ld;
  bool t;
};
template <class D>
Operand<typename D::Scalar> operand(const Eigen::MatrixBase<D>& a, bool trans) {
  static_assert(bool(D::Flags & Eigen::DirectAccessBit), "dense::gemm: operands must have direct access");
  if constexpr (bool(D::IsRowMajor)) {
    return {a.derived().data(), a.rows() == 1 ? std::max<Index>(a.cols(), 1) : Index(a.derived().outerStride()), trans};
  } else {
    return {a.derived().data(), a.cols() == 1 ? std::max<Index>(a.rows(), 1) : Index(a.derived().outerStride()), !trans};
  }
}
template <class D>
bool unit_inner(const Eigen::MatrixBase<D>& a) {
  return a.size() <= 1 || a.derived().innerStride() == 1 || (bool(D::IsRowMajor) ? a.cols() == 1 : a.rows() == 1);
}
}  // namespace detail

/// C = beta C + alpha op_a(A) op_b(B), op = transpose when ta / tb; A, B and C any direct-access Eigen
/// matrices or blocks (either storage order). C must not alias A or B.
template <class DA, class DB, class DC>
void gemm(typename DC::Scalar alpha, const Eigen::MatrixBase<DA>& A, bool ta, const Eigen::MatrixBase<DB>& B,
          bool tb, typename DC::Scalar beta, const Eigen::MatrixBase<DC>& Cc) {
  using T = typename DC::Scalar;
  static_assert(std::is_same<typename DA::Scalar, T>::value && std::is_same<typename DB::Scalar, T>::value,
                "dense::gemm: one scalar type");
  auto& C = const_cast<Eigen::MatrixBase<DC>&>(Cc).derived();
  const Index m = ta ? A.cols() : A.rows(), k = ta ? A.rows() : A.cols();
  const Index n = tb ? B.rows() : B.cols();
  require((tb ? B.cols() : B.rows()) == k && C.rows() == m && C.cols() == n, "dense::gemm: shape mismatch");
  if (m == 0 || n == 0) return;
  if (!detail::unit_inner(A)) {
    const RowMatrix<T> Ac = A;
    return gemm(alpha, Ac, ta, B, tb, beta, Cc);
  }
  if (!detail::unit_inner(B)) {
    const RowMatrix<T> Bc = B;
    return gemm(alpha, A, ta, Bc, tb, beta, Cc);
  }
  if (!detail::unit_inner(C)) {
    RowMatrix<T> Ct = C;
    gemm(alpha, A, ta, B, tb, beta, Ct);
    C = Ct;
    return;
  }
  const auto a = detail::operand(A, ta), b = detail::operand(B, tb);
  const GemmFn<T> f = detail::gemm_fn<T>(active());
  using DCd = typename std::decay<decltype(C)>::type;
  if constexpr (bool(DCd::IsRowMajor)) {
    const Index ldc = m == 1 ? std::max<Index>(n, 1) : Index(C.outerStride());
    f(a.t, b.t, m, n, k, alpha, a.p, a.ld, b.p, b.ld, beta, C.data(), ldc);
  } else {
    // C column-major: its storage is the row-major C^T = op(B)^T op(A)^T
    const Index ldc = n == 1 ? std::max<Index>(m, 1) : Index(C.outerStride());
    f(!b.t, !a.t, n, m, k, alpha, b.p, b.ld, a.p, a.ld, beta, C.data(), ldc);
  }
}

/// y = beta y + alpha op_a(A) x (double; A a direct-access matrix or block in either storage order, x
/// and y vectors or segments). y must not alias A or x. A column-major A is the row-major storage of
/// A^T, so it is passed as such with the transposition flipped; other layouts are copied first.
template <class DA, class DX, class DY>
void gemv(double alpha, const Eigen::MatrixBase<DA>& A, bool ta, const Eigen::MatrixBase<DX>& x, double beta,
          const Eigen::MatrixBase<DY>& yc) {
  static_assert(std::is_same<typename DA::Scalar, double>::value, "dense::gemv: double");
  auto& y = const_cast<Eigen::MatrixBase<DY>&>(yc).derived();
  const Index rows = ta ? A.cols() : A.rows(), cols = ta ? A.rows() : A.cols();
  require(x.size() == cols && y.size() == rows, "dense::gemv: shape mismatch");
  if (rows == 0) return;
  if (!detail::unit_inner(A) || x.derived().innerStride() != 1 || y.derived().innerStride() != 1) {
    const RowMatrix<double> Ac = A;
    const Vectord xc = x;
    Vectord yv = y;
    active().gemv_d(ta, Ac.rows(), Ac.cols(), alpha, Ac.data(), std::max<Index>(Ac.cols(), 1), xc.data(), beta,
                    yv.data());
    y = yv;
    return;
  }
  if (cols == 0) {
    // an empty sum: y = beta y (the kernel would read no A)
    if (beta == 0.0) y.setZero(); else y *= beta;
    return;
  }
  const auto a = detail::operand(A, ta);  // row-major storage (a.p, a.ld) of A, or of A^T when a.t differs
  const Index sr = a.t == ta ? A.rows() : A.cols(), sc = a.t == ta ? A.cols() : A.rows();
  active().gemv_d(a.t, sr, sc, alpha, a.p, a.ld, x.derived().data(), beta, y.data());
}

/// op_a(A) x as a new vector (gemv with beta = 0).
template <class DA, class DX>
Vectord mv(const Eigen::MatrixBase<DA>& A, bool ta, const Eigen::MatrixBase<DX>& x) {
  Vectord y(ta ? A.cols() : A.rows());
  gemv(1.0, A, ta, x, 0.0, y);
  return y;
}

/// op_a(A) op_b(B) as a new row-major matrix (gemm with beta = 0).
template <class DA, class DB>
RowMatrix<typename DA::Scalar> mm(const Eigen::MatrixBase<DA>& A, bool ta, const Eigen::MatrixBase<DB>& B, bool tb) {
  RowMatrix<typename DA::Scalar> C(ta ? A.cols() : A.rows(), tb ? B.rows() : B.cols());
  gemm(typename DA::Scalar(1), A, ta, B, tb, typename DA::Scalar(0), C);
  return C;
}

/// B <- op(L)^{-1} B, or B op(L)^{-1} with `right`, for the lower triangle of L (op = transpose when
/// `trans`); L and B column-major direct-access double matrices or blocks.
template <class DL, class DB>
void trsm_lower(bool right, bool trans, const Eigen::MatrixBase<DL>& L, const Eigen::MatrixBase<DB>& Bc) {
  static_assert(std::is_same<typename DL::Scalar, double>::value && !bool(DL::IsRowMajor),
                "dense::trsm_lower: column-major double L");
  auto& B = const_cast<Eigen::MatrixBase<DB>&>(Bc).derived();
  using DBd = typename std::decay<decltype(B)>::type;
  static_assert(!bool(DBd::IsRowMajor), "dense::trsm_lower: column-major B");
  const Index k = L.rows();
  require(L.cols() == k && (right ? B.cols() : B.rows()) == k, "dense::trsm_lower: shape mismatch");
  if (B.size() == 0) return;
  require(detail::unit_inner(L) && B.innerStride() == 1, "dense::trsm_lower: unit inner stride");
  const Index ldl = std::max<Index>(Index(L.derived().outerStride()), k);
  const Index ldb = B.cols() == 1 ? std::max<Index>(B.rows(), 1) : Index(B.outerStride());
  active().trsm_d(right, trans, B.rows(), B.cols(), L.derived().data(), ldl, B.data(), ldb);
}

/// out = double(a) for a row-major direct-access matrix or block (the float32 paths' exact products
/// with double sums convert their operands slice by slice through this; a double input is copied).
template <class D>
void widen(const Eigen::MatrixBase<D>& a, RowMatrixd& out) {
  out.resize(a.rows(), a.cols());
  if (a.size() == 0) return;
  if (!std::is_same<typename D::Scalar, float>::value || !bool(D::IsRowMajor) || !detail::unit_inner(a)) {
    out = a.template cast<double>();
    return;
  }
  if constexpr (std::is_same<typename D::Scalar, float>::value) {
    const Index lda = a.rows() == 1 ? std::max<Index>(a.cols(), 1) : Index(a.derived().outerStride());
    active().widen_f(a.rows(), a.cols(), a.derived().data(), lda, out.data());
  }
}

/// lower(C) += A A^T (C n x n, A n x k; the strict upper triangle of C is not touched).
template <class DA, class DC>
void syrk_lower(const Eigen::MatrixBase<DA>& A, const Eigen::MatrixBase<DC>& Cc) {
  using T = typename DC::Scalar;
  static_assert(std::is_same<typename DA::Scalar, T>::value, "dense::syrk_lower: one scalar type");
  static_assert(bool(std::decay<decltype(Cc.derived())>::type::IsRowMajor), "dense::syrk_lower: row-major C");
  auto& C = const_cast<Eigen::MatrixBase<DC>&>(Cc).derived();
  const Index n = A.rows(), k = A.cols();
  require(C.rows() == n && C.cols() == n, "dense::syrk_lower: shape mismatch");
  if (n == 0 || k == 0) return;
  if (!detail::unit_inner(A) || !bool(DA::IsRowMajor)) {
    const RowMatrix<T> Ac = A;
    return syrk_lower(Ac, Cc);
  }
  const Index lda = n == 1 ? std::max<Index>(k, 1) : Index(A.derived().outerStride());
  const Index ldc = n == 1 ? 1 : Index(C.outerStride());
  detail::syrk_fn<T>(active())(n, k, A.derived().data(), lda, C.data(), ldc);
}

}  // namespace dense

/// Deterministic blocked GEMM helpers (results independent of the thread count).
/// out (n x m) = A (n x k) * B(m x k)^T, tiled over the output; for float with k > 4096 the sum
/// over k is done in double (see Accumulate).
/// `widen_above` moves that threshold (0 = always sum in double; then `out` may be a double matrix, which
/// receives the double sums unrounded).
template <class T, class DA, class DB, class DO>
void gemm_abt(const Eigen::MatrixBase<DA>& A, const Eigen::MatrixBase<DB>& B, Eigen::MatrixBase<DO>& out,
              int n_threads, Index widen_above = Accumulate<T>::threshold) {
  const Index n = A.rows(), m = B.rows(), k = A.cols();
  // Tile shape from the shapes only (never from the thread count, so results are reproducible):
  // whole rows of B per tile while m <= 512 (B is packed once per tile), and about 8 row tiles
  // of 16..256 rows so that both threads get work.
  const Index cb = m <= 512 ? std::max<Index>(m, 1) : 256;
  const Index rb = std::min<Index>(256, std::max<Index>(16, (n + 7) / 8));
  // under ~1e6 multiply-adds (tens of microseconds) waking a second thread costs more than it saves, and on a
  // shared machine a descheduled one stalls the call for a scheduler tick: run the same tiles serially
  if (static_cast<double>(n) * static_cast<double>(m) * static_cast<double>(k) < 1e6) n_threads = 1;
  using OutT = typename DO::Scalar;
  if (std::is_same<T, double>::value || k <= widen_above) {
    if constexpr (std::is_same<OutT, T>::value) {
      parallel_tiles(n, m, rb, cb, n_threads, [&](Index r0, Index r1, Index c0, Index c1) {
        dense::gemm(T(1), A.middleRows(r0, r1 - r0), false, B.middleRows(c0, c1 - c0), true, T(0),
                    out.block(r0, c0, r1 - r0, c1 - c0));
      });
      return;
    } else {
      throw InvalidArgument("gemm_abt: a float64 output of float input needs the double sums (widen_above = 0)");
    }
  }
  const Index kc = Accumulate<float>::chunk;
  parallel_tiles(n, m, rb, cb, n_threads, [&](Index r0, Index r1, Index c0, Index c1) {
    RowMatrix<double> acc = RowMatrix<double>::Zero(r1 - r0, c1 - c0);
    RowMatrix<double> Ad, Bd;
    for (Index k0 = 0; k0 < k; k0 += kc) {
      const Index kk = std::min(kc, k - k0);
      dense::widen(A.block(r0, k0, r1 - r0, kk), Ad);
      dense::widen(B.block(c0, k0, c1 - c0, kk), Bd);
      dense::gemm(1.0, Ad, false, Bd, true, 1.0, acc);
    }
    out.block(r0, c0, r1 - r0, c1 - c0) = acc.template cast<OutT>();
  });
}

}  // namespace kktunlearn
