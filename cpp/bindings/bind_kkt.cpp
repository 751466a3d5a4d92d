// Bindings for multipliers, KKT residuals and certificates. The math is in kkt.hpp / nnls.hpp.
#include <kktunlearn/kkt.hpp>
#include <kktunlearn/nnls.hpp>

#include "bindings.hpp"

namespace kktunlearn {
namespace bind {

namespace {

using PairArray = Eigen::Matrix<std::int64_t, Eigen::Dynamic, 2, Eigen::RowMajor>;

KKTOptions make_kkt_options(const std::string& method, double subgradient_tol, double tol, std::int64_t max_iter,
                      double scale, const std::string& loss, bool clarke, const std::optional<Vectord>& lambdas,
                      const std::optional<PairArray>& pairs, const std::optional<Vectord>& mu, int pdas_iter,
                      const std::string& solver) {
  KKTOptions opt;
  opt.method = multiplier_method_from_string(method);
  opt.subgradient_tol = subgradient_tol;
  opt.tol = tol;
  opt.max_iter = max_iter;
  opt.scale = scale;
  opt.loss = loss_from_string(loss);
  opt.clarke = clarke;
  opt.should_stop = PyInterruptCheck{};
  opt.clarke_pdas_iter = pdas_iter;
  opt.nnls_solver = nnls_solver_from_string(solver);
  if (opt.method == MultiplierMethod::Given) {
    if (!lambdas) throw InvalidArgument("kkt_solve: method 'given' needs lambdas");
    opt.given_lambdas = *lambdas;
    if (pairs) {
      for (Index p = 0; p < pairs->rows(); ++p)
        opt.given_pairs.emplace_back(static_cast<Index>((*pairs)(p, 0)), static_cast<Index>((*pairs)(p, 1)));
      if (!mu) throw InvalidArgument("kkt_solve: pairs given without mu");
      opt.given_mu = *mu;
    } else {
      opt.given_mu.resize(0);
    }
  }
  return opt;
}

py::dict kkt_result_dict(const KKTResult& r) {
  py::dict out;
  out["separable"] = r.separable;
  out["q_min_raw"] = r.q_min_raw;
  if (!r.separable) return out;
  out["scale"] = r.scale;
  out["scale_pow"] = r.scale_pow;
  out["margins"] = r.margins;
  out["lambdas"] = r.lambdas;
  out["epsilon"] = r.epsilon;
  out["epsilon_plain"] = r.epsilon_plain;
  out["epsilon_sq_gram"] = r.epsilon_sq_gram;
  out["direct_residual"] = r.direct_residual;
  out["theta_norm"] = r.theta_norm;
  out["converged"] = r.converged;
  out["n_iter"] = r.n_iter;
  out["n_fallback"] = r.n_fallback;
  out["n_dropped"] = r.n_dropped;
  out["n_factor"] = r.n_factor;
  out["kkt_violation"] = r.kkt_violation;
  out["clarke_iter"] = r.clarke_iter;
  out["clarke_converged"] = r.clarke_converged;
  out["n_clipped"] = r.n_clipped;
  out["pinned"] = r.pinned;
  out["mu"] = r.mu;
  return out;
}

template <class T>
void def_kkt(py::module_& m) {
  m.def(
      "kkt_solve",
      [](CMat<T> X, CVec<T> y, CMat<T> W, CVec<T> u, double slope, bool train_outer, const std::string& method,
         double subgradient_tol, double tol, std::int64_t max_iter, double scale, const std::string& loss,
         bool clarke, std::optional<Vectord> lambdas, std::optional<PairArray> pairs, std::optional<Vectord> mu,
         int n_threads, int pdas_iter, const std::string& solver) {
        const KKTOptions opt = make_kkt_options(method, subgradient_tol, tol, max_iter, scale, loss, clarke, lambdas,
                                                pairs, mu, pdas_iter, solver);
        KKTResult r;
        {
          py::gil_scoped_release nogil;
          r = kkt_multipliers<T>(X, y, W, u, make_spec(slope, train_outer), opt, n_threads);
        }
        return kkt_result_dict(r);
      },
      py::arg("X").noconvert(), py::arg("y").noconvert(), py::arg("W").noconvert(), py::arg("u").noconvert(),
      py::arg("slope"), py::arg("train_outer"), py::arg("method") = "nnls", py::arg("subgradient_tol") = 0.0,
      py::arg("tol") = 1e-10, py::arg("max_iter") = 0, py::arg("scale") = 0.0, py::arg("loss") = "exponential",
      py::arg("clarke") = true, py::arg("lambdas") = py::none(), py::arg("pairs") = py::none(),
      py::arg("mu") = py::none(), py::arg("n_threads") = 0, py::arg("pdas_iter") = 50, py::arg("solver") = "auto",
      "KKT multipliers, stationarity residual epsilon and pinned pairs of the normalized model (see kkt.hpp).");

  m.def(
      "kkt_solve_span",
      [](CMat<T> Z, CMat<T> K, const Vectord& wsq, CMat<T> Ktrain, CMat<T> Z0, CMat<T> A,
         const std::vector<std::int64_t>& rows, double w0_coef, double w0_sqnorm, CVec<T> y,
         CVec<T> u, double slope, bool train_outer, const std::string& method, double subgradient_tol, double tol,
         std::int64_t max_iter, double scale, const std::string& loss, bool clarke, std::optional<Vectord> lambdas,
         std::optional<PairArray> pairs, std::optional<Vectord> mu, int n_threads, int pdas_iter,
         const std::string& solver) {
        const KKTOptions opt = make_kkt_options(method, subgradient_tol, tol, max_iter, scale, loss, clarke, lambdas,
                                                pairs, mu, pdas_iter, solver);
        KKTResult r;
        {
          py::gil_scoped_release nogil;
          const std::vector<Index> rw(rows.begin(), rows.end());
          r = kkt_multipliers_span<T>(Z, K, wsq, Ktrain, Z0, A, rw, w0_coef, w0_sqnorm, y, u,
                                      make_spec(slope, train_outer), opt, n_threads);
        }
        return kkt_result_dict(r);
      },
      py::arg("Z").noconvert(), py::arg("K").noconvert(), py::arg("wsq"), py::arg("Ktrain").noconvert(),
      py::arg("Z0").noconvert(), py::arg("A").noconvert(), py::arg("rows"), py::arg("w0_coef"), py::arg("w0_sqnorm"), py::arg("y").noconvert(),
      py::arg("u").noconvert(), py::arg("slope"), py::arg("train_outer"), py::arg("method") = "nnls",
      py::arg("subgradient_tol") = 0.0, py::arg("tol") = 1e-10, py::arg("max_iter") = 0, py::arg("scale") = 0.0,
      py::arg("loss") = "exponential", py::arg("clarke") = true, py::arg("lambdas") = py::none(),
      py::arg("pairs") = py::none(), py::arg("mu") = py::none(), py::arg("n_threads") = 0, py::arg("pdas_iter") = 50,
      py::arg("solver") = "auto",
      "kkt_solve for a span model W = w0_coef W0 + A^T X_train on the training rows `rows`: Z = X W^T and\n"
      "K = X X^T on those rows, wsq_j = ||w_j||^2; Ktrain, Z0 = X_train W0^T, A and w0_sqnorm = ||W0||_F^2 for\n"
      "the direct residual (cost O(n^2 m), no d; see kkt.hpp).");
}

}  // namespace

void bind_kkt(py::module_& m) {
  def_kkt<double>(m);
  def_kkt<float>(m);

  m.def(
      "nnls_gram",
      [](const RowMatrixd& G, const Vectord& b, double tol, std::int64_t max_iter, int n_threads,
         const std::string& solver, std::optional<Vectord> x0, double drop_tol) {
        NNLSOptions o;
        o.tol = tol;
        o.max_iter = max_iter;
        o.should_stop = PyInterruptCheck{};
        o.solver = nnls_solver_from_string(solver);
        o.n_threads = n_threads;
        o.drop_tol = drop_tol;
        NNLSResult r;
        {
          py::gil_scoped_release nogil;
          r = nnls_gram(G, b, o, x0 ? &*x0 : nullptr);
        }
        py::dict out;
        out["x"] = r.x;
        out["n_iter"] = r.n_iter;
        out["n_inner"] = r.n_inner;
        out["n_fallback"] = r.n_fallback;
        out["converged"] = r.converged;
        out["kkt_violation"] = r.kkt_violation;
        out["objective"] = r.objective;
        out["n_factor"] = r.n_factor;
        out["n_dropped"] = r.n_dropped;
        out["n_pdas"] = r.n_pdas;
        out["polished"] = r.polished;
        return out;
      },
      py::arg("G"), py::arg("b"), py::arg("tol") = 1e-10, py::arg("max_iter") = 0, py::arg("n_threads") = 0,
      py::arg("solver") = "auto", py::arg("x0") = py::none(), py::arg("drop_tol") = 1e-10,
      "argmin_{x >= 0} 1/2 x^T G x - b^T x on the Gram matrix. solver='auto': one blocked Cholesky factor "
      "(dependent coordinates dropped) and a primal-dual active-set iteration, Lawson-Hanson finishing if it "
      "does not settle; solver='active_set': Lawson-Hanson alone (serial). See nnls.hpp.");
}

}  // namespace bind
}  // namespace kktunlearn
