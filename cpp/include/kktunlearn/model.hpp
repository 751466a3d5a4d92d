// kktunlearn: the two model families, written as one.
//
//   two-layer network  N(x) = sum_j u_j sigma(<w_j, x>),  sigma(z) = max(z, a z)  (a = leaky slope, 0 = ReLU)
//   linear predictor   N(x) = <w, x>  ==  the network with m = 1, u = (1), a = 1 (sigma = identity)
//
// Everything is computed from the pre-activations Z = X W^T (n x m): outputs, margins, activation
// patterns, loss gradients. sigma'(0) := a (= 0 for ReLU), everywhere in the library.
// Homogeneity degree L = 1 (linear, fixed u) or 2 (u trained together with W).
#pragma once

#include "common.hpp"
#include "dense.hpp"

namespace kktunlearn {

struct NetSpec {
  double slope = 0.0;        // leaky-ReLU slope a in [0, 1]; 1 means the identity (linear model)
  bool train_outer = false;  // u trained together with W
  int degree() const { return train_outer ? 2 : 1; }
};

// sigma'(z) = 1 for z > 0, else the slope (sigma'(0) = slope); sigma(z) = sigma'(z) z. Branch-free (a
// two-entry table indexed by the comparison): activation patterns are data-dependent, so a branch here
// is mispredicted about half the time on every elementwise pass of training and the certificates. The
// values are the same as `z > 0 ? z : slope * z` (1 * z = z exactly).
template <class T>
inline T dact(T z, double slope) {
  const T tab[2] = {static_cast<T>(slope), T(1)};
  return tab[z > T(0)];
}
template <class T>
inline T act(T z, double slope) {
  return dact(z, slope) * z;
}

/// Z = X W^T (n x m), tiled over the output so that the result does not depend on n_threads.
template <class T>
void preactivations(const MatRef<T>& X, const MatRef<T>& W, RowMatrix<T>& Z, int n_threads) {
  Z.resize(X.rows(), W.rows());
  gemm_abt<T>(X, W, Z, n_threads);
}

/// N_i = sum_j u_j sigma(Z_ij), accumulated in double, each row's sum over j in order (the dense kernel
/// table's outputs kernel, vectorized per CPU variant with the same bits on every one).
template <class T>
Vectord outputs_from_preacts(const MatRef<T>& Z, const VecRef<T>& u, const NetSpec& spec) {
  const Index n = Z.rows(), m = Z.cols();
  Vectord out(n);
  if (n == 0) return out;
  const dense::Kernels& k = dense::active();
  if constexpr (std::is_same<T, double>::value) {
    k.outputs_d(n, m, Z.data(), Z.outerStride(), u.data(), spec.slope, out.data());
  } else {
    k.outputs_f(n, m, Z.data(), Z.outerStride(), u.data(), spec.slope, out.data());
  }
  return out;
}

/// Activation pattern sigma'(Z) (n x m), with sigma'(0) = slope.
template <class T>
RowMatrix<T> activation_pattern(const MatRef<T>& Z, const NetSpec& spec) {
  RowMatrix<T> S(Z.rows(), Z.cols());
  for (Index i = 0; i < Z.rows(); ++i)
    for (Index j = 0; j < Z.cols(); ++j) S(i, j) = dact(Z(i, j), spec.slope);
  return S;
}

/// Given per-example coefficients c (n), the parameter vector J^T c = sum_i c_i grad N(x_i) is
/// (Gamma^T X, g_u) with Gamma_ij = c_i u_j sigma'(Z_ij) and g_u_j = sum_i c_i sigma(Z_ij).
/// This returns Gamma (n x m) and, when u is trained, g_u.
template <class T>
void coefficient_matrix(const MatRef<T>& Z, const VecRef<T>& u, const Vectord& c, const NetSpec& spec,
                        RowMatrix<T>& Gamma, Vectord* gu) {
  const Index n = Z.rows(), m = Z.cols();
  Gamma.resize(n, m);
  if (n > 0 && m > 0) {
    // Gamma_ij = T(c_i u_j sigma'(Z_ij)): the dense kernel table's coefficients kernel (vectorized per CPU
    // variant, the same bits on every one)
    const dense::Kernels& k = dense::active();
    if constexpr (std::is_same<T, double>::value) {
      k.coefficients_d(n, m, Z.data(), Z.outerStride(), u.data(), c.data(), spec.slope, Gamma.data(), m);
    } else {
      k.coefficients_f(n, m, Z.data(), Z.outerStride(), u.data(), c.data(), spec.slope, Gamma.data(), m);
    }
  }
  if (gu) {
    gu->setZero(m);
    for (Index i = 0; i < n; ++i)
      for (Index j = 0; j < m; ++j) (*gu)[j] += c[i] * static_cast<double>(act(Z(i, j), spec.slope));
  }
}

/// out (m x d) += Gamma^T X. Split over 2048-column blocks of d when d is large. Otherwise (small d,
/// so that large-n problems also use every thread) over fixed chunks of the n rows: chunk c's partial
/// Gamma_c^T X_c (m x d) is one GEMM, the chunks run in parallel, and the partials are added to out in
/// chunk order; every X row is packed once. (Only when the partials would take over 64 MB, over blocks
/// of the m rows of out instead, each of which re-reads all of X.) Every split depends only on the
/// shapes, so the result is the same for any thread count.
template <class T>
void add_gamma_t_x(const MatRef<T>& Gamma, const MatRef<T>& X, Eigen::Ref<RowMatrix<T>> out, int n_threads) {
  const Index n = X.rows(), d = X.cols(), m = Gamma.cols();
  if (d >= 4096 || m < 32) {
    parallel_blocks(d, 2048, n_threads, [&](Index c0, Index c1) {
      dense::gemm(T(1), Gamma, true, X.middleCols(c0, c1 - c0), false, T(1), out.middleCols(c0, c1 - c0));
    });
    return;
  }
  // row chunks of >= 640 rows; as many as fit in 64 MB of partials
  const double part_bytes = static_cast<double>(sizeof(T)) * static_cast<double>(m) * static_cast<double>(d);
  const Index max_chunks = static_cast<Index>(std::min(1e6, 64.0 * 1024 * 1024 / part_bytes));
  const Index nc = std::min<Index>((n + 639) / 640, max_chunks);
  if (nc >= 2) {
    const Index ch = (n + nc - 1) / nc;
    const Index used = (n + ch - 1) / ch;
    // one allocation for every partial (chunk c in rows [c m, (c + 1) m)): the allocator then keeps it for the
    // next call, where separate ones were returned to the system and page-faulted in again (25% of the time)
    RowMatrix<T> part(used * m, d);
    parallel_blocks(used, 1, n_threads, [&](Index c0, Index c1) {
      for (Index c = c0; c < c1; ++c) {
        const Index k0 = c * ch, h = std::min(n, k0 + ch) - k0;
        dense::gemm(T(1), Gamma.middleRows(k0, h), true, X.middleRows(k0, h), false, T(0), part.middleRows(c * m, m));
      }
    });
    parallel_blocks(m, 16, n_threads, [&](Index j0, Index j1) {
      for (Index c = 0; c < used; ++c) out.middleRows(j0, j1 - j0) += part.middleRows(c * m + j0, j1 - j0);
    });
    return;
  }
  const Index rb = std::max<Index>(16, (m + 7) / 8);
  parallel_blocks(m, rb, n_threads, [&](Index j0, Index j1) {
    dense::gemm(T(1), Gamma.middleCols(j0, j1 - j0), true, X, false, T(1), out.middleRows(j0, j1 - j0));
  });
}

/// Per-example gradient of N contracted with a parameter-space vector v = (V (m x d), v_u (m)):
///   (J v)_i = <grad N(x_i), v> = sum_j u_j sigma'(Z_ij) <V_j, x_i> + [trained u] sum_j sigma(Z_ij) v_u_j.
template <class T>
Vectord jvp(const MatRef<T>& X, const MatRef<T>& Z, const VecRef<T>& u, const MatRef<T>& V, const Vectord* vu,
            const NetSpec& spec, int n_threads) {
  RowMatrix<T> P;
  preactivations<T>(X, V, P, n_threads);
  const Index n = Z.rows(), m = Z.cols();
  Vectord out(n);
  for (Index i = 0; i < n; ++i) {
    double s = 0.0;
    for (Index j = 0; j < m; ++j)
      s += static_cast<double>(u[j]) * static_cast<double>(dact(Z(i, j), spec.slope)) * static_cast<double>(P(i, j));
    if (vu)
      for (Index j = 0; j < m; ++j) s += static_cast<double>(act(Z(i, j), spec.slope)) * (*vu)[j];
    out[i] = s;
  }
  return out;
}

}  // namespace kktunlearn
