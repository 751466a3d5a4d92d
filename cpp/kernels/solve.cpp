// dense.hpp's float64 matrix-vector product and triangular solves (the multiplier solver).
// Compiled once per CPU variant (one file per scalar type / kernel family, so that the variants'
// slowest compiles run in parallel).
#include "products.hpp"

namespace kktunlearn {
namespace dense {
namespace impl {

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

// Blocked triangular solves on the gemm kernel: 64 x 64 diagonal blocks by substitution, the rest of
// the work as matrix products (Eigen's own triangular solvers are one large template instantiation per
// side and transposition, which made this file the slowest of the variant builds). Column-major L and B.
void trsm_d(int right, int trans, Index m, Index n, const double* L, Index ldl, double* B, Index ldb) {
  using CM = Eigen::Map<const Eigen::MatrixXd, 0, Eigen::OuterStride<>>;
  using MM = Eigen::Map<Eigen::MatrixXd, 0, Eigen::OuterStride<>>;
  constexpr Index nb = 64;
  const Index k = right ? n : m;
  const CM Lm(L, k, k, Eigen::OuterStride<>(ldl));
  MM Bm(B, m, n, Eigen::OuterStride<>(ldb));
  auto l = [&](Index i, Index j) { return L[i + j * ldl]; };
  auto b = [&](Index i, Index j) -> double& { return B[i + j * ldb]; };
  if (!right && !trans) {  // L X = B: forward, by row blocks
    for (Index i0 = 0; i0 < k; i0 += nb) {
      const Index i1 = std::min(k, i0 + nb);
      for (Index c = 0; c < n; ++c)
        for (Index p = i0; p < i1; ++p) {  // column form: L's columns are contiguous
          const double x = b(p, c) /= l(p, p);
          for (Index i = p + 1; i < i1; ++i) b(i, c) -= l(i, p) * x;
        }
      if (i1 < k)
        dense::gemm(-1.0, Lm.block(i1, i0, k - i1, i1 - i0), false, Bm.middleRows(i0, i1 - i0), false, 1.0,
             Bm.middleRows(i1, k - i1));
    }
  } else if (!right && trans) {  // L^T X = B: backward, by row blocks
    for (Index i1 = k; i1 > 0; i1 -= std::min(nb, i1)) {
      const Index i0 = std::max<Index>(0, i1 - nb);
      for (Index c = 0; c < n; ++c)
        for (Index i = i1 - 1; i >= i0; --i) {
          double x = b(i, c);
          for (Index p = i + 1; p < i1; ++p) x -= l(p, i) * b(p, c);
          b(i, c) = x / l(i, i);
        }
      if (i0 > 0)
        dense::gemm(-1.0, Lm.block(i0, 0, i1 - i0, i0), true, Bm.middleRows(i0, i1 - i0), false, 1.0, Bm.topRows(i0));
    }
  } else if (right && trans) {  // X L^T = B: forward, by column blocks
    for (Index j0 = 0; j0 < k; j0 += nb) {
      const Index j1 = std::min(k, j0 + nb);
      for (Index j = j0; j < j1; ++j) {
        for (Index p = j0; p < j; ++p) {
          const double ljp = l(j, p);
          for (Index r = 0; r < m; ++r) b(r, j) -= ljp * b(r, p);
        }
        const double d = l(j, j);
        for (Index r = 0; r < m; ++r) b(r, j) /= d;
      }
      if (j1 < k)
        dense::gemm(-1.0, Bm.middleCols(j0, j1 - j0), false, Lm.block(j1, j0, k - j1, j1 - j0), true, 1.0,
             Bm.middleCols(j1, k - j1));
    }
  } else {  // X L = B: backward, by column blocks
    for (Index j1 = k; j1 > 0; j1 -= std::min(nb, j1)) {
      const Index j0 = std::max<Index>(0, j1 - nb);
      for (Index j = j1 - 1; j >= j0; --j) {
        for (Index p = j + 1; p < j1; ++p) {
          const double lpj = l(p, j);
          for (Index r = 0; r < m; ++r) b(r, j) -= lpj * b(r, p);
        }
        const double d = l(j, j);
        for (Index r = 0; r < m; ++r) b(r, j) /= d;
      }
      if (j0 > 0)
        dense::gemm(-1.0, Bm.middleCols(j0, j1 - j0), false, Lm.block(j0, 0, j1 - j0, j0), false, 1.0, Bm.leftCols(j0));
    }
  }
}

}  // namespace impl
}  // namespace dense
}  // namespace kktunlearn
