// kktunlearn: Gram matrices, never forming the n x p Jacobian.
//
//   K = X X^T                                                  (n x n, symmetric product)
//   G_ik = y_i y_k <grad N(x_i), grad N(x_k)>
//        = y_i y_k [ K_ik * sum_j u_j^2 sigma'(Z_ij) sigma'(Z_kj)          (first layer)
//                    + [u trained] sum_j sigma(Z_ij) sigma(Z_kj) ]          (output layer)
//   i.e. G = (y y^T) o ( K o (S diag(u^2) S^T) + [trained] Sig Sig^T ),  S = sigma'(Z), Sig = sigma(Z).
//   Linear model (m = 1, u = 1, sigma = id): G = (y y^T) o K.
//   b_i = y_i <grad N(x_i), theta> = L * y_i N(x_i) = L q_i (homogeneity of degree L).
#pragma once

#include "model.hpp"

namespace kktunlearn {

/// K = X X^T, computed tile by tile over the lower triangle (deterministic for any thread count),
/// accumulated in T (float64 accumulation for float32 input is done by the caller casting X).
template <class T>
RowMatrix<T> kernel_matrix(const MatRef<T>& X, int n_threads) {
  const Index n = X.rows();
  RowMatrix<T> K(n, n);
  const Index b = 128;
  const Index nb = (n + b - 1) / b;
  // enumerate lower-triangular tile pairs (I >= J)
  std::vector<std::pair<Index, Index>> tiles;
  for (Index I = 0; I < nb; ++I)
    for (Index J = 0; J <= I; ++J) tiles.emplace_back(I, J);
  parallel_blocks(static_cast<Index>(tiles.size()), 1, n_threads, [&](Index t0, Index t1) {
    for (Index t = t0; t < t1; ++t) {
      const Index I = tiles[t].first, J = tiles[t].second;
      const Index r0 = I * b, r1 = std::min(n, r0 + b), c0 = J * b, c1 = std::min(n, c0 + b);
      if (I == J) {
        RowMatrix<T> blk = RowMatrix<T>::Zero(r1 - r0, r1 - r0);
        blk.template selfadjointView<Eigen::Lower>().rankUpdate(X.middleRows(r0, r1 - r0));
        blk.template triangularView<Eigen::StrictlyUpper>() = blk.transpose();
        K.block(r0, r0, r1 - r0, r1 - r0) = blk;
      } else {
        K.block(r0, c0, r1 - r0, c1 - c0).noalias() = X.middleRows(r0, r1 - r0) * X.middleRows(c0, c1 - c0).transpose();
      }
    }
  });
  for (Index I = 0; I < nb; ++I)
    for (Index J = 0; J < I; ++J) {
      const Index r0 = I * b, r1 = std::min(n, r0 + b), c0 = J * b, c1 = std::min(n, c0 + b);
      K.block(c0, r0, c1 - c0, r1 - r0) = K.block(r0, c0, r1 - r0, c1 - c0).transpose();
    }
  return K;
}

/// G = (y y^T) o ( K o (S S^T) + [Sig] Sig Sig^T ) (n x n, float64) from precomputed factors:
/// S_ij = u_j * (derivative used for pair (i, j)), Sig_ij = sigma(Z_ij) (only when u is trained;
/// pass nullptr otherwise). gradient_gram below is the usual case S = diag-scaled sigma'(Z); the
/// KKT solver also calls this with an *effective* pattern (Clarke-selected derivatives).
template <class T>
RowMatrixd gram_from_factors(const MatRef<T>& K, const RowMatrixd& S, const RowMatrixd* Sig, const VecRef<T>& y,
                             int n_threads) {
  const Index n = S.rows();
  RowMatrixd G(n, n), SS;
  if (Sig) SS.resize(n, n);
  parallel_blocks(n, 32, n_threads, [&](Index r0, Index r1) {
    G.middleRows(r0, r1 - r0).noalias() = S.middleRows(r0, r1 - r0) * S.transpose();
    if (Sig) SS.middleRows(r0, r1 - r0).noalias() = Sig->middleRows(r0, r1 - r0) * Sig->transpose();
  });
  for (Index i = 0; i < n; ++i)
    for (Index k = 0; k < n; ++k) {
      double g = G(i, k) * static_cast<double>(K(i, k));
      if (Sig) g += SS(i, k);
      G(i, k) = g * static_cast<double>(y[i]) * static_cast<double>(y[k]);
    }
  return G;
}

/// G (n x n, float64) of the per-example gradients from K, the pre-activations Z and u.
template <class T>
RowMatrixd gradient_gram(const MatRef<T>& K, const MatRef<T>& Z, const VecRef<T>& u, const VecRef<T>& y,
                         const NetSpec& spec, int n_threads) {
  const Index n = Z.rows(), m = Z.cols();
  RowMatrixd S(n, m), Sig;
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < m; ++j)
      S(i, j) = static_cast<double>(dact(Z(i, j), spec.slope)) * static_cast<double>(u[j]);
  if (spec.train_outer) {
    Sig.resize(n, m);
    for (Index i = 0; i < n; ++i)
      for (Index j = 0; j < m; ++j) Sig(i, j) = static_cast<double>(act(Z(i, j), spec.slope));
  }
  return gram_from_factors<T>(K, S, spec.train_outer ? &Sig : nullptr, y, n_threads);
}

}  // namespace kktunlearn
