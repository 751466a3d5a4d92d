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

  py::class_<NNLSOptions> nopt(m, "NNLSOptions",
                               "Options of nnls_gram: tol (relative optimality: stop when max_{x_i = 0} w_i <= tol *\n"
                               "max(|b|_inf, tiny), w = G x - b), max_iter (0: automatic; active set: 3 n + 30 outer\n"
                               "iterations, auto: 50 primal-dual active-set iterations), solver ('auto' | 'active_set'),\n"
                               "n_threads (0: all; the bits do not depend on it), drop_tol (auto: a coordinate whose Cholesky\n"
                               "pivot^2 <= drop_tol * G_ii is linearly dependent and kept at 0).");
  def_enum_property(nopt, "solver", &NNLSOptions::solver, nnls_solver_name, nnls_solver_from_string);
  nopt.def(py::init<>())
      .def_readwrite("tol", &NNLSOptions::tol)
      .def_readwrite("max_iter", &NNLSOptions::max_iter)
      .def_readwrite("n_threads", &NNLSOptions::n_threads)
      .def_readwrite("drop_tol", &NNLSOptions::drop_tol);
  py::class_<NNLSResult>(m, "NNLSResult",
                         "What nnls_gram returns: x (the minimizer), n_iter (outer iterations), n_inner (line-search\n"
                         "iterations), n_fallback (solves that needed the LDLT / complete orthogonal fallback), converged,\n"
                         "kkt_violation (max(max_{x_i = 0} -w_i, max_{x_i > 0} |w_i|) at x), objective (1/2 x^T G x - b^T\n"
                         "x), n_factor, n_dropped (coordinates found dependent: x_i = 0), n_pdas, polished.")
      .def_readonly("x", &NNLSResult::x)
      .def_readonly("n_iter", &NNLSResult::n_iter)
      .def_readonly("n_inner", &NNLSResult::n_inner)
      .def_readonly("n_fallback", &NNLSResult::n_fallback)
      .def_readonly("converged", &NNLSResult::converged)
      .def_readonly("kkt_violation", &NNLSResult::kkt_violation)
      .def_readonly("objective", &NNLSResult::objective)
      .def_readonly("n_factor", &NNLSResult::n_factor)
      .def_readonly("n_dropped", &NNLSResult::n_dropped)
      .def_readonly("n_pdas", &NNLSResult::n_pdas)
      .def_readonly("polished", &NNLSResult::polished);

  m.def(
      "nnls_gram",
      [](const RowMatrixd& G, const Vectord& b, const std::optional<NNLSOptions>& options,
         std::optional<Vectord> x0) {
        NNLSOptions o = options ? *options : NNLSOptions{};
        require(o.tol > 0 && o.max_iter >= 0 && o.drop_tol >= 0,
                "nnls_gram: options.tol must be > 0, max_iter and drop_tol >= 0");
        o.should_stop = PyInterruptCheck{};
        NNLSResult r;
        {
          py::gil_scoped_release nogil;
          r = nnls_gram(G, b, o, x0 ? &*x0 : nullptr);
        }
        return r;
      },
      py::arg("G"), py::arg("b"), py::arg("options") = py::none(), py::arg("x0") = py::none(),
      "argmin_{x >= 0} 1/2 x^T G x - b^T x on the Gram matrix (an NNLSResult). solver='auto': one blocked "
      "Cholesky factor (dependent coordinates dropped) and a primal-dual active-set iteration, Lawson-Hanson "
      "finishing if it does not settle; solver='active_set': Lawson-Hanson alone (serial). See nnls.hpp.");
}

}  // namespace bind
}  // namespace kktunlearn
