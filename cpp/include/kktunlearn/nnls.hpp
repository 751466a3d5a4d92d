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

namespace kktunlearn {

struct NNLSOptions {
  double tol = 1e-10;        // relative: stop when max_{i not in P} w_i <= tol * max(|b|_inf, tiny)
  std::int64_t max_iter = 0;  // outer iterations (0 = 3 n + 30)
  StopCheck should_stop;      // optional: checked every iteration, throws Interrupted (Ctrl-C)
};

struct NNLSResult {
  Vectord x;
  std::int64_t n_iter = 0;     // outer iterations (coordinates released)
  std::int64_t n_inner = 0;    // inner (line-search) iterations
  std::int64_t n_fallback = 0; // linear solves that needed the LDLT / COD fallback
  bool converged = false;
  double kkt_violation = 0.0;  // max(max_{x_i=0} w_i, max_{x_i>0} |w_i|) at the returned x
  double objective = 0.0;      // 1/2 x^T G x - b^T x
};

namespace detail {

/// Solve the symmetric PSD system A s = r (A small, dense). Returns true if a fallback was used.
inline bool spd_solve(const Eigen::MatrixXd& A, const Eigen::VectorXd& r, Eigen::VectorXd& s) {
  const Index k = A.rows();
  if (k == 0) {
    s.resize(0);
    return false;
  }
  Eigen::LLT<Eigen::MatrixXd> llt(A);
  if (llt.info() == Eigen::Success) {
    const auto d = llt.matrixLLT().diagonal();
    const double mx = d.cwiseAbs().maxCoeff(), mn = d.cwiseAbs().minCoeff();
    if (mx > 0 && (mn * mn) / (mx * mx) >= 1e-13) {
      s = llt.solve(r);
      if (s.allFinite()) return false;
    }
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

/// NNLS on the Gram matrix; x0 (optional, >= 0) warm-starts the passive set with its positive entries.
inline NNLSResult nnls_gram(const RowMatrixd& G, const Vectord& b, const NNLSOptions& opt,
                            const Vectord* x0 = nullptr) {
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
    w = b - G * x;
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
  w = b - G * x;
  double viol = 0.0;
  for (Index i = 0; i < n; ++i) viol = std::max(viol, x[i] > 0 ? std::abs(w[i]) : w[i]);
  res.kkt_violation = viol;
  res.objective = 0.5 * x.dot(G * x) - b.dot(x);
  return res;
}

}  // namespace kktunlearn
