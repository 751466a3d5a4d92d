// Bindings for the model kernels: forward pass, activation pattern, loss gradient, Jacobian
// products and Gram matrices. Each kernel releases the GIL and takes n_threads.
#include <kktunlearn/gram.hpp>
#include <kktunlearn/training.hpp>

#include "bindings.hpp"

namespace kktunlearn {
namespace bind {

namespace {

template <class T>
void def_model_kernels(py::module_& m) {
  m.def(
      "preactivations",
      [](CMat<T> X, CMat<T> W, int n_threads) {
        check_dim(W.cols(), X.cols(), "preactivations", "the number of columns of W");
        RowMatrix<T> Z;
        {
          py::gil_scoped_release nogil;
          preactivations<T>(X, W, Z, n_threads);
        }
        return Z;
      },
      py::arg("X").noconvert(), py::arg("W").noconvert(), py::arg("n_threads") = 0,
      "Z = X W^T (n x m): the pre-activations <w_j, x_i>.");

  m.def(
      "outputs",
      [](CMat<T> X, CMat<T> W, CVec<T> u, double slope, int n_threads) {
        check_dim(W.cols(), X.cols(), "outputs", "the number of columns of W");
        check_vec(u, W.rows(), "outputs", "u");
        Vectord N;
        {
          py::gil_scoped_release nogil;
          RowMatrix<T> Z;
          preactivations<T>(X, W, Z, n_threads);
          N = outputs_from_preacts<T>(Z, u, make_spec(slope, false));
        }
        return N;
      },
      py::arg("X").noconvert(), py::arg("W").noconvert(), py::arg("u").noconvert(), py::arg("slope"),
      py::arg("n_threads") = 0, "N(x_i) = sum_j u_j sigma(<w_j, x_i>) (float64).");

  // The same kernels on given pre-activations Z (n x m): a span model has Z = c Z0 + K A without W.
  m.def(
      "outputs_from_preacts",
      [](CMat<T> Z, CVec<T> u, double slope) {
        check_vec(u, Z.cols(), "outputs_from_preacts", "u");
        py::gil_scoped_release nogil;
        return outputs_from_preacts<T>(Z, u, make_spec(slope, false));
      },
      py::arg("Z").noconvert(), py::arg("u").noconvert(), py::arg("slope"),
      "N_i = sum_j u_j sigma(Z_ij) (float64) from the pre-activations Z (n x m).");

  m.def(
      "activation_pattern_from_preacts",
      [](CMat<T> Z, double slope) {
        py::gil_scoped_release nogil;
        return activation_pattern<T>(Z, make_spec(slope, false));
      },
      py::arg("Z").noconvert(), py::arg("slope"), "sigma'(Z_ij) (n x m), with sigma'(0) = slope.");

  m.def(
      "coefficient_matrix",
      [](CMat<T> Z, CVec<T> u, const Vectord& c, double slope, bool train_outer) {
        check_vec(u, Z.cols(), "coefficient_matrix", "u");
        check_vec(c, Z.rows(), "coefficient_matrix", "c");
        RowMatrix<T> Gamma;
        Vectord gu;
        {
          py::gil_scoped_release nogil;
          coefficient_matrix<T>(Z, u, c, make_spec(slope, train_outer), Gamma, train_outer ? &gu : nullptr);
        }
        py::object gu_obj = train_outer ? py::cast(gu) : py::none();
        return py::make_tuple(Gamma, gu_obj);
      },
      py::arg("Z").noconvert(), py::arg("u").noconvert(), py::arg("c"), py::arg("slope"), py::arg("train_outer"),
      "(Gamma, g_u): Gamma_ij = c_i u_j sigma'(Z_ij) (n x m) and, when train_outer, g_u_j = sum_i c_i sigma(Z_ij)\n"
      "(else None): sum_i c_i grad N(x_i) = (Gamma^T X, g_u).");

  m.def(
      "activation_pattern",
      [](CMat<T> X, CMat<T> W, double slope, int n_threads) {
        check_dim(W.cols(), X.cols(), "activation_pattern", "the number of columns of W");
        RowMatrix<T> S;
        {
          py::gil_scoped_release nogil;
          RowMatrix<T> Z;
          preactivations<T>(X, W, Z, n_threads);
          S = activation_pattern<T>(Z, make_spec(slope, false));
        }
        return S;
      },
      py::arg("X").noconvert(), py::arg("W").noconvert(), py::arg("slope"), py::arg("n_threads") = 0,
      "sigma'(<w_j, x_i>) (n x m), with sigma'(0) = slope.");

  m.def(
      "loss_and_grad",
      [](CMat<T> X, CVec<T> y, CMat<T> W, CVec<T> u, double slope, bool train_outer, const std::string& loss,
         int n_threads) {
        const LossKind lk = loss_from_string(loss);
        check_dim(W.cols(), X.cols(), "loss_and_grad", "the number of columns of W");
        check_vec(y, X.rows(), "loss_and_grad", "y");
        check_vec(u, W.rows(), "loss_and_grad", "u");
        const NetSpec spec = make_spec(slope, train_outer);
        double L = 0.0;
        RowMatrix<T> gW;
        Vectord gu;
        {
          py::gil_scoped_release nogil;
          RowMatrix<T> Z, Gamma;
          preactivations<T>(X, W, Z, n_threads);
          Vectord N = outputs_from_preacts<T>(Z, u, spec);
          const Index n = X.rows();
          Vectord c(n);
          for (Index i = 0; i < n; ++i) {
            const double q = static_cast<double>(y[i]) * N[i];
            check_loss_margin(lk, q);
            L += loss_value(lk, q);
            c[i] = loss_deriv(lk, q) * static_cast<double>(y[i]) / static_cast<double>(n);
          }
          L /= static_cast<double>(n);
          coefficient_matrix<T>(Z, u, c, spec, Gamma, train_outer ? &gu : nullptr);
          gW = RowMatrix<T>::Zero(W.rows(), W.cols());
          add_gamma_t_x<T>(Gamma, X, gW, n_threads);
        }
        py::object gu_obj = train_outer ? py::cast(gu) : py::none();
        return py::make_tuple(L, gW, gu_obj);
      },
      py::arg("X").noconvert(), py::arg("y").noconvert(), py::arg("W").noconvert(), py::arg("u").noconvert(),
      py::arg("slope"), py::arg("train_outer"), py::arg("loss"), py::arg("n_threads") = 0,
      "Mean loss (1/n) sum_i l(y_i N(x_i)) and its gradient (dL/dW, dL/du or None).");

  m.def(
      "jvp",
      [](CMat<T> X, CMat<T> W, CVec<T> u, double slope, bool train_outer, CMat<T> V, std::optional<Vectord> vu,
         int n_threads) {
        check_dim(W.cols(), X.cols(), "jvp", "the number of columns of W");
        check_vec(u, W.rows(), "jvp", "u");
        check_mat(V, W.rows(), W.cols(), "jvp", "V");
        if (train_outer && vu) check_vec(*vu, W.rows(), "jvp", "vu");
        Vectord out;
        {
          py::gil_scoped_release nogil;
          RowMatrix<T> Z;
          preactivations<T>(X, W, Z, n_threads);
          out = jvp<T>(X, Z, u, V, (train_outer && vu) ? &*vu : nullptr, make_spec(slope, train_outer), n_threads);
        }
        return out;
      },
      py::arg("X").noconvert(), py::arg("W").noconvert(), py::arg("u").noconvert(), py::arg("slope"),
      py::arg("train_outer"), py::arg("V").noconvert(), py::arg("vu") = py::none(), py::arg("n_threads") = 0,
      "(J v)_i = <grad N(x_i), v> for v = (V, vu): per-example gradients contracted with a vector.");

  m.def(
      "vjp",
      [](CMat<T> X, CMat<T> W, CVec<T> u, double slope, bool train_outer, const Vectord& c, int n_threads) {
        check_dim(W.cols(), X.cols(), "vjp", "the number of columns of W");
        check_vec(u, W.rows(), "vjp", "u");
        check_vec(c, X.rows(), "vjp", "c (one entry per row of X)");
        const NetSpec spec = make_spec(slope, train_outer);
        RowMatrix<T> gW;
        Vectord gu;
        {
          py::gil_scoped_release nogil;
          RowMatrix<T> Z, Gamma;
          preactivations<T>(X, W, Z, n_threads);
          coefficient_matrix<T>(Z, u, c, spec, Gamma, train_outer ? &gu : nullptr);
          gW = RowMatrix<T>::Zero(W.rows(), W.cols());
          add_gamma_t_x<T>(Gamma, X, gW, n_threads);
        }
        py::object gu_obj = train_outer ? py::cast(gu) : py::none();
        return py::make_tuple(gW, gu_obj);
      },
      py::arg("X").noconvert(), py::arg("W").noconvert(), py::arg("u").noconvert(), py::arg("slope"),
      py::arg("train_outer"), py::arg("c"), py::arg("n_threads") = 0,
      "J^T c = sum_i c_i grad N(x_i) as (dW, du or None).");

  m.def(
      "kernel_matrix",
      [](CMat<T> X, int n_threads) {
        RowMatrix<T> K;
        {
          py::gil_scoped_release nogil;
          K = kernel_matrix<T>(X, n_threads);
        }
        return K;
      },
      py::arg("X").noconvert(), py::arg("n_threads") = 0, "K = X X^T (symmetric product).");

  m.def(
      "gradient_gram",
      [](CMat<T> K, CMat<T> Z, CVec<T> u, CVec<T> y, double slope, bool train_outer, int n_threads) {
        check_mat(K, Z.rows(), Z.rows(), "gradient_gram", "K");
        check_vec(u, Z.cols(), "gradient_gram", "u");
        check_vec(y, Z.rows(), "gradient_gram", "y");
        RowMatrixd G;
        {
          py::gil_scoped_release nogil;
          G = gradient_gram<T>(K, Z, u, y, make_spec(slope, train_outer), n_threads);
        }
        return G;
      },
      py::arg("K").noconvert(), py::arg("Z").noconvert(), py::arg("u").noconvert(), py::arg("y").noconvert(),
      py::arg("slope"), py::arg("train_outer"), py::arg("n_threads") = 0,
      "G_ik = y_i y_k <grad N(x_i), grad N(x_k)> from K and the pre-activations Z (float64).");
}

}  // namespace

void bind_model(py::module_& m) {
  def_model_kernels<double>(m);
  def_model_kernels<float>(m);

  m.def(
      "losses",
      [](const Vectord& q, const std::string& loss) {
        const LossKind lk = loss_from_string(loss);
        Vectord l(q.size()), dl(q.size());
        for (Index i = 0; i < q.size(); ++i) {
          check_loss_margin(lk, q[i]);
          l[i] = loss_value(lk, q[i]);
          dl[i] = loss_deriv(lk, q[i]);
        }
        return py::make_tuple(l, dl);
      },
      py::arg("q"), py::arg("loss"), "(l(q), l'(q)) elementwise.");

  py::class_<MarginStats>(m, "MarginStats",
                          "What margin_stats returns: loss (mean loss; may underflow to 0 at huge margins), log_loss\n"
                          "(its log, which does not), min_margin (min_i q_i), n_misfit (#{i : q_i <= 0}), shift\n"
                          "(s = max(0, min_i q_i)), sum_scaled (sum_i e^s l(q_i)), finite.")
      .def_readonly("loss", &MarginStats::loss)
      .def_readonly("log_loss", &MarginStats::log_loss)
      .def_readonly("min_margin", &MarginStats::min_margin)
      .def_readonly("n_misfit", &MarginStats::n_misfit)
      .def_readonly("shift", &MarginStats::shift)
      .def_readonly("sum_scaled", &MarginStats::sum_scaled)
      .def_readonly("finite", &MarginStats::finite);
  m.def(
      "margin_stats",
      [](const Vectord& q, const std::string& loss) { return margin_stats(q, loss_from_string(loss)); },
      py::arg("q"), py::arg("loss"), "Mean loss (also in the log domain) and min margin of margins q.");
}

}  // namespace bind
}  // namespace kktunlearn
