// kktunlearn: gradient-ascent unlearning kernels (the KKT-scaled step of arXiv 2510.14844, Thm 4.1; NegGrad baselines).
//
// A_GA on the normalized model theta = theta_raw / s (s = q_min^{1/L}), forgetting the rows F:
//     theta^- = theta - alpha sum_{r in F} y_r h_r,
//     h_r = (block j: c_rj u_j^norm x_r ; output layer: lambda_r sigma(<w_j^norm, x_r>))
// where c_rj = lambda_r sigma'(z_rj) (autograd) or, for the Clarke-consistent step, the fitted KKT coefficient
// mu of a pinned pair (r, j). Mapped back to the raw scale by homogeneity (theta_raw^- = s theta^-, so the
// step on the raw parameters is, with raw u and raw z):
//     W^- = W - alpha s^{2-L} sum_r y_r sum_j c_rj u_j x_r e_j^T,   u^- = u - alpha sum_r lambda_r y_r sigma(z_rj).
// beta = lambda_r / |l'(q_r)| is never formed.
//
// Gradient steps on a signed weighted loss (NegGrad, NegGrad+, fine-tuning):
//     Phi(theta) = sum_i w_i l(q_i) + (lambda/2) ||theta||^2,
//     theta <- theta - lr_t grad Phi(theta) = (1 - lr_t lambda) theta - lr_t sum_i w_i l'(q_i) y_i grad N_i,
//     lr_t = lr (plain) or lr / sum_i |w_i| l(q_i) (normalized; computed with shifted losses, no underflow).
//     lambda = weight_decay (theta = W, and u when trained); lr_t lambda >= 1 is refused.
#pragma once

#include "loss.hpp"
#include "model.hpp"

namespace kktunlearn {

struct GAResult {
  double preact_shift = 0.0;  // max_{i in R, j} |<w_j^- - w_j, x_i>| (raw scale)
  Index n_clarke = 0;         // pinned pairs of the forgotten rows whose coefficient came from mu
};

/// The A_GA step of one call: the network's activation (slope, train_outer), the forgotten points'
/// multipliers (lam_forget, and mu for the pinned pairs (pinned_r[p], pinned_j[p]), rows into X_F), the step
/// alpha and the W-scale factor w_scale = s^(2 - L) of the normalized model, and the thread count.
struct GAOptions {
  double slope = 0.0;
  bool train_outer = false;
  Vectord lam_forget;
  std::vector<Index> pinned_r, pinned_j;
  Vectord mu;
  double alpha = 1.0;
  double w_scale = 1.0;
  int n_threads = 0;
};

/// The A_GA step in place on (W, u). pinned_r are row indices into X_F.
template <class T>
GAResult ga_step(const MatRef<T>& XF, const VecRef<T>& yF, const MatRef<T>& XR, RowMatrix<T>& W, Vector<T>& u,
                 const NetSpec& spec, const Vectord& lamF, const std::vector<Index>& pinned_r,
                 const std::vector<Index>& pinned_j, const Vectord& mu, double alpha, double w_scale, int n_threads) {
  const Index k = XF.rows(), m = W.rows();
  require(yF.size() == k && lamF.size() == k, "ga_step: forget rows, labels and multipliers differ in length");
  require(pinned_r.size() == pinned_j.size() && static_cast<Index>(pinned_r.size()) == mu.size(),
          "ga_step: pinned pairs and mu differ in length");
  RowMatrix<T> Z;
  preactivations<T>(XF, MatRef<T>(W), Z, n_threads);
  RowMatrixd C(k, m);
  for (Index r = 0; r < k; ++r)
    for (Index j = 0; j < m; ++j) C(r, j) = lamF[r] * static_cast<double>(dact(Z(r, j), spec.slope));
  GAResult res;
  for (size_t a = 0; a < pinned_r.size(); ++a) {
    require(pinned_r[a] >= 0 && pinned_r[a] < k && pinned_j[a] >= 0 && pinned_j[a] < m, "ga_step: pinned pair out of range");
    C(pinned_r[a], pinned_j[a]) = mu[static_cast<Index>(a)];
    ++res.n_clarke;
  }
  RowMatrix<T> Gam(k, m);
  for (Index r = 0; r < k; ++r)
    for (Index j = 0; j < m; ++j)
      Gam(r, j) = static_cast<T>(-alpha * w_scale * static_cast<double>(yF[r]) * C(r, j) * static_cast<double>(u[j]));
  if (spec.train_outer) {
    for (Index j = 0; j < m; ++j) {
      double s = 0.0;
      for (Index r = 0; r < k; ++r) s += lamF[r] * static_cast<double>(yF[r]) * static_cast<double>(act(Z(r, j), spec.slope));
      u[j] = static_cast<T>(static_cast<double>(u[j]) - alpha * s);
    }
  }
  add_gamma_t_x<T>(MatRef<T>(Gam), XF, W, n_threads);
  // pre-activation shift on the retained rows: X_R (W^- - W)^T = (X_R X_F^T) Gam
  if (XR.rows() > 0) {
    RowMatrix<T> KRF;
    preactivations<T>(XR, XF, KRF, n_threads);  // X_R X_F^T
    RowMatrixd KRFd, Gd;
    dense::widen(KRF, KRFd);
    dense::widen(Gam, Gd);
    const RowMatrixd shift = dense::mm(KRFd, false, Gd, false);
    res.preact_shift = shift.cwiseAbs().maxCoeff();
  }
  return res;
}

/// ga_step with its options in one struct.
template <class T>
GAResult ga_step(const MatRef<T>& XF, const VecRef<T>& yF, const MatRef<T>& XR, RowMatrix<T>& W, Vector<T>& u,
                 const GAOptions& o) {
  NetSpec spec;
  spec.slope = o.slope;
  spec.train_outer = o.train_outer;
  return ga_step<T>(XF, yF, XR, W, u, spec, o.lam_forget, o.pinned_r, o.pinned_j, o.mu, o.alpha, o.w_scale,
                    o.n_threads);
}

struct GDResult {
  std::vector<double> objective;  // sum_i w_i l(q_i) (+ lambda/2 ||theta||^2) before each step (may underflow to 0)
  std::vector<double> lr;         // the step size used
  bool interrupted = false;
};

/// n_steps gradient steps on Phi = sum_i w_i l(q_i) over the rows of X (rows with w_i = 0 are skipped).
template <class T, class Progress>
GDResult gd_weighted(const MatRef<T>& X, const VecRef<T>& y, const Vectord& w, RowMatrix<T>& W, Vector<T>& u,
                     const NetSpec& spec, LossKind loss, double lr, bool normalized, double lr_max, int n_steps,
                     int n_threads, Progress&& progress, double weight_decay = 0.0) {
  const Index n = X.rows(), m = W.rows();
  require(y.size() == n && w.size() == n, "gd_weighted: X, y, weights differ in length");
  require(weight_decay >= 0 && std::isfinite(weight_decay), "gd_weighted: weight_decay must be finite and >= 0");
  GDResult res;
  for (int t = 0; t < n_steps; ++t) {
    RowMatrix<T> Z;
    preactivations<T>(X, MatRef<T>(W), Z, n_threads);
    Vectord N = outputs_from_preacts<T>(MatRef<T>(Z), VecRef<T>(u), spec);
    Vectord q(n);
    double qmin = std::numeric_limits<double>::infinity();
    for (Index i = 0; i < n; ++i) {
      q[i] = static_cast<double>(y[i]) * N[i];
      if (w[i] != 0.0) qmin = std::min(qmin, q[i]);
    }
    if (!std::isfinite(qmin)) throw NumericalError("gradient unlearning: margins are not finite (diverged; lower lr)");
    const double shift = std::max(0.0, qmin);
    double phi_s = 0.0, abs_s = 0.0;  // e^{shift} * (sum w l, sum |w| l)
    Vectord c(n);
    for (Index i = 0; i < n; ++i) {
      if (w[i] == 0.0) {
        c[i] = 0.0;
        continue;
      }
      const double ls = loss_value_scaled(loss, q[i], shift);
      phi_s += w[i] * ls;
      abs_s += std::abs(w[i]) * ls;
      c[i] = w[i] * loss_deriv_scaled(loss, q[i], shift) * static_cast<double>(y[i]);  // e^{shift} * dPhi/dN_i
    }
    double step;
    if (normalized) {
      if (!(abs_s > 0)) throw NumericalError("gradient unlearning: the loss vanished; normalized steps undefined");
      // lr_t = min(lr / L, lr_max) with L = e^{-shift} abs_s; multiplier of the e^{shift}-scaled c: lr_t e^{-shift}
      step = std::min(lr / abs_s, lr_max * std::exp(-shift));
      res.lr.push_back(std::min(lr / abs_s * std::exp(shift), lr_max));
    } else {
      step = lr * std::exp(-shift);
      res.lr.push_back(lr);
    }
    double sq = 0.0;
    if (weight_decay > 0) {
      sq = W.template cast<double>().squaredNorm();
      if (spec.train_outer) sq += u.template cast<double>().squaredNorm();
    }
    res.objective.push_back(phi_s * std::exp(-shift) + 0.5 * weight_decay * sq);
    const double decay = 1.0 - res.lr.back() * weight_decay;
    if (weight_decay > 0 && !(decay > 0))
      throw NumericalError("gradient unlearning: lr_t * weight_decay >= 1 flips the sign of theta; lower lr");
    // theta <- theta - step * sum_i c_i grad N_i
    Vectord cc = -step * c;
    RowMatrix<T> Gam;
    Vectord gu;
    coefficient_matrix<T>(MatRef<T>(Z), VecRef<T>(u), cc, spec, Gam, spec.train_outer ? &gu : nullptr);
    if (weight_decay > 0) W *= static_cast<T>(decay);
    add_gamma_t_x<T>(MatRef<T>(Gam), X, W, n_threads);
    const double du = weight_decay > 0 ? decay : 1.0;
    if (spec.train_outer)
      for (Index j = 0; j < m; ++j) u[j] = static_cast<T>(du * static_cast<double>(u[j]) + gu[j]);
    bool finite = true;
    for (Index j = 0; j < m && finite; ++j)
      if (!std::isfinite(static_cast<double>(W.row(j).sum()))) finite = false;
    if (!finite) throw NumericalError("gradient unlearning diverged (non-finite weights); lower lr");
    if (!progress(t + 1, res.objective.back())) {
      res.interrupted = true;
      break;
    }
  }
  return res;
}

}  // namespace kktunlearn
