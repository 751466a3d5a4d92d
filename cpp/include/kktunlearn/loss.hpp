// kktunlearn: margin losses l(q), q = y N(x), numerically stable at tiny losses.
//
//   exponential: l(q) = exp(-q),            l'(q) = -exp(-q)
//   logistic:    l(q) = log(1 + exp(-q)),   l'(q) = -1 / (1 + exp(q))
//
// For large margins (q >= 50 and far beyond) exp(-q) underflows; the training loop therefore
// works with *scaled* values e^{s} l(q) and e^{s} l'(q), s = max(0, min_i q_i), and keeps the
// mean loss in the log domain: log L = log((1/n) sum_i e^{s} l(q_i)) - s.
#pragma once

#include <cmath>
#include <limits>
#include <string>

#include "common.hpp"

namespace kktunlearn {

enum class LossKind : int { Exponential = 0, Logistic = 1 };

inline LossKind loss_from_string(const std::string& s) {
  if (s == "exponential" || s == "exp") return LossKind::Exponential;
  if (s == "logistic") return LossKind::Logistic;
  throw InvalidArgument("unknown loss '" + s + "' (expected 'exponential' or 'logistic')");
}
/// The inverse of loss_from_string (the canonical names).
inline const char* loss_name(LossKind k) { return k == LossKind::Logistic ? "logistic" : "exponential"; }

/// exp(-q) is a finite double only for q >= -log(DBL_MAX) = -709.78...
inline constexpr double kExpMarginLimit = 709.782712893384;

/// Throws NumericalError when the exponential loss or its derivative at margin q is not a finite
/// double (q < -709.78): l(q) = exp(-q) > 1.8e308. Called by the entry points that return l(q),
/// l'(q) or the gradient to the user, instead of handing back inf and NaN. (The training loop keeps
/// its scaled, log-domain values and detects divergence itself.)
inline void check_loss_margin(LossKind k, double q) {
  if (k == LossKind::Exponential && q < -kExpMarginLimit) {
    throw NumericalError("exponential loss at margin q = " + std::to_string(q) + ": l(q) = exp(-q) and l'(q) "
                         "exceed the largest double (1.8e308, reached at q = -709.78), so the loss is inf and "
                         "the gradient would be NaN. The model misclassifies these points by far more than the "
                         "loss can represent: rescale the weights or X, or use loss='logistic' (linear growth)");
  }
}

/// l(q)
inline double loss_value(LossKind k, double q) {
  if (k == LossKind::Exponential) return std::exp(-q);
  return q > 0 ? std::log1p(std::exp(-q)) : -q + std::log1p(std::exp(q));
}

/// l'(q) (always < 0)
inline double loss_deriv(LossKind k, double q) {
  if (k == LossKind::Exponential) return -std::exp(-q);
  if (q >= 0) {
    const double t = std::exp(-q);
    return -t / (1.0 + t);
  }
  return -1.0 / (1.0 + std::exp(q));
}

/// e^{s} l(q) for a shift s >= 0 with s <= q (so the result does not overflow).
inline double loss_value_scaled(LossKind k, double q, double s) {
  if (k == LossKind::Exponential) return std::exp(s - q);
  if (q > 0) {
    const double t = std::exp(-q);
    const double ratio = t > 1e-8 ? std::log1p(t) / t : 1.0 - 0.5 * t;  // log1p(t)/t
    return std::exp(s - q) * ratio;
  }
  return std::exp(s) * (-q + std::log1p(std::exp(q)));
}

/// e^{s} l'(q) for a shift s >= 0 with s <= q.
inline double loss_deriv_scaled(LossKind k, double q, double s) {
  if (k == LossKind::Exponential) return -std::exp(s - q);
  if (q >= 0) return -std::exp(s - q) / (1.0 + std::exp(-q));
  return -std::exp(s) / (1.0 + std::exp(q));
}

}  // namespace kktunlearn
