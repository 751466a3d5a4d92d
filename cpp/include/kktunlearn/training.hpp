// kktunlearn: full-batch gradient descent on the mean loss
//
//   L(theta) = (1/n) sum_i l(q_i) + (lambda/2) ||theta||^2,  q_i = y_i N(x_i; theta), lambda = weight_decay
//   grad L   = (1/n) sum_i l'(q_i) y_i grad N(x_i; theta) + lambda theta
//   theta_{t+1} = theta_t - lr_t grad L(theta_t) = (1 - lr_t lambda) theta_t - lr_t (data gradient)
//   (the reported loss, tol and history are those of the mean data loss, without the lambda term)
//   With per-sample weights omega_i >= 0 (TrainOptions::weights, normalized by the caller to mean 1,
//   so omega_i = n w_i / sum_k w_k) the mean loss is the weighted mean (1/n) sum_i omega_i l(q_i)
//   = sum_i w_i l(q_i) / sum_i w_i, and each example's loss derivative is multiplied by omega_i.
//   Empty weights: every omega_i = 1 (the same arithmetic as before, bit for bit).
//     constant:   lr_t = lr
//     normalized: lr_t = min(eta / (L(theta_t) rho_t^(2 - 2/L)), lr_max),  rho_t = max(1, log(1/L(theta_t)))
//                 (Lyu & Li 2020; for degree L = 1 simply eta / L(theta_t), Lyu & Li's rate for L = 2)
//
// The loop only needs "pre-activations in, coefficients out": a representation supplies the
// pre-activations Z (n x m) of the current W and applies the coefficient matrix
// Gamma = -lr_t * (per-example coefficient) * u_j * sigma'(Z_ij) (n x m), i.e. W += Gamma^T X.
//   PrimalRep: W stored (m x d); Z = X W^T (O(n m d)), W += Gamma^T X (O(n m d)).
//   SpanRep:   W = W0 + A^T X with A (n x m); Z = Z0 + K A (O(m n^2)), A += Gamma; K = X X^T and
//              Z0 = X W0^T computed once. Exact: both follow the same iterates. With weight decay
//              W = beta W0 + A^T X: each step multiplies beta and A by (1 - lr_t lambda), Z = beta Z0 + K A.
#pragma once

#include <chrono>
#include <functional>
#include <limits>
#include <utility>

#include "loss.hpp"
#include "model.hpp"

namespace kktunlearn {

/// Margin statistics of a model on (X, y) from its outputs, with the loss in the log domain.
struct MarginStats {
  double log_loss = 0.0;   // log of the mean loss
  double loss = 0.0;       // mean loss (may underflow to 0 for huge margins; log_loss does not)
  double min_margin = 0.0; // min_i q_i
  double shift = 0.0;      // s = max(0, min_i q_i)
  double sum_scaled = 0.0; // sum_i e^{s} l(q_i)
  Index n_misfit = 0;      // #{i : q_i <= 0}
  bool finite = true;
};

/// weights: nullptr or empty for the plain mean; else omega_i (size n, mean 1) for the weighted mean
/// (1/n) sum_i omega_i l(q_i). min_margin and n_misfit are over every point, whatever its weight.
inline MarginStats margin_stats(const Vectord& q, LossKind loss, const Vectord* weights = nullptr) {
  MarginStats st;
  const bool weighted = weights != nullptr && weights->size() > 0;
  const Index n = q.size();
  st.min_margin = std::numeric_limits<double>::infinity();
  for (Index i = 0; i < n; ++i) {
    if (!std::isfinite(q[i])) st.finite = false;
    st.min_margin = std::min(st.min_margin, q[i]);
    if (q[i] <= 0) ++st.n_misfit;
  }
  if (!st.finite || n == 0) {
    st.finite = false;
    st.log_loss = st.loss = std::numeric_limits<double>::quiet_NaN();
    return st;
  }
  st.shift = std::max(0.0, st.min_margin);
  double sum = 0.0;
  if (weighted)
    for (Index i = 0; i < n; ++i) sum += (*weights)[i] * loss_value_scaled(loss, q[i], st.shift);
  else
    for (Index i = 0; i < n; ++i) sum += loss_value_scaled(loss, q[i], st.shift);
  st.sum_scaled = sum;
  st.log_loss = std::log(sum / static_cast<double>(n)) - st.shift;
  st.loss = std::exp(st.log_loss);
  st.finite = std::isfinite(st.log_loss);
  return st;
}

struct TrainOptions {
  LossKind loss = LossKind::Exponential;
  double lr = 0.5;                 // constant lr, or eta of normalized GD
  bool normalized = true;
  double lr_max = std::numeric_limits<double>::infinity();
  std::int64_t max_iter = 1000;
  double tol = 0.0;                // stop when the mean loss <= tol
  double margin_tol = 0.0;         // stop when the normalized margin improves by less than this
                                   // (relative) between two history records; 0 disables
  std::int64_t history_every = 10; // record (loss, min margin, normalized margin) every k steps
  int n_threads = 0;
  double callback_seconds = 0.2;   // how often the progress callback is called
  double weight_decay = 0.0;       // lambda of (lambda/2) ||theta||^2
  Vectord weights;                 // per-sample weights omega_i (mean 1); empty: unweighted
};

enum class TrainStatus : int { MaxIter = 0, Tol = 1, MarginTol = 2, Diverged = 3, Interrupted = 4 };
/// The status names (the one table: the bindings and every result use these strings).
inline const char* train_status_name(TrainStatus s) {
  static const char* const names[] = {"max_iter", "tol", "margin_tol", "diverged", "interrupted"};
  return names[static_cast<int>(s)];
}

struct TrainHistory {
  std::vector<std::int64_t> iter;
  std::vector<double> loss, log_loss, min_margin, normalized_margin;
};

struct TrainResult {
  std::int64_t n_iter = 0;
  TrainStatus status = TrainStatus::MaxIter;
  MarginStats stats;
  TrainHistory history;
};

/// progress(iterations done, mean loss) -> false to stop (e.g. on Ctrl-C).
using ProgressFn = std::function<bool(std::int64_t, double)>;

/// W stored explicitly.
template <class T>
struct PrimalRep {
  MatRef<T> X;
  RowMatrix<T> W;
  RowMatrix<T> backup;
  int n_threads = 0;

  PrimalRep(const MatRef<T>& X_, RowMatrix<T> W0, int nt) : X(X_), W(std::move(W0)), n_threads(nt) {}
  void preacts(RowMatrix<T>& Z) { preactivations<T>(X, W, Z, n_threads); }
  void apply(const RowMatrix<T>& Gamma) { add_gamma_t_x<T>(Gamma, X, W, n_threads); }
  /// W <- f W (the weight-decay factor 1 - lr_t lambda)
  void scale(double f) { W *= static_cast<T>(f); }
  double sqnorm_W(const RowMatrix<T>& /*Z*/) const { return W.template cast<double>().squaredNorm(); }
  void save() { backup = W; }
  void restore() { W = backup; }
  /// One step: keep W for restore(), then W <- f W + Gamma^T X.
  void update(double f, const RowMatrix<T>& Gamma) {
    save();
    if (f != 1.0) scale(f);
    apply(Gamma);
  }
};

/// W = W0 + A^T X, stored as A (n x m); K = X X^T and Z0 = X W0^T given.
template <class T>
struct SpanRep {
  MatRef<T> K;
  MatRef<T> Z0;
  double w0_sqnorm;
  RowMatrix<T> A;
  RowMatrix<T> backup;
  int n_threads = 0;

  double beta = 1.0;  // W0 coefficient (weight decay)
  double beta_backup = 1.0;

  SpanRep(const MatRef<T>& K_, const MatRef<T>& Z0_, double w0sq, RowMatrix<T> A0, int nt)
      : K(K_), Z0(Z0_), w0_sqnorm(w0sq), A(std::move(A0)), n_threads(nt) {}
  void preacts(RowMatrix<T>& Z) {
    Z.resize(Z0.rows(), Z0.cols());
    const Index n = K.rows();
    // one step is 2 n^2 m flops: below ~2e7 a parallel region costs more than it saves (and on a
    // shared machine a descheduled second thread stalls every step), so small steps run serially
    const double flops = 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(Z0.cols());
    const int nt = flops < 2e7 ? 1 : n_threads;
    const T b = static_cast<T>(beta);
    // row blocks of K (fixed by n): 64 rows, except two halves (multiples of 8) for 128 < n <= 512, where 64-row
    // blocks would re-pack A three or more times per step and leave two threads unbalanced (n = 200: 64+64 | 64+8)
    const Index rb = (n > 128 && n <= 512) ? ((n + 1) / 2 + 7) / 8 * 8 : 64;
    parallel_blocks(n, rb, nt, [&](Index r0, Index r1) {
      if (beta == 1.0)
        Z.middleRows(r0, r1 - r0) = Z0.middleRows(r0, r1 - r0);
      else
        Z.middleRows(r0, r1 - r0) = b * Z0.middleRows(r0, r1 - r0);
      dense::gemm(T(1), K.middleRows(r0, r1 - r0), false, A, false, T(1), Z.middleRows(r0, r1 - r0));
    });
  }
  /// ||beta W0 + A^T X||^2 = beta^2 ||W0||^2 + 2 beta <A, Z0> + <A, K A>, with K A = Z - beta Z0 taken
  /// from the pre-activations Z of the current A (no extra product).
  double sqnorm_W(const RowMatrix<T>& Z) const {
    double cross = 0.0, quad = 0.0;
    for (Index i = 0; i < A.rows(); ++i)
      for (Index j = 0; j < A.cols(); ++j) {
        const double a = static_cast<double>(A(i, j)), z0 = static_cast<double>(Z0(i, j));
        cross += a * z0;
        quad += a * (static_cast<double>(Z(i, j)) - beta * z0);
      }
    return beta * beta * w0_sqnorm + 2.0 * beta * cross + quad;
  }
  /// One step: A <- f A + Gamma (beta <- f beta), written into the second buffer, whose swap keeps the old A
  /// for restore() without a copy. The same two roundings per entry as A *= f; A += Gamma.
  void update(double f, const RowMatrix<T>& Gamma) {
    backup.resize(A.rows(), A.cols());
    const Index len = A.size();
    const T* a = A.data();
    const T* g = Gamma.data();
    T* b = backup.data();
    beta_backup = beta;
    if (f == 1.0) {
      for (Index k = 0; k < len; ++k) b[k] = a[k] + g[k];
    } else {
      const T ft = static_cast<T>(f);
      for (Index k = 0; k < len; ++k) {
        const T t = a[k] * ft;
        b[k] = t + g[k];
      }
      beta *= f;
    }
    A.swap(backup);
  }
  void restore() {
    A.swap(backup);
    beta = beta_backup;
  }
};

/// The training loop, shared by every representation. u is updated in place when trained.
template <class T, class Rep>
TrainResult train_gd(Rep& rep, const VecRef<T>& y, Vector<T>& u, const NetSpec& spec, const TrainOptions& opt,
                     const ProgressFn& progress) {
  require(opt.max_iter >= 0, "max_iter must be >= 0");
  require(opt.lr > 0 && std::isfinite(opt.lr), "lr must be a positive finite number");
  require(opt.weight_decay >= 0 && std::isfinite(opt.weight_decay), "weight_decay must be a finite number >= 0");
  const Index n = y.size();
  const Index m = u.size();
  const bool weighted = opt.weights.size() > 0;
  require(!weighted || opt.weights.size() == n, "sample weights must have one entry per training point");
  if (weighted)
    for (Index i = 0; i < n; ++i)
      require(std::isfinite(opt.weights[i]) && opt.weights[i] >= 0, "sample weights must be finite and >= 0");
  const Vectord* wts = weighted ? &opt.weights : nullptr;
  TrainResult res;
  RowMatrix<T> Z, Gamma;
  Vectord c(n), gu;
  Vector<T> u_backup;

  auto evaluate = [&](MarginStats& st) {
    rep.preacts(Z);
    Vectord N = outputs_from_preacts<T>(Z, u, spec);
    Vectord q(n);
    for (Index i = 0; i < n; ++i) q[i] = static_cast<double>(y[i]) * N[i];
    st = margin_stats(q, opt.loss, wts);
    return q;
  };
  auto sqnorm_theta = [&]() {
    double s = rep.sqnorm_W(Z);
    if (spec.train_outer) s += u.template cast<double>().squaredNorm();
    return s;
  };
  auto record = [&](std::int64_t it, const MarginStats& st) {
    res.history.iter.push_back(it);
    res.history.loss.push_back(st.loss);
    res.history.log_loss.push_back(st.log_loss);
    res.history.min_margin.push_back(st.min_margin);
    const double nrm = std::sqrt(sqnorm_theta());
    res.history.normalized_margin.push_back(nrm > 0 ? st.min_margin / std::pow(nrm, spec.degree())
                                                    : std::numeric_limits<double>::quiet_NaN());
  };

  MarginStats st;
  Vectord q = evaluate(st);
  if (!st.finite) throw NumericalError("the loss of the initial model is not finite (check the input scale)");
  const std::int64_t every = std::max<std::int64_t>(1, opt.history_every);
  const double log_cap = std::log(opt.lr_max);
  const double log_lr = std::log(opt.lr);
  auto last_cb = std::chrono::steady_clock::now();

  std::int64_t it = 0;
  for (;; ++it) {
    const bool at_end = it >= opt.max_iter;
    if (it % every == 0 || at_end) {
      record(it, st);
      const size_t h = res.history.normalized_margin.size();
      if (opt.margin_tol > 0 && h >= 2 && it > 0 && res.history.min_margin[h - 1] > 0 &&
          res.history.min_margin[h - 2] > 0) {
        const double a = res.history.normalized_margin[h - 2], b = res.history.normalized_margin[h - 1];
        if ((b - a) / std::abs(a) < opt.margin_tol) {
          res.status = TrainStatus::MarginTol;
          break;
        }
      }
    }
    if (opt.tol > 0 && st.loss <= opt.tol) {
      res.status = TrainStatus::Tol;
      break;
    }
    if (at_end) {
      res.status = TrainStatus::MaxIter;
      break;
    }
    // step coefficients c_i = -lr_t (1/n) l'(q_i) y_i, in the scaled domain
    // normalized GD for an L-homogeneous model (Lyu & Li 2020): lr_t = eta / (L(theta) rho^(2 - 2/L)),
    // rho = max(1, log(1/L(theta))). For L = 1 this is eta / L(theta); for L = 2 the extra factor
    // 1/log(1/L) ~ 1/q_min offsets the gradient's growth with ||theta|| (without it the step grows
    // with the parameters and training blows up).
    double log_norm = log_lr - st.log_loss;
    if (spec.degree() > 1) {
      const double rho = std::max(1.0, -st.log_loss);
      log_norm -= (2.0 - 2.0 / static_cast<double>(spec.degree())) * std::log(rho);
    }
    const double log_step = opt.normalized ? std::min(log_norm, log_cap) : std::min(log_lr, log_cap);
    const double mult = std::exp(log_step - st.shift) / static_cast<double>(n);
    for (Index i = 0; i < n; ++i)
      c[i] = -mult * loss_deriv_scaled(opt.loss, q[i], st.shift) * static_cast<double>(y[i]);
    if (weighted)
      for (Index i = 0; i < n; ++i) c[i] *= opt.weights[i];
    coefficient_matrix<T>(Z, u, c, spec, Gamma, spec.train_outer ? &gu : nullptr);
    double decay = 1.0;
    if (opt.weight_decay > 0) {
      decay = 1.0 - std::exp(log_step) * opt.weight_decay;
      if (!(decay > 0))
        throw NumericalError("weight decay: lr_t * weight_decay = " + std::to_string(1.0 - decay) +
                             " >= 1 flips the sign of theta; lower lr or weight_decay");
    }
    if (spec.train_outer) u_backup = u;
    rep.update(decay, Gamma);
    if (spec.train_outer)
      for (Index j = 0; j < m; ++j) u[j] = static_cast<T>(decay * static_cast<double>(u[j]) + gu[j]);
    MarginStats st_new;
    Vectord q_new = evaluate(st_new);
    if (!st_new.finite) {
      rep.restore();
      if (spec.train_outer) u = u_backup;
      q = evaluate(st);
      res.status = TrainStatus::Diverged;
      res.n_iter = it;
      res.stats = st;
      record(it, st);
      return res;
    }
    st = st_new;
    q = std::move(q_new);
    if (progress) {
      auto now = std::chrono::steady_clock::now();
      if (std::chrono::duration<double>(now - last_cb).count() >= opt.callback_seconds) {
        last_cb = now;
        if (!progress(it + 1, st.loss)) {
          ++it;
          record(it, st);
          res.status = TrainStatus::Interrupted;
          break;
        }
      }
    }
  }
  res.n_iter = it;
  res.stats = st;
  return res;
}

}  // namespace kktunlearn
