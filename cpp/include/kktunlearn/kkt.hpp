// kktunlearn: KKT multipliers and the stationarity residual of the margin problem, without ever
// forming the n x (m d) Jacobian.
//
// Margin problem on a data set T = {(x_i, y_i)}:  min 1/2 ||theta||^2  s.t.  q_i = y_i N(x_i; theta) >= 1.
//
// 1. Normalization (homogeneity of degree L):  theta <- theta / s,  s = q_min^(1/L)  (or a scale given by
//    the caller), so that the normalized margins are q_i / s^L. Pre-activations scale as z <- z / s,
//    trained output weights as u <- u / s.
// 2. Per-example gradients in parameter space: neuron j's block of y_i grad N(x_i) is
//    y_i u_j sigma'(z_ij) x_i (W part) and, when u is trained, y_i sigma(z_ij) (u part).
//    A point i's contribution to the stationarity sum is written with coefficients c_ij:
//        theta - sum_i lambda_i y_i h_i  has W-block  r_j = w_j - u_j sum_i y_i c_ij x_i
//        and u-block  ru_j = u_j - sum_i lambda_i y_i sigma(z_ij),
//    with c_ij = lambda_i sigma'(z_ij) (plain, sigma'(0) = slope) or, for a *pinned* pair
//    (|z_ij| <= subgradient_tol on the normalized model), any c_ij = mu_ij in [slope lambda_i, lambda_i]
//    (the Clarke subdifferential of the (leaky) ReLU at the kink is [slope, 1]).
// 3. Everything needed is expressible with K = X X^T, Z and u: with M_ij = u_j y_i c_ij and
//    Rho = Z - K M (Rho_kj = <x_k, r_j>),
//        ||r_j||^2 = ||w_j||^2 - sum_i M_ij (Z_ij + Rho_ij),
//        <y_k u_j x_k e_j, r> = y_k u_j Rho_kj          (column of a pinned pair's mu_kj)
//        <y_i grad N(x_i), r> = y_i [sum_j u_j sigma'(z_ij) Rho_ij + [u trained] sum_j sigma(z_ij) ru_j].
//    epsilon^2 = sum_j ||r_j||^2 + ||ru||^2 = ||theta||^2 - 2 lambda.b + lambda^T G lambda in the plain case.
//    When epsilon^2 <= 1e-6 ||theta||^2 the Gram form has lost most of its digits to cancellation, and the
//    residual is recomputed directly as W/s - M^T X (O(n m d), block by block over the features).
// 4. Multipliers:
//    * plain NNLS: min_{lambda >= 0} 1/2 lambda^T G lambda - b^T lambda, G_ik = y_i y_k <grad N(x_i), grad N(x_k)>,
//      b_i = y_i <grad N(x_i), theta> (= L q_i), solved by nnls_gram (nnls.hpp);
//    * exact Clarke QP when pairs are pinned: variables lambda_i >= 0 and mu_ij in [slope lambda_i, lambda_i],
//      minimizing epsilon^2 / 2, by a primal active-set method started from the plain solution (which is
//      feasible: it takes mu_ij = lambda_i sigma'(z_ij)), so epsilon_clarke <= epsilon_plain always;
//    * dynamics (the multipliers implied by gradient descent's implicit bias, Lyu & Li 2020): lambda = c v, v_i = |l'(q_i^raw)| (rescaled by e^{q_min}, which cancels),
//      c = <theta, g> / ||g||^2 with g = sum_i v_i y_i grad N(x_i), i.e. c = v.b / v^T G v;
//    * closed form (linear model: the hard-margin SVM dual): all points support vectors, lambda = G^{-1} 1 (= y o K^{-1} y);
//      negative entries (points that are not support vectors) are clipped to 0 and counted;
//    * given: lambda (and optionally mu for listed pairs) from the caller; only the residual is computed.
#pragma once

#include <functional>
#include <limits>
#include <utility>

#include "gram.hpp"
#include "loss.hpp"
#include "nnls.hpp"

namespace kktunlearn {

enum class MultiplierMethod : int { NNLS = 0, Dynamics = 1, ClosedForm = 2, Given = 3 };

/// The method names (the one table: multiplier_method_from_string and multiplier_method_name).
inline const char* multiplier_method_name(MultiplierMethod k) {
  static const char* const names[] = {"nnls", "dynamics", "closed_form", "given"};
  return names[static_cast<int>(k)];
}
inline MultiplierMethod multiplier_method_from_string(const std::string& s) {
  for (int k = 0; k < 4; ++k)
    if (s == multiplier_method_name(static_cast<MultiplierMethod>(k))) return static_cast<MultiplierMethod>(k);
  throw InvalidArgument("unknown multiplier method '" + s + "' (expected nnls, dynamics, closed_form, given)");
}

struct KKTOptions {
  MultiplierMethod method = MultiplierMethod::NNLS;
  double subgradient_tol = 0.0;  // pinned pairs: |z_ij| <= tol on the normalized model; < 0: none
  double tol = 1e-10;            // relative optimality tolerance of the NNLS / Clarke QP
  std::int64_t max_iter = 0;     // 0 = automatic
  double scale = 0.0;            // > 0: normalize by this s instead of q_min^(1/L)
  LossKind loss = LossKind::Exponential;  // for the dynamics multipliers
  bool clarke = true;            // solve the exact Clarke QP when some pair is pinned
  StopCheck should_stop;         // optional cancellation check of the solvers' loops (Ctrl-C)
  int clarke_pdas_iter = 50;     // primal-dual active-set warm-start iterations (0: primal method only)
  NNLSSolver nnls_solver = NNLSSolver::Auto;  // plain multipliers: factor + PDAS (auto) or Lawson-Hanson
  // method == Given
  Vectord given_lambdas;
  std::vector<std::pair<Index, Index>> given_pairs;
  Vectord given_mu;
};

struct KKTResult {
  bool separable = true;      // false: q_min <= 0 and no scale given (nothing else is filled in)
  double q_min_raw = 0.0;     // min_i y_i N(x_i) of the raw model
  double scale = 1.0;         // s
  double scale_pow = 1.0;     // s^L (normalized margins are q_raw / s^L)
  Vectord margins;            // normalized margins
  Vectord lambdas;
  double epsilon = 0.0;
  double epsilon_plain = std::numeric_limits<double>::quiet_NaN();  // plain NNLS epsilon (method nnls)
  double epsilon_sq_gram = 0.0;  // epsilon^2 from the Gram identity (before any direct recomputation)
  bool direct_residual = false;
  double theta_norm = 0.0;    // ||theta / s||
  bool converged = true;
  std::int64_t n_iter = 0;
  std::int64_t n_fallback = 0;
  std::int64_t n_dropped = 0;  // NNLS: coordinates dropped as linearly dependent (lambda not unique)
  std::int64_t n_factor = 0;   // NNLS: Cholesky factorizations of the Gram block
  double kkt_violation = 0.0;  // of the last solver run (NNLS or Clarke QP), absolute
  std::int64_t clarke_iter = 0;
  bool clarke_converged = true;
  std::int64_t n_clipped = 0;  // closed form: negative multipliers set to 0
  Eigen::Matrix<std::int64_t, Eigen::Dynamic, 2, Eigen::RowMajor> pinned;
  Vectord mu;
};

namespace detail {

/// Direct residual ||W/s - M^T X||^2 (+ ||ru||^2), parallel over feature blocks (deterministic).
template <class T>
double direct_residual_sq(const MatRef<T>& X, const MatRef<T>& W, double s, const RowMatrixd& M, const Vectord& ru,
                          int n_threads) {
  const Index d = X.cols();
  const Index block = 2048;
  const Index nb = (d + block - 1) / block;
  std::vector<double> partial(static_cast<size_t>(nb), 0.0);
  const RowMatrixd Mt = M.transpose();
  parallel_blocks(d, block, n_threads, [&](Index c0, Index c1) {
    RowMatrixd R = W.middleCols(c0, c1 - c0).template cast<double>() / s;
    if constexpr (std::is_same<T, double>::value) {
      dense::gemm(-1.0, Mt, false, X.middleCols(c0, c1 - c0), false, 1.0, R);
    } else {
      RowMatrixd Xd;
      dense::widen(X.middleCols(c0, c1 - c0), Xd);
      dense::gemm(-1.0, Mt, false, Xd, false, 1.0, R);
    }
    partial[static_cast<size_t>(c0 / block)] = R.squaredNorm();
  });
  double tot = 0.0;
  for (double p : partial) tot += p;
  return tot + ru.squaredNorm();
}

}  // namespace detail

/// The direct residual ||W/s - M^T X||^2 + ||ru||^2 of a representation (called with s, M, ru).
using DirectResidual = std::function<double(double, const RowMatrixd&, const Vectord&)>;

namespace detail {

/// The scalar-type-independent part of kkt_multipliers_gram, on float64 copies of its inputs: Z = X W^T
/// (raw model), K = X X^T, y, u, and N = the raw outputs. Compiled once (cpp/src/solvers.cpp), not per scalar type.
KKTUNLEARN_SOLVER KKTResult kkt_multipliers_solve(RowMatrixd Z, const MatRef<double>& K, const Vectord& wsq_raw,
                                                  Vectord y, Vectord u, const Vectord& N, const NetSpec& spec,
                                                  const KKTOptions& opt, const DirectResidual& direct_fn,
                                                  int n_threads);

}  // namespace detail

/// Multipliers, epsilon and the pinned pairs of the model on (X, y), from the quantities the KKT problem
/// is built of (see the file comment, item 3): Zraw = X W^T (n x m, raw model), K = X X^T (n x n) and the
/// raw per-neuron squared norms wsq_j = ||w_j||^2. `direct` recomputes epsilon^2 without the Gram identity
/// when it has cancelled (primal: one pass over X and W; span: in the n x m coefficient space).
/// Cost O(n^2 m) plus the solver; no d anywhere.
template <class T>
KKTResult kkt_multipliers_gram(const MatRef<T>& Zraw, const MatRef<T>& Kraw, const Vectord& wsq_raw,
                               const VecRef<T>& y, const VecRef<T>& u, const NetSpec& spec, const KKTOptions& opt,
                               const DirectResidual& direct_fn, int n_threads) {
  const Index n = Zraw.rows(), m = Zraw.cols();
  require(Kraw.rows() == n && Kraw.cols() == n, "kkt: K must be n x n");
  require(wsq_raw.size() == m, "kkt: one squared norm per neuron is needed");
  require(y.size() == n && u.size() == m, "kkt: y must have n entries and u m entries");
  require(n >= 1, "kkt: at least one data point is needed");
  const Vectord N = outputs_from_preacts<T>(Zraw, u, spec);
  if constexpr (std::is_same<T, double>::value) {
    return detail::kkt_multipliers_solve(Zraw, Kraw, wsq_raw, y, u, N, spec, opt, direct_fn, n_threads);
  } else {
    RowMatrixd Kd;
    dense::widen(Kraw, Kd);
    return detail::kkt_multipliers_solve(Zraw.template cast<double>(), MatRef<double>(Kd), wsq_raw,
                                         y.template cast<double>(), u.template cast<double>(), N, spec, opt,
                                         direct_fn, n_threads);
  }
}

/// Multipliers, epsilon and the pinned pairs of the primal model (W, u) on (X, y). See the file comment.
template <class T>
KKTResult kkt_multipliers(const MatRef<T>& X, const VecRef<T>& y, const MatRef<T>& W, const VecRef<T>& u,
                          const NetSpec& spec, const KKTOptions& opt, int n_threads) {
  const Index n = X.rows(), d = X.cols(), m = W.rows();
  require(W.cols() == d, "kkt: W must have as many columns as X");
  require(y.size() == n && u.size() == m, "kkt: y must have n entries and u m entries");
  require(n >= 1, "kkt: at least one data point is needed");
  Vectord wsq(m);
  for (Index j = 0; j < m; ++j) wsq[j] = W.row(j).template cast<double>().squaredNorm();
  const DirectResidual direct = [&](double s, const RowMatrixd& M, const Vectord& ru) {
    return detail::direct_residual_sq<T>(X, W, s, M, ru, n_threads);
  };
  if constexpr (std::is_same<T, double>::value) {
    RowMatrixd Zraw;
    preactivations<T>(X, W, Zraw, n_threads);
    const RowMatrixd K = kernel_matrix_d<T>(X, n_threads);
    return kkt_multipliers_gram<T>(MatRef<T>(Zraw), MatRef<T>(K), wsq, y, u, spec, opt, direct, n_threads);
  } else {
    // float input: Z = X W^T and K = X X^T summed in double over any d and kept in double (the float32
    // kernels sum in float below Accumulate's threshold), so the certificate's only float32 error is the
    // rounding of the model and the data themselves
    RowMatrixd Zraw(n, m);
    gemm_abt<T>(X, W, Zraw, n_threads, 0);
    const RowMatrixd K = kernel_matrix_d<T>(X, n_threads, 0);
    const Vectord yd = y.template cast<double>(), ud = u.template cast<double>();
    return kkt_multipliers_gram<double>(MatRef<double>(Zraw), MatRef<double>(K), wsq, VecRef<double>(yd),
                                        VecRef<double>(ud), spec, opt, direct, n_threads);
  }
}

/// The same for a span model W = c W0 + A^T X_train on the training rows `rows` of X_train (Z = X W^T and
/// K = X X^T on those rows, wsq_j = ||w_j||^2, all already computed from the state). The direct residual is
///     ||W/s - M^T X||^2 = (c/s)^2 ||W0||^2 + 2 (c/s) <B, Z0> + <B, K_train B>,   B = A/s - M_train  (n_train x m),
/// with M_train = M scattered to the training rows: exact in the span (no d), and without the cancellation of
/// the Gram identity in the in-span part.
template <class T>
KKTResult kkt_multipliers_span(const MatRef<T>& Z, const MatRef<T>& K, const Vectord& wsq, const MatRef<T>& Ktrain,
                               const MatRef<T>& Z0, const MatRef<T>& A, const std::vector<Index>& rows, double w0_coef,
                               double w0_sqnorm, const VecRef<T>& y, const VecRef<T>& u, const NetSpec& spec,
                               const KKTOptions& opt, int n_threads) {
  const Index n = Z.rows(), m = Z.cols(), nt = A.rows();
  require(Z0.rows() == nt && Z0.cols() == m && A.cols() == m, "kkt: Z0 and A must be n_train x m");
  require(Ktrain.rows() == nt && Ktrain.cols() == nt, "kkt: the training Gram matrix must be n_train x n_train");
  require(static_cast<Index>(rows.size()) == n, "kkt: one training-row index per row");
  for (Index r : rows) require(r >= 0 && r < nt, "kkt: training-row index out of range");
  const DirectResidual direct = [&](double s, const RowMatrixd& M, const Vectord& ru) {
    RowMatrixd B = A.template cast<double>() / s;
    for (Index i = 0; i < n; ++i) B.row(rows[static_cast<size_t>(i)]) -= M.row(i);
    const RowMatrixd KB = [&] {
      if constexpr (std::is_same<T, double>::value) {
        return dense::mm(Ktrain, false, B, false);
      } else {
        RowMatrixd Kd;
        dense::widen(Ktrain, Kd);
        return dense::mm(Kd, false, B, false);
      }
    }();
    const double c = w0_coef / s;
    const double t = c * c * w0_sqnorm + 2.0 * c * (B.cwiseProduct(Z0.template cast<double>())).sum() +
                     (B.cwiseProduct(KB)).sum();
    return std::max(0.0, t) + ru.squaredNorm();
  };
  return kkt_multipliers_gram<T>(Z, K, wsq, y, u, spec, opt, direct, n_threads);
}

#if defined(KKTUNLEARN_HEADER_ONLY) || defined(KKTUNLEARN_COMPILE_KKT)
// ---- the bodies compiled once (cpp/src/solvers.cpp; inline with KKTUNLEARN_HEADER_ONLY) ----

namespace detail {

/// Symmetric PSD solve with a matrix right-hand side (LLT; LDLT / complete orthogonal fallbacks).
inline bool spd_solve_mat(const Eigen::MatrixXd& A, const Eigen::MatrixXd& R, Eigen::MatrixXd& S) {
  const Index k = A.rows();
  S.resize(k, R.cols());
  if (k == 0) return false;
  Eigen::LLT<Eigen::MatrixXd> llt(A);
  if (llt.info() == Eigen::Success && pivots_well_conditioned(llt.matrixLLT().diagonal())) {
    S = llt.solve(R);
    if (S.allFinite()) return false;
  }
  Eigen::CompleteOrthogonalDecomposition<Eigen::MatrixXd> cod(A);
  cod.setThreshold(1e-12);
  S = cod.solve(R);
  if (!S.allFinite()) throw NumericalError("kkt: a linear system of the Clarke QP could not be solved");
  return true;
}

/// Shared data of one KKT evaluation: the normalized model expressed through K, Z, u.
struct KKTProblem {
  explicit KKTProblem(const MatRef<double>& K_) : K(K_) {}
  Index n = 0, m = 0;
  NetSpec spec;
  MatRef<double> K;      // K = X X^T (the caller's float64 matrix: not copied)
  RowMatrixd Z, Sig;     // Z normalized pre-activations, Sig = sigma(Z) (u trained only)
  Vectord u, y;          // u normalized when trained
  Vectord wsq;           // ||w_j||^2 of the normalized model
  double theta_sq = 0.0;
  int n_threads = 0;

  double dz(Index i, Index j) const { return dact(Z(i, j), spec.slope); }

  /// Rho = Z - K M (n x m) and ru (u-block residual), for coefficients C (n x m) and lambda.
  void residual_parts(const RowMatrixd& C, const Vectord& lam, RowMatrixd& M, RowMatrixd& Rho, Vectord& ru) const {
    M.resize(n, m);
    for (Index i = 0; i < n; ++i)
      for (Index j = 0; j < m; ++j) M(i, j) = u[j] * y[i] * C(i, j);
    Rho.resize(n, m);
    parallel_blocks(n, 32, n_threads, [&](Index r0, Index r1) {
      Rho.middleRows(r0, r1 - r0) = Z.middleRows(r0, r1 - r0);
      dense::gemm(-1.0, K.middleRows(r0, r1 - r0), false, M, false, 1.0, Rho.middleRows(r0, r1 - r0));
    });
    if (spec.train_outer) {
      ru = u;
      for (Index i = 0; i < n; ++i)
        for (Index j = 0; j < m; ++j) ru[j] -= lam[i] * y[i] * Sig(i, j);
    } else {
      ru.resize(0);
    }
  }

  /// epsilon^2 from the Gram identity.
  double residual_sq(const RowMatrixd& M, const RowMatrixd& Rho, const Vectord& ru) const {
    double s = theta_sq;
    for (Index i = 0; i < n; ++i)
      for (Index j = 0; j < m; ++j) s -= M(i, j) * (Z(i, j) + Rho(i, j));
    // theta_sq already contains ||u||^2 (trained); replace it by ||ru||^2
    if (spec.train_outer) s += ru.squaredNorm() - u.squaredNorm();
    return s;
  }

  /// Gradient of epsilon^2 / 2 with respect to lambda_i (column without the pinned pairs' W part)
  /// and to the pinned coefficients (given as a pinned mask).
  void gradient(const RowMatrixd& Rho, const Vectord& ru, const std::vector<char>& pinned_mask, Vectord& g_lam,
                RowMatrixd& g_pair) const {
    g_lam.setZero(n);
    g_pair.resize(n, m);
    for (Index i = 0; i < n; ++i) {
      double s = 0.0;
      for (Index j = 0; j < m; ++j) {
        const double gp = -y[i] * u[j] * Rho(i, j);
        g_pair(i, j) = gp;
        if (!pinned_mask[i * m + j]) s += gp * dz(i, j);
      }
      if (spec.train_outer)
        for (Index j = 0; j < m; ++j) s -= y[i] * Sig(i, j) * ru[j];
      g_lam[i] = s;
    }
  }
};

}  // namespace detail

/// Exact Clarke QP: minimize epsilon^2 / 2 over lambda >= 0 and mu_p in [slope lambda_i(p), lambda_i(p)]
/// for the pinned pairs p = (i, j), by a primal active-set method. Each pinned pair is in one of the
/// states L (mu = slope lambda_i), U (mu = lambda_i) or F (mu free); each lambda_i is Z (= 0) or F (free).
/// The subproblem for fixed states is unconstrained least squares in (lambda_F, mu_free): the mu of
/// neuron j are eliminated with a Schur complement on K restricted to that neuron's free pairs, so the
/// only dense systems are |M_j| x |M_j| per neuron and |F| x |F|.
/// Optimality (KKT of the QP): for lambda_i = 0, d_i = g_lambda_i + sum_{p of i} min(slope g_p, g_p) >= 0;
/// for lambda_i > 0: g_p >= 0 in state L, g_p <= 0 in state U, g_p = 0 in state F; and the merged
/// gradient of every free lambda vanishes (the subproblem's optimality).
class ClarkeQP {
 public:
  StopCheck should_stop;  // optional cancellation check (Ctrl-C), called once per iteration
  ClarkeQP(const detail::KKTProblem& pb, const std::vector<std::pair<Index, Index>>& pairs, double tol,
           std::int64_t max_iter, int pdas_iter = 50)
      : pb_(pb), pairs_(pairs), tol_(tol), max_iter_(max_iter), pdas_iter_(pdas_iter) {
    const Index n = pb.n, m = pb.m;
    mask_.assign(static_cast<size_t>(n * m), 0);
    pair_index_.assign(static_cast<size_t>(n * m), -1);
    for (size_t p = 0; p < pairs_.size(); ++p) {
      mask_[pairs_[p].first * m + pairs_[p].second] = 1;
      pair_index_[pairs_[p].first * m + pairs_[p].second] = static_cast<Index>(p);
    }
    pairs_of_.assign(static_cast<size_t>(n), {});
    for (size_t p = 0; p < pairs_.size(); ++p) pairs_of_[pairs_[p].first].push_back(static_cast<Index>(p));
  }

  const std::vector<char>& mask() const { return mask_; }

  /// Coefficient matrix C (n x m) of a point (lambda, mu).
  RowMatrixd coefficients(const Vectord& lam, const Vectord& mu) const {
    const Index n = pb_.n, m = pb_.m;
    RowMatrixd C(n, m);
    for (Index i = 0; i < n; ++i)
      for (Index j = 0; j < m; ++j) C(i, j) = lam[i] * pb_.dz(i, j);
    for (size_t p = 0; p < pairs_.size(); ++p) C(pairs_[p].first, pairs_[p].second) = mu[static_cast<Index>(p)];
    return C;
  }

  /// Run from the plain solution lam0 (mu_p = lam_i sigma'(z_p)). Returns (lambda, mu).
  void solve(const Vectord& lam0, Vectord& lam, Vectord& mu) {
    const Index n = pb_.n;
    const Index P = static_cast<Index>(pairs_.size());
    const double a = pb_.spec.slope;
    lam = lam0;
    lamF_.assign(static_cast<size_t>(n), 0);
    for (Index i = 0; i < n; ++i) lamF_[i] = lam[i] > 0;
    state_.assign(static_cast<size_t>(P), kL);
    mu.resize(P);
    for (Index p = 0; p < P; ++p) {
      const Index i = pairs_[p].first, j = pairs_[p].second;
      state_[p] = pb_.Z(i, j) > 0 ? kU : kL;
      mu[p] = lam[i] * (state_[p] == kU ? 1.0 : a);
    }
    // scale of the optimality test: the largest b-like quantity (gradient at 0)
    {
      RowMatrixd M, Rho;
      Vectord ru, gl;
      RowMatrixd gp;
      pb_.residual_parts(RowMatrixd::Zero(n, pb_.m), Vectord::Zero(n), M, Rho, ru);
      pb_.gradient(Rho, ru, std::vector<char>(static_cast<size_t>(n * pb_.m), 0), gl, gp);
      scale_ = std::max(gl.cwiseAbs().maxCoeff(), std::numeric_limits<double>::min());
    }
    const double tol_abs = tol_ * scale_;
    const std::int64_t max_iter = max_iter_ > 0 ? max_iter_ : 10 * (static_cast<std::int64_t>(n) + P) + 100;
    std::vector<char> barred_lam(static_cast<size_t>(n), 0), barred_pair(static_cast<size_t>(P), 0);
    converged_ = false;

    // Warm start. (1) A primal-dual active-set phase (all states updated at once from the primal
    // values of the free variables and the gradients of the fixed ones; Hintermueller, Ito & Kunisch
    // 2003) usually lands on the optimal states in a few solves. (2) Otherwise its iterate, projected
    // onto the feasible set, or else the plain solution, starts the primal method below (whichever has
    // the lower objective, so the result never exceeds the plain epsilon).
    {
      const Vectord lam_plain = lam, mu_plain = mu;
      const std::vector<char> lamF_plain = lamF_, state_plain = state_;
      const double obj_plain = objective(lam, mu);
      for (Index p = 0; p < P; ++p)
        if (lamF_[pairs_[p].first] && pb_.u[pairs_[p].second] != 0.0) state_[p] = kF;
      Vectord lp, mp;
      if (pdas_iter_ <= 0) {
        lam = lam_plain;
        mu = mu_plain;
        lamF_ = lamF_plain;
        state_ = state_plain;
      } else if (!pdas(lp, mp, tol_abs, pdas_iter_)) {
        // project onto the feasible set and derive the states
        for (Index i = 0; i < n; ++i) lp[i] = std::max(0.0, lp[i]);
        for (Index i = 0; i < n; ++i) lamF_[i] = lp[i] > 0;
        for (Index p = 0; p < P; ++p) {
          const Index i = pairs_[p].first;
          const double lo = a * lp[i], hi = lp[i];
          if (!lamF_[i]) {
            mp[p] = 0.0;
            state_[p] = kL;
          } else if (mp[p] <= lo) {
            mp[p] = lo;
            state_[p] = kL;
          } else if (mp[p] >= hi) {
            mp[p] = hi;
            state_[p] = kU;
          } else {
            state_[p] = kF;
          }
        }
        if (objective(lp, mp) < obj_plain) {
          lam = lp;
          mu = mp;
          inner(lam, mu, -1, -1, false);
        } else {
          lam = lam_plain;
          mu = mu_plain;
          lamF_ = lamF_plain;
          state_ = state_plain;
        }
      } else {
        lam = lp;
        mu = mp;
      }
    }

    bool batch = true;  // release every violated condition at once while that makes progress
    double prev_obj = std::numeric_limits<double>::infinity();
    for (iter_ = 0; iter_ < max_iter; ++iter_) {
      check_stop(should_stop);
      // gradient and objective at the current point
      RowMatrixd M, Rho, gpair;
      Vectord ru, glam;
      pb_.residual_parts(coefficients(lam, mu), lam, M, Rho, ru);
      pb_.gradient(Rho, ru, mask_, glam, gpair);
      const double obj = pb_.residual_sq(M, Rho, ru);
      if (batch && iter_ > 0 && !(obj < prev_obj - 1e-15 * std::abs(prev_obj))) batch = false;
      prev_obj = obj;
      // violated optimality conditions: (kind, index, size); kind 0 releases lambda_i, 1 frees pair p
      struct Viol {
        int kind;
        Index who;
        double v;
      };
      std::vector<Viol> viols;
      viol_ = 0.0;
      for (Index i = 0; i < n; ++i) {
        if (lamF_[i]) continue;
        double d = glam[i];
        for (Index p : pairs_of_[i]) {
          const double g = gpair(pairs_[p].first, pairs_[p].second);
          d += std::min(a * g, g);
        }
        viol_ = std::max(viol_, -d);
        if (!barred_lam[i] && -d > tol_abs) viols.push_back({0, i, -d});
      }
      for (Index p = 0; p < P; ++p) {
        const Index i = pairs_[p].first;
        if (!lamF_[i]) continue;
        const double g = gpair(i, pairs_[p].second);
        double v = 0.0;
        if (state_[p] == kL) v = -g;
        else if (state_[p] == kU) v = g;
        else v = std::abs(g);
        viol_ = std::max(viol_, v);
        if (state_[p] != kF && !barred_pair[p] && v > tol_abs) viols.push_back({1, p, v});
      }
      if (viols.empty()) {
        bool barred_left = false;
        for (Index i = 0; i < n; ++i) barred_left |= barred_lam[i] != 0;
        for (Index p = 0; p < P; ++p) barred_left |= barred_pair[p] != 0;
        converged_ = !barred_left || viol_ <= tol_abs;
        break;
      }
      auto release = [&](const Viol& v) {
        if (v.kind == 0) {
          lamF_[v.who] = 1;
          for (Index p : pairs_of_[v.who]) {
            const double g = gpair(pairs_[p].first, pairs_[p].second);
            state_[p] = g < 0 ? kU : kL;
          }
        } else {
          state_[v.who] = kF;
        }
      };
      const std::vector<char> lamF_save = lamF_;
      const std::vector<char> state_save = state_;
      if (batch && viols.size() > 1) {
        for (const Viol& v : viols) release(v);
        inner(lam, mu, -1, -1, false);
        continue;
      }
      // single release of the most violated condition (Lawson-Hanson step, with anti-cycling bar)
      const Viol best = *std::max_element(viols.begin(), viols.end(),
                                          [](const Viol& x, const Viol& y) { return x.v < y.v; });
      release(best);
      const bool ok = inner(lam, mu, best.kind, best.who, best.kind == 1 && state_save[best.who] == kU);
      if (!ok) {
        lamF_ = lamF_save;
        state_ = state_save;
        if (best.kind == 0) barred_lam[best.who] = 1;
        else barred_pair[best.who] = 1;
        continue;
      }
      std::fill(barred_lam.begin(), barred_lam.end(), 0);
      std::fill(barred_pair.begin(), barred_pair.end(), 0);
    }
  }

  std::int64_t n_iter() const { return iter_; }
  bool converged() const { return converged_; }
  double violation() const { return viol_; }
  std::int64_t n_fallback() const { return n_fallback_; }

 private:
  static constexpr char kL = 0, kU = 1, kF = 2;

  double objective(const Vectord& lam, const Vectord& mu) const {
    RowMatrixd M, Rho;
    Vectord ru;
    pb_.residual_parts(coefficients(lam, mu), lam, M, Rho, ru);
    return pb_.residual_sq(M, Rho, ru);
  }

  /// Primal-dual active-set iterations from the current states. Returns true when the states
  /// reproduce themselves (then (lam, mu) is feasible and optimal within tol_abs).
  bool pdas(Vectord& lam, Vectord& mu, double tol_abs, int max_k) {
    const Index n = pb_.n;
    const Index P = static_cast<Index>(pairs_.size());
    const double a = pb_.spec.slope;
    for (int k = 0; k < max_k; ++k) {
      check_stop(should_stop);
      subproblem(lam, mu);
      RowMatrixd M, Rho, gpair;
      Vectord ru, glam;
      pb_.residual_parts(coefficients(lam, mu), lam, M, Rho, ru);
      pb_.gradient(Rho, ru, mask_, glam, gpair);
      bool changed = false;
      std::vector<char> newF = lamF_;
      std::vector<char> newS = state_;
      for (Index i = 0; i < n; ++i) {
        if (lamF_[i]) {
          if (!(lam[i] > 0)) {
            newF[i] = 0;
            for (Index p : pairs_of_[i]) newS[p] = kL;
          }
        } else {
          double d = glam[i];
          for (Index p : pairs_of_[i]) {
            const double g = gpair(pairs_[p].first, pairs_[p].second);
            d += std::min(a * g, g);
          }
          if (d < -tol_abs) {
            newF[i] = 1;
            for (Index p : pairs_of_[i]) newS[p] = gpair(pairs_[p].first, pairs_[p].second) < 0 ? kU : kL;
          }
        }
      }
      for (Index p = 0; p < P; ++p) {
        const Index i = pairs_[p].first;
        if (!lamF_[i] || !newF[i]) continue;
        const double g = gpair(i, pairs_[p].second);
        if (state_[p] == kF) {
          if (mu[p] < a * lam[i]) newS[p] = kL;
          else if (mu[p] > lam[i]) newS[p] = kU;
        } else if (state_[p] == kL) {
          if (g < -tol_abs) newS[p] = kF;
        } else if (g > tol_abs) {
          newS[p] = kF;
        }
      }
      changed = newF != lamF_ || newS != state_;
      if (!changed) return true;
      lamF_ = std::move(newF);
      state_ = std::move(newS);
    }
    return false;
  }

  double eff(Index i, Index j) const {
    const Index p = pair_index_[i * pb_.m + j];
    if (p < 0) return pb_.dz(i, j);
    return state_[p] == kU ? 1.0 : (state_[p] == kL ? pb_.spec.slope : 0.0);
  }

  /// Minimizer over the free variables of the current states; false if a fallback could not help.
  void subproblem(Vectord& lam_c, Vectord& mu_c) {
    const Index n = pb_.n, m = pb_.m;
    const Index P = static_cast<Index>(pairs_.size());
    std::vector<Index> F;
    for (Index i = 0; i < n; ++i)
      if (lamF_[i]) F.push_back(i);
    const Index f = static_cast<Index>(F.size());
    lam_c.setZero(n);
    mu_c.setZero(P);
    if (f == 0) return;
    // effective factors: S~_ij = u_j * s~_ij  (s~ = derivative of the state; 0 for free pairs)
    RowMatrixd Sf(f, m), Sigf;
    for (Index a = 0; a < f; ++a)
      for (Index j = 0; j < m; ++j) Sf(a, j) = pb_.u[j] * eff(F[a], j);
    if (pb_.spec.train_outer) {
      Sigf.resize(f, m);
      for (Index a = 0; a < f; ++a) Sigf.row(a) = pb_.Sig.row(F[a]);
    }
    // A = the lambda-lambda block of the subproblem's normal matrix, rhs its right-hand side
    const int nt = pb_.n_threads;
    RowMatrixd A(f, f);
    Eigen::VectorXd rhs(f);
    {
      const RowMatrixd SS = kernel_matrix<double>(MatRef<double>(Sf), nt);
      RowMatrixd UU;
      if (pb_.spec.train_outer) UU = kernel_matrix<double>(MatRef<double>(Sigf), nt);
      parallel_blocks(f, 64, nt, [&](Index a0, Index a1) {
        for (Index a = a0; a < a1; ++a)
          for (Index c = 0; c < f; ++c) {
            double v = pb_.K(F[a], F[c]) * SS(a, c);
            if (pb_.spec.train_outer) v += UU(a, c);
            A(a, c) = pb_.y[F[a]] * pb_.y[F[c]] * v;
          }
      });
      for (Index a = 0; a < f; ++a) {
        const Index i = F[a];
        double s = 0.0;
        for (Index j = 0; j < m; ++j) {
          s += Sf(a, j) * pb_.Z(i, j);
          if (pb_.spec.train_outer) s += pb_.u[j] * pb_.Sig(i, j);
        }
        rhs[a] = pb_.y[i] * s;
      }
    }
    // free pairs per neuron
    std::vector<std::vector<Index>> Mj(static_cast<size_t>(m));  // pair indices
    for (Index p = 0; p < P; ++p)
      if (state_[p] == kF && lamF_[pairs_[p].first] && pb_.u[pairs_[p].second] != 0.0)
        Mj[pairs_[p].second].push_back(p);
    // Eliminate each neuron's free mu (a Schur complement on K_MM, the Gram matrix of its free pairs' rows):
    // with K_MM = L L^T and R = [K_MF D_F | Z_Mj], V = L^{-1} R, the neuron's share of the Schur complement is
    // u_j^2 V_F^T V_F and of the right-hand side u_j V_F^T v_z. D_F = diag(y_c s~_cj) vanishes on the columns
    // c where the neuron's effective derivative is 0 (its free pairs themselves, and for the ReLU the points
    // where it is inactive), so R, V and the product are formed on the support S_j of D_F only. The
    // triangular solves run per neuron in parallel (each neuron's own work, so the bits do not depend on the
    // thread count). A neuron whose support is most of F joins a fixed group of such neurons whose shares are
    // one symmetric product (zero rows off the supports); a neuron with a smaller support gets its own product
    // on S_j x S_j, added in neuron order. A neuron whose K_MM is singular or ill-conditioned takes a pivoted
    // Cholesky (below), and a complete orthogonal decomposition (T = K_MM^+ R) only if that fails.
    std::vector<RowMatrixd> Vj(static_cast<size_t>(m));
    std::vector<std::vector<Index>> Sj(static_cast<size_t>(m));
    std::vector<Eigen::MatrixXd> Lj(static_cast<size_t>(m)), Tj(static_cast<size_t>(m));
    std::vector<char> chol(static_cast<size_t>(m), 0);  // 1: Cholesky, 2: pivoted Cholesky, 0: orthogonal
    std::vector<std::vector<Index>> Pj(static_cast<size_t>(m));  // the pivoted path's row order
    parallel_blocks(m, 1, nt, [&](Index j0, Index j1) {
      for (Index j = j0; j < j1; ++j) {
        const auto& Mp = Mj[j];
        const Index k = static_cast<Index>(Mp.size());
        if (k == 0) continue;
        auto& S = Sj[j];
        std::vector<double> e;
        for (Index c = 0; c < f; ++c) {
          const double ec = pb_.y[F[c]] * eff(F[c], j);
          if (ec != 0.0) {
            S.push_back(c);
            e.push_back(ec);
          }
        }
        const Index sz = static_cast<Index>(S.size());
        // R row-major, one row per free pair: the row of K on the support scaled by e, then z
        Eigen::MatrixXd Kmm(k, k);
        RowMatrixd R(k, sz + 1);
        for (Index a = 0; a < k; ++a) {
          const Index ia = pairs_[Mp[a]].first;
          for (Index c = 0; c < k; ++c) Kmm(a, c) = pb_.K(ia, pairs_[Mp[c]].first);
          double* r = R.row(a).data();
          for (Index c = 0; c < sz; ++c) r[c] = pb_.K(ia, F[S[static_cast<size_t>(c)]]) * e[static_cast<size_t>(c)];
          r[sz] = pb_.Z(ia, j);
        }
        Eigen::LLT<Eigen::MatrixXd> llt(Kmm);
        if (llt.info() == Eigen::Success && detail::pivots_well_conditioned(llt.matrixLLT().diagonal())) {
          Lj[j] = llt.matrixLLT();
          RowMatrixd V = lower_solve(Lj[j], R);
          if (V.allFinite()) {
            Vj[j] = std::move(V);
            chol[j] = 1;
            continue;
          }
        }
        // K_MM singular or ill-conditioned (duplicated rows; more free pairs than the data's rank): a
        // pivoted Cholesky P^T K_MM P = L L^T, L k x r, truncated where the remaining pivots fall below
        // 1e-13 of the largest diagonal (the Cholesky path's own bound). Every column of R lies in the range
        // of K_MM (R_F = X_M X_F^T D, R_z = X_M w_j), so R = P L C for one C, read off the r pivot rows:
        // C = L_11^{-1} (P^T R)_{1:r}, and R^T K_MM^+ R = C^T C (the same share as with the pseudo-inverse).
        // The mu below are the minimum-norm solution P L (L^T L)^{-1} c, as a complete orthogonal
        // decomposition gives, which stays the last resort (non-finite result).
        {
          RowMatrixd L = RowMatrixd::Zero(k, k);  // row-major: the updates below are row dot products
          std::vector<Index> perm(static_cast<size_t>(k));
          std::vector<double> dg(static_cast<size_t>(k));
          double dmax = 0.0;
          for (Index a = 0; a < k; ++a) {
            perm[static_cast<size_t>(a)] = a;
            dg[static_cast<size_t>(a)] = Kmm(a, a);
            dmax = std::max(dmax, Kmm(a, a));
          }
          Index r = 0;
          for (; r < k; ++r) {
            Index q = r;
            for (Index t = r + 1; t < k; ++t)
              if (dg[static_cast<size_t>(perm[static_cast<size_t>(t)])] > dg[static_cast<size_t>(perm[static_cast<size_t>(q)])]) q = t;
            const double piv = dg[static_cast<size_t>(perm[static_cast<size_t>(q)])];
            if (!(piv > 1e-13 * dmax)) break;
            std::swap(perm[static_cast<size_t>(r)], perm[static_cast<size_t>(q)]);
            L.row(r).head(r).swap(L.row(q).head(r));
            const Index pr = perm[static_cast<size_t>(r)];
            const double lrr = std::sqrt(piv);
            L(r, r) = lrr;
            const double* lr = L.row(r).data();
            for (Index t = r + 1; t < k; ++t) {
              const Index it = perm[static_cast<size_t>(t)];
              const double* lt = L.row(t).data();
              double dot = 0.0;
              for (Index c = 0; c < r; ++c) dot += lt[c] * lr[c];
              const double v = (Kmm(it, pr) - dot) / lrr;
              L(t, r) = v;
              dg[static_cast<size_t>(it)] -= v * v;
            }
          }
          if (r > 0) {
            RowMatrixd Rp(r, sz + 1);
            for (Index a = 0; a < r; ++a) Rp.row(a) = R.row(perm[static_cast<size_t>(a)]);
            RowMatrixd V = lower_solve(Eigen::MatrixXd(L.topLeftCorner(r, r)), Rp);
            // minimum-norm mu: x = L (L^T L)^{-1} c, with the Cholesky of the r x r Gram of L's columns
            const Eigen::MatrixXd Lk = L.leftCols(r);
            const Eigen::MatrixXd LtL = dense::mm(Lk, true, Lk, false);
            Eigen::LLT<Eigen::MatrixXd> g(LtL);
            if (V.allFinite() && g.info() == Eigen::Success) {
              Vj[j] = std::move(V);
              Lj[j] = Lk;
              Tj[j] = g.matrixLLT();
              Pj[j] = std::move(perm);
              chol[j] = 2;
              continue;
            }
          }
        }
        const Eigen::MatrixXd Rc = R;
        detail::spd_solve_mat(Kmm, Rc, Tj[j]);  // the last resort
        Vj[j] = std::move(R);                    // here: R itself
      }
    });
    auto wide = [&](Index j) { return 10 * static_cast<Index>(Sj[j].size()) > 7 * f; };
    {
      const Index budget = 1024;  // columns of one group's product (a fixed split: bits independent of threads)
      Index j = 0;
      while (j < m) {
        Index cols = 0, j1 = j;
        while (j1 < m && (cols == 0 || cols + Vj[j1].rows() <= budget)) {
          if (chol[j1] && wide(j1)) cols += Vj[j1].rows();
          ++j1;
        }
        if (cols > 0) {
          RowMatrixd Vt = RowMatrixd::Zero(f, cols);
          Index c0 = 0;
          for (Index jj = j; jj < j1; ++jj) {
            if (!chol[jj] || !wide(jj)) continue;
            const Index k = Vj[jj].rows();
            const auto& S = Sj[jj];
            for (Index a = 0; a < static_cast<Index>(S.size()); ++a)
              Vt.row(S[static_cast<size_t>(a)]).segment(c0, k) = pb_.u[jj] * Vj[jj].col(a).transpose();
            c0 += k;
          }
          A -= kernel_matrix<double>(MatRef<double>(Vt), nt);
        }
        j = j1;
      }
    }
    {
      // the narrow neurons' products, one neuron per thread (a batch of at most one neuron per thread, and
      // bounded in memory so that the products are still in cache when they are added), each added to A on
      // S_j x S_j in neuron order. Each product is computed alone and added in a fixed order, so the bits do
      // not depend on the thread count or the batches.
      std::vector<Index> narrow;
      for (Index j = 0; j < m; ++j)
        if (chol[j] && !wide(j) && !Sj[j].empty()) narrow.push_back(j);
      const Index cap = Index(1) << 22;  // doubles held by one batch's products (32 MB)
      const size_t per_batch = static_cast<size_t>(std::max(1, resolve_threads(nt)));
      size_t b0 = 0;
      while (b0 < narrow.size()) {
        size_t b1 = b0;
        Index held = 0;
        while (b1 < narrow.size()) {
          const Index sz = static_cast<Index>(Sj[narrow[b1]].size());
          if (b1 > b0 && (held + sz * sz > cap || b1 - b0 >= per_batch)) break;
          held += sz * sz;
          ++b1;
        }
        std::vector<RowMatrixd> Pb(b1 - b0);
        parallel_blocks(static_cast<Index>(b1 - b0), 1, nt, [&](Index q0, Index q1) {
          for (Index q = q0; q < q1; ++q) {
            const Index j = narrow[b0 + static_cast<size_t>(q)];
            const RowMatrixd Vt = Vj[j].leftCols(static_cast<Index>(Sj[j].size())).transpose();
            Pb[static_cast<size_t>(q)] = kernel_matrix<double>(MatRef<double>(Vt), 1);
          }
        });
        for (size_t q = 0; q < Pb.size(); ++q) {
          const Index j = narrow[b0 + q];
          sub_on_support(A, Sj[j], pb_.u[j] * pb_.u[j], Pb[q], nt);
        }
        b0 = b1;
      }
    }
    for (Index j = 0; j < m; ++j) {
      if (Mj[j].empty()) continue;
      const double uj = pb_.u[j];
      const auto& S = Sj[j];
      const Index sz = static_cast<Index>(S.size());
      if (chol[j] != 1) ++n_fallback_;  // the pivoted and the orthogonal paths
      if (sz == 0) continue;
      Eigen::VectorXd r;
      if (chol[j]) {
        r = uj * (Vj[j].leftCols(sz).transpose() * Vj[j].col(sz));
      } else {
        const auto Q = Vj[j].leftCols(sz).transpose();
        sub_on_support(A, S, uj * uj, RowMatrixd(Q * Tj[j].leftCols(sz)), nt);
        r = uj * (Q * Tj[j].col(sz));
      }
      for (Index a = 0; a < sz; ++a) rhs[S[static_cast<size_t>(a)]] -= r[a];
    }
    // the f x f system: a blocked Cholesky (GramCholesky, no dropping) when it is well conditioned, else
    // detail::spd_solve's LDLT / complete orthogonal fallbacks
    Eigen::VectorXd lf;
    {
      std::vector<Index> all(static_cast<size_t>(f));
      for (Index a = 0; a < f; ++a) all[static_cast<size_t>(a)] = a;
      detail::GramCholesky fac;
      fac.factor(A, all, 0.0, nt, should_stop);
      bool ok = fac.n_dropped == 0 && detail::pivots_well_conditioned(fac.L.diagonal());
      if (ok) {
        Eigen::MatrixXd B = rhs;
        fac.solve_in_place(B);
        lf = B.col(0);
        ok = lf.allFinite();
      }
      if (!ok) {
        const Eigen::MatrixXd Ad = A;
        if (detail::spd_solve(Ad, rhs, lf)) ++n_fallback_;
      }
    }
    for (Index a = 0; a < f; ++a) lam_c[F[a]] = lf[a];
    // mu of the free pairs: u_j y_M o mu_M = K_MM^{-1} (R_z - u_j R_F lam_F) = L^{-T} (v_z - u_j V_F lam_F)
    for (Index j = 0; j < m; ++j) {
      const auto& Mp = Mj[j];
      if (Mp.empty()) continue;
      const double uj = pb_.u[j];
      const auto& S = Sj[j];
      const Index sz = static_cast<Index>(S.size());
      Eigen::VectorXd lS(sz);
      for (Index a = 0; a < sz; ++a) lS[a] = lf[S[static_cast<size_t>(a)]];
      Eigen::VectorXd v;
      if (chol[j] == 1) {
        v = Vj[j].col(sz) - uj * (Vj[j].leftCols(sz) * lS);
        dense::trsm_lower(false, true, Lj[j], v);
      } else if (chol[j] == 2) {
        Eigen::VectorXd c = Vj[j].col(sz) - uj * (Vj[j].leftCols(sz) * lS);
        dense::trsm_lower(false, false, Tj[j], c);  // (L^T L)^{-1} c with L^T L = G G^T
        dense::trsm_lower(false, true, Tj[j], c);
        const Eigen::VectorXd x = Lj[j] * c;  // in pivot order
        v.resize(x.size());
        for (Index t = 0; t < x.size(); ++t) v[Pj[j][static_cast<size_t>(t)]] = x[t];
      } else {
        v = Tj[j].col(sz) - uj * (Tj[j].leftCols(sz) * lS);
      }
      for (Index a = 0; a < static_cast<Index>(Mp.size()); ++a) {
        const Index i = pairs_[Mp[a]].first;
        mu_c[Mp[a]] = pb_.y[i] * v[a] / uj;
      }
    }
    // pairs at a bound follow their lambda; free pairs of a neuron with u_j = 0 have a zero column
    std::vector<char> solved(static_cast<size_t>(P), 0);
    for (Index j = 0; j < m; ++j)
      for (Index p : Mj[j]) solved[p] = 1;
    for (Index p = 0; p < P; ++p) {
      if (solved[p]) continue;
      const Index i = pairs_[p].first;
      if (state_[p] == kU) mu_c[p] = lam_c[i];
      else if (state_[p] == kL) mu_c[p] = pb_.spec.slope * lam_c[i];
      else mu_c[p] = 0.0;
    }
  }

  /// Inner loop of the active-set method. Returns false if the released variable does not move
  /// into the feasible region at the first subproblem (degeneracy; the caller bars it).
  bool inner(Vectord& lam, Vectord& mu, int kind, Index who, bool from_upper) {
    const Index n = pb_.n;
    const Index P = static_cast<Index>(pairs_.size());
    const double a = pb_.spec.slope;
    Vectord lc, mc;
    for (Index guard = 0; guard < 10 * (n + P) + 100; ++guard) {
      subproblem(lc, mc);
      if (guard == 0) {
        // the released variable must move into the feasible region (else: degenerate, caller bars it)
        if (kind == 0 && !(lc[who] > 0)) return false;
        if (kind == 1) {
          const Index i = pairs_[who].first;
          if (from_upper ? !(lc[i] - mc[who] > 0) : !(mc[who] - a * lc[i] > 0)) return false;
        }
      }
      // feasibility of the candidate and the step length
      double alpha = 1.0;
      int bkind = -1;
      Index bwho = -1;
      auto consider = [&](double gcur, double gc, int k, Index w) {
        if (gc < 0) {
          const double r = gcur <= 0 ? 0.0 : gcur / (gcur - gc);
          if (r < alpha) {
            alpha = r;
            bkind = k;
            bwho = w;
          }
        }
      };
      for (Index i = 0; i < n; ++i)
        if (lamF_[i]) consider(lam[i], lc[i], 0, i);
      for (Index p = 0; p < P; ++p) {
        if (state_[p] != kF) continue;
        const Index i = pairs_[p].first;
        consider(mu[p] - a * lam[i], mc[p] - a * lc[i], 1, p);  // lower
        consider(lam[i] - mu[p], lc[i] - mc[p], 2, p);           // upper
      }
      if (bkind < 0) {
        lam = lc;
        mu = mc;
        return true;
      }
      alpha = std::min(1.0, std::max(0.0, alpha));
      lam += alpha * (lc - lam);
      mu += alpha * (mc - mu);
      // activate the blocking constraint (and any that are numerically active)
      auto to_zero = [&](Index i) {
        lamF_[i] = 0;
        lam[i] = 0.0;
        for (Index p : pairs_of_[i]) {
          if (state_[p] == kF) state_[p] = kL;
          mu[p] = 0.0;
        }
      };
      if (bkind == 0) to_zero(bwho);
      else if (bkind == 1) {
        state_[bwho] = kL;
        mu[bwho] = a * lam[pairs_[bwho].first];
      } else {
        state_[bwho] = kU;
        mu[bwho] = lam[pairs_[bwho].first];
      }
      const double big = std::max(lam.cwiseAbs().maxCoeff(), std::numeric_limits<double>::min());
      const double tiny = 10.0 * std::numeric_limits<double>::epsilon() * big;
      for (Index i = 0; i < n; ++i)
        if (lamF_[i] && lam[i] <= tiny) to_zero(i);
      for (Index p = 0; p < P; ++p) {
        if (state_[p] != kF) continue;
        const Index i = pairs_[p].first;
        if (mu[p] - a * lam[i] <= tiny) {
          state_[p] = kL;
          mu[p] = a * lam[i];
        } else if (lam[i] - mu[p] <= tiny) {
          state_[p] = kU;
          mu[p] = lam[i];
        }
      }
    }
    throw NumericalError("kkt: the Clarke QP's inner loop did not terminate (degenerate problem)");
  }

  /// L^{-1} R for a small lower-triangular L, as the explicit inverse times R in one dispatched product (the
  /// substitution's short columns run far below the product's speed).
  static RowMatrixd lower_solve(const Eigen::MatrixXd& L, const RowMatrixd& R) {
    Eigen::MatrixXd Linv = Eigen::MatrixXd::Identity(L.rows(), L.rows());
    dense::trsm_lower(false, false, L, Linv);
    Linv.triangularView<Eigen::StrictlyUpper>().setZero();
    return dense::mm(Linv, false, R, false);
  }

  /// A[S, S] -= c P (P |S| x |S|), over row blocks: each entry is touched once, so any split gives the same bits.
  static void sub_on_support(RowMatrixd& A, const std::vector<Index>& S, double c, const RowMatrixd& P, int nt) {
    const Index sz = static_cast<Index>(S.size());
    parallel_blocks(sz, 64, nt, [&](Index a0, Index a1) {
      for (Index a = a0; a < a1; ++a) {
        double* Ar = A.row(S[static_cast<size_t>(a)]).data();
        const double* Pr = P.row(a).data();
        for (Index b = 0; b < sz; ++b) Ar[S[static_cast<size_t>(b)]] -= c * Pr[b];
      }
    });
  }

  const detail::KKTProblem& pb_;
  const std::vector<std::pair<Index, Index>>& pairs_;
  double tol_;
  std::int64_t max_iter_;
  int pdas_iter_;
  std::vector<char> mask_;
  std::vector<Index> pair_index_;
  std::vector<std::vector<Index>> pairs_of_;
  std::vector<char> lamF_, state_;
  double scale_ = 1.0, viol_ = 0.0;
  std::int64_t iter_ = 0, n_fallback_ = 0;
  bool converged_ = false;
};

namespace detail {

KKTUNLEARN_SOLVER KKTResult kkt_multipliers_solve(RowMatrixd Z, const MatRef<double>& K, const Vectord& wsq_raw,
                                                  Vectord y, Vectord u, const Vectord& N, const NetSpec& spec,
                                                  const KKTOptions& opt, const DirectResidual& direct_fn,
                                                  int n_threads) {
  const Index n = Z.rows(), m = Z.cols();
  KKTResult res;
  const int L = spec.degree();

  // margins of the raw model and the normalization
  Vectord qraw(n);
  for (Index i = 0; i < n; ++i) qraw[i] = y[i] * N[i];
  res.q_min_raw = qraw.minCoeff();
  if (opt.scale > 0) {
    res.scale = opt.scale;
    res.scale_pow = L == 1 ? opt.scale : opt.scale * opt.scale;
  } else {
    if (!(res.q_min_raw > 0)) {
      res.separable = false;
      return res;
    }
    res.scale_pow = res.q_min_raw;
    res.scale = L == 1 ? res.q_min_raw : std::sqrt(res.q_min_raw);
  }
  const double s = res.scale;
  res.margins = qraw / res.scale_pow;

  detail::KKTProblem pb(K);
  pb.n = n;
  pb.m = m;
  pb.spec = spec;
  pb.n_threads = n_threads;
  pb.Z = std::move(Z);
  pb.Z /= s;
  pb.u = std::move(u);
  if (spec.train_outer) pb.u /= s;
  pb.y = std::move(y);
  pb.wsq = wsq_raw / (s * s);
  pb.theta_sq = pb.wsq.sum() + (spec.train_outer ? pb.u.squaredNorm() : 0.0);
  if (spec.train_outer) {
    pb.Sig.resize(n, m);
    for (Index i = 0; i < n; ++i)
      for (Index j = 0; j < m; ++j) pb.Sig(i, j) = act(pb.Z(i, j), spec.slope);
  }
  res.theta_norm = std::sqrt(pb.theta_sq);

  // pinned pairs (never for the linear model, whose derivative interval [1, 1] is a point)
  std::vector<std::pair<Index, Index>> pairs;
  if (opt.subgradient_tol >= 0 && spec.slope < 1.0)
    for (Index i = 0; i < n; ++i)
      for (Index j = 0; j < m; ++j)
        if (std::abs(pb.Z(i, j)) <= opt.subgradient_tol) pairs.emplace_back(i, j);
  const Index P = static_cast<Index>(pairs.size());

  // plain Gram and b
  const RowMatrixd G = gradient_gram<double>(pb.K, pb.Z, pb.u, pb.y, spec, n_threads);
  Vectord b(n);
  for (Index i = 0; i < n; ++i) {
    double t = 0.0;
    for (Index j = 0; j < m; ++j) {
      t += pb.u[j] * dact(pb.Z(i, j), spec.slope) * pb.Z(i, j);
      if (spec.train_outer) t += pb.u[j] * pb.Sig(i, j);
    }
    b[i] = pb.y[i] * t;
  }

  auto epsilon_of = [&](const RowMatrixd& C, const Vectord& lam, double& eps_sq_gram, bool& direct) {
    RowMatrixd M, Rho;
    Vectord ru;
    pb.residual_parts(C, lam, M, Rho, ru);
    eps_sq_gram = pb.residual_sq(M, Rho, ru);
    direct = false;
    double e2 = eps_sq_gram;
    if (!(e2 > 1e-6 * pb.theta_sq)) {
      e2 = direct_fn(s, M, ru);
      direct = true;
    }
    return std::sqrt(std::max(0.0, e2));
  };
  // epsilon of the plain coefficients (C_ij = lambda_i sigma'(Z_ij)) from the NNLS objective
  // f = lam^T G lam / 2 - b^T lam: epsilon^2 = ||theta||^2 + 2 f (the same Gram identity, O(1) here instead of
  // the O(n^2 m) residual); the residual route (and the direct residual) when that has cancelled
  auto plain_C = [&](const Vectord& lam) {
    RowMatrixd C(n, m);
    for (Index i = 0; i < n; ++i)
      for (Index j = 0; j < m; ++j) C(i, j) = lam[i] * dact(pb.Z(i, j), spec.slope);
    return C;
  };
  auto epsilon_plain_of = [&](const Vectord& lam, double objective, double& eps_sq_gram, bool& direct) {
    const double e2 = pb.theta_sq + 2.0 * objective;
    if (e2 > 1e-6 * pb.theta_sq) {
      eps_sq_gram = e2;
      direct = false;
      return std::sqrt(e2);
    }
    return epsilon_of(plain_C(lam), lam, eps_sq_gram, direct);
  };

  RowMatrixd C;
  double plain_objective = std::numeric_limits<double>::quiet_NaN();  // set when C is the plain NNLS solution's
  switch (opt.method) {
    case MultiplierMethod::NNLS: {
      NNLSOptions no;
      no.tol = opt.tol;
      no.max_iter = opt.max_iter;
      no.should_stop = opt.should_stop;
      no.solver = opt.nnls_solver;
      no.n_threads = n_threads;
      const NNLSResult nr = nnls_gram(G, b, no);
      res.n_iter = nr.n_iter;
      res.n_fallback = nr.n_fallback;
      res.n_dropped = nr.n_dropped;
      res.n_factor = nr.n_factor;
      res.converged = nr.converged;
      res.kkt_violation = nr.kkt_violation;
      res.lambdas = nr.x;
      C = plain_C(res.lambdas);
      if (!(P > 0 && opt.clarke)) {
        plain_objective = nr.objective;
      } else {
        double e2g;
        bool dr;
        res.epsilon_plain = epsilon_plain_of(res.lambdas, nr.objective, e2g, dr);
        ClarkeQP qp(pb, pairs, opt.tol, opt.max_iter, opt.clarke_pdas_iter);
        qp.should_stop = opt.should_stop;
        Vectord lam, mu;
        qp.solve(res.lambdas, lam, mu);
        res.lambdas = lam;
        C = qp.coefficients(lam, mu);
        res.clarke_iter = qp.n_iter();
        res.clarke_converged = qp.converged();
        res.converged = res.converged && qp.converged();
        res.kkt_violation = qp.violation();
        res.n_fallback += qp.n_fallback();
      }
      break;
    }
    case MultiplierMethod::Dynamics: {
      const double shift = std::max(0.0, res.q_min_raw);
      Vectord v(n);
      for (Index i = 0; i < n; ++i) v[i] = -loss_deriv_scaled(opt.loss, qraw[i], shift);
      const double num = v.dot(b), den = v.dot(G * v);
      if (!(den > 0) || !std::isfinite(num / den))
        throw NumericalError("kkt: dynamics multipliers undefined (the gradient sum g vanishes)");
      res.lambdas = (num / den) * v;
      if (num < 0) res.lambdas.setZero();  // <theta, g> < 0: no non-negative multiple fits better than 0
      C = plain_C(res.lambdas);
      break;
    }
    case MultiplierMethod::ClosedForm: {
      require(m == 1 && spec.slope == 1.0 && !spec.train_outer,
              "kkt: the closed-form multipliers exist for the linear model only");
      const Eigen::MatrixXd Gd = G;
      Eigen::LLT<Eigen::MatrixXd> llt(Gd);
      const auto dg = llt.matrixLLT().diagonal();
      if (llt.info() != Eigen::Success || dg.minCoeff() * dg.minCoeff() < 1e-13 * dg.maxCoeff() * dg.maxCoeff())
        throw NumericalError(
            "kkt: closed-form multipliers need linearly independent data points (X X^T is singular)");
      res.lambdas = llt.solve(Eigen::VectorXd::Ones(n));
      for (Index i = 0; i < n; ++i)
        if (res.lambdas[i] < 0) {
          res.lambdas[i] = 0.0;
          ++res.n_clipped;
        }
      C = plain_C(res.lambdas);
      break;
    }
    case MultiplierMethod::Given: {
      require(opt.given_lambdas.size() == n, "kkt: given lambdas must have one entry per data point");
      require(opt.given_mu.size() == static_cast<Index>(opt.given_pairs.size()),
              "kkt: given mu must have one entry per given pair");
      res.lambdas = opt.given_lambdas;
      C = plain_C(res.lambdas);
      for (size_t p = 0; p < opt.given_pairs.size(); ++p) {
        const Index i = opt.given_pairs[p].first, j = opt.given_pairs[p].second;
        require(i >= 0 && i < n && j >= 0 && j < m, "kkt: given pair out of range");
        C(i, j) = opt.given_mu[static_cast<Index>(p)];
      }
      break;
    }
  }
  res.epsilon = std::isnan(plain_objective)
                    ? epsilon_of(C, res.lambdas, res.epsilon_sq_gram, res.direct_residual)
                    : epsilon_plain_of(res.lambdas, plain_objective, res.epsilon_sq_gram, res.direct_residual);
  if (opt.method == MultiplierMethod::NNLS && !(P > 0 && opt.clarke)) res.epsilon_plain = res.epsilon;
  res.pinned.resize(P, 2);
  res.mu.resize(P);
  for (Index p = 0; p < P; ++p) {
    res.pinned(p, 0) = pairs[p].first;
    res.pinned(p, 1) = pairs[p].second;
    res.mu[p] = C(pairs[p].first, pairs[p].second);
  }
  return res;
}


}  // namespace detail

#endif  // bodies

}  // namespace kktunlearn
