// Bindings for the training loop (primal and data-span representations). The loop runs in C++
// with the GIL released; Python regains control only in the progress callback (Ctrl-C, tqdm).
#include <kktunlearn/training.hpp>

#include "bindings.hpp"

namespace kktunlearn {
namespace bind {

namespace {

TrainOptions make_options(const std::string& loss, double lr, bool normalized, double lr_max, std::int64_t max_iter,
                          double tol, double margin_tol, std::int64_t history_every, int n_threads,
                          double weight_decay, const py::object& sample_weight) {
  TrainOptions o;
  o.loss = loss_from_string(loss);
  o.lr = lr;
  o.normalized = normalized;
  o.lr_max = lr_max;
  o.max_iter = max_iter;
  o.tol = tol;
  o.margin_tol = margin_tol;
  o.history_every = history_every;
  o.n_threads = n_threads;
  o.weight_decay = weight_decay;
  if (!sample_weight.is_none()) o.weights = sample_weight.cast<Vectord>();
  return o;
}

py::dict result_dict(const TrainResult& r, bool interrupted) {
  py::dict d;
  d["n_iter"] = r.n_iter;
  static const char* names[] = {"max_iter", "tol", "margin_tol", "diverged", "interrupted"};
  d["status"] = names[static_cast<int>(r.status)];
  d["interrupted"] = interrupted || r.status == TrainStatus::Interrupted;
  d["loss"] = r.stats.loss;
  d["log_loss"] = r.stats.log_loss;
  d["min_margin"] = r.stats.min_margin;
  d["n_misfit"] = r.stats.n_misfit;
  py::dict h;
  h["iter"] = py::array(py::cast(r.history.iter));
  h["loss"] = py::array(py::cast(r.history.loss));
  h["log_loss"] = py::array(py::cast(r.history.log_loss));
  h["min_margin"] = py::array(py::cast(r.history.min_margin));
  h["normalized_margin"] = py::array(py::cast(r.history.normalized_margin));
  d["history"] = h;
  return d;
}

/// Runs the shared GD loop on a representation with the GIL released, forwards progress/Ctrl-C,
/// re-raises a callback's error, and returns the result dict (the caller adds the parameters).
template <class T, class Rep>
py::dict run_training(Rep& rep, const CVec<T>& y, Vector<T>& u, double slope, bool train_outer,
                      const TrainOptions& opt, py::object progress) {
  PyProgress cb{std::move(progress)};
  TrainResult r;
  {
    py::gil_scoped_release nogil;
    r = train_gd<T>(rep, y, u, make_spec(slope, train_outer), opt, std::ref(cb));
  }
  cb.rethrow_error();
  return result_dict(r, cb.interrupted);
}

template <class T>
void def_training(py::module_& m) {
  m.def(
      "train_primal",
      [](CMat<T> X, CVec<T> y, CMat<T> W0, CVec<T> u0, double slope, bool train_outer, const std::string& loss,
         double lr, bool normalized, double lr_max, std::int64_t max_iter, double tol, double margin_tol,
         std::int64_t history_every, int n_threads, py::object progress, double weight_decay,
         py::object sample_weight) {
        const TrainOptions opt = make_options(loss, lr, normalized, lr_max, max_iter, tol, margin_tol, history_every,
                                              n_threads, weight_decay, sample_weight);
        check_dim(W0.cols(), X.cols(), "train_primal", "the number of columns of W0");
        check_vec(y, X.rows(), "train_primal", "y");
        check_vec(u0, W0.rows(), "train_primal", "u0");
        PrimalRep<T> rep(X, RowMatrix<T>(W0), n_threads);
        Vector<T> u = u0;
        py::dict d = run_training<T>(rep, y, u, slope, train_outer, opt, progress);
        d["W"] = std::move(rep.W);
        d["u"] = std::move(u);
        return d;
      },
      py::arg("X").noconvert(), py::arg("y").noconvert(), py::arg("W0").noconvert(), py::arg("u0").noconvert(),
      py::arg("slope"), py::arg("train_outer"), py::arg("loss"), py::arg("lr"), py::arg("normalized"),
      py::arg("lr_max"), py::arg("max_iter"), py::arg("tol"), py::arg("margin_tol"), py::arg("history_every"),
      py::arg("n_threads") = 0, py::arg("progress") = py::none(), py::arg("weight_decay") = 0.0,
      py::arg("sample_weight") = py::none(),
      "Full-batch GD with W stored explicitly (weight_decay: lambda/2 ||theta||^2 added to the mean loss;\n"
      "sample_weight: per-sample weights omega_i of mean 1, the loss (1/n) sum_i omega_i l(q_i)). Returns a dict\n"
      "(W, u, n_iter, status, loss, history, ...).");

  m.def(
      "train_span",
      [](CMat<T> K, CMat<T> Z0, double w0_sqnorm, CVec<T> y, CMat<T> A0, CVec<T> u0, double slope,
         bool train_outer, const std::string& loss, double lr, bool normalized, double lr_max,
         std::int64_t max_iter, double tol, double margin_tol, std::int64_t history_every, int n_threads,
         py::object progress, double weight_decay, py::object sample_weight) {
        const TrainOptions opt = make_options(loss, lr, normalized, lr_max, max_iter, tol, margin_tol, history_every,
                                              n_threads, weight_decay, sample_weight);
        check_mat(K, y.size(), y.size(), "train_span", "K");
        check_mat(Z0, y.size(), u0.size(), "train_span", "Z0");
        check_mat(A0, y.size(), u0.size(), "train_span", "A0");
        SpanRep<T> rep(K, Z0, w0_sqnorm, RowMatrix<T>(A0), n_threads);
        Vector<T> u = u0;
        py::dict d = run_training<T>(rep, y, u, slope, train_outer, opt, progress);
        d["A"] = std::move(rep.A);
        d["w0_coef"] = rep.beta;
        d["u"] = std::move(u);
        return d;
      },
      py::arg("K").noconvert(), py::arg("Z0").noconvert(), py::arg("w0_sqnorm"), py::arg("y").noconvert(),
      py::arg("A0").noconvert(), py::arg("u0").noconvert(), py::arg("slope"), py::arg("train_outer"),
      py::arg("loss"), py::arg("lr"), py::arg("normalized"), py::arg("lr_max"), py::arg("max_iter"), py::arg("tol"),
      py::arg("margin_tol"), py::arg("history_every"), py::arg("n_threads") = 0, py::arg("progress") = py::none(),
      py::arg("weight_decay") = 0.0, py::arg("sample_weight") = py::none(),
      "Full-batch GD in the span of the data: W = beta W0 + A^T X, Z = beta Z0 + K A (beta = 1 without weight\n"
      "decay; sample_weight as in train_primal). Returns a dict (A, w0_coef = beta, u, ...).");

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
  def_training<double>(m);
  def_training<float>(m);
}

}  // namespace bind
}  // namespace kktunlearn
