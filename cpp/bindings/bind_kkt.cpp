// Bindings for multipliers, KKT residuals and certificates. The math is in kkt.hpp / nnls.hpp.
#include <kktunlearn/kkt.hpp>
#include <kktunlearn/nnls.hpp>

#include "bindings.hpp"

namespace kktunlearn {
namespace bind {

namespace {

using PairArray = Eigen::Matrix<std::int64_t, Eigen::Dynamic, 2, Eigen::RowMajor>;

void check_kkt_options(const KKTOptions& o) {
  if (o.method == MultiplierMethod::Given) {
    if (o.given_lambdas.size() == 0) throw InvalidArgument("kkt_solve: method 'given' needs lambdas");
    if (!o.given_pairs.empty() && o.given_mu.size() != static_cast<Index>(o.given_pairs.size()))
      throw InvalidArgument("kkt_solve: pairs given without mu (one mu per pair)");
  }
}

/// KKTOptions and KKTResult, bound once for both scalar types.
void def_kkt_types(py::module_& m) {
  py::class_<KKTOptions> kopts(m, "KKTOptions",
                         "Options of the multiplier solve (kkt_solve / kkt_solve_span): method ('nnls' | 'dynamics' |\n"
                         "'closed_form' | 'given'), subgradient_tol (pinned pairs: |z_ij| <= tol on the normalized model;\n"
                         "< 0: none), tol (relative optimality of the NNLS / Clarke QP), max_iter (0: automatic), scale\n"
                         "(> 0: normalize by s instead of q_min^(1/L)), loss (for 'dynamics'), clarke (solve the exact\n"
                         "Clarke QP when some pair is pinned), pdas_iter (its active-set warm start), solver ('auto' |\n"
                         "'active_set', the plain NNLS), and for 'given': lambdas, pairs (k x 2 int64, or None), mu.");
  def_enum_property(kopts, "method", &KKTOptions::method, multiplier_method_name, multiplier_method_from_string);
  def_enum_property(kopts, "loss", &KKTOptions::loss, loss_name, loss_from_string);
  def_enum_property(kopts, "solver", &KKTOptions::nnls_solver, nnls_solver_name, nnls_solver_from_string);
  def_optional_vector(kopts, "lambdas", &KKTOptions::given_lambdas);
  def_optional_vector(kopts, "mu", &KKTOptions::given_mu);
  kopts.def(py::init<>())
      .def_readwrite("subgradient_tol", &KKTOptions::subgradient_tol)
      .def_readwrite("tol", &KKTOptions::tol)
      .def_readwrite("max_iter", &KKTOptions::max_iter)
      .def_readwrite("scale", &KKTOptions::scale)
      .def_readwrite("clarke", &KKTOptions::clarke)
      .def_readwrite("pdas_iter", &KKTOptions::clarke_pdas_iter)
      .def_property(
          "pairs",
          [](const KKTOptions& o) -> py::object {
            if (o.given_pairs.empty()) return py::none();
            PairArray P(static_cast<Index>(o.given_pairs.size()), 2);
            for (Index p = 0; p < P.rows(); ++p) {
              P(p, 0) = o.given_pairs[static_cast<size_t>(p)].first;
              P(p, 1) = o.given_pairs[static_cast<size_t>(p)].second;
            }
            return py::cast(P);
          },
          [](KKTOptions& o, const std::optional<PairArray>& P) {
            o.given_pairs.clear();
            if (P)
              for (Index p = 0; p < P->rows(); ++p)
                o.given_pairs.emplace_back(static_cast<Index>((*P)(p, 0)), static_cast<Index>((*P)(p, 1)));
          });

  py::class_<KKTResult>(m, "KKTResult",
                        "The multiplier solve: separable (false when q_min <= 0 and no scale was given: then only\n"
                        "q_min_raw is set), q_min_raw, scale s, scale_pow s^L, margins (normalized), lambdas, epsilon\n"
                        "(stationarity residual, exact), epsilon_plain (plain NNLS), epsilon_sq_gram, direct_residual\n"
                        "(epsilon recomputed on the formed residual), theta_norm ||theta / s||, converged, n_iter,\n"
                        "n_fallback, n_dropped (dependent points, lambda not unique), n_factor, kkt_violation (of the\n"
                        "QP itself), clarke_iter, clarke_converged, n_clipped, pinned (k x 2 pairs), mu.")
      .def_readonly("separable", &KKTResult::separable)
      .def_readonly("q_min_raw", &KKTResult::q_min_raw)
      .def_readonly("scale", &KKTResult::scale)
      .def_readonly("scale_pow", &KKTResult::scale_pow)
      .def_readonly("margins", &KKTResult::margins)
      .def_readonly("lambdas", &KKTResult::lambdas)
      .def_readonly("epsilon", &KKTResult::epsilon)
      .def_readonly("epsilon_plain", &KKTResult::epsilon_plain)
      .def_readonly("epsilon_sq_gram", &KKTResult::epsilon_sq_gram)
      .def_readonly("direct_residual", &KKTResult::direct_residual)
      .def_readonly("theta_norm", &KKTResult::theta_norm)
      .def_readonly("converged", &KKTResult::converged)
      .def_readonly("n_iter", &KKTResult::n_iter)
      .def_readonly("n_fallback", &KKTResult::n_fallback)
      .def_readonly("n_dropped", &KKTResult::n_dropped)
      .def_readonly("n_factor", &KKTResult::n_factor)
      .def_readonly("kkt_violation", &KKTResult::kkt_violation)
      .def_readonly("clarke_iter", &KKTResult::clarke_iter)
      .def_readonly("clarke_converged", &KKTResult::clarke_converged)
      .def_readonly("n_clipped", &KKTResult::n_clipped)
      .def_readonly("pinned", &KKTResult::pinned)
      .def_readonly("mu", &KKTResult::mu);
}

template <class T>
void def_kkt(py::module_& m) {
  m.def(
      "kkt_solve",
      [](CMat<T> X, CVec<T> y, CMat<T> W, CVec<T> u, double slope, bool train_outer, const KKTOptions& options,
         int n_threads) {
        check_kkt_options(options);
        KKTOptions opt = options;
        opt.should_stop = PyInterruptCheck{};
        KKTResult r;
        {
          py::gil_scoped_release nogil;
          r = kkt_multipliers<T>(X, y, W, u, make_spec(slope, train_outer), opt, n_threads);
        }
        return r;
      },
      py::arg("X").noconvert(), py::arg("y").noconvert(), py::arg("W").noconvert(), py::arg("u").noconvert(),
      py::arg("slope"), py::arg("train_outer"), py::arg("options"), py::arg("n_threads") = 0,
      "KKT multipliers, stationarity residual epsilon and pinned pairs of the normalized model (see kkt.hpp);\n"
      "options: a KKTOptions. Returns a KKTResult.");

  m.def(
      "kkt_solve_span",
      [](CMat<T> Z, CMat<T> K, const Vectord& wsq, CMat<T> Ktrain, CMat<T> Z0, CMat<T> A,
         const std::vector<std::int64_t>& rows, double w0_coef, double w0_sqnorm, CVec<T> y, CVec<T> u, double slope,
         bool train_outer, const KKTOptions& options, int n_threads) {
        check_kkt_options(options);
        KKTOptions opt = options;
        opt.should_stop = PyInterruptCheck{};
        KKTResult r;
        {
          py::gil_scoped_release nogil;
          const std::vector<Index> rw(rows.begin(), rows.end());
          r = kkt_multipliers_span<T>(Z, K, wsq, Ktrain, Z0, A, rw, w0_coef, w0_sqnorm, y, u,
                                      make_spec(slope, train_outer), opt, n_threads);
        }
        return r;
      },
      py::arg("Z").noconvert(), py::arg("K").noconvert(), py::arg("wsq"), py::arg("Ktrain").noconvert(),
      py::arg("Z0").noconvert(), py::arg("A").noconvert(), py::arg("rows"), py::arg("w0_coef"), py::arg("w0_sqnorm"),
      py::arg("y").noconvert(), py::arg("u").noconvert(), py::arg("slope"), py::arg("train_outer"),
      py::arg("options"), py::arg("n_threads") = 0,
      "kkt_solve for a span model W = w0_coef W0 + A^T X_train on the training rows `rows`: Z = X W^T and\n"
      "K = X X^T on those rows, wsq_j = ||w_j||^2; Ktrain, Z0 = X_train W0^T, A and w0_sqnorm = ||W0||_F^2 for\n"
      "the direct residual (cost O(n^2 m), no d; see kkt.hpp).");
}

}  // namespace

void bind_kkt(py::module_& m) {
  def_kkt_types(m);
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
