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

#include <cmath>
#include <type_traits>

#include "model.hpp"

namespace kktunlearn {

/// K = X X^T (symmetric product: lower-triangle tiles only, diagonal tiles by a rank update),
/// deterministic for any thread count. float input with d > 4096: the sums over d run in double
/// on double copies of 1024-column slices (exact products, double sums; see Accumulate).
///   short rows (d <= 1024, n > 256): 8 fixed row panels of about equal work, each a GEMM against the rows
///     above it and a rank update of its diagonal block;
///   many tiles (n > 256): parallel over the lower-triangle tiles (128 x 128 up to n = 1024, then larger);
///   few tiles  (n <= 256, the n << d regime): parallel over a fixed split of the d columns into
///     at most 16 groups (independent of the thread count), partial sums added in group order.
/// kernel_matrix_d: the same in float64 (K is accumulated in double in any case); `widen_above` (float input)
/// moves the threshold for summing over d in double, 0 = always (the certificate's exact float32 path).
template <class T>
RowMatrixd kernel_matrix_d(const MatRef<T>& X, int n_threads, Index widen_above = Accumulate<T>::threshold) {
  const Index n = X.rows(), d = X.cols();
  const Index b = 128;
  const Index nb = (n + b - 1) / b;
  const bool widen = !std::is_same<T, double>::value && d > widen_above;
  // the same fixed tiles serially under ~1e6 multiply-adds (see gemm_abt)
  if (0.5 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(d) < 1e6) n_threads = 1;
  RowMatrixd Kd = RowMatrixd::Zero(n, n);
  // acc += X[r0:r1, k0:k1] X[c0:c1, k0:k1]^T (lower part when r0 == c0)
  auto tile_product = [&](Index r0, Index r1, Index c0, Index c1, Index k0, Index k1, RowMatrix<T>& tmp,
                          RowMatrixd& Ad, RowMatrixd& Bd, Eigen::Ref<RowMatrixd> acc) {
    if (!widen) {
      if (r0 == c0) {
        tmp.setZero(r1 - r0, r1 - r0);
        dense::syrk_lower(X.block(r0, k0, r1 - r0, k1 - k0), tmp);
      } else {
        tmp.resize(r1 - r0, c1 - c0);
        dense::gemm(T(1), X.block(r0, k0, r1 - r0, k1 - k0), false, X.block(c0, k0, c1 - c0, k1 - k0), true, T(0),
                    tmp);
      }
      acc += tmp.template cast<double>();
      return;
    }
    const Index kc = std::is_same<T, double>::value ? (k1 - k0) : Accumulate<float>::chunk;
    for (Index a = k0; a < k1; a += kc) {
      const Index kk = std::min(kc, k1 - a);
      dense::widen(X.block(r0, a, r1 - r0, kk), Ad);
      if (r0 == c0) {
        dense::syrk_lower(Ad, acc);
      } else {
        dense::widen(X.block(c0, a, c1 - c0, kk), Bd);
        dense::gemm(1.0, Ad, false, Bd, true, 1.0, acc);
      }
    }
  };
  // the lower-triangle tiles (I, J), J <= I, of a k x k grid of tiles
  auto lower_tiles = [](Index k) {
    std::vector<std::pair<Index, Index>> t;
    for (Index I = 0; I < k; ++I)
      for (Index J = 0; J <= I; ++J) t.emplace_back(I, J);
    return t;
  };
  if (!widen && n > 256 && d <= 1024) {
    // short rows: 8 row panels of about equal work (boundaries n sqrt(k / 8), fixed by the shapes), each one
    // GEMM against all rows above it plus a rank update of its diagonal block, then its mirror image. A
    // 128 x 128 tile product over so few columns is too short a GEMM (n = 5000, d = 200: 0.19 s in tiles).
    constexpr Index P = 8;
    Index bounds[P + 1];
    for (Index k = 0; k <= P; ++k)
      bounds[k] = std::min<Index>(n, static_cast<Index>(std::ceil(static_cast<double>(n) *
                                                                   std::sqrt(static_cast<double>(k) / P))));
    parallel_blocks(P, 1, n_threads, [&](Index p0, Index p1) {
      RowMatrix<T> tmp;
      for (Index k = p0; k < p1; ++k) {
        const Index r0 = bounds[k], r1 = bounds[k + 1], h = r1 - r0;
        if (h <= 0) continue;
        if (r0 > 0) {
          if constexpr (std::is_same<T, double>::value) {
            dense::gemm(1.0, X.middleRows(r0, h), false, X.topRows(r0), true, 0.0, Kd.block(r0, 0, h, r0));
          } else {
            tmp.resize(h, r0);
            dense::gemm(T(1), X.middleRows(r0, h), false, X.topRows(r0), true, T(0), tmp);
            Kd.block(r0, 0, h, r0) = tmp.template cast<double>();
          }
          Kd.block(0, r0, r0, h) = Kd.block(r0, 0, h, r0).transpose();
        }
        tmp.setZero(h, h);
        dense::syrk_lower(X.middleRows(r0, h), tmp);
        for (Index i = 0; i < h; ++i)
          for (Index j = 0; j <= i; ++j) Kd(r0 + i, r0 + j) = Kd(r0 + j, r0 + i) = static_cast<double>(tmp(i, j));
      }
    });
  } else if (nb > 2 || d <= 2 * 4096) {
    // Tiles of bt x bt: 128 up to n = 1024, then about n / 8 rounded up to a multiple of 128, at most 512
    // (fixed by n: 5 to 8 tile rows, so 15 to 36 tiles, for any n > 1024). Every tile product packs its two row panels,
    // so the packing is 1/bt of the flops: at n = 2000, d = 2e4, 128-tiles ran at 63 GFLOP/s on one core,
    // 256-tiles at 78 and 512-tiles at 97.
    const Index bt = n <= 1024 ? b : std::min<Index>(512, ((n + 7) / 8 + b - 1) / b * b);
    const std::vector<std::pair<Index, Index>> tiles = lower_tiles((n + bt - 1) / bt);
    // each task also writes its tile's mirror image (the upper triangle), in cache-sized blocks
    parallel_blocks(static_cast<Index>(tiles.size()), 1, n_threads, [&](Index t0, Index t1) {
      RowMatrix<T> tmp;
      RowMatrixd Ad, Bd;
      for (Index t = t0; t < t1; ++t) {
        const Index I = tiles[t].first, J = tiles[t].second;
        const Index r0 = I * bt, r1 = std::min(n, r0 + bt), c0 = J * bt, c1 = std::min(n, c0 + bt);
        tile_product(r0, r1, c0, c1, 0, d, tmp, Ad, Bd, Kd.block(r0, c0, r1 - r0, c1 - c0));
        if (I != J) {
          Kd.block(c0, r0, c1 - c0, r1 - r0) = Kd.block(r0, c0, r1 - r0, c1 - c0).transpose();
        } else {
          for (Index i = r0; i < r1; ++i)
            for (Index j = r0; j < i; ++j) Kd(j, i) = Kd(i, j);
        }
      }
    });
  } else {
    const std::vector<std::pair<Index, Index>> tiles = lower_tiles(nb);
    const Index G = std::min<Index>(16, (d + 4095) / 4096);
    const Index gsize = (d + G - 1) / G;
    std::vector<RowMatrixd> part(static_cast<size_t>(G));
    parallel_blocks(G, 1, n_threads, [&](Index g0, Index g1) {
      RowMatrix<T> tmp;
      RowMatrixd Ad, Bd;
      for (Index g = g0; g < g1; ++g) {
        RowMatrixd& P = part[static_cast<size_t>(g)];
        P.setZero(n, n);
        const Index k0 = g * gsize, k1 = std::min(d, k0 + gsize);
        for (const auto& tile : tiles) {
          const Index r0 = tile.first * b, r1 = std::min(n, r0 + b), c0 = tile.second * b,
                      c1 = std::min(n, c0 + b);
          if (k1 > k0) tile_product(r0, r1, c0, c1, k0, k1, tmp, Ad, Bd, P.block(r0, c0, r1 - r0, c1 - c0));
        }
      }
    });
    for (const auto& P : part) Kd += P;
    for (Index i = 0; i < n; ++i)  // n <= 256 here
      for (Index j = 0; j < i; ++j) Kd(j, i) = Kd(i, j);
  }
  return Kd;
}

template <class T>
RowMatrix<T> kernel_matrix(const MatRef<T>& X, int n_threads) {
  if constexpr (std::is_same<T, double>::value) {
    return kernel_matrix_d<T>(X, n_threads);
  } else {
    return kernel_matrix_d<T>(X, n_threads).template cast<T>();
  }
}

/// G = (y y^T) o ( K o (S S^T) + [Sig] Sig Sig^T ) (n x n, float64) from precomputed factors:
/// S_ij = u_j * (derivative used for pair (i, j)), Sig_ij = sigma(Z_ij) (only when u is trained;
/// pass nullptr otherwise). gradient_gram below is the usual case S = diag-scaled sigma'(Z); the
/// KKT solver also calls this with an *effective* pattern (Clarke-selected derivatives).
template <class T>
RowMatrixd gram_from_factors(const MatRef<T>& K, const RowMatrixd& S, const RowMatrixd* Sig, const VecRef<T>& y,
                             int n_threads) {
  const Index n = S.rows();
  // S S^T and Sig Sig^T as symmetric products (half the flops of a GEMM; deterministic for any thread count)
  RowMatrixd G = kernel_matrix<double>(S, n_threads), SS;
  if (Sig) SS = kernel_matrix<double>(*Sig, n_threads);
  // element-wise, so any row split gives the same bits (n^2 entries: 25M at n = 5000)
  parallel_blocks(n, 64, n_threads, [&](Index r0, Index r1) {
    for (Index i = r0; i < r1; ++i)
      for (Index k = 0; k < n; ++k) {
        double g = G(i, k) * static_cast<double>(K(i, k));
        if (Sig) g += SS(i, k);
        G(i, k) = g * static_cast<double>(y[i]) * static_cast<double>(y[k]);
      }
  });
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
