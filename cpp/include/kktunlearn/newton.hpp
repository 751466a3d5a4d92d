// kktunlearn: Newton-family unlearning steps on the retained objective (Bui et al., arXiv 2406.14507).
//
//   F(theta) = (1/n_r) sum_{i in R} l(q_i) + (l2/2) ||theta||^2,   q_i = y_i N(x_i; theta)
//   g = J^T c + l2 theta,              c_i = l'(q_i) y_i / n_r,     J = [grad N(x_i)]_i  (n_r x p)
//   H = J^T D J + sum_i c_i Hess N(x_i) + l2 I,   D = diag(l''(q_i) / n_r)
// Hess N(x_i) = 0 for the linear model and the fixed-u network (ReLU'' = 0 a.e.); with trained u its
// only nonzero blocks are d^2 N / (du_j dw_j) = sigma'(z_ij) x_i (indefinite).
//
// Steps: newton -H^{-1} g (NumericalError when H is singular), damped -(H + delta I)^{-1} g,
// pinv -H^+ g, cubic argmin <g,s> + 1/2 s^T H s + M/6 ||s||^3 (cubic.hpp).
//
// Solvers:
//  * lowrank (linear model, fixed u): the step lies in S = span{grad N(x_i)} (+ theta when l2 > 0),
//    an H-invariant subspace containing g. With B = [J^T, theta] (p x k), C = B^T B (the Gram,
//    [[J J^T, N], [N^T, ||theta||^2]] since J theta = N by homogeneity), an orthonormal basis is
//    Q = B T, T = V_+ Lambda_+^{-1/2} from C = V Lambda V^T, and
//        Q^T H Q = T^T (P^T D P + l2 C) T,   Q^T g = T^T (P^T c + l2 [N; ||theta||^2]),  P = J B = [J J^T, N].
//    One r x r eigendecomposition per step solves every method exactly; on the complement of S, H acts
//    as l2 I (>= 0), which only enters the singularity test and the pinv cutoff. The step is
//    s = J^T a_J + a_theta theta, i.e. W <- (1 + a_theta) W + Gamma^T X with Gamma_ij = a_i u_j sigma'(z_ij),
//    tracked in the span form W = alpha W0 + A^T X_R, Z = alpha Z0 + K A (O(n_r^2 m) per step), so the
//    p x p matrix is never formed and X is touched only once at the end (O(n m d)).
//  * dense (any model, small p): H formed explicitly (p x p), one p x p eigendecomposition per step.
//  * krylov (any model, large p): Lanczos with full reorthogonalization on Hessian-vector products
//    (O(n m d) each), started at g; the step is solved exactly in the Krylov space and the Lanczos loop
//    stops when the residual ||g + (H + gamma I) s|| = beta_k |e_k^T y| is below krylov_tol ||g||.
//  * stochastic cubic (SCureNewton, arXiv 2406.14507): per outer step minibatches B1 (gradient) and B2 (HVPs),
//    Cauchy-point initialization, perturbed gradient g + sigma zeta, T_in gradient steps on the cubic model.
#pragma once

#include <cstdint>
#include <random>

#include "cubic.hpp"
#include "loss.hpp"
#include "model.hpp"

namespace kktunlearn {

enum class NewtonMethod : int { Newton = 0, Damped = 1, Pinv = 2, Cubic = 3 };

/// The step names (the one table: newton_method_from_string and newton_method_name).
inline const char* newton_method_name(NewtonMethod k) {
  static const char* const names[] = {"newton", "damped", "pinv", "cubic"};
  return names[static_cast<int>(k)];
}
inline NewtonMethod newton_method_from_string(const std::string& s) {
  for (int k = 0; k < 4; ++k)
    if (s == newton_method_name(static_cast<NewtonMethod>(k))) return static_cast<NewtonMethod>(k);
  throw InvalidArgument("unknown Newton step '" + s + "' (expected newton, damped, pinv or cubic)");
}

/// l''(q): exponential e^{-q}; logistic e^{-|q|} / (1 + e^{-|q|})^2.
inline double loss_deriv2(LossKind k, double q) {
  if (k == LossKind::Exponential) return std::exp(-q);
  const double t = std::exp(-std::abs(q));
  return t / ((1.0 + t) * (1.0 + t));
}

struct NewtonOptions {
  NewtonMethod method = NewtonMethod::Cubic;
  LossKind loss = LossKind::Exponential;
  double l2 = 0.0;
  double damping = 0.0;
  double rcond = 1e-15;
  double M = 1.0;
  int n_steps = 1;
  double basis_tol = 1e-13;  // lowrank: Gram eigenvalues below basis_tol * max are dropped
  double sing_tol = 1e-13;   // newton/damped: |eigenvalue| <= sing_tol * max is singular
  int krylov_dim = 100;
  double krylov_tol = 1e-10;
  int n_threads = 0;
  StopCheck should_stop;  // optional cancellation check (Ctrl-C), once per step / Lanczos iteration
};

struct NewtonStepInfo {
  double loss = 0.0;        // F(theta) before the step
  double grad_norm = 0.0;   // ||g|| before the step
  double step_norm = 0.0;
  double gamma = 0.0;       // damping used (cubic: gamma* = M ||s|| / 2; damped: delta; else 0)
  double lam_min = 0.0;     // extreme eigenvalues of H (restricted to the solve space; lowrank adds l2 when p > r)
  double lam_max = 0.0;
  Index rank = 0;           // dimension of the solve space (lowrank: r; dense: p; krylov: Lanczos steps)
  Index pinv_rank = -1;     // pinv: eigenvalues kept
  bool hard_case = false;
  int n_iter = 0;           // secular iterations (cubic)
  double residual = 0.0;    // krylov: ||g + (H + gamma I) s|| estimate
};

namespace detail {

// Solve one spectral step given eigenvalues lam, coefficients b of g; `comp_dim` extra eigenvalues equal to
// comp_lam on which g vanishes (the complement of the solve space).
inline Vectord spectral_step(const Vectord& lam, const Vectord& b, const NewtonOptions& o, Index comp_dim,
                             double comp_lam, NewtonStepInfo& info) {
  const char* names[] = {"newton", "damped_newton", "pinv_newton", "cure_newton"};
  const char* what = names[static_cast<int>(o.method)];
  double mx = 0.0;
  for (Index i = 0; i < lam.size(); ++i) mx = std::max(mx, std::abs(lam[i]));
  if (comp_dim > 0) mx = std::max(mx, std::abs(comp_lam));
  info.lam_min = lam.size() ? lam.minCoeff() : comp_lam;
  info.lam_max = lam.size() ? lam.maxCoeff() : comp_lam;
  if (comp_dim > 0) {
    info.lam_min = std::min(info.lam_min, comp_lam);
    info.lam_max = std::max(info.lam_max, comp_lam);
  }
  switch (o.method) {
    case NewtonMethod::Newton:
    case NewtonMethod::Damped: {
      const double delta = o.method == NewtonMethod::Damped ? o.damping : 0.0;
      info.gamma = delta;
      double scale = 0.0;
      for (Index i = 0; i < lam.size(); ++i) scale = std::max(scale, std::abs(lam[i] + delta));
      if (comp_dim > 0) {
        scale = std::max(scale, std::abs(comp_lam + delta));
        if (!(std::abs(comp_lam + delta) > o.sing_tol * scale) || scale == 0.0)
          throw NumericalError(std::string(what) + ": the Hessian" + (delta != 0.0 ? " + damping" : "") +
                               " is singular: it vanishes on a subspace of dimension " + std::to_string(comp_dim) +
                               " (more parameters than retained points and l2 = 0); use pinv_newton, damped_newton, "
                               "cure_newton, or l2 > 0");
      }
      return damped_solve_eig(lam, b, delta, o.sing_tol, what);
    }
    case NewtonMethod::Pinv: {
      Index r = 0;
      Vectord s = pinv_solve_eig(lam, b, o.rcond, mx, &r);
      info.pinv_rank = r + ((comp_dim > 0 && std::abs(comp_lam) > o.rcond * mx && comp_lam != 0.0) ? comp_dim : 0);
      return s;
    }
    case NewtonMethod::Cubic:
    default: {
      if (comp_dim > 0 && comp_lam < 0)
        throw InvalidArgument("cubic step: the complement eigenvalue must be >= 0");
      CubicSolution sol = cubic_solve_eig(lam, b, o.M);
      info.gamma = sol.gamma;
      info.hard_case = sol.hard_case;
      info.n_iter = sol.n_iter;
      return sol.s;
    }
  }
}

}  // namespace detail

// ------------------------------------------------------------------------------------------------
// lowrank solver (linear model / fixed u)

template <class T>
struct LowRankState {
  RowMatrix<T> A;   // n_r x m:  W = alpha W0 + A^T X_R
  double alpha = 1.0;
  RowMatrix<T> Z;   // n_r x m:  Z = X_R W^T
  double theta_sq = 0.0;
};

/// Runs opt.n_steps steps; K = X_R X_R^T, Z0 = X_R W0^T, w0sq = ||W0||^2. Requires !spec.train_outer.
template <class T>
LowRankState<T> newton_lowrank(const MatRef<T>& K, const MatRef<T>& Z0, double w0sq, const VecRef<T>& y,
                               const VecRef<T>& u, const NetSpec& spec, const NewtonOptions& o, Index p,
                               std::vector<NewtonStepInfo>& infos) {
  require(!spec.train_outer, "lowrank Newton needs a fixed output layer (use the dense or krylov solver)");
  const Index n = Z0.rows(), m = Z0.cols();
  require(K.rows() == n && K.cols() == n && y.size() == n && u.size() == m, "lowrank Newton: shape mismatch");
  LowRankState<T> st;
  st.A = RowMatrix<T>::Zero(n, m);
  st.Z = Z0;
  st.theta_sq = w0sq;
  const bool use_theta = o.l2 > 0;
  const Index k = n + (use_theta ? 1 : 0);
  RowMatrixd Kd = K.template cast<double>();
  for (int step = 0; step < o.n_steps; ++step) {
    check_stop(o.should_stop);
    NewtonStepInfo info;
    const MatRef<T> Zr(st.Z);
    Vectord N = outputs_from_preacts<T>(Zr, u, spec);
    Vectord Dv(n), c(n);
    double F = 0.0;
    for (Index i = 0; i < n; ++i) {
      const double yi = static_cast<double>(y[i]);
      const double q = yi * N[i];
      F += loss_value(o.loss, q);
      c[i] = loss_deriv(o.loss, q) * yi / static_cast<double>(n);
      Dv[i] = loss_deriv2(o.loss, q) / static_cast<double>(n);
    }
    info.loss = F / static_cast<double>(n) + 0.5 * o.l2 * st.theta_sq;
    // S_ij = u_j sigma'(Z_ij);  KJ = K o (S S^T) = J J^T
    RowMatrixd S(n, m);
    for (Index i = 0; i < n; ++i)
      for (Index j = 0; j < m; ++j)
        S(i, j) = static_cast<double>(u[j]) * static_cast<double>(dact(st.Z(i, j), spec.slope));
    RowMatrixd KJ(n, n);
    parallel_blocks(n, 32, o.n_threads, [&](Index r0, Index r1) {
      dense::gemm(1.0, S.middleRows(r0, r1 - r0), false, S, true, 0.0, KJ.middleRows(r0, r1 - r0));
    });
    KJ = KJ.cwiseProduct(Kd);
    // basis Gram C and P = J B
    RowMatrixd C(k, k), P(n, k);
    C.topLeftCorner(n, n) = KJ;
    P.leftCols(n) = KJ;
    Vectord Bg = dense::mv(KJ, false, c);  // P^T c (top part)
    if (use_theta) {
      C.block(0, n, n, 1) = N;
      C.block(n, 0, 1, n) = N.transpose();
      C(n, n) = st.theta_sq;
      P.col(n) = N;
      Bg.conservativeResize(k);
      Bg[n] = N.dot(c);
      Bg.head(n) += o.l2 * N;
      Bg[n] += o.l2 * st.theta_sq;
    }
    const RowMatrixd DP = Dv.asDiagonal() * P;
    RowMatrixd BHB = dense::mm(P, true, DP, false);
    if (use_theta) BHB += o.l2 * C;
    Vectord cl;
    Eigen::MatrixXd CV;
    sym_eig(C, cl, CV);
    const double cmax = cl.size() ? std::max(0.0, cl.maxCoeff()) : 0.0;
    std::vector<Index> keep;
    for (Index i = 0; i < k; ++i)
      if (cl[i] > o.basis_tol * cmax && cl[i] > 0) keep.push_back(i);
    const Index r = static_cast<Index>(keep.size());
    Eigen::MatrixXd Tm(k, r);
    for (Index a = 0; a < r; ++a) Tm.col(a) = CV.col(keep[a]) / std::sqrt(cl[keep[a]]);
    RowMatrixd Hr = dense::mm(Tm, true, dense::mm(BHB, false, Tm, false), false);
    Vectord gr = dense::mv(Tm, true, Bg);
    info.grad_norm = gr.norm();
    info.rank = r;
    Vectord lam;
    Eigen::MatrixXd U;
    sym_eig(Hr, lam, U);
    Vectord b = dense::mv(U, true, gr);
    const Index comp_dim = p - r;
    Vectord se = detail::spectral_step(lam, b, o, comp_dim, o.l2, info);
    Vectord sr = dense::mv(U, false, se);
    info.step_norm = sr.norm();
    if (!std::isfinite(info.step_norm)) throw NumericalError("Newton step is not finite");
    Vectord a = dense::mv(Tm, false, sr);  // s = B a
    const double at = use_theta ? a[n] : 0.0;
    // Gamma_ij = a_i S_ij (= a_i u_j sigma'(Z_ij))
    RowMatrix<T> Gam(n, m);
    for (Index i = 0; i < n; ++i)
      for (Index j = 0; j < m; ++j) Gam(i, j) = static_cast<T>(a[i] * S(i, j));
    const double f = 1.0 + at;
    const Vectord aJ = a.head(n);
    const double new_sq = f * f * st.theta_sq + 2.0 * f * aJ.dot(N) + aJ.dot(dense::mv(KJ, false, aJ));
    st.A *= static_cast<T>(f);
    st.A += Gam;
    st.alpha *= f;
    RowMatrix<T> KG(n, m);
    parallel_blocks(m, 64, o.n_threads, [&](Index c0, Index c1) {
      dense::gemm(T(1), K, false, Gam.middleCols(c0, c1 - c0), false, T(0), KG.middleCols(c0, c1 - c0));
    });
    st.Z *= static_cast<T>(f);
    st.Z += KG;
    st.theta_sq = std::max(new_sq, 0.0);
    infos.push_back(info);
  }
  return st;
}

// ------------------------------------------------------------------------------------------------
// Hessian-vector products and the dense Hessian (any model)

namespace detail {
/// Z (k x m) = X[rows] W^T for a row subset of X, without copying the rows: one row of Z per task,
/// accumulated in double (so float32 matches the blocked kernels' double accumulation); the result
/// does not depend on n_threads.
template <class T>
void preactivations_rows(const MatRef<T>& X, const std::vector<Index>& rows, const MatRef<T>& W, RowMatrix<T>& Z,
                         int n_threads) {
  const Index k = static_cast<Index>(rows.size()), m = W.rows();
  Z.resize(k, m);
  parallel_blocks(k, 1, n_threads, [&](Index a0, Index a1) {
    for (Index a = a0; a < a1; ++a)
      for (Index j = 0; j < m; ++j)
        Z(a, j) = static_cast<T>(X.row(rows[a]).template cast<double>().dot(W.row(j).template cast<double>()));
  });
}
/// out (m x d) += Gamma^T X[rows] (Gamma: k x m) without copying the rows; split over 2048-column
/// blocks of d, each summing over the rows in order (independent of n_threads).
template <class T>
void add_gamma_t_x_rows(const MatRef<T>& Gamma, const MatRef<T>& X, const std::vector<Index>& rows,
                        Eigen::Ref<RowMatrix<T>> out, int n_threads) {
  const Index d = X.cols(), k = static_cast<Index>(rows.size());
  parallel_blocks(d, 2048, n_threads, [&](Index c0, Index c1) {
    for (Index a = 0; a < k; ++a)
      out.middleCols(c0, c1 - c0).noalias() +=
          Gamma.row(a).transpose() * X.row(rows[a]).segment(c0, c1 - c0);
  });
}
}  // namespace detail

/// Objective pieces of F on a set of rows (X, y) at (W, u); with `rows`, on the rows X[rows], y[rows]
/// (a minibatch, read in place: no copy of the rows).
template <class T>
struct NetObjective {
  const MatRef<T>& X;
  const VecRef<T>& y;
  RowMatrix<T> W;
  Vector<T> u;
  NetSpec spec;
  LossKind loss;
  double l2;
  int n_threads;
  const std::vector<Index>* rows;  // optional row subset (not owned)
  RowMatrix<T> Z;
  Vectord c, Dv;  // c_i = l'(q_i) y_i / n, D_i = l''(q_i) / n
  double F = 0.0;

  NetObjective(const MatRef<T>& X_, const VecRef<T>& y_, const RowMatrix<T>& W_, const Vector<T>& u_,
               const NetSpec& s, LossKind lk, double l2_, int nt, const std::vector<Index>* rows_ = nullptr)
      : X(X_), y(y_), W(W_), u(u_), spec(s), loss(lk), l2(l2_), n_threads(nt), rows(rows_) {
    refresh();
  }
  Index m() const { return W.rows(); }
  Index d() const { return W.cols(); }
  Index p() const { return W.size() + (spec.train_outer ? W.rows() : 0); }
  Index n_rows() const { return rows ? static_cast<Index>(rows->size()) : X.rows(); }
  Index row(Index i) const { return rows ? (*rows)[i] : i; }
  void preacts(const MatRef<T>& V, RowMatrix<T>& out) const {
    if (rows)
      detail::preactivations_rows<T>(X, *rows, V, out, n_threads);
    else
      preactivations<T>(X, V, out, n_threads);
  }

  void refresh() {
    preacts(MatRef<T>(W), Z);
    const Index n = n_rows();
    Vectord N = outputs_from_preacts<T>(MatRef<T>(Z), VecRef<T>(u), spec);
    c.resize(n);
    Dv.resize(n);
    double L = 0.0;
    for (Index i = 0; i < n; ++i) {
      const double yi = static_cast<double>(y[row(i)]);
      const double q = yi * N[i];
      L += loss_value(loss, q);
      c[i] = loss_deriv(loss, q) * yi / static_cast<double>(n);
      Dv[i] = loss_deriv2(loss, q) / static_cast<double>(n);
    }
    const Vectord th = theta();
    F = L / static_cast<double>(n) + 0.5 * l2 * th.squaredNorm();
  }

  Vectord theta() const {
    Vectord th(p());
    for (Index j = 0; j < m(); ++j)
      for (Index t = 0; t < d(); ++t) th[j * d() + t] = static_cast<double>(W(j, t));
    if (spec.train_outer)
      for (Index j = 0; j < m(); ++j) th[W.size() + j] = static_cast<double>(u[j]);
    return th;
  }

  void add_step(const Vectord& s) {
    for (Index j = 0; j < m(); ++j)
      for (Index t = 0; t < d(); ++t) W(j, t) += static_cast<T>(s[j * d() + t]);
    if (spec.train_outer)
      for (Index j = 0; j < m(); ++j) u[j] += static_cast<T>(s[W.size() + j]);
    refresh();
  }

  // (W-part of) Gamma^T X and u-part from coefficient matrix Gam (n x m) and u-coefficients
  Vectord assemble(const RowMatrix<T>& Gam, const Vectord& gu) const {
    RowMatrix<T> gW = RowMatrix<T>::Zero(m(), d());
    if (rows)
      detail::add_gamma_t_x_rows<T>(MatRef<T>(Gam), X, *rows, gW, n_threads);
    else
      add_gamma_t_x<T>(MatRef<T>(Gam), X, gW, n_threads);
    Vectord out(p());
    for (Index j = 0; j < m(); ++j)
      for (Index t = 0; t < d(); ++t) out[j * d() + t] = static_cast<double>(gW(j, t));
    if (spec.train_outer) out.tail(m()) = gu;
    return out;
  }

  Vectord gradient() const {
    const Index n = n_rows();
    RowMatrix<T> Gam(n, m());
    Vectord gu = Vectord::Zero(m());
    for (Index i = 0; i < n; ++i)
      for (Index j = 0; j < m(); ++j) {
        Gam(i, j) = static_cast<T>(c[i] * static_cast<double>(u[j]) * static_cast<double>(dact(Z(i, j), spec.slope)));
        if (spec.train_outer) gu[j] += c[i] * static_cast<double>(act(Z(i, j), spec.slope));
      }
    Vectord g = assemble(Gam, gu);
    if (l2 > 0) g += l2 * theta();
    return g;
  }

  /// H v = J^T (D o J v) + sum_i c_i Hess N_i v + l2 v.
  Vectord hvp(const Vectord& v) const {
    const Index n = n_rows(), mm = m(), dd = d();
    RowMatrix<T> V(mm, dd);
    for (Index j = 0; j < mm; ++j)
      for (Index t = 0; t < dd; ++t) V(j, t) = static_cast<T>(v[j * dd + t]);
    RowMatrix<T> P;
    preacts(MatRef<T>(V), P);
    const bool tu = spec.train_outer;
    Vectord Jv(n);
    for (Index i = 0; i < n; ++i) {
      double s = 0.0;
      for (Index j = 0; j < mm; ++j) {
        s += static_cast<double>(u[j]) * static_cast<double>(dact(Z(i, j), spec.slope)) * static_cast<double>(P(i, j));
        if (tu) s += static_cast<double>(act(Z(i, j), spec.slope)) * v[mm * dd + j];
      }
      Jv[i] = s;
    }
    RowMatrix<T> Gam(n, mm);
    Vectord gu = Vectord::Zero(mm);
    for (Index i = 0; i < n; ++i) {
      const double ci = Dv[i] * Jv[i];
      for (Index j = 0; j < mm; ++j) {
        const double sp = static_cast<double>(dact(Z(i, j), spec.slope));
        double gij = ci * static_cast<double>(u[j]) * sp;
        if (tu) {
          gij += c[i] * sp * v[mm * dd + j];  // cross block: d^2N/(dw_j du_j) = sigma' x_i
          gu[j] += ci * static_cast<double>(act(Z(i, j), spec.slope)) + c[i] * sp * static_cast<double>(P(i, j));
        }
        Gam(i, j) = static_cast<T>(gij);
      }
    }
    Vectord out = assemble(Gam, gu);
    if (l2 > 0) out += l2 * v;
    return out;
  }

  /// The dense Hessian (p x p). Only for small p.
  RowMatrixd dense_hessian() const {
    const Index n = n_rows(), mm = m(), dd = d(), pp = p();
    RowMatrixd J = RowMatrixd::Zero(n, pp);
    for (Index i = 0; i < n; ++i)
      for (Index j = 0; j < mm; ++j) {
        const double a = static_cast<double>(u[j]) * static_cast<double>(dact(Z(i, j), spec.slope));
        if (a != 0.0)
          for (Index t = 0; t < dd; ++t) J(i, j * dd + t) = a * static_cast<double>(X(row(i), t));
        if (spec.train_outer) J(i, mm * dd + j) = static_cast<double>(act(Z(i, j), spec.slope));
      }
    RowMatrixd DJ = Dv.asDiagonal() * J;
    RowMatrixd H(pp, pp);
    parallel_blocks(pp, 64, n_threads, [&](Index r0, Index r1) {
      dense::gemm(1.0, J.middleCols(r0, r1 - r0), true, DJ, false, 0.0, H.middleRows(r0, r1 - r0));
    });
    if (spec.train_outer) {
      for (Index j = 0; j < mm; ++j) {
        Vectord col = Vectord::Zero(dd);
        for (Index i = 0; i < n; ++i) {
          const double w = c[i] * static_cast<double>(dact(Z(i, j), spec.slope));
          if (w != 0.0)
            for (Index t = 0; t < dd; ++t) col[t] += w * static_cast<double>(X(row(i), t));
        }
        for (Index t = 0; t < dd; ++t) {
          H(j * dd + t, mm * dd + j) += col[t];
          H(mm * dd + j, j * dd + t) += col[t];
        }
      }
    }
    if (l2 > 0) H.diagonal().array() += l2;
    return H;
  }
};

/// Dense path: opt.n_steps steps with the p x p Hessian. Updates obj in place.
template <class T>
void newton_dense(NetObjective<T>& obj, const NewtonOptions& o, std::vector<NewtonStepInfo>& infos) {
  for (int step = 0; step < o.n_steps; ++step) {
    check_stop(o.should_stop);
    NewtonStepInfo info;
    info.loss = obj.F;
    const Vectord g = obj.gradient();
    info.grad_norm = g.norm();
    const RowMatrixd H = obj.dense_hessian();
    Vectord lam;
    Eigen::MatrixXd U;
    sym_eig(H, lam, U);
    const Vectord b = dense::mv(U, true, g);
    info.rank = obj.p();
    const Vectord se = detail::spectral_step(lam, b, o, 0, 0.0, info);
    const Vectord s = dense::mv(U, false, se);
    info.step_norm = s.norm();
    if (!std::isfinite(info.step_norm)) throw NumericalError("Newton step is not finite");
    infos.push_back(info);
    obj.add_step(s);
  }
}

/// Krylov path: Lanczos on HVPs with full reorthogonalization.
template <class T>
void newton_krylov(NetObjective<T>& obj, const NewtonOptions& o, Index n_rows, std::vector<NewtonStepInfo>& infos) {
  const Index p = obj.p();
  if (o.method == NewtonMethod::Newton || (o.method == NewtonMethod::Damped && o.damping == 0.0)) {
    // rank(J^T D J) <= n_rows, rank(cross block) <= 2 m: H is singular when p exceeds their sum and l2 = 0
    const Index bound = n_rows + (obj.spec.train_outer ? 2 * obj.m() : 0);
    if (o.l2 == 0.0 && p > bound)
      throw NumericalError("newton: the Hessian is singular (rank <= " + std::to_string(bound) + " < " +
                           std::to_string(p) +
                           " parameters, l2 = 0); use pinv_newton, damped_newton, cure_newton, or l2 > 0");
  }
  for (int step = 0; step < o.n_steps; ++step) {
    check_stop(o.should_stop);
    NewtonStepInfo info;
    info.loss = obj.F;
    const Vectord g = obj.gradient();
    const double gn = g.norm();
    info.grad_norm = gn;
    if (gn == 0.0) {
      infos.push_back(info);
      continue;
    }
    const Index kmax = std::max<Index>(1, std::min<Index>(o.krylov_dim, p));
    Eigen::MatrixXd Q(p, kmax);
    std::vector<double> al, be;
    Q.col(0) = g / gn;
    Vectord s_final;
    for (Index kk = 0; kk < kmax; ++kk) {
      check_stop(o.should_stop);
      Vectord w = obj.hvp(Q.col(kk));
      const double a = Q.col(kk).dot(w);
      w -= a * Q.col(kk);
      if (kk > 0) w -= be[kk - 1] * Q.col(kk - 1);
      for (int pass = 0; pass < 2; ++pass) {
        const Vectord h = dense::mv(Q.leftCols(kk + 1), true, w);
        dense::gemv(-1.0, Q.leftCols(kk + 1), false, h, 1.0, w);
      }
      const double bnext = w.norm();
      al.push_back(a);
      // reduced problem on T (kk+1 x kk+1)
      const Index kr = kk + 1;
      RowMatrixd Tm = RowMatrixd::Zero(kr, kr);
      for (Index i = 0; i < kr; ++i) {
        Tm(i, i) = al[i];
        if (i + 1 < kr) Tm(i, i + 1) = Tm(i + 1, i) = be[i];
      }
      Vectord lam;
      Eigen::MatrixXd U;
      sym_eig(Tm, lam, U);
      Vectord b = gn * U.row(0).transpose();
      NewtonStepInfo trial = info;
      const bool last = (kr == kmax) || bnext <= 1e-14 * std::max(1.0, std::abs(lam.size() ? lam.maxCoeff() : 0.0));
      Vectord y;
      bool ok = true;
      try {
        y = dense::mv(U, false, detail::spectral_step(lam, b, o, 0, 0.0, trial));
      } catch (const NumericalError&) {
        if (last) throw;
        ok = false;
      }
      if (ok) {
        trial.residual = bnext * std::abs(y[kr - 1]);
        trial.rank = kr;
        if (last || trial.residual <= o.krylov_tol * gn) {
          s_final = dense::mv(Q.leftCols(kr), false, y);
          info = trial;
          break;
        }
      }
      be.push_back(bnext);
      Q.col(kk + 1) = w / bnext;
    }
    info.step_norm = s_final.norm();
    if (!std::isfinite(info.step_norm)) throw NumericalError("Newton step is not finite");
    infos.push_back(info);
    obj.add_step(s_final);
  }
}

// ------------------------------------------------------------------------------------------------
// SCureNewton (arXiv 2406.14507, section 4: the stochastic cubic Newton of Tripuraneni et al. 2018 with the
// gradient-descent subsolver of Carmon & Duchi 2016).
//
// Outer step t: minibatches B1 (gradient) and B2 (Hessian-vector products) of the rows, g = grad F_B1,
// H = Hess F_B2; the stochastic cubic model
//   m~(D) = <g + sigma zeta, D> + 1/2 D^T H D + (M/6) ||D||^3      (zeta uniform on the sphere)
// is minimized approximately from the Cauchy point D_0 = -R_c g/||g||, R_c = -kappa + sqrt(kappa^2 + 2||g||/M),
// kappa = g^T H g / (M ||g||^2), by n_inner gradient steps D <- D - eta grad m~(D).
// safeguard: an inner step that would raise m~ is retried with eta halved (eta stays halved for the rest of
// the outer step). Gradient descent on m~ is stable only for eta < 2 / (lam_max(H) + M ||D||); a trained
// network sits at the edge of stability of its training lr (lam_max ~ 2 / lr), so "eta = the training lr"
// diverges as soon as the cubic term adds M ||D||. Off: the paper's plain fixed-eta iteration.
// auto_M: the cubic constant of each outer step is accepted by the two tests of cure_newton's M = "auto",
// on the minibatches: L_hat = ||H_B2(theta + D) D - H_B2(theta) D|| / ||D||^2 <= M and
// rho = (F_B1(theta) - F_B1(theta + D)) / (-m(D)) >= 0.1 (m with the unperturbed g); shrink to
// max(2 L_hat, M/4) while accepted and L_hat < M/2, grow to max(2 M, L_hat) while rejected (at most
// max_tries solves per outer step, on the same minibatches and zeta); the next step starts from the M accepted.

struct SCubicOptions {
  double M = 1.0;
  double lr = 1e-3;       // inner step size eta
  double sigma = 1e-3;    // perturbation
  Index batch_grad = 128; // n_1
  Index batch_hess = 64;  // n_2
  int n_outer = 10;
  int n_inner = 5;
  std::uint64_t seed = 0;
  bool safeguard = true;  // halve eta on an inner step that raises the model
  bool auto_M = false;    // the automatic cubic constant (above), starting at M
  int max_tries = 30;     // cubic solves per outer step under auto_M
  // Parameters beyond the p = theta.size() solved for, on which F is (l2/2) ||.||^2 alone (a span model's
  // directions orthogonal to its coordinate space; see scure_newton). 0: none, the plain method.
  Index hidden_dims = 0;
  StopCheck should_stop;  // optional cancellation check (Ctrl-C), once per outer step
};

struct SCubicStepInfo {
  double step_norm = 0.0, cauchy_radius = 0.0, grad_norm = 0.0, batch_loss = 0.0;
  double M = 0.0;             // the cubic constant of this step
  double model_value = 0.0;   // m~(D) at the step taken
  double lr = 0.0;            // the inner step size at the end of the inner loop
  int n_halvings = 0;         // safeguard halvings of eta
  double lipschitz = std::numeric_limits<double>::quiet_NaN(), rho = std::numeric_limits<double>::quiet_NaN();
  int n_tries = 1;
  bool accepted = true;
  double hidden_step_norm = 0.0;  // hidden_dims > 0: |beta|, the norm of the step's hidden part (dropped)
  std::vector<Index> rows_grad, rows_hess;  // B1, B2 (sorted row indices)
};
namespace detail {
// A standard normal from two uniform 53-bit draws (Box-Muller): portable across standard libraries.
inline double normal_draw(std::mt19937_64& rng) {
  const double u1 = (static_cast<double>(rng() >> 11) + 0.5) * (1.0 / 9007199254740992.0);
  const double u2 = (static_cast<double>(rng() >> 11) + 0.5) * (1.0 / 9007199254740992.0);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586476925 * u2);
}
// k distinct indices of [0, n) (partial Fisher-Yates with 64-bit draws; portable)
inline std::vector<Index> sample_rows(std::mt19937_64& rng, Index n, Index k) {
  std::vector<Index> idx(n);
  for (Index i = 0; i < n; ++i) idx[i] = i;
  k = std::min(k, n);
  for (Index i = 0; i < k; ++i) {
    const Index j = i + static_cast<Index>(rng() % static_cast<std::uint64_t>(n - i));
    std::swap(idx[i], idx[j]);
  }
  idx.resize(k);
  std::sort(idx.begin(), idx.end());
  return idx;
}
inline double uniform_draw(std::mt19937_64& rng) {
  return (static_cast<double>(rng() >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}
// A chi-square draw with k >= 1 degrees of freedom: 2 Gamma(k/2, 1) by Marsaglia & Tsang (2000), "A simple
// method for generating gamma variables", ACM TOMS 26(3); for shape a < 1, Gamma(a) = Gamma(a + 1) U^(1/a).
inline double chi2_draw(std::mt19937_64& rng, Index k) {
  const double a = 0.5 * static_cast<double>(k);
  const double a1 = a < 1.0 ? a + 1.0 : a;
  const double dd = a1 - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * dd);
  double g = 0.0;
  for (;;) {
    const double x = normal_draw(rng);
    double v = 1.0 + c * x;
    if (v <= 0.0) continue;
    v = v * v * v;
    const double u = uniform_draw(rng);
    if (std::log(u) < 0.5 * x * x + dd - dd * v + dd * std::log(v)) {
      g = dd * v;
      break;
    }
  }
  if (a < 1.0) g *= std::pow(uniform_draw(rng), 1.0 / a);
  return 2.0 * g;
}
}  // namespace detail

/// Runs SCureNewton on rows (X, y) from (W, u); returns the final (W, u) in W, u. The minibatches are read in
/// place (NetObjective on a row subset): besides X the memory is a few p-vectors and the n_1 x m, n_2 x m
/// pre-activations.
template <class T>
void scure_newton(const MatRef<T>& X, const VecRef<T>& y, RowMatrix<T>& W, Vector<T>& u, const NetSpec& spec,
                  LossKind loss, double l2, const SCubicOptions& so, int n_threads, std::vector<SCubicStepInfo>& infos) {
  const Index n = X.rows(), d = X.cols();
  std::mt19937_64 rng(so.seed);
  double M = so.M;
  auto apply = [&](RowMatrix<T>& W_, Vector<T>& u_, const Vectord& delta) {
    for (Index j = 0; j < W_.rows(); ++j)
      for (Index c = 0; c < d; ++c) W_(j, c) += static_cast<T>(delta[j * d + c]);
    if (spec.train_outer)
      for (Index j = 0; j < W_.rows(); ++j) u_[j] += static_cast<T>(delta[W_.size() + j]);
  };
  for (int t = 0; t < so.n_outer; ++t) {
    check_stop(so.should_stop);
    SCubicStepInfo info;
    info.rows_grad = detail::sample_rows(rng, n, so.batch_grad);
    info.rows_hess = detail::sample_rows(rng, n, so.batch_hess);
    NetObjective<T> o1(X, y, W, u, spec, loss, l2, n_threads, &info.rows_grad);
    NetObjective<T> o2(X, y, W, u, spec, loss, l2, n_threads, &info.rows_hess);
    const Vectord g = o1.gradient();
    const double gn = g.norm();
    info.grad_norm = gn;
    info.batch_loss = o1.F;
    const Index p = g.size();
    Vectord Hg;
    if (gn > 0) Hg = o2.hvp(g);
    Vectord zeta(p);
    for (Index i = 0; i < p; ++i) zeta[i] = detail::normal_draw(rng);
    // hidden_dims = h > 0: zeta is the unit vector of p + h normals; its hidden part is a multiple nu of one
    // unit direction, ||.||^2 of the h hidden normals drawn as a chi-square with h degrees of freedom.
    double hid_g = 0.0;  // sigma nu: the perturbed gradient's hidden component
    if (so.hidden_dims > 0) {
      const double chi2 = detail::chi2_draw(rng, so.hidden_dims);
      const double tot = std::sqrt(zeta.squaredNorm() + chi2);
      zeta /= tot;
      hid_g = so.sigma * std::sqrt(chi2) / tot;
    } else {
      const double zn = zeta.norm();
      if (zn > 0) zeta /= zn;
    }
    const bool hidden = so.hidden_dims > 0;
    const Vectord gt = g + so.sigma * zeta;

    // With hidden dims the step is (D, beta e) for the unit hidden direction e of zeta; F is (l2/2) ||.||^2 on
    // e, so m~ gains sigma nu beta + (l2/2) beta^2 and ||(D, beta e)||^2 = ||D||^2 + beta^2.
    struct Trial {
      Vectord delta, Hd;
      double beta = 0, M = 0, mval = 0, lr = 0, Rc = 0, sn = 0, lip = 0, rho = 1;
      int halvings = 0;
      bool accepted = true;
    };
    auto model_tilde = [&](const Vectord& D, const Vectord& HD, double b, double Mt) {
      if (!hidden) {
        const double nr = D.norm();
        return gt.dot(D) + 0.5 * D.dot(HD) + Mt / 6.0 * nr * nr * nr;
      }
      const double nr = std::sqrt(D.squaredNorm() + b * b);
      return gt.dot(D) + hid_g * b + 0.5 * (D.dot(HD) + l2 * b * b) + Mt / 6.0 * nr * nr * nr;
    };
    // the approximate minimizer of m~ for the constant Mt: Cauchy point + n_inner (safeguarded) GD steps
    auto solve = [&](double Mt) {
      Trial tr;
      tr.M = Mt;
      tr.delta = Vectord::Zero(p);
      if (gn > 0) {
        const double kappa = g.dot(Hg) / (Mt * gn * gn);
        tr.Rc = -kappa + std::sqrt(kappa * kappa + 2.0 * gn / Mt);
        tr.delta = -tr.Rc * g / gn;
      }
      double eta = so.lr;
      tr.Hd = o2.hvp(tr.delta);
      tr.mval = model_tilde(tr.delta, tr.Hd, 0.0, Mt);
      for (int it = 0; it < so.n_inner; ++it) {
        const double nr = hidden ? std::sqrt(tr.delta.squaredNorm() + tr.beta * tr.beta) : tr.delta.norm();
        const Vectord grad = gt + tr.Hd + 0.5 * Mt * nr * tr.delta;
        const double gb = hidden ? hid_g + l2 * tr.beta + 0.5 * Mt * nr * tr.beta : 0.0;
        bool moved = false;
        for (int h = 0; h <= 60; ++h) {
          Vectord cand = tr.delta - eta * grad;
          const double cb = tr.beta - eta * gb;
          Vectord Hc = o2.hvp(cand);
          const double mc = model_tilde(cand, Hc, cb, Mt);
          if (!so.safeguard || mc <= tr.mval) {
            tr.delta = std::move(cand);
            tr.beta = cb;
            tr.Hd = std::move(Hc);
            tr.mval = mc;
            moved = true;
            break;
          }
          eta *= 0.5;
          ++tr.halvings;
        }
        if (!moved) break;  // no decrease even with eta / 2^60: the iterate is stationary to rounding
      }
      tr.lr = eta;
      tr.sn = hidden ? std::sqrt(tr.delta.squaredNorm() + tr.beta * tr.beta) : tr.delta.norm();
      if (!std::isfinite(tr.sn)) throw NumericalError("scure_newton: the step is not finite (lower lr)");
      return tr;
    };
    // the two tests of the automatic M (Lipschitz estimate along D on B2, decrease ratio on B1)
    auto judge = [&](Trial& tr) {
      if (tr.sn == 0.0) {
        tr.lip = 0.0;
        tr.rho = 1.0;
        tr.accepted = true;
        return;
      }
      RowMatrix<T> W1(W);
      Vector<T> u1(u);
      apply(W1, u1, tr.delta);
      double F1, lipnum;
      {
        NetObjective<T> o1b(X, y, W1, u1, spec, loss, l2, n_threads, &info.rows_grad);
        F1 = o1b.F;
        if (hidden) F1 += 0.5 * l2 * tr.beta * tr.beta;
      }
      {
        NetObjective<T> o2b(X, y, W1, u1, spec, loss, l2, n_threads, &info.rows_hess);
        lipnum = (o2b.hvp(tr.delta) - tr.Hd).norm();
      }
      tr.lip = lipnum / (tr.sn * tr.sn);
      const double sHs = tr.delta.dot(tr.Hd) + (hidden ? l2 * tr.beta * tr.beta : 0.0);
      const double pred = -(g.dot(tr.delta) + 0.5 * sHs + tr.M / 6.0 * tr.sn * tr.sn * tr.sn);
      const double F0 = o1.F;
      tr.rho = pred > 0 ? (F0 - F1) / pred : (F1 <= F0 ? 1.0 : -std::numeric_limits<double>::infinity());
      tr.accepted = tr.rho >= 0.1 && tr.lip <= tr.M;
    };
    Trial best = solve(M);
    int tries = 1;
    if (so.auto_M) {
      judge(best);
      if (best.accepted) {
        while (tries < so.max_tries && best.lip < 0.5 * best.M && best.sn > 0) {
          Trial cand = solve(std::max(2.0 * best.lip, 0.25 * best.M));
          ++tries;
          judge(cand);
          if (!cand.accepted) break;
          best = std::move(cand);
        }
      } else {
        while (tries < so.max_tries && !best.accepted) {
          Trial cand = solve(std::max(2.0 * best.M, best.lip));
          ++tries;
          judge(cand);
          best = std::move(cand);
        }
      }
      M = best.M;
      info.lipschitz = best.lip;
      info.rho = best.rho;
      info.accepted = best.accepted;
    }
    info.M = best.M;
    info.n_tries = tries;
    info.cauchy_radius = best.Rc;
    info.model_value = best.mval;
    info.lr = best.lr;
    info.n_halvings = best.halvings;
    info.step_norm = best.sn;
    info.hidden_step_norm = std::abs(best.beta);
    apply(W, u, best.delta);  // hidden_dims > 0: the hidden part beta e is dropped (it has no coordinates)
    infos.push_back(std::move(info));
  }
}

}  // namespace kktunlearn
