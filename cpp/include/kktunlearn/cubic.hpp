// kktunlearn: the cubic-regularized Newton subproblem and the other spectral Newton steps.
//
//   CubicSolve:  s* = argmin_s  <g, s> + 1/2 s^T H s + (M/6) ||s||^3          (M > 0, H symmetric)
//
// Global optimality (Nesterov & Polyak 2006; arXiv 2406.14507):
//   g + (H + gamma I) s* = 0,   H + gamma I >= 0,   gamma = (M/2) ||s*||.
// Everything is solved in the eigenbasis H = U diag(lam) U^T, b = U^T g:
//   ||s(gamma)||^2 = sum_i b_i^2 / (lam_i + gamma)^2,  psi(gamma) = ||s(gamma)|| - 2 gamma / M,
// psi is strictly decreasing on (gamma_min, inf), gamma_min = max(0, -lam_1), and the root gamma* is
// bracketed by
//   lo = max(gamma_min, (-lam_p + sqrt(lam_p^2 + 2 M ||g||)) / 2),
//   hi = (-lam_1 + sqrt(lam_1^2 + 2 M ||g||)) / 2                          (psi(hi) <= 0 always).
// It is found by Newton's method on phi(gamma) = 1/||s(gamma)|| - M/(2 gamma) (increasing and concave,
// so Newton from the left is monotone), safeguarded by bisection on the bracket.
// Hard case (lam_1 < 0, b has no component on the lam_1 eigenspace and ||s_perp(gamma_min)|| <= 2 gamma_min/M):
//   gamma* = -lam_1,  s* = s_perp + tau u_1,  s_perp = -sum_{lam_i > lam_1} b_i/(lam_i - lam_1) u_i,
//   tau = sqrt((2 gamma*/M)^2 - ||s_perp||^2)   (either sign is optimal; +tau, or the sign of -b_1).
// Fixes to the Newton paper's released code: the pseudo-inverse part has the sign of -g; gamma = 0 never
// appears in a denominator (the PSD case starts at lo > 0); the root is always bracketed; the
// returned gamma is the damping, never tau.
//
// Damped Newton: s = -(H + delta I)^{-1} g;  pseudo-inverse Newton: s = -H^+ g with eigenvalues
// |lam_i| <= rcond * max_i |lam_i| treated as zero.
#pragma once

#include <Eigen/Eigenvalues>

#include <cmath>
#include <limits>

#include "common.hpp"

namespace kktunlearn {

struct CubicSolution {
  Vectord s;            // the step in the eigenbasis (s = U * this)
  double gamma = 0.0;   // damping gamma* = (M/2) ||s||
  double norm = 0.0;    // ||s||
  double value = 0.0;   // model value <b, s> + 1/2 sum lam_i s_i^2 + M/6 ||s||^3
  bool hard_case = false;
  int n_iter = 0;       // secular-equation iterations
};

/// Global minimizer of <b, s> + 1/2 sum_i lam_i s_i^2 + M/6 ||s||^3 (H in its eigenbasis; the method is in
/// the file comment, the tolerances at the definition below).
KKTUNLEARN_SOLVER CubicSolution cubic_solve_eig(const Vectord& lam, const Vectord& b, double M, double hard_tol = 1e-12,
                                                double eig_tol = 1e-12, int max_iter = 200);

/// Symmetric eigendecomposition (ascending eigenvalues) with a finiteness check.
KKTUNLEARN_SOLVER void sym_eig(const RowMatrixd& A, Vectord& lam, Eigen::MatrixXd& U);

/// Dense cubic step: s = argmin <g,s> + 1/2 s^T H s + M/6 ||s||^3 for a dense symmetric H.
KKTUNLEARN_SOLVER CubicSolution cubic_solve_dense(const RowMatrixd& H, const Vectord& g, double M,
                                                  double hard_tol = 1e-12);

#if defined(KKTUNLEARN_HEADER_ONLY) || defined(KKTUNLEARN_COMPILE_CUBIC)
namespace detail {

inline double model_value_eig(const Vectord& lam, const Vectord& b, const Vectord& s, double M) {
  const double nrm = s.norm();
  double v = b.dot(s);
  for (Index i = 0; i < lam.size(); ++i) v += 0.5 * lam[i] * s[i] * s[i];
  return v + M / 6.0 * nrm * nrm * nrm;
}

// ||s(gamma)|| and d/dgamma ||s(gamma)||^2 / (-2) = sum b_i^2/(lam_i+gamma)^3
inline void secular_eval(const Vectord& lam, const Vectord& b, double gamma, double& nrm, double& d3) {
  double s2 = 0.0, s3 = 0.0;
  for (Index i = 0; i < lam.size(); ++i) {
    if (b[i] == 0.0) continue;
    const double den = lam[i] + gamma;
    const double t = b[i] / den;
    s2 += t * t;
    s3 += t * t / den;
  }
  nrm = std::sqrt(s2);
  d3 = s3;
}

}  // namespace detail

/// Global minimizer of the cubic model in the eigenbasis of H: lam (eigenvalues, any order), b = U^T g.
/// `hard_tol`: components of b on the lam_1 eigenspace with |b_i| <= hard_tol * ||b|| count as zero
/// when deciding the hard case; `eig_tol`: eigenvalues within eig_tol * max(1, max |lam|) of lam_1 belong
/// to the lam_1 eigenspace.
KKTUNLEARN_SOLVER CubicSolution cubic_solve_eig(const Vectord& lam, const Vectord& b, double M, double hard_tol,
                                                double eig_tol, int max_iter) {
  require(M > 0 && std::isfinite(M), "cubic: M must be a positive finite number");
  require(lam.size() == b.size(), "cubic: eigenvalues and coefficients differ in length");
  const Index k = lam.size();
  CubicSolution out;
  out.s = Vectord::Zero(k);
  if (k == 0) return out;
  for (Index i = 0; i < k; ++i)
    if (!std::isfinite(lam[i]) || !std::isfinite(b[i])) throw NumericalError("cubic: non-finite Hessian or gradient");
  Index i1 = 0, ip = 0;
  for (Index i = 1; i < k; ++i) {
    if (lam[i] < lam[i1]) i1 = i;
    if (lam[i] > lam[ip]) ip = i;
  }
  const double lam1 = lam[i1], lamp = lam[ip];
  const double lam_scale = std::max(1.0, std::max(std::abs(lam1), std::abs(lamp)));
  const double gnorm = b.norm();
  const double gmin = std::max(0.0, -lam1);

  // eigenspace of lam_1
  std::vector<Index> bottom;
  double b1sq = 0.0;
  for (Index i = 0; i < k; ++i)
    if (lam[i] - lam1 <= eig_tol * lam_scale) {
      bottom.push_back(i);
      b1sq += b[i] * b[i];
    }

  if (gnorm == 0.0) {
    if (lam1 < 0) {  // pure negative-curvature escape: +-(2(-lam_1)/M) u_1
      out.gamma = -lam1;
      out.s[i1] = 2.0 * out.gamma / M;
      out.hard_case = true;
    }
    out.norm = out.s.norm();
    out.value = detail::model_value_eig(lam, b, out.s, M);
    return out;
  }

  // hard case test (only possible when lam_1 < 0). Besides the exact hard case (b vanishes on the
  // lam_1 eigenspace), the *nearly* hard case is taken here too when the root gamma* is closer to the
  // pole -lam_1 than double precision resolves: there the bottom component of s has norm
  // t = sqrt(r^2 - ||s_perp||^2) and gamma* + lam_1 = ||b_1|| / t, so when ||b_1|| <= 1e-13 * gmin * t
  // the hard-case formula (with the sign of b_1) is the solution to ~1e-13 relative, whereas the
  // secular iteration would hit the pole (overflow) or lose the bottom component.
  if (lam1 < 0) {
    Vectord sp = Vectord::Zero(k);
    std::vector<char> in_bottom(k, 0);
    for (Index i : bottom) in_bottom[i] = 1;
    for (Index i = 0; i < k; ++i)
      if (!in_bottom[i]) sp[i] = -b[i] / (lam[i] - lam1);
    const double spn = sp.norm();
    const double r = 2.0 * gmin / M;
    bool hard = std::sqrt(b1sq) <= hard_tol * gnorm;
    if (!hard && spn < r) hard = std::sqrt(b1sq) <= 1e-13 * gmin * std::sqrt(r * r - spn * spn);
    if (hard && spn <= r) {
      // choose the direction: the bottom component of b with the largest magnitude decides the sign
      // (continuity with the nearly-hard case); +u_1 when b vanishes there.
      Index ib = i1;
      double best = -1.0;
      for (Index i : bottom)
        if (std::abs(b[i]) > best) {
          best = std::abs(b[i]);
          ib = i;
        }
      const double tau = std::sqrt(std::max(r * r - spn * spn, 0.0));
      sp[ib] += (b[ib] > 0 ? -tau : tau);
      out.s = sp;
      out.gamma = gmin;
      out.hard_case = true;
      out.norm = out.s.norm();
      out.value = detail::model_value_eig(lam, b, out.s, M);
      return out;
    }
  }

  // regular case: root of psi on (gmin, inf)
  double hi = 0.5 * (-lam1 + std::sqrt(lam1 * lam1 + 2.0 * M * gnorm));
  double lo = std::max(gmin, 0.5 * (-lamp + std::sqrt(lamp * lamp + 2.0 * M * gnorm)));
  hi = std::max(hi, lo);
  auto psi = [&](double g, double& nrm, double& d3) {
    detail::secular_eval(lam, b, g, nrm, d3);
    return nrm - 2.0 * g / M;
  };
  // the left end may be exactly gmin (a pole): move inside
  double gam = lo;
  if (!(gam > gmin)) gam = gmin + std::max(1e-300, std::abs(gmin) * 1e-15);
  double nrm = 0.0, d3 = 0.0;
  double f = psi(gam, nrm, d3);
  if (f <= 0) {
    // lo already at/after the root (possible only by rounding): shrink towards gmin by bisection
    double a = gmin, c = gam;
    for (int it = 0; it < 200 && f <= 0; ++it) {
      gam = 0.5 * (a + c);
      if (!(gam > gmin)) break;
      f = psi(gam, nrm, d3);
      if (f <= 0) c = gam; else a = gam;
    }
    hi = std::max(hi, c);
  }
  lo = gam;
  int it = 0;
  for (; it < max_iter; ++it) {
    f = psi(gam, nrm, d3);
    if (!std::isfinite(nrm)) throw NumericalError("cubic: secular equation overflowed");
    if (f > 0) lo = gam; else hi = gam;
    if (std::abs(f) <= 1e-15 * std::max(nrm, 2.0 * gam / M) || hi - lo <= 1e-16 * hi) break;
    // Newton on phi(g) = 1/||s|| - M/(2g): phi' = d3/||s||^3 + M/(2 g^2)
    const double phi = 1.0 / nrm - M / (2.0 * gam);
    const double dphi = d3 / (nrm * nrm * nrm) + M / (2.0 * gam * gam);
    double next = gam - phi / dphi;
    if (!(next > lo && next < hi) || !std::isfinite(next)) next = 0.5 * (lo + hi);
    if (next == gam) break;
    gam = next;
  }
  out.n_iter = it + 1;
  out.gamma = gam;
  for (Index i = 0; i < k; ++i) out.s[i] = b[i] == 0.0 ? 0.0 : -b[i] / (lam[i] + gam);
  out.norm = out.s.norm();
  out.value = detail::model_value_eig(lam, b, out.s, M);
  return out;
}

#endif  // bodies

/// Damped step -(H + delta I)^{-1} g in the eigenbasis; NumericalError when H + delta I is singular
/// (|lam_i + delta| <= sing_tol * max(|lam| + delta)) on a direction where b is nonzero or not.
inline Vectord damped_solve_eig(const Vectord& lam, const Vectord& b, double delta, double sing_tol,
                                const char* what) {
  const Index k = lam.size();
  double scale = 0.0;
  for (Index i = 0; i < k; ++i) scale = std::max(scale, std::abs(lam[i] + delta));
  Vectord s(k);
  for (Index i = 0; i < k; ++i) {
    const double den = lam[i] + delta;
    if (!(std::abs(den) > sing_tol * scale) || scale == 0.0)
      throw NumericalError(std::string(what) + ": the Hessian" + (delta != 0.0 ? " + damping" : "") +
                           " is singular (eigenvalue " + std::to_string(den) + ", largest " + std::to_string(scale) +
                           "); use pinv_newton, damped_newton with a larger damping, or cure_newton");
    s[i] = -b[i] / den;
  }
  return s;
}

/// Pseudo-inverse step -H^+ g: eigenvalues with |lam_i| <= rcond * lam_max_abs are dropped.
/// lam_max_abs defaults (< 0) to max |lam_i|.
inline Vectord pinv_solve_eig(const Vectord& lam, const Vectord& b, double rcond, double lam_max_abs = -1.0,
                              Index* rank = nullptr) {
  const Index k = lam.size();
  double mx = lam_max_abs;
  if (mx < 0) {
    mx = 0.0;
    for (Index i = 0; i < k; ++i) mx = std::max(mx, std::abs(lam[i]));
  }
  Vectord s = Vectord::Zero(k);
  Index r = 0;
  for (Index i = 0; i < k; ++i)
    if (std::abs(lam[i]) > rcond * mx && lam[i] != 0.0) {
      s[i] = -b[i] / lam[i];
      ++r;
    }
  if (rank) *rank = r;
  return s;
}

#if defined(KKTUNLEARN_HEADER_ONLY) || defined(KKTUNLEARN_COMPILE_CUBIC)
KKTUNLEARN_SOLVER void sym_eig(const RowMatrixd& A, Vectord& lam, Eigen::MatrixXd& U) {
  for (Index i = 0; i < A.rows(); ++i)
    for (Index j = 0; j < A.cols(); ++j)
      if (!std::isfinite(A(i, j))) throw NumericalError("non-finite entry in a symmetric matrix to decompose");
  Eigen::MatrixXd S = 0.5 * (A + A.transpose());
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(S);
  if (es.info() != Eigen::Success) throw NumericalError("symmetric eigendecomposition did not converge");
  lam = es.eigenvalues();
  U = es.eigenvectors();
}

KKTUNLEARN_SOLVER CubicSolution cubic_solve_dense(const RowMatrixd& H, const Vectord& g, double M, double hard_tol) {
  require(H.rows() == H.cols() && H.rows() == g.size(), "cubic: H must be p x p and g of length p");
  Vectord lam;
  Eigen::MatrixXd U;
  sym_eig(H, lam, U);
  Vectord b = U.transpose() * g;
  CubicSolution sol = cubic_solve_eig(lam, b, M, hard_tol);
  sol.s = U * sol.s;
  return sol;
}

#endif  // bodies

}  // namespace kktunlearn
