// Bindings for unlearning: the cubic-regularized subproblem solver, the Newton-family steps
// (lowrank / dense / krylov / stochastic), the A_GA step and the weighted gradient steps.
#include <kktunlearn/cubic.hpp>
#include <kktunlearn/gram.hpp>
#include <kktunlearn/newton.hpp>
#include <kktunlearn/nnls.hpp>
#include <kktunlearn/training.hpp>
#include <kktunlearn/unlearning.hpp>

#include "bindings.hpp"

namespace kktunlearn {
namespace bind {

namespace {

void check_newton_options(const NewtonOptions& o) {
  require(o.n_steps >= 0, "n_steps must be >= 0");
  require(o.l2 >= 0 && o.damping >= 0 && o.rcond >= 0 && o.M > 0, "l2, damping, rcond must be >= 0 and M > 0");
  require(o.krylov_dim >= 1, "krylov_dim must be >= 1");
}

void check_scubic_options(const SCubicOptions& so) {
  require(so.M > 0 && so.lr > 0 && so.sigma >= 0, "scure_newton: M, lr > 0 and sigma >= 0 required");
  require(so.batch_grad >= 1 && so.batch_hess >= 1 && so.n_outer >= 0 && so.n_inner >= 0, "scure_newton: bad sizes");
  require(so.max_tries >= 1, "scure_newton: max_tries must be >= 1");
}

py::array_t<std::int64_t> index_array(const std::vector<Index>& v) {
  return py::array_t<std::int64_t>(static_cast<py::ssize_t>(v.size()), reinterpret_cast<const std::int64_t*>(v.data()));
}

/// NewtonOptions / NewtonStepInfo / SCubicOptions / SCubicStepInfo, bound once for both scalar types.
void def_unlearn_types(py::module_& m) {
  py::class_<NewtonOptions> nopts(m, "NewtonOptions",
                            "Options of the Newton-family steps (newton_lowrank / newton_net): method ('newton' |\n"
                            "'damped' | 'pinv' | 'cubic'), loss, l2 (weight decay of the retained objective),\n"
                            "damping (delta of (H + delta I)^{-1}), rcond (pinv cutoff, relative to max |eig|), M (cubic\n"
                            "constant), n_steps, basis_tol / sing_tol (relative eigenvalue cutoffs of the low-rank basis\n"
                            "and of the singularity test), krylov_dim, krylov_tol, n_threads.");
  def_enum_property(nopts, "method", &NewtonOptions::method, newton_method_name, newton_method_from_string);
  def_enum_property(nopts, "loss", &NewtonOptions::loss, loss_name, loss_from_string);
  nopts.def(py::init<>())
      .def_readwrite("l2", &NewtonOptions::l2)
      .def_readwrite("damping", &NewtonOptions::damping)
      .def_readwrite("rcond", &NewtonOptions::rcond)
      .def_readwrite("M", &NewtonOptions::M)
      .def_readwrite("n_steps", &NewtonOptions::n_steps)
      .def_readwrite("basis_tol", &NewtonOptions::basis_tol)
      .def_readwrite("sing_tol", &NewtonOptions::sing_tol)
      .def_readwrite("krylov_dim", &NewtonOptions::krylov_dim)
      .def_readwrite("krylov_tol", &NewtonOptions::krylov_tol)
      .def_readwrite("n_threads", &NewtonOptions::n_threads);

  py::class_<NewtonStepInfo>(m, "NewtonStepInfo",
                             "One Newton-family step: loss (F before the step), grad_norm, step_norm, gamma (cubic:\n"
                             "M ||s|| / 2; damped: delta), lam_min / lam_max (of H on the solve space), rank (its\n"
                             "dimension), pinv_rank (pinv: eigenvalues kept, else None), hard_case, n_iter (secular\n"
                             "iterations), residual (krylov: ||g + (H + gamma I) s||).")
      .def_readonly("loss", &NewtonStepInfo::loss)
      .def_readonly("grad_norm", &NewtonStepInfo::grad_norm)
      .def_readonly("step_norm", &NewtonStepInfo::step_norm)
      .def_readonly("gamma", &NewtonStepInfo::gamma)
      .def_readonly("lam_min", &NewtonStepInfo::lam_min)
      .def_readonly("lam_max", &NewtonStepInfo::lam_max)
      .def_property_readonly("rank", [](const NewtonStepInfo& i) { return static_cast<std::int64_t>(i.rank); })
      .def_property_readonly("pinv_rank",
                             [](const NewtonStepInfo& i) -> py::object {
                               if (i.pinv_rank < 0) return py::none();
                               return py::int_(static_cast<std::int64_t>(i.pinv_rank));
                             })
      .def_readonly("hard_case", &NewtonStepInfo::hard_case)
      .def_readonly("n_iter", &NewtonStepInfo::n_iter)
      .def_readonly("residual", &NewtonStepInfo::residual);

  py::class_<SCubicOptions>(m, "SCubicOptions",
                            "Options of SCureNewton (scure_newton): M (cubic constant; with auto_M the start), lr\n"
                            "(inner step eta), sigma (perturbation), batch_grad / batch_hess (n_1, n_2), n_outer,\n"
                            "n_inner, seed, safeguard (halve eta on an inner step that raises the model), auto_M,\n"
                            "max_tries (cubic solves per outer step under auto_M), hidden_dims (parameters beyond the solved ones on\n"
                            "which F is (l2/2)||.||^2 alone: zeta is drawn in p + hidden_dims dimensions and the step's\n"
                            "hidden part, |beta| = hidden_step_norm, is dropped).")
      .def(py::init<>())
      .def_readwrite("M", &SCubicOptions::M)
      .def_readwrite("lr", &SCubicOptions::lr)
      .def_readwrite("sigma", &SCubicOptions::sigma)
      .def_readwrite("batch_grad", &SCubicOptions::batch_grad)
      .def_readwrite("batch_hess", &SCubicOptions::batch_hess)
      .def_readwrite("n_outer", &SCubicOptions::n_outer)
      .def_readwrite("n_inner", &SCubicOptions::n_inner)
      .def_readwrite("seed", &SCubicOptions::seed)
      .def_readwrite("safeguard", &SCubicOptions::safeguard)
      .def_readwrite("auto_M", &SCubicOptions::auto_M)
      .def_readwrite("max_tries", &SCubicOptions::max_tries)
      .def_property(
          "hidden_dims", [](const SCubicOptions& o) { return static_cast<std::int64_t>(o.hidden_dims); },
          [](SCubicOptions& o, std::int64_t h) {
            require(h >= 0, "hidden_dims must be >= 0");
            o.hidden_dims = static_cast<Index>(h);
          });

  py::class_<SCubicStepInfo>(m, "SCubicStepInfo",
                             "One SCureNewton outer step: step_norm, cauchy_radius, grad_norm, batch_loss, M,\n"
                             "model_value (m~ at the step), lr (eta at the end), n_halvings, lipschitz / rho (the\n"
                             "auto_M tests, NaN without), n_tries, accepted, hidden_step_norm (the dropped hidden part, with\n"
                             "hidden_dims), rows_grad / rows_hess (the minibatches).")
      .def_readonly("step_norm", &SCubicStepInfo::step_norm)
      .def_readonly("cauchy_radius", &SCubicStepInfo::cauchy_radius)
      .def_readonly("grad_norm", &SCubicStepInfo::grad_norm)
      .def_readonly("batch_loss", &SCubicStepInfo::batch_loss)
      .def_readonly("M", &SCubicStepInfo::M)
      .def_readonly("model_value", &SCubicStepInfo::model_value)
      .def_readonly("lr", &SCubicStepInfo::lr)
      .def_readonly("n_halvings", &SCubicStepInfo::n_halvings)
      .def_readonly("lipschitz", &SCubicStepInfo::lipschitz)
      .def_readonly("rho", &SCubicStepInfo::rho)
      .def_readonly("n_tries", &SCubicStepInfo::n_tries)
      .def_readonly("accepted", &SCubicStepInfo::accepted)
      .def_readonly("hidden_step_norm", &SCubicStepInfo::hidden_step_norm)
      .def_property_readonly("rows_grad", [](const SCubicStepInfo& i) { return index_array(i.rows_grad); })
      .def_property_readonly("rows_hess", [](const SCubicStepInfo& i) { return index_array(i.rows_hess); });
}

template <class T>
void def_unlearn_kernels(py::module_& m) {
  m.def(
      "newton_lowrank",
      [](CMat<T> XR, CVec<T> yR, CMat<T> W0, CVec<T> u, double slope, const NewtonOptions& opt) {
        check_newton_options(opt);
        require(XR.cols() == W0.cols() && yR.size() == XR.rows() && u.size() == W0.rows(),
                "newton_lowrank: shape mismatch");
        NewtonOptions o = opt;
        o.should_stop = PyInterruptCheck{};
        std::vector<NewtonStepInfo> infos;
        RowMatrix<T> W;
        double shift = 0.0;
        {
          py::gil_scoped_release nogil;
          const NetSpec spec = make_spec(slope, false);
          RowMatrix<T> K = kernel_matrix<T>(XR, o.n_threads);
          RowMatrix<T> Z0;
          preactivations<T>(XR, W0, Z0, o.n_threads);
          const double w0sq = W0.template cast<double>().squaredNorm();
          LowRankState<T> st = newton_lowrank<T>(MatRef<T>(K), MatRef<T>(Z0), w0sq, yR, u, spec, o, W0.size(), infos);
          W = (static_cast<T>(st.alpha) * W0).eval();
          add_gamma_t_x<T>(MatRef<T>(st.A), XR, W, o.n_threads);
          if (Z0.size()) shift = (st.Z - static_cast<T>(1) * Z0).template cast<double>().cwiseAbs().maxCoeff();
        }
        return py::make_tuple(W, infos, shift);
      },
      py::arg("XR").noconvert(), py::arg("yR").noconvert(), py::arg("W0").noconvert(), py::arg("u").noconvert(),
      py::arg("slope"), py::arg("options"),
      "Newton-family steps on F = mean retained loss + l2/2 ||W||^2 for a fixed output layer, solved exactly\n"
      "in the span of the per-example gradients (n_r x n_r eigendecompositions; the p x p Hessian is never formed).\n"
      "options: a NewtonOptions. Returns (W, [NewtonStepInfo per step], preact_shift = max |X_R (W - W0)^T|).");

  m.def(
      "newton_lowrank_span",
      [](CMat<T> K, CMat<T> Z0, double w0sq, CVec<T> yR, CVec<T> u, double slope, std::int64_t n_params,
         const NewtonOptions& opt) {
        check_newton_options(opt);
        require(K.rows() == K.cols() && K.rows() == Z0.rows() && yR.size() == Z0.rows() && u.size() == Z0.cols(),
                "newton_lowrank_span: K must be n_r x n_r, Z0 n_r x m, yR of length n_r and u of length m");
        require(std::isfinite(w0sq) && w0sq >= 0.0 && n_params >= Z0.cols(),
                "newton_lowrank_span: w0sq must be finite and >= 0, n_params >= m");
        NewtonOptions o = opt;
        o.should_stop = PyInterruptCheck{};
        std::vector<NewtonStepInfo> infos;
        LowRankState<T> st;
        {
          py::gil_scoped_release nogil;
          st = newton_lowrank<T>(K, Z0, w0sq, yR, u, make_spec(slope, false), o, static_cast<Index>(n_params), infos);
        }
        return py::make_tuple(st.A, st.alpha, st.Z, infos);
      },
      py::arg("K").noconvert(), py::arg("Z0").noconvert(), py::arg("w0sq"), py::arg("yR").noconvert(),
      py::arg("u").noconvert(), py::arg("slope"), py::arg("n_params"), py::arg("options"),
      "newton_lowrank on a span state: K = X_R X_R^T, Z0 = X_R W^T and w0sq = ||W||^2 of the starting W, p =\n"
      "n_params. Returns (A, alpha, Z, [NewtonStepInfo per step]) with W_new = alpha W + A^T X_R and Z = X_R\n"
      "W_new^T: the step never touches d.");

  m.def(
      "newton_net",
      [](CMat<T> XR, CVec<T> yR, CMat<T> W0, CVec<T> u0, double slope, bool train_outer, const std::string& solver,
         const NewtonOptions& opt) {
        check_newton_options(opt);
        check_net(XR, yR, W0, u0, "newton_net");
        require(solver == "dense" || solver == "krylov", "solver must be 'dense' or 'krylov'");
        NewtonOptions o = opt;
        o.should_stop = PyInterruptCheck{};
        std::vector<NewtonStepInfo> infos;
        RowMatrix<T> W;
        Vector<T> u;
        double shift = 0.0;
        {
          py::gil_scoped_release nogil;
          const NetSpec spec = make_spec(slope, train_outer);
          NetObjective<T> obj(XR, yR, RowMatrix<T>(W0), Vector<T>(u0), spec, o.loss, o.l2, o.n_threads);
          const RowMatrix<T> Z0 = obj.Z;
          if (solver == "dense")
            newton_dense<T>(obj, o, infos);
          else
            newton_krylov<T>(obj, o, XR.rows(), infos);
          W = obj.W;
          u = obj.u;
          if (Z0.size()) shift = (obj.Z - Z0).template cast<double>().cwiseAbs().maxCoeff();
        }
        return py::make_tuple(W, u, infos, shift);
      },
      py::arg("XR").noconvert(), py::arg("yR").noconvert(), py::arg("W0").noconvert(), py::arg("u0").noconvert(),
      py::arg("slope"), py::arg("train_outer"), py::arg("solver"), py::arg("options"),
      "Newton-family steps on the retained objective for any model: solver='dense' (p x p Hessian and its\n"
      "eigendecomposition) or 'krylov' (Lanczos on Hessian-vector products); options: a NewtonOptions. Returns\n"
      "(W, u, [NewtonStepInfo per step], preact_shift).");

  m.def(
      "scure_newton",
      [](CMat<T> XR, CVec<T> yR, CMat<T> W0, CVec<T> u0, double slope, bool train_outer, const std::string& loss,
         double l2, const SCubicOptions& opt, int n_threads) {
        check_scubic_options(opt);
        require(l2 >= 0, "scure_newton: l2 must be >= 0");
        check_net(XR, yR, W0, u0, "scure_newton");
        SCubicOptions so = opt;
        so.should_stop = PyInterruptCheck{};
        std::vector<SCubicStepInfo> infos;
        RowMatrix<T> W(W0);
        Vector<T> u(u0);
        double shift = 0.0;
        {
          py::gil_scoped_release nogil;
          const NetSpec spec = make_spec(slope, train_outer);
          scure_newton<T>(XR, yR, W, u, spec, loss_from_string(loss), l2, so, n_threads, infos);
          RowMatrix<T> Z0, Z1;
          preactivations<T>(XR, W0, Z0, n_threads);
          preactivations<T>(XR, MatRef<T>(W), Z1, n_threads);
          if (Z0.size()) shift = (Z1 - Z0).template cast<double>().cwiseAbs().maxCoeff();
        }
        return py::make_tuple(W, u, infos, shift);
      },
      py::arg("XR").noconvert(), py::arg("yR").noconvert(), py::arg("W0").noconvert(), py::arg("u0").noconvert(),
      py::arg("slope"), py::arg("train_outer"), py::arg("loss"), py::arg("l2"), py::arg("options"),
      py::arg("n_threads") = 0,
      "SCureNewton (stochastic cubic Newton with Hessian-vector products, Cauchy-point start, perturbation sigma;\n"
      "safeguard: eta halved on an inner step that raises the model; auto_M: the automatic cubic constant on the\n"
      "minibatches); options: an SCubicOptions. Returns (W, u, [SCubicStepInfo per outer step], preact_shift).");

  m.def(
      "retained_hvp",
      [](CMat<T> XR, CVec<T> yR, CMat<T> W, CVec<T> u, double slope, bool train_outer, const std::string& loss,
         double l2, const Vectord& v, int n_threads) {
        check_net(XR, yR, W, u, "retained_hvp");
        Vectord g, Hv;
        {
          py::gil_scoped_release nogil;
          NetObjective<T> obj(XR, yR, RowMatrix<T>(W), Vector<T>(u), make_spec(slope, train_outer),
                              loss_from_string(loss), l2, n_threads);
          if (v.size() != obj.p()) throw InvalidArgument("retained_hvp: v must have n_params entries");
          g = obj.gradient();
          Hv = obj.hvp(v);
        }
        return py::make_tuple(g, Hv);
      },
      py::arg("XR").noconvert(), py::arg("yR").noconvert(), py::arg("W").noconvert(), py::arg("u").noconvert(),
      py::arg("slope"), py::arg("train_outer"), py::arg("loss"), py::arg("l2"), py::arg("v"), py::arg("n_threads") = 0,
      "(g, H v) of F = mean loss on (XR, yR) + l2/2 ||theta||^2, theta = (W, u if trained) flattened.");

  m.def(
      "ga_step",
      [](CMat<T> XF, CVec<T> yF, CMat<T> XR, CMat<T> W0, CVec<T> u0, const GAOptions& o) {
        check_net(XF, yF, W0, u0, "ga_step");
        check_dim(XR.cols(), W0.cols(), "ga_step", "the number of columns of XR");
        RowMatrix<T> W(W0);
        Vector<T> u(u0);
        GAResult res;
        {
          py::gil_scoped_release nogil;
          res = ga_step<T>(XF, yF, XR, W, u, o);
        }
        return py::make_tuple(W, u, res);
      },
      py::arg("XF").noconvert(), py::arg("yF").noconvert(), py::arg("XR").noconvert(), py::arg("W").noconvert(),
      py::arg("u").noconvert(), py::arg("options"),
      "A_GA: W - alpha w_scale sum_r y_r sum_j c_rj u_j x_r e_j^T (c_rj = lambda_r sigma'(z_rj), or mu for the\n"
      "given pinned pairs), u - alpha sum_r lambda_r y_r sigma(z_rj) when u is trained, with the step's data in a\n"
      "GAOptions. Returns (W, u, GAResult).");

  m.def(
      "gd_weighted",
      [](CMat<T> X, CVec<T> y, const Vectord& w, CMat<T> W0, CVec<T> u0, double slope, bool train_outer,
         const TrainOptions& opt, py::object progress) {
        check_net(X, y, W0, u0, "gd_weighted");
        check_vec(w, X.rows(), "gd_weighted", "weights");
        require(opt.max_iter >= 0 && opt.max_iter <= std::numeric_limits<int>::max(),
                "gd_weighted: options.max_iter (the number of steps) must be in [0, 2^31)");
        RowMatrix<T> W(W0);
        Vector<T> u(u0);
        GDResult res;
        PyProgress prog{progress};
        {
          py::gil_scoped_release nogil;
          res = gd_weighted<T>(X, y, w, W, u, make_spec(slope, train_outer), opt.loss, opt.lr, opt.normalized,
                               opt.lr_max, static_cast<int>(opt.max_iter), opt.n_threads,
                               [&](std::int64_t it, double v) { return prog(it, v); }, opt.weight_decay);
        }
        prog.rethrow_error();
        if (res.interrupted) throw Interrupted();
        return py::make_tuple(W, u, py::array(py::cast(res.objective)), py::array(py::cast(res.lr)));
      },
      py::arg("X").noconvert(), py::arg("y").noconvert(), py::arg("weights"), py::arg("W").noconvert(),
      py::arg("u").noconvert(), py::arg("slope"), py::arg("train_outer"), py::arg("options"),
      py::arg("progress") = py::none(),
      "options.max_iter gradient steps on Phi = sum_i w_i l(q_i) + weight_decay/2 ||theta||^2 (w_i > 0 descent,\n"
      "< 0 ascent), with options a TrainOptions (loss, lr, normalized, lr_max, max_iter = the number of steps,\n"
      "n_threads, weight_decay; the other fields are not used). Returns (W, u, objective per step, lr per step).");
}

}  // namespace

void bind_unlearn(py::module_& m) {
  def_unlearn_types(m);
  py::class_<GAOptions> gopt(m, "GAOptions",
                             "The A_GA step of ga_step: slope, train_outer (the activation), lam_forget (the forgotten\n"
                             "points' multipliers), pinned_r / pinned_j / mu (pinned pairs: rows into X_F, neurons, their\n"
                             "Clarke coefficients), alpha (the step), w_scale (s^(2 - L) of the normalized model), n_threads.");
  def_optional_vector(gopt, "mu", &GAOptions::mu);
  gopt.def(py::init<>())
      .def_readwrite("slope", &GAOptions::slope)
      .def_readwrite("train_outer", &GAOptions::train_outer)
      .def_readwrite("lam_forget", &GAOptions::lam_forget)
      .def_readwrite("pinned_r", &GAOptions::pinned_r)
      .def_readwrite("pinned_j", &GAOptions::pinned_j)
      .def_readwrite("alpha", &GAOptions::alpha)
      .def_readwrite("w_scale", &GAOptions::w_scale)
      .def_readwrite("n_threads", &GAOptions::n_threads);
  py::class_<GAResult>(m, "GAResult",
                       "What ga_step reports: preact_shift (max_{i in R, j} |<w_j' - w_j, x_i>|, raw scale) and n_clarke\n"
                       "(pinned pairs of the forgotten rows whose coefficient came from mu).")
      .def_readonly("preact_shift", &GAResult::preact_shift)
      .def_readonly("n_clarke", &GAResult::n_clarke);
  py::class_<CubicSolution>(m, "CubicSolution",
                            "What cubic_solve_eig / cubic_solve_dense return: s (the global minimizer; in the eigenbasis\n"
                            "for cubic_solve_eig), gamma (the damping (M/2) ||s||), norm (||s||), value (the model value at\n"
                            "s), hard_case, n_iter (secular-equation iterations).")
      .def_readonly("s", &CubicSolution::s)
      .def_readonly("gamma", &CubicSolution::gamma)
      .def_readonly("norm", &CubicSolution::norm)
      .def_readonly("value", &CubicSolution::value)
      .def_readonly("hard_case", &CubicSolution::hard_case)
      .def_readonly("n_iter", &CubicSolution::n_iter);
  def_unlearn_kernels<double>(m);
  def_unlearn_kernels<float>(m);

  m.def(
      "loss_deriv2",
      [](const Vectord& q, const std::string& loss) {
        const LossKind lk = loss_from_string(loss);
        Vectord d2(q.size());
        for (Index i = 0; i < q.size(); ++i) {
          check_loss_margin(lk, q[i]);
          d2[i] = loss_deriv2(lk, q[i]);
        }
        return d2;
      },
      py::arg("q"), py::arg("loss"), "l''(q) elementwise (the curvature of the Newton family's loss).");

  m.def(
      "span_basis",
      [](const RowMatrixd& K, double drop_tol, int n_threads) {
        require(K.allFinite(), "span_basis: K must be finite");
        require(drop_tol >= 0 && drop_tol < 1, "span_basis: drop_tol must be in [0, 1)");
        std::vector<Index> kept;
        Eigen::MatrixXd Linv;
        {
          py::gil_scoped_release nogil;
          span_basis(K, drop_tol, n_threads, kept, Linv);
        }
        py::array_t<std::int64_t> idx(static_cast<py::ssize_t>(kept.size()));
        auto w = idx.mutable_unchecked<1>();
        for (size_t a = 0; a < kept.size(); ++a) w(static_cast<py::ssize_t>(a)) = static_cast<std::int64_t>(kept[a]);
        return py::make_tuple(idx, RowMatrixd(Linv));
      },
      py::arg("K"), py::arg("drop_tol") = 1e-13, py::arg("n_threads") = 0,
      "(kept, Linv): the Cholesky factor K[kept][:, kept] = L L^T of a Gram matrix (blocked, threaded, the same\n"
      "bits for any thread count), rows whose pivot falls below drop_tol times their diagonal dropped as\n"
      "dependent, and Linv = L^{-1}: the rows of Linv X[kept] are an orthonormal basis of the rows of X.");

  m.def(
      "cubic_solve_eig",
      [](const Vectord& lam, const Vectord& b, double M, double hard_tol) {
        CubicSolution s;
        {
          py::gil_scoped_release nogil;
          s = cubic_solve_eig(lam, b, M, hard_tol);
        }
        return s;
      },
      py::arg("lam"), py::arg("b"), py::arg("M"), py::arg("hard_tol") = 1e-12,
      "Global minimizer of <b,s> + 1/2 sum lam_i s_i^2 + M/6 ||s||^3 (H in its eigenbasis).");

  m.def(
      "cubic_solve_dense",
      [](const RowMatrixd& H, const Vectord& g, double M, double hard_tol) {
        CubicSolution s;
        {
          py::gil_scoped_release nogil;
          s = cubic_solve_dense(H, g, M, hard_tol);
        }
        return s;
      },
      py::arg("H"), py::arg("g"), py::arg("M"), py::arg("hard_tol") = 1e-12,
      "Global minimizer of <g,s> + 1/2 s^T H s + M/6 ||s||^3 for a dense symmetric H.");
}

}  // namespace bind
}  // namespace kktunlearn
