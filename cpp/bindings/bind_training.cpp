// Bindings for the training loop (primal and data-span representations). The loop runs in C++
// with the GIL released; Python regains control only in the progress callback (Ctrl-C, tqdm).
#include <kktunlearn/training.hpp>

#include "bindings.hpp"

namespace kktunlearn {
namespace bind {

namespace {

/// Runs the shared GD loop on a representation with the GIL released, forwards progress/Ctrl-C and
/// re-raises a callback's error. A stop asked for by the callback is reported as status "interrupted".
template <class T, class Rep>
TrainResult run_training(Rep& rep, const CVec<T>& y, Vector<T>& u, double slope, bool train_outer,
                         const TrainOptions& opt, py::object progress) {
  PyProgress cb{std::move(progress)};
  TrainResult r;
  {
    py::gil_scoped_release nogil;
    r = train_gd<T>(rep, y, u, make_spec(slope, train_outer), opt, std::ref(cb));
  }
  cb.rethrow_error();
  if (cb.interrupted) r.status = TrainStatus::Interrupted;
  return r;
}

void check_options(const TrainOptions& o, Index n, const char* fn) {
  if (o.weights.size() != 0) check_vec(o.weights, n, fn, "sample_weight");
}

/// TrainOptions and TrainResult, bound once for both scalar types.
void def_training_types(py::module_& m) {
  py::class_<TrainOptions> opts(m, "TrainOptions",
                           "Options of the full-batch GD loop (train_primal / train_span). Fields: loss\n"
                           "('exponential' | 'logistic'), lr (constant step, or eta of normalized GD: lr_t = lr / L),\n"
                           "normalized, lr_max (cap on lr_t), max_iter, tol (stop at mean loss <= tol), margin_tol\n"
                           "(stop when the normalized margin improves by less than this, relative, between two\n"
                           "history records; 0 disables), history_every, n_threads (0: the default), weight_decay\n"
                           "(lambda of lambda/2 ||theta||^2), sample_weight (per-sample weights of mean 1, or None).");
  def_enum_property(opts, "loss", &TrainOptions::loss, loss_name, loss_from_string);
  def_optional_vector(opts, "sample_weight", &TrainOptions::weights);
  opts.def(py::init<>())
      .def_readwrite("lr", &TrainOptions::lr)
      .def_readwrite("normalized", &TrainOptions::normalized)
      .def_readwrite("lr_max", &TrainOptions::lr_max)
      .def_readwrite("max_iter", &TrainOptions::max_iter)
      .def_readwrite("tol", &TrainOptions::tol)
      .def_readwrite("margin_tol", &TrainOptions::margin_tol)
      .def_readwrite("history_every", &TrainOptions::history_every)
      .def_readwrite("n_threads", &TrainOptions::n_threads)
      .def_readwrite("weight_decay", &TrainOptions::weight_decay)
      .def("__repr__", [](const TrainOptions& o) {
        return "TrainOptions(loss='" + std::string(loss_name(o.loss)) + "', lr=" + std::to_string(o.lr) +
               ", normalized=" + (o.normalized ? "True" : "False") + ", max_iter=" + std::to_string(o.max_iter) +
               ", n_threads=" + std::to_string(o.n_threads) + ", ...)";
      });

  py::class_<TrainResult>(m, "TrainResult",
                          "What the GD loop reports: n_iter, status ('max_iter' | 'tol' | 'margin_tol' | 'diverged'\n"
                          "| 'interrupted'), interrupted, loss (mean loss), log_loss, min_margin, n_misfit (points with\n"
                          "margin <= 0) at the end, and history (dict of arrays iter, loss, log_loss, min_margin,\n"
                          "normalized_margin, one entry per history_every steps).")
      .def_readonly("n_iter", &TrainResult::n_iter)
      .def_property_readonly("status", [](const TrainResult& r) { return std::string(train_status_name(r.status)); })
      .def_property_readonly("interrupted", [](const TrainResult& r) { return r.status == TrainStatus::Interrupted; })
      .def_property_readonly("loss", [](const TrainResult& r) { return r.stats.loss; })
      .def_property_readonly("log_loss", [](const TrainResult& r) { return r.stats.log_loss; })
      .def_property_readonly("min_margin", [](const TrainResult& r) { return r.stats.min_margin; })
      .def_property_readonly("n_misfit", [](const TrainResult& r) { return r.stats.n_misfit; })
      .def_property_readonly("history", [](const TrainResult& r) {
        py::dict h;
        h["iter"] = py::array(py::cast(r.history.iter));
        h["loss"] = py::array(py::cast(r.history.loss));
        h["log_loss"] = py::array(py::cast(r.history.log_loss));
        h["min_margin"] = py::array(py::cast(r.history.min_margin));
        h["normalized_margin"] = py::array(py::cast(r.history.normalized_margin));
        return h;
      });
}

template <class T>
void def_training(py::module_& m) {
  m.def(
      "train_primal",
      [](CMat<T> X, CVec<T> y, CMat<T> W0, CVec<T> u0, double slope, bool train_outer, const TrainOptions& opt,
         py::object progress) {
        check_dim(W0.cols(), X.cols(), "train_primal", "the number of columns of W0");
        check_vec(y, X.rows(), "train_primal", "y");
        check_vec(u0, W0.rows(), "train_primal", "u0");
        check_options(opt, X.rows(), "train_primal");
        PrimalRep<T> rep(X, RowMatrix<T>(W0), opt.n_threads);
        Vector<T> u = u0;
        TrainResult r = run_training<T>(rep, y, u, slope, train_outer, opt, progress);
        return py::make_tuple(std::move(rep.W), std::move(u), std::move(r));
      },
      py::arg("X").noconvert(), py::arg("y").noconvert(), py::arg("W0").noconvert(), py::arg("u0").noconvert(),
      py::arg("slope"), py::arg("train_outer"), py::arg("options"), py::arg("progress") = py::none(),
      "Full-batch GD with W stored explicitly from (W0, u0), options a TrainOptions (weight_decay: lambda/2\n"
      "||theta||^2 added to the mean loss; sample_weight: omega_i of mean 1, the loss (1/n) sum_i omega_i l(q_i)).\n"
      "Returns (W, u, TrainResult).");

  m.def(
      "train_span",
      [](CMat<T> K, CMat<T> Z0, double w0_sqnorm, CVec<T> y, CMat<T> A0, CVec<T> u0, double slope,
         bool train_outer, const TrainOptions& opt, py::object progress) {
        check_mat(K, y.size(), y.size(), "train_span", "K");
        check_mat(Z0, y.size(), u0.size(), "train_span", "Z0");
        check_mat(A0, y.size(), u0.size(), "train_span", "A0");
        check_options(opt, y.size(), "train_span");
        SpanRep<T> rep(K, Z0, w0_sqnorm, RowMatrix<T>(A0), opt.n_threads);
        Vector<T> u = u0;
        TrainResult r = run_training<T>(rep, y, u, slope, train_outer, opt, progress);
        return py::make_tuple(std::move(rep.A), rep.beta, std::move(u), std::move(r));
      },
      py::arg("K").noconvert(), py::arg("Z0").noconvert(), py::arg("w0_sqnorm"), py::arg("y").noconvert(),
      py::arg("A0").noconvert(), py::arg("u0").noconvert(), py::arg("slope"), py::arg("train_outer"),
      py::arg("options"), py::arg("progress") = py::none(),
      "Full-batch GD in the span of the data: W = beta W0 + A^T X, Z = beta Z0 + K A (beta = 1 without weight\n"
      "decay), from A0; options a TrainOptions. Returns (A, w0_coef = beta, u, TrainResult).");

  m.def(
      "add_gamma_t_x",
      [](CMat<T> Gamma, CMat<T> X, Eigen::Ref<RowMatrix<T>> out, int n_threads) {
        if (Gamma.rows() != X.rows() || out.rows() != Gamma.cols() || out.cols() != X.cols())
          throw InvalidArgument("add_gamma_t_x: shapes must be Gamma (n x m), X (n x d), out (m x d)");
        py::gil_scoped_release nogil;
        add_gamma_t_x<T>(Gamma, X, out, n_threads);
      },
      py::arg("Gamma").noconvert(), py::arg("X").noconvert(), py::arg("out").noconvert(),
      py::arg("n_threads") = 0,
      "out += Gamma^T X in place (out m x d, C-contiguous, writable): materializes W = W0 + A^T X.");
}

}  // namespace

void bind_training(py::module_& m) {
  def_training_types(m);
  def_training<double>(m);
  def_training<float>(m);
}

}  // namespace bind
}  // namespace kktunlearn
