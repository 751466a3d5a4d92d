// Bindings for unlearning: the cubic-regularized subproblem solver, the Newton-family steps
// (lowrank / dense / krylov / stochastic), the A_GA step and the weighted gradient steps.
#include <kktunlearn/cubic.hpp>
#include <kktunlearn/gram.hpp>
#include <kktunlearn/newton.hpp>
#include <kktunlearn/unlearning.hpp>

#include "bindings.hpp"

namespace kktunlearn {
namespace bind {

namespace {

py::dict cubic_to_dict(const CubicSolution& s) {
  py::dict d;
  d["s"] = s.s;
  d["gamma"] = s.gamma;
  d["norm"] = s.norm;
  d["value"] = s.value;
  d["hard_case"] = s.hard_case;
  d["n_iter"] = s.n_iter;
  return d;
}

py::list infos_to_list(const std::vector<NewtonStepInfo>& infos) {
  py::list out;
  for (const auto& i : infos) {
    py::dict d;
    d["loss"] = i.loss;
    d["grad_norm"] = i.grad_norm;
    d["step_norm"] = i.step_norm;
    d["gamma"] = i.gamma;
    d["lam_min"] = i.lam_min;
    d["lam_max"] = i.lam_max;
    d["rank"] = static_cast<std::int64_t>(i.rank);
    if (i.pinv_rank >= 0) d["pinv_rank"] = static_cast<std::int64_t>(i.pinv_rank);
    d["hard_case"] = i.hard_case;
    d["n_iter"] = i.n_iter;
    d["residual"] = i.residual;
    out.append(d);
  }
  return out;
}

NewtonOptions make_newton_options(const std::string& method, const std::string& loss, double l2, double damping,
                                  double rcond, double M, int n_steps, int krylov_dim, double krylov_tol,
                                  int n_threads) {
  NewtonOptions o;
  o.method = newton_method_from_string(method);
  o.loss = loss_from_string(loss);
  o.l2 = l2;
  o.damping = damping;
  o.rcond = rcond;
  o.M = M;
  o.n_steps = n_steps;
  o.krylov_dim = krylov_dim;
  o.krylov_tol = krylov_tol;
  o.n_threads = n_threads;
  o.should_stop = PyInterruptCheck{};
  require(n_steps >= 0, "n_steps must be >= 0");
  require(l2 >= 0 && damping >= 0 && rcond >= 0 && M > 0, "l2, damping, rcond must be >= 0 and M > 0");
  return o;
}

template <class T>
void def_unlearn_kernels(py::module_& m) {
  m.def(
      "newton_lowrank",
      [](CMat<T> XR, CVec<T> yR, CMat<T> W0, CVec<T> u, double slope, const std::string& loss,
         const std::string& method, double l2, double damping, double rcond, double M, int n_steps, int n_threads) {
        const NewtonOptions o = make_newton_options(method, loss, l2, damping, rcond, M, n_steps, 0, 0.0, n_threads);
        require(XR.cols() == W0.cols() && yR.size() == XR.rows() && u.size() == W0.rows(),
                "newton_lowrank: shape mismatch");
        std::vector<NewtonStepInfo> infos;
        RowMatrix<T> W;
        double shift = 0.0;
        {
          py::gil_scoped_release nogil;
          const NetSpec spec = make_spec(slope, false);
          RowMatrix<T> K = kernel_matrix<T>(XR, n_threads);
          RowMatrix<T> Z0;
          preactivations<T>(XR, W0, Z0, n_threads);
          const double w0sq = W0.template cast<double>().squaredNorm();
          LowRankState<T> st = newton_lowrank<T>(MatRef<T>(K), MatRef<T>(Z0), w0sq, yR, u, spec, o, W0.size(), infos);
          W = (static_cast<T>(st.alpha) * W0).eval();
          add_gamma_t_x<T>(MatRef<T>(st.A), XR, W, n_threads);
          if (Z0.size()) shift = (st.Z - static_cast<T>(1) * Z0).template cast<double>().cwiseAbs().maxCoeff();
        }
        py::dict d;
        d["W"] = W;
        d["steps"] = infos_to_list(infos);
        d["preact_shift"] = shift;
        return d;
      },
      py::arg("XR").noconvert(), py::arg("yR").noconvert(), py::arg("W0").noconvert(), py::arg("u").noconvert(),
      py::arg("slope"), py::arg("loss"), py::arg("method"), py::arg("l2") = 0.0, py::arg("damping") = 0.0,
      py::arg("rcond") = 1e-15, py::arg("M") = 1.0, py::arg("n_steps") = 1, py::arg("n_threads") = 0,
      "Newton-family steps on F = mean retained loss + l2/2 ||W||^2 for a fixed output layer, solved exactly\n"
      "in the span of the per-example gradients (n_r x n_r eigendecompositions; the p x p Hessian is never formed).\n"
      "Returns dict(W, steps=[per-step info], preact_shift = max |X_R (W - W0)^T|).");

  m.def(
      "newton_net",
      [](CMat<T> XR, CVec<T> yR, CMat<T> W0, CVec<T> u0, double slope, bool train_outer, const std::string& loss,
         const std::string& method, const std::string& solver, double l2, double damping, double rcond, double M,
         int n_steps, int krylov_dim, double krylov_tol, int n_threads) {
        const NewtonOptions o =
            make_newton_options(method, loss, l2, damping, rcond, M, n_steps, krylov_dim, krylov_tol, n_threads);
        check_net(XR, yR, W0, u0, "newton_net");
        require(solver == "dense" || solver == "krylov", "solver must be 'dense' or 'krylov'");
        require(krylov_dim >= 1, "krylov_dim must be >= 1");
        std::vector<NewtonStepInfo> infos;
        RowMatrix<T> W;
        Vector<T> u;
        double shift = 0.0;
        {
          py::gil_scoped_release nogil;
          const NetSpec spec = make_spec(slope, train_outer);
          NetObjective<T> obj(XR, yR, RowMatrix<T>(W0), Vector<T>(u0), spec, o.loss, o.l2, n_threads);
          const RowMatrix<T> Z0 = obj.Z;
          if (solver == "dense")
            newton_dense<T>(obj, o, infos);
          else
            newton_krylov<T>(obj, o, XR.rows(), infos);
          W = obj.W;
          u = obj.u;
          if (Z0.size()) shift = (obj.Z - Z0).template cast<double>().cwiseAbs().maxCoeff();
        }
        py::dict d;
        d["W"] = W;
        d["u"] = u;
        d["steps"] = infos_to_list(infos);
        d["preact_shift"] = shift;
        return d;
      },
      py::arg("XR").noconvert(), py::arg("yR").noconvert(), py::arg("W0").noconvert(), py::arg("u0").noconvert(),
      py::arg("slope"), py::arg("train_outer"), py::arg("loss"), py::arg("method"), py::arg("solver"),
      py::arg("l2") = 0.0, py::arg("damping") = 0.0, py::arg("rcond") = 1e-15, py::arg("M") = 1.0,
      py::arg("n_steps") = 1, py::arg("krylov_dim") = 100, py::arg("krylov_tol") = 1e-10, py::arg("n_threads") = 0,
      "Newton-family steps on the retained objective for any model: solver='dense' (p x p Hessian and its\n"
      "eigendecomposition) or 'krylov' (Lanczos on Hessian-vector products). Returns dict(W, u, steps, preact_shift).");

  m.def(
      "scure_newton",
      [](CMat<T> XR, CVec<T> yR, CMat<T> W0, CVec<T> u0, double slope, bool train_outer, const std::string& loss,
         double l2, double M, double lr, double sigma, std::int64_t batch_grad, std::int64_t batch_hess, int n_outer,
         int n_inner, std::uint64_t seed, int n_threads, bool auto_M, int max_tries, bool safeguard) {
        require(M > 0 && lr > 0 && sigma >= 0 && l2 >= 0, "scure_newton: M, lr > 0 and sigma, l2 >= 0 required");
        require(batch_grad >= 1 && batch_hess >= 1 && n_outer >= 0 && n_inner >= 0, "scure_newton: bad sizes");
        require(max_tries >= 1, "scure_newton: max_tries must be >= 1");
        check_net(XR, yR, W0, u0, "scure_newton");
        SCubicOptions so;
        so.M = M;
        so.lr = lr;
        so.sigma = sigma;
        so.batch_grad = batch_grad;
        so.batch_hess = batch_hess;
        so.n_outer = n_outer;
        so.n_inner = n_inner;
        so.seed = seed;
        so.auto_M = auto_M;
        so.max_tries = max_tries;
        so.safeguard = safeguard;
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
        py::list steps;
        for (const auto& i : infos) {
          py::dict d;
          d["step_norm"] = i.step_norm;
          d["cauchy_radius"] = i.cauchy_radius;
          d["grad_norm"] = i.grad_norm;
          d["batch_loss"] = i.batch_loss;
          d["M"] = i.M;
          d["model_value"] = i.model_value;
          d["lr"] = i.lr;
          d["n_halvings"] = i.n_halvings;
          d["lipschitz"] = i.lipschitz;
          d["rho"] = i.rho;
          d["n_tries"] = i.n_tries;
          d["accepted"] = i.accepted;
          d["rows_grad"] = py::array_t<std::int64_t>(static_cast<py::ssize_t>(i.rows_grad.size()),
                                                     reinterpret_cast<const std::int64_t*>(i.rows_grad.data()));
          d["rows_hess"] = py::array_t<std::int64_t>(static_cast<py::ssize_t>(i.rows_hess.size()),
                                                     reinterpret_cast<const std::int64_t*>(i.rows_hess.data()));
          steps.append(d);
        }
        py::dict d;
        d["W"] = W;
        d["u"] = u;
        d["steps"] = steps;
        d["preact_shift"] = shift;
        return d;
      },
      py::arg("XR").noconvert(), py::arg("yR").noconvert(), py::arg("W0").noconvert(), py::arg("u0").noconvert(),
      py::arg("slope"), py::arg("train_outer"), py::arg("loss"), py::arg("l2"), py::arg("M"), py::arg("lr"),
      py::arg("sigma"), py::arg("batch_grad"), py::arg("batch_hess"), py::arg("n_outer"), py::arg("n_inner"),
      py::arg("seed"), py::arg("n_threads") = 0, py::arg("auto_M") = false, py::arg("max_tries") = 30,
      py::arg("safeguard") = true,
      "SCureNewton (stochastic cubic Newton with Hessian-vector products, Cauchy-point start, perturbation sigma;\n"
      "safeguard: eta halved on an inner step that raises the model; auto_M: the automatic cubic constant on the\n"
      "minibatches). Returns dict(W, u, steps (per outer step, with the minibatch rows), preact_shift).");

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
      [](CMat<T> XF, CVec<T> yF, CMat<T> XR, CMat<T> W0, CVec<T> u0, double slope, bool train_outer,
         const Vectord& lamF, const std::vector<std::int64_t>& pinned_r, const std::vector<std::int64_t>& pinned_j,
         const Vectord& mu, double alpha, double w_scale, int n_threads) {
        check_net(XF, yF, W0, u0, "ga_step");
        check_dim(XR.cols(), W0.cols(), "ga_step", "the number of columns of XR");
        RowMatrix<T> W(W0);
        Vector<T> u(u0);
        GAResult res;
        {
          py::gil_scoped_release nogil;
          std::vector<Index> pr(pinned_r.begin(), pinned_r.end()), pj(pinned_j.begin(), pinned_j.end());
          res = ga_step<T>(XF, yF, XR, W, u, make_spec(slope, train_outer), lamF, pr, pj, mu, alpha, w_scale, n_threads);
        }
        return py::make_tuple(W, u, res.preact_shift, static_cast<std::int64_t>(res.n_clarke));
      },
      py::arg("XF").noconvert(), py::arg("yF").noconvert(), py::arg("XR").noconvert(), py::arg("W").noconvert(),
      py::arg("u").noconvert(), py::arg("slope"), py::arg("train_outer"), py::arg("lam_forget"), py::arg("pinned_r"),
      py::arg("pinned_j"), py::arg("mu"), py::arg("alpha"), py::arg("w_scale"), py::arg("n_threads") = 0,
      "A_GA: W - alpha w_scale sum_r y_r sum_j c_rj u_j x_r e_j^T (c_rj = lambda_r sigma'(z_rj), or mu for the\n"
      "given pinned pairs), u - alpha sum_r lambda_r y_r sigma(z_rj) when u is trained. Returns (W, u, preact_shift,\n"
      "n_clarke).");

  m.def(
      "gd_weighted",
      [](CMat<T> X, CVec<T> y, const Vectord& w, CMat<T> W0, CVec<T> u0, double slope, bool train_outer,
         const std::string& loss, double lr, bool normalized, double lr_max, int n_steps, py::object progress,
         int n_threads, double weight_decay) {
        check_net(X, y, W0, u0, "gd_weighted");
        check_vec(w, X.rows(), "gd_weighted", "weights");
        RowMatrix<T> W(W0);
        Vector<T> u(u0);
        GDResult res;
        PyProgress prog{progress};
        {
          py::gil_scoped_release nogil;
          res = gd_weighted<T>(X, y, w, W, u, make_spec(slope, train_outer), loss_from_string(loss), lr, normalized,
                               lr_max, n_steps, n_threads, [&](std::int64_t it, double v) { return prog(it, v); },
                               weight_decay);
        }
        prog.rethrow_error();
        if (res.interrupted) throw Interrupted();
        py::dict d;
        d["W"] = W;
        d["u"] = u;
        d["objective"] = res.objective;
        d["lr"] = res.lr;
        return d;
      },
      py::arg("X").noconvert(), py::arg("y").noconvert(), py::arg("weights"), py::arg("W").noconvert(),
      py::arg("u").noconvert(), py::arg("slope"), py::arg("train_outer"), py::arg("loss"), py::arg("lr"),
      py::arg("normalized"), py::arg("lr_max"), py::arg("n_steps"), py::arg("progress") = py::none(),
      py::arg("n_threads") = 0, py::arg("weight_decay") = 0.0,
      "n_steps gradient steps on Phi = sum_i w_i l(q_i) + weight_decay/2 ||theta||^2 (w_i > 0 descent, < 0 ascent).");
}

}  // namespace

void bind_unlearn(py::module_& m) {
  def_unlearn_kernels<double>(m);
  def_unlearn_kernels<float>(m);

  m.def(
      "cubic_solve_eig",
      [](const Vectord& lam, const Vectord& b, double M, double hard_tol) {
        CubicSolution s;
        {
          py::gil_scoped_release nogil;
          s = cubic_solve_eig(lam, b, M, hard_tol);
        }
        return cubic_to_dict(s);
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
        return cubic_to_dict(s);
      },
      py::arg("H"), py::arg("g"), py::arg("M"), py::arg("hard_tol") = 1e-12,
      "Global minimizer of <g,s> + 1/2 s^T H s + M/6 ||s||^3 for a dense symmetric H.");
}

}  // namespace bind
}  // namespace kktunlearn
