// kktunlearn: non-negative least squares on a Gram matrix (Lawson-Hanson active set, "FNNLS" form).
//
//   minimize  f(x) = 1/2 x^T G x - b^T x   subject to  x >= 0,       G symmetric PSD (n x n)
//
// This is NNLS  min_{x >= 0} ||A x - t||^2 / 2  with G = A^T A, b = A^T t, written without A, so that
// the cost depends on n only (the KKT multipliers use A = J^T diag(y), t = theta; never formed).
//
// Algorithm (Lawson & Hanson 1974, ch. 23; Bro & de Jong 1997 for the Gram form):
//   passive set P = {}, x = 0
//   repeat: w = b - G x (the negative gradient);
//           stop when w_i <= tol_abs for every i outside P (KKT conditions of the NNLS);
//           move the i outside P with the largest w_i into P;
//           inner loop: s = argmin over the free coordinates P (s_i = 0 off P), i.e. G_PP s_P = b_P;
//                       if some s_i <= 0 (i in P): step x <- x + alpha (s - x) with the largest alpha
//                       keeping x >= 0, drop the coordinates that hit 0 from P, and repeat;
//                       else x <- s.
// Anti-cycling: a coordinate whose own unconstrained value comes out <= 0 right after it entered
// (possible only through round-off or rank deficiency) is put back and barred until x changes.
// Linear systems: Cholesky (LLT) of G_PP; when that fails or its pivots reveal an ill-conditioned
// G_PP (min pivot^2 / max pivot^2 < 1e-13), a pivoted LDL^T, and if that too is not positive on its
// diagonal, a complete orthogonal decomposition (least-norm solution). Each fallback is counted.
#pragma once

#include <limits>

#include "common.hpp"
#include "dense.hpp"

namespace kktunlearn {

enum class NNLSSolver : int { Auto = 0, ActiveSet = 1 };

inline const char* nnls_solver_name(NNLSSolver k) { return k == NNLSSolver::ActiveSet ? "active_set" : "auto"; }
inline NNLSSolver nnls_solver_from_string(const std::string& s) {
  if (s == "auto" || s == "factor") return NNLSSolver::Auto;
  if (s == "active_set") return NNLSSolver::ActiveSet;
  throw InvalidArgument("unknown NNLS solver '" + s + "' (expected auto, active_set)");
}

struct NNLSOptions {
  double tol = 1e-10;        // relative: stop when max_{i not in P} w_i <= tol * max(|b|_inf, tiny)
  std::int64_t max_iter = 0;  // active set: outer iterations (0 = 3 n + 30); auto: PDAS iterations (0 = 50)
  StopCheck should_stop;      // optional: checked every iteration, throws Interrupted (Ctrl-C)
  NNLSSolver solver = NNLSSolver::Auto;
  int n_threads = 1;          // factorization and products (bit-identical results for any count)
  double drop_tol = 1e-10;    // auto: a coordinate whose Cholesky pivot^2 <= drop_tol * G_ii is dependent
};

struct NNLSResult {
  Vectord x;
  std::int64_t n_iter = 0;     // outer iterations (coordinates released)
  std::int64_t n_inner = 0;    // inner (line-search) iterations
  std::int64_t n_fallback = 0; // linear solves that needed the LDLT / COD fallback
  bool converged = false;
  double kkt_violation = 0.0;  // max(max_{x_i=0} w_i, max_{x_i>0} |w_i|) at the returned x
  double objective = 0.0;      // 1/2 x^T G x - b^T x
  std::int64_t n_factor = 0;   // auto: Cholesky factorizations of a passive block (usually 1)
  std::int64_t n_dropped = 0;  // auto: coordinates found linearly dependent (x_i = 0, canonical choice)
  std::int64_t n_pdas = 0;     // auto: primal-dual active-set iterations
  bool polished = false;       // auto: PDAS did not settle and the Lawson-Hanson method finished
};

namespace detail {
/// A Cholesky factor whose diagonal L_ii satisfies min L_ii^2 / max L_ii^2 >= 1e-13: the bound every solve here
/// uses to accept a factorization before it falls back to a pivoted or orthogonal one.
template <class D>
inline bool pivots_well_conditioned(const Eigen::MatrixBase<D>& diag) {
  if (diag.size() == 0) return false;
  const double mx = diag.cwiseAbs().maxCoeff(), mn = diag.cwiseAbs().minCoeff();
  return mx > 0 && (mn * mn) / (mx * mx) >= 1e-13;
}

/// Solve the symmetric PSD system A s = r (A small, dense; LLT, then LDLT / complete orthogonal fallbacks).
/// Returns true if a fallback was used.
KKTUNLEARN_SOLVER bool spd_solve(const Eigen::MatrixXd& A, const Eigen::VectorXd& r, Eigen::VectorXd& s);
}  // namespace detail

/// NNLS on the Gram matrix by Lawson-Hanson; x0 (optional, >= 0) warm-starts the passive set with its
/// positive entries.
KKTUNLEARN_SOLVER NNLSResult nnls_gram_active_set(const RowMatrixd& G, const Vectord& b, const NNLSOptions& opt,
                                                  const Vectord* x0 = nullptr);

/// NNLS on the Gram matrix by one Cholesky factorization and a primal-dual active-set iteration (the
/// method and its guarantees are described at its definition below).
KKTUNLEARN_SOLVER NNLSResult nnls_gram_factor(const RowMatrixd& G, const Vectord& b, const NNLSOptions& opt,
                                              const Vectord* x0 = nullptr);

/// NNLS on the Gram matrix with the solver chosen in opt (default: nnls_gram_factor).
KKTUNLEARN_SOLVER NNLSResult nnls_gram(const RowMatrixd& G, const Vectord& b, const NNLSOptions& opt,
                                       const Vectord* x0 = nullptr);

/// An orthonormal basis of the rows of X from their Gram matrix K = X X^T: the blocked, threaded Cholesky
/// K[kept][:, kept] = L L^T (the same bits for any thread count), a row whose pivot falls below drop_tol times
/// its diagonal dropped as dependent on the earlier ones, and Linv = L^{-1} (the rows of Linv X[kept] are
/// orthonormal and span the rows of X).
KKTUNLEARN_SOLVER void span_basis(const RowMatrixd& K, double drop_tol, int n_threads, std::vector<Index>& kept,
                                  Eigen::MatrixXd& Linv);

#if defined(KKTUNLEARN_HEADER_ONLY) || defined(KKTUNLEARN_COMPILE_NNLS)
// ---- the bodies compiled once (cpp/src/solvers.cpp; inline with KKTUNLEARN_HEADER_ONLY) ----

namespace detail {

KKTUNLEARN_SOLVER bool spd_solve(const Eigen::MatrixXd& A, const Eigen::VectorXd& r, Eigen::VectorXd& s) {
  const Index k = A.rows();
  if (k == 0) {
    s.resize(0);
    return false;
  }
  Eigen::LLT<Eigen::MatrixXd> llt(A);
  if (llt.info() == Eigen::Success && pivots_well_conditioned(llt.matrixLLT().diagonal())) {
    s = llt.solve(r);
    if (s.allFinite()) return false;
  }
  Eigen::LDLT<Eigen::MatrixXd> ldlt(A);
  if (ldlt.info() == Eigen::Success) {
    const auto dd = ldlt.vectorD();
    const double mx = dd.cwiseAbs().maxCoeff();
    if (mx > 0 && dd.minCoeff() > 1e-13 * mx) {
      s = ldlt.solve(r);
      if (s.allFinite()) return true;
    }
  }
  Eigen::CompleteOrthogonalDecomposition<Eigen::MatrixXd> cod(A);
  cod.setThreshold(1e-12);
  s = cod.solve(r);
  if (!s.allFinite()) throw NumericalError("nnls: the linear system of the passive set could not be solved");
  return true;
}

}  // namespace detail

KKTUNLEARN_SOLVER NNLSResult nnls_gram_active_set(const RowMatrixd& G, const Vectord& b, const NNLSOptions& opt,
                            const Vectord* x0) {
  const Index n = G.rows();
  require(G.cols() == n && b.size() == n, "nnls_gram: G must be n x n and b of length n");
  NNLSResult res;
  res.x = Vectord::Zero(n);
  if (n == 0) {
    res.converged = true;
    return res;
  }
  const double bscale = std::max(b.cwiseAbs().maxCoeff(), std::numeric_limits<double>::min());
  const double tol_abs = opt.tol * bscale;
  const std::int64_t max_iter = opt.max_iter > 0 ? opt.max_iter : 3 * static_cast<std::int64_t>(n) + 30;

  std::vector<char> passive(n, 0), barred(n, 0);
  Vectord& x = res.x;

  // Cholesky factor L (lower) of G restricted to the ordered passive list `plist`, kept up to date
  // incrementally: a coordinate entering P appends one row (O(k^2): l = L^{-1} G_{P,i},
  // d = sqrt(G_ii - l.l)); a coordinate leaving P triggers a re-factorization (rare: only in the
  // inner loop). When a pivot reveals ill-conditioning (min pivot^2 / max pivot^2 < 1e-13) the factor
  // is dropped and the passive system goes to detail::spd_solve's fallbacks until the next rebuild.
  std::vector<Index> plist;
  std::vector<char> inlist(static_cast<size_t>(n), 0);
  Eigen::MatrixXd Lf;
  Index kf = 0;  // size of the valid factor (== plist.size() when fok)
  bool fok = true;
  double minp2 = std::numeric_limits<double>::infinity(), maxp2 = 0.0;
  auto rebuild = [&]() {
    const Index k = static_cast<Index>(plist.size());
    kf = 0;
    minp2 = std::numeric_limits<double>::infinity();
    maxp2 = 0.0;
    if (Lf.rows() < n) Lf.resize(n, n);
    if (k == 0) return true;
    Eigen::MatrixXd A(k, k);
    for (Index a2 = 0; a2 < k; ++a2)
      for (Index c = 0; c < k; ++c) A(a2, c) = G(plist[a2], plist[c]);
    Eigen::LLT<Eigen::MatrixXd> llt(A);
    if (llt.info() != Eigen::Success) return false;
    const Eigen::VectorXd dg = llt.matrixLLT().diagonal().cwiseAbs2();
    minp2 = dg.minCoeff();
    maxp2 = dg.maxCoeff();
    if (!(maxp2 > 0) || minp2 < 1e-13 * maxp2) return false;
    Lf.topLeftCorner(k, k) = llt.matrixL();
    kf = k;
    return true;
  };
  auto sync = [&]() {
    bool removed = false;
    std::vector<Index> kept;
    kept.reserve(plist.size());
    for (Index i : plist) {
      if (passive[i]) kept.push_back(i);
      else {
        inlist[i] = 0;
        removed = true;
      }
    }
    plist.swap(kept);
    if (removed || !fok) fok = rebuild();
    for (Index i = 0; i < n; ++i) {
      if (!passive[i] || inlist[i]) continue;
      plist.push_back(i);
      inlist[i] = 1;
      if (!fok) continue;
      if (Lf.rows() < n) Lf.resize(n, n);
      Eigen::VectorXd g(kf);
      for (Index a2 = 0; a2 < kf; ++a2) g[a2] = G(plist[a2], i);
      const Eigen::VectorXd l = Lf.topLeftCorner(kf, kf).triangularView<Eigen::Lower>().solve(g);
      const double d2 = G(i, i) - l.squaredNorm();
      const double mn = std::min(minp2, d2), mx = std::max(maxp2, d2);
      if (!(d2 > 0) || !(mx > 0) || mn < 1e-13 * mx) {
        fok = false;
        continue;
      }
      Lf.row(kf).head(kf) = l.transpose();
      Lf(kf, kf) = std::sqrt(d2);
      minp2 = mn;
      maxp2 = mx;
      ++kf;
    }
  };
  auto solve_passive = [&](Vectord& s) {
    sync();
    const Index k = static_cast<Index>(plist.size());
    Eigen::VectorXd r(k), sp;
    for (Index a2 = 0; a2 < k; ++a2) r[a2] = b[plist[a2]];
    bool done = false;
    if (fok && kf == k) {
      const auto Lk = Lf.topLeftCorner(k, k).triangularView<Eigen::Lower>();
      sp = Lk.transpose().solve(Lk.solve(r));
      done = sp.allFinite();
    }
    if (!done) {
      Eigen::MatrixXd A(k, k);
      for (Index a2 = 0; a2 < k; ++a2)
        for (Index c = 0; c < k; ++c) A(a2, c) = G(plist[a2], plist[c]);
      if (detail::spd_solve(A, r, sp)) ++res.n_fallback;
    }
    s.setZero(n);
    for (Index a2 = 0; a2 < k; ++a2) s[plist[a2]] = sp[a2];
  };

  // inner loop: from a feasible x with passive set P, reach the minimizer over P (feasible).
  // Returns the value of the coordinate `entering` in the first unconstrained solution.
  auto inner = [&](Index entering) {
    Vectord s;
    double first_val = 0.0;
    bool first = true;
    for (Index guard = 0; guard < 10 * n + 100; ++guard) {
      check_stop(opt.should_stop);
      solve_passive(s);
      if (first) {
        first_val = entering >= 0 ? s[entering] : 1.0;
        first = false;
        if (entering >= 0 && first_val <= 0) return first_val;  // caller rejects the coordinate
      }
      bool feasible = true;
      for (Index i = 0; i < n; ++i)
        if (passive[i] && s[i] <= 0) feasible = false;
      if (feasible) {
        x = s;
        return first_val;
      }
      ++res.n_inner;
      // largest step keeping x >= 0; the blocking coordinate leaves P
      Index blk = -1;
      double alpha = std::numeric_limits<double>::infinity();
      for (Index i = 0; i < n; ++i)
        if (passive[i] && s[i] <= 0) {
          const double ratio = x[i] / (x[i] - s[i]);
          if (ratio < alpha) {
            alpha = ratio;
            blk = i;
          }
        }
      alpha = std::min(1.0, std::max(0.0, alpha));
      for (Index i = 0; i < n; ++i)
        if (passive[i]) x[i] += alpha * (s[i] - x[i]);
      x[blk] = 0.0;
      passive[blk] = 0;
      const double xtiny = 10.0 * std::numeric_limits<double>::epsilon() * x.cwiseAbs().maxCoeff();
      for (Index i = 0; i < n; ++i)
        if (passive[i] && x[i] <= xtiny) {
          x[i] = 0.0;
          passive[i] = 0;
        }
    }
    throw NumericalError("nnls: inner loop did not terminate (degenerate problem)");
  };

  if (x0) {
    require(x0->size() == n, "nnls_gram: warm start of the wrong length");
    for (Index i = 0; i < n; ++i)
      if ((*x0)[i] > 0) passive[i] = 1;
    inner(-1);
  }

  Vectord w;
  for (res.n_iter = 0; res.n_iter < max_iter; ++res.n_iter) {
    check_stop(opt.should_stop);
    w = b;
    dense::gemv(-1.0, G, false, x, 1.0, w);
    Index best = -1;
    double wmax = tol_abs;
    for (Index i = 0; i < n; ++i)
      if (!passive[i] && !barred[i] && w[i] > wmax) {
        wmax = w[i];
        best = i;
      }
    if (best < 0) {
      // converged unless a barred coordinate still violates the conditions
      bool barred_viol = false;
      for (Index i = 0; i < n; ++i)
        if (!passive[i] && barred[i] && w[i] > tol_abs) barred_viol = true;
      res.converged = !barred_viol;
      break;
    }
    passive[best] = 1;
    const Vectord x_before = x;
    const double v = inner(best);
    if (v <= 0) {  // round-off / rank deficiency: reject this coordinate for now
      passive[best] = 0;
      barred[best] = 1;
      x = x_before;
      continue;
    }
    std::fill(barred.begin(), barred.end(), 0);
  }
  w = b;
  dense::gemv(-1.0, G, false, x, 1.0, w);
  double viol = 0.0;
  for (Index i = 0; i < n; ++i) viol = std::max(viol, x[i] > 0 ? std::abs(w[i]) : w[i]);
  res.kkt_violation = viol;
  res.objective = 0.5 * x.dot(dense::mv(G, false, x)) - b.dot(x);
  return res;
}

namespace detail {

/// Run f(t) for t in [0, count), blocks dealt round-robin to the threads (for loops whose blocks have
/// unequal cost). Each f(t) must be independent of the others: the result is then bit-identical for
/// any thread count.
template <class F>
void parallel_cyclic(Index count, int n_threads, F&& f) {
  if (count <= 0) return;
  const int nt = static_cast<int>(std::min<Index>(resolve_threads(n_threads), count));
  if (nt <= 1) {
    for (Index t = 0; t < count; ++t) f(t);
    return;
  }
  ExceptionCollector ex;
#ifdef KKTUNLEARN_HAVE_OPENMP
#pragma omp parallel for schedule(static, 1) num_threads(nt)
#endif
  for (Index t = 0; t < count; ++t) {
    ex.run([&] { f(t); });
  }
  ex.rethrow();
}

/// Cholesky factor of G restricted to an ordered coordinate list P, with *dropping*: blocked and
/// right-looking (128-column panels; the trailing update is a GEMM split into fixed column blocks,
/// so the factor is bit-identical for any thread count). A coordinate whose pivot^2 falls to
/// <= drop_tol * G_ii (its Gram column lies, to that relative accuracy, in the span of the
/// columns before it in P, e.g. a duplicated or zero row, or any column beyond the rank when
/// n > m d) is dropped: its row and column of L become those of the identity and its unknown is
/// fixed at 0. The kept coordinates are thus the greedy maximal independent subset of P in P's
/// order, and L is the exact Cholesky factor of G on them.
struct GramCholesky {
  std::vector<Index> idx;     // coordinates in factor order (dropped ones included)
  std::vector<char> dropped;  // per position
  Eigen::MatrixXd L;          // k x k, lower triangle
  Index n_dropped = 0;

  void factor(const RowMatrixd& G, const std::vector<Index>& P, double drop_tol, int n_threads,
              const StopCheck& stop) {
    idx = P;
    const Index k = static_cast<Index>(P.size());
    dropped.assign(static_cast<size_t>(k), 0);
    n_dropped = 0;
    L.resize(k, k);
    const Index cb = 128;
    parallel_blocks(k, cb, n_threads, [&](Index c0, Index c1) {
      for (Index c = c0; c < c1; ++c) {
        const auto row = G.row(P[static_cast<size_t>(c)]);
        for (Index r = c; r < k; ++r) L(r, c) = row[P[static_cast<size_t>(r)]];
      }
    });
    Eigen::VectorXd diag0(k);
    for (Index j = 0; j < k; ++j) diag0[j] = L(j, j);
    for (Index k0 = 0; k0 < k; k0 += cb) {
      check_stop(stop);
      const Index kb = std::min(cb, k - k0), k1 = k0 + kb;
      // unblocked factorization of the diagonal block (already updated by the earlier panels)
      for (Index j = k0; j < k1; ++j) {
        const double dj = L(j, j);
        if (!(diag0[j] > 0) || !(dj > drop_tol * diag0[j]) || !std::isfinite(dj)) {
          dropped[static_cast<size_t>(j)] = 1;
          ++n_dropped;
          L.row(j).head(j).setZero();
          L.col(j).segment(j, k1 - j).setZero();
          L(j, j) = 1.0;
          continue;
        }
        const double sj = std::sqrt(dj);
        L(j, j) = sj;
        L.col(j).segment(j + 1, k1 - j - 1) /= sj;
        for (Index c = j + 1; c < k1; ++c) L.col(c).segment(c, k1 - c) -= L(c, j) * L.col(j).segment(c, k1 - c);
      }
      if (k1 >= k) break;
      const Index rest = k - k1;
      // panel L21 = A21 L11^{-T}, by fixed row blocks
      const auto L11 = L.block(k0, k0, kb, kb);
      parallel_blocks(rest, 256, n_threads, [&](Index r0, Index r1) {
        auto A21 = L.block(k1 + r0, k0, r1 - r0, kb);
        dense::trsm_lower(true, true, L11, A21);
        for (Index j = 0; j < kb; ++j)
          if (dropped[static_cast<size_t>(k0 + j)]) A21.col(j).setZero();
      });
      // trailing update A22 -= L21 L21^T (lower part; fixed column blocks, cyclic over threads)
      const Index nblk = (rest + cb - 1) / cb;
      parallel_cyclic(nblk, n_threads, [&](Index t) {
        const Index c0 = k1 + t * cb, c1 = std::min(k, c0 + cb);
        dense::gemm(-1.0, L.block(c0, k0, k - c0, kb), false, L.block(c0, k0, c1 - c0, kb), true, 1.0,
                    L.block(c0, c0, k - c0, c1 - c0));
      });
    }
  }

  /// B <- G_kept^{-1} B for B (k x r) in factor order; rows of dropped coordinates come out 0.
  void solve_in_place(Eigen::MatrixXd& B) const {
    for (Index j = 0; j < static_cast<Index>(dropped.size()); ++j)
      if (dropped[static_cast<size_t>(j)]) B.row(j).setZero();
    dense::trsm_lower(false, false, L, B);
    dense::trsm_lower(false, true, L, B);
    for (Index j = 0; j < static_cast<Index>(dropped.size()); ++j)
      if (dropped[static_cast<size_t>(j)]) B.row(j).setZero();
  }
};

}  // namespace detail

/// NNLS on the Gram matrix by one Cholesky factorization and a primal-dual active-set iteration
/// (Hintermueller, Ito & Kunisch 2003; the "semismooth Newton" view of the complementarity
/// condition min(x, -w) = 0 with w = b - G x):
///   P = {i : x0_i > 0} (every coordinate without x0); factor G_PP (GramCholesky, dropping dependent
///   coordinates); repeat: x = argmin over the coordinates of P (x = 0 off P), w = b - G x,
///   P <- {i in P : x_i > 0} u {i not in P : w_i > tol_abs}; until P does not change.
/// At the fixed point x_P > 0, w_P = 0 (up to round-off) and w_i <= tol_abs off P: the NNLS
/// optimality conditions. A working set that differs from the factored one by r coordinates (added
/// A, removed R) is solved without refactoring, through the bordered system
///     [G_FF  G_FA  E_R] [x_F]   [b_F]
///     [G_AF  G_AA  0  ] [x_A] = [b_A]        (E_R: the columns of I for R; x_R = 0)
///     [E_R^T  0    0  ] [nu ]   [0  ]
/// and its r x r Schur complement S = [[G_AA, 0], [0, 0]] - B^T G_FF^{-1} B, B = [G_FA, E_R]: cost
/// O(k^2 r) instead of k^3 / 3, but repeated in every iteration and at triangular-solve speed (about a third
/// of the factorization's): beyond r = max(32, k / 16) the working set is refactored.
/// Where the iteration does not settle within max_iter (it can cycle on matrices that are not
/// M-matrices), Lawson-Hanson (nnls_gram_active_set) finishes from the last positive set.
/// When G is singular (n > m d, duplicated rows) the minimizer is not unique: the x returned is the
/// one supported on kept (independent) coordinates, a basic solution, with the same objective and
/// the same residual (epsilon) as every other minimizer.
KKTUNLEARN_SOLVER NNLSResult nnls_gram_factor(const RowMatrixd& G, const Vectord& b, const NNLSOptions& opt,
                                   const Vectord* x0) {
  const Index n = G.rows();
  require(G.cols() == n && b.size() == n, "nnls_gram: G must be n x n and b of length n");
  if (x0) require(x0->size() == n, "nnls_gram: warm start of the wrong length");
  NNLSResult res;
  res.x = Vectord::Zero(n);
  if (n == 0) {
    res.converged = true;
    return res;
  }
  const double bscale = std::max(b.cwiseAbs().maxCoeff(), std::numeric_limits<double>::min());
  const double tol_abs = opt.tol * bscale;
  const std::int64_t max_iter = opt.max_iter > 0 ? opt.max_iter : 50;
  const int nt = opt.n_threads;

  std::vector<char> inP(static_cast<size_t>(n), 0), barred(static_cast<size_t>(n), 0);
  // the first working set: every coordinate (a model that fits its data has b > 0 everywhere, so this is
  // {i : b_i > 0} there; on a model that does not fit yet, points with b_i <= 0 mostly end in the support,
  // and starting without them costs a second factorization plus Schur solves, measured 2.6x slower at n = 5000)
  for (Index i = 0; i < n; ++i) inP[i] = x0 ? ((*x0)[i] > 0) : 1;

  detail::GramCholesky fac;
  std::vector<Index> pos(static_cast<size_t>(n), -1);  // position of a coordinate in the factor
  Eigen::VectorXd xF0;                                  // G_FF^{-1} b_F
  auto refactor = [&]() {
    std::vector<Index> P;
    for (Index i = 0; i < n; ++i)
      if (inP[i]) P.push_back(i);
    fac.factor(G, P, opt.drop_tol, nt, opt.should_stop);
    ++res.n_factor;
    std::fill(pos.begin(), pos.end(), -1);
    for (size_t j = 0; j < P.size(); ++j) {
      pos[P[j]] = static_cast<Index>(j);
      if (fac.dropped[j]) {
        barred[P[j]] = 1;
        inP[P[j]] = 0;
      }
    }
    Eigen::MatrixXd r(static_cast<Index>(P.size()), 1);
    for (size_t j = 0; j < P.size(); ++j) r(static_cast<Index>(j), 0) = b[P[j]];
    fac.solve_in_place(r);
    xF0 = r.col(0);
  };

  bool bordered_singular = false;  // an added coordinate was dependent: x is then not basic
  // x = argmin over the working set inP (barred coordinates excluded), from the factor of F
  auto solve_working = [&](Vectord& x) {
    const Index k = static_cast<Index>(fac.idx.size());
    std::vector<Index> A, R;  // A: coordinates; R: positions in F
    for (Index i = 0; i < n; ++i)
      if (inP[i] && pos[i] < 0) A.push_back(i);
    for (Index j = 0; j < k; ++j)
      if (!fac.dropped[static_cast<size_t>(j)] && !inP[fac.idx[static_cast<size_t>(j)]]) R.push_back(j);
    const Index a = static_cast<Index>(A.size()), r = a + static_cast<Index>(R.size());
    x.setZero(n);
    if (r == 0) {
      for (Index j = 0; j < k; ++j) x[fac.idx[static_cast<size_t>(j)]] = xF0[j];
      return;
    }
    Eigen::MatrixXd Y(k, r);
    Y.setZero();
    for (Index c = 0; c < a; ++c) {
      const auto row = G.row(A[static_cast<size_t>(c)]);
      for (Index j = 0; j < k; ++j) Y(j, c) = row[fac.idx[static_cast<size_t>(j)]];
    }
    for (Index c = a; c < r; ++c) Y(R[static_cast<size_t>(c - a)], c) = 1.0;
    const Eigen::MatrixXd B = Y;
    fac.solve_in_place(Y);  // Y = G_FF^{-1} B
    Eigen::MatrixXd S = -(B.transpose() * Y);
    for (Index c = 0; c < a; ++c)
      for (Index e = 0; e < a; ++e) S(c, e) += G(A[static_cast<size_t>(c)], A[static_cast<size_t>(e)]);
    Eigen::VectorXd rhs = -(B.transpose() * xF0);
    for (Index c = 0; c < a; ++c) rhs[c] += b[A[static_cast<size_t>(c)]];
    Eigen::CompleteOrthogonalDecomposition<Eigen::MatrixXd> cod(S);
    cod.setThreshold(1e-13);
    if (cod.rank() < r) bordered_singular = true;
    const Eigen::VectorXd v = cod.solve(rhs);
    if (!v.allFinite()) throw NumericalError("nnls: the bordered system of the working set could not be solved");
    const Eigen::VectorXd xF = xF0 - Y * v;
    for (Index j = 0; j < k; ++j) x[fac.idx[static_cast<size_t>(j)]] = xF[j];
    for (Index j : R) x[fac.idx[static_cast<size_t>(j)]] = 0.0;
    for (Index c = 0; c < a; ++c) x[A[static_cast<size_t>(c)]] = v[c];
  };
  auto dual = [&](const Vectord& x, Vectord& w) {
    w.resize(n);
    parallel_blocks(n, 256, nt, [&](Index r0, Index r1) {
      w.segment(r0, r1 - r0) = b.segment(r0, r1 - r0);
      dense::gemv(-1.0, G.middleRows(r0, r1 - r0), false, x, 1.0, w.segment(r0, r1 - r0));
    });
  };

  Vectord& x = res.x;
  Vectord w;
  refactor();
  bool settled = false;
  for (res.n_pdas = 0; res.n_pdas < max_iter; ++res.n_pdas) {
    check_stop(opt.should_stop);
    {
      const Index k = static_cast<Index>(fac.idx.size());
      Index r = 0;
      for (Index i = 0; i < n; ++i)
        if (inP[i] != (pos[i] >= 0 && !fac.dropped[static_cast<size_t>(pos[i])])) ++r;
      if (r > std::max<Index>(32, k / 16)) refactor();
    }
    solve_working(x);
    dual(x, w);
    bool changed = false;
    for (Index i = 0; i < n; ++i) {
      char v = inP[i];
      if (inP[i]) v = x[i] > 0;
      else if (!barred[i] && w[i] > tol_abs) v = 1;
      if (v != inP[i]) changed = true;
      inP[i] = v;
    }
    if (!changed) {
      settled = true;
      break;
    }
  }
  res.n_iter = res.n_pdas;
  auto violation = [&]() {
    dual(x, w);
    double viol = 0.0;
    for (Index i = 0; i < n; ++i) viol = std::max(viol, x[i] > 0 ? std::abs(w[i]) : w[i]);
    return viol;
  };
  if (settled && bordered_singular) {
    // the canonical (basic) solution: refactor on the final support, dropping dependent coordinates
    for (Index i = 0; i < n; ++i) inP[i] = x[i] > 0;
    refactor();
    solve_working(x);
  }
  if (settled) {
    for (Index i = 0; i < n; ++i)
      if (!(x[i] > 0)) x[i] = 0.0;
    // a coordinate barred as dependent on a set that later changed may still violate the conditions
    if (violation() > tol_abs) settled = false;
  }
  if (!settled) {
    // Lawson-Hanson from the last working set (a feasible path, guaranteed to terminate)
    Vectord xs = x.cwiseMax(0.0);
    NNLSOptions o2 = opt;  // the caller's max_iter (if any) bounds this phase too
    NNLSResult r2 = nnls_gram_active_set(G, b, o2, &xs);
    x = r2.x;
    res.n_iter += r2.n_iter;
    res.n_inner = r2.n_inner;
    res.n_fallback = r2.n_fallback;
    res.polished = true;
  }
  const double viol = violation();
  res.kkt_violation = viol;
  res.converged = viol <= tol_abs;
  // w = b - G x at this x (violation()), so 1/2 x^T G x - b^T x = -1/2 x^T (b + w): no second pass over G
  res.objective = -0.5 * x.dot(b + w);
  res.n_dropped = fac.n_dropped;
  return res;
}

KKTUNLEARN_SOLVER NNLSResult nnls_gram(const RowMatrixd& G, const Vectord& b, const NNLSOptions& opt,
                            const Vectord* x0) {
  if (opt.solver == NNLSSolver::ActiveSet) return nnls_gram_active_set(G, b, opt, x0);
  return nnls_gram_factor(G, b, opt, x0);
}

KKTUNLEARN_SOLVER void span_basis(const RowMatrixd& K, double drop_tol, int n_threads, std::vector<Index>& kept,
                                  Eigen::MatrixXd& Linv) {
  require(K.rows() == K.cols(), "span_basis: K must be square");
  const Index n = K.rows();
  std::vector<Index> order(static_cast<size_t>(n));
  for (Index i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  detail::GramCholesky fac;
  fac.factor(K, order, drop_tol, n_threads, StopCheck{});
  kept.clear();
  for (Index i = 0; i < n; ++i)
    if (!fac.dropped[static_cast<size_t>(i)]) kept.push_back(i);
  const Index r = static_cast<Index>(kept.size());
  Eigen::MatrixXd Ls = Eigen::MatrixXd::Zero(r, r);
  for (Index c = 0; c < r; ++c)
    for (Index a = c; a < r; ++a) Ls(a, c) = fac.L(kept[static_cast<size_t>(a)], kept[static_cast<size_t>(c)]);
  Linv = Eigen::MatrixXd::Identity(r, r);
  if (r > 0) dense::trsm_lower(false, false, Ls, Linv);
  Linv.triangularView<Eigen::StrictlyUpper>().setZero();
}

#endif  // bodies

}  // namespace kktunlearn
