// Bindings for the counter-based generator (random.hpp): Philox4x32-10 blocks, normal matrices
// generated in blocks, and the fused Z0 = X W0^T kernel. Each kernel releases the GIL and takes
// n_threads. This file is compiled with -ffp-contract=off -fno-math-errno (see CMakeLists.txt and
// random.hpp).
#include <kktunlearn/random.hpp>

#include "bindings.hpp"

namespace kktunlearn {
namespace bind {

namespace {

void check_block(Index row0, Index rows, Index col0, Index cols, const char* fn) {
  if (row0 < 0 || rows < 0 || col0 < 0 || cols < 0)
    throw InvalidArgument(std::string(fn) + ": row0, rows, col0 and cols must be >= 0");
  if (row0 + rows > (Index(1) << 32))
    throw InvalidArgument(std::string(fn) + ": row indices must be below 2^32");
}

// The output is a numpy array allocated here (so tracemalloc and numpy's memory accounting see
// it), filled in place with the GIL released.
template <class T>
py::array_t<T> block(std::uint64_t seed, std::uint32_t stream, Index row0, Index rows, Index col0, Index cols,
                     double scale, const double* v, const double* coef, int n_threads) {
  py::array_t<T, py::array::c_style> out({static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(cols)});
  T* p = out.mutable_data();
  {
    py::gil_scoped_release nogil;
    rng::normal_fill<T>(seed, stream, row0, rows, col0, cols, scale, p, cols, n_threads, v, coef);
  }
  return out;
}

// (Z0, rowsq[, X E^T]) of a normal_preacts-style kernel run(Z0, rowsq, E, XE), the GIL released.
template <class T, class Run>
py::object preacts_tuple(const std::optional<CMat<T>>& E, Run run) {
  RowMatrix<T> Z, XE;
  Vectord rowsq;
  {
    py::gil_scoped_release nogil;
    if (E) {
      const MatRef<T> Er(*E);
      run(Z, rowsq, &Er, &XE);
    } else {
      run(Z, rowsq, nullptr, nullptr);
    }
  }
  if (E) return py::make_tuple(Z, rowsq, XE);
  return py::make_tuple(Z, rowsq);
}

template <class T>
void def_preacts(py::module_& m) {
  m.def(
      "normal_preacts",
      [](CMat<T> X, std::uint64_t seed, std::uint32_t stream, Index rows, double scale, int n_threads,
         std::optional<CMat<T>> E) -> py::object {
        if (rows < 0) throw InvalidArgument("normal_preacts: rows must be >= 0");
        if (E && E->cols() != X.cols())
          throw InvalidArgument("normal_preacts: E must have as many columns as X");
        return preacts_tuple<T>(E, [&](RowMatrix<T>& Z, Vectord& rowsq, const MatRef<T>* Er, RowMatrix<T>* XE) {
          rng::normal_preacts<T>(X, seed, stream, rows, scale, Z, rowsq, n_threads, Er, XE);
        });
      },
      py::arg("X").noconvert(), py::arg("seed"), py::arg("stream"), py::arg("rows"), py::arg("scale"),
      py::arg("n_threads") = 0, py::arg("E").noconvert() = py::none(),
      "(Z0, rowsq): Z0 = X W0^T (n x rows) and rowsq_j = sum_k W0_jk^2 (float64) for W0 = normal_block(seed, "
      "stream, 0, rows, 0, d, scale) in X's dtype, generated tile by tile (never rows x d in memory); "
      "bit-identical for any n_threads. With E (k x d, X's dtype): (Z0, rowsq, X E^T), the extra product in the "
      "same pass over X.");
}

// Rows generated on the fly (rng::RowGen), with owned v and coef: the description of a matrix that
// normal_preacts_generated multiplies without holding it.
struct RowGenSpec {
  rng::RowGen g;  // v and coef are set from the owned vectors by view()
  std::optional<Vectord> v, coef;

  rng::RowGen view(const char* fn) const {
    check_block(g.row0, g.rows, 0, g.cols, fn);
    if (v.has_value() != coef.has_value()) throw InvalidArgument(std::string(fn) + ": give both v and coef, or neither");
    if (v) {
      check_vec(*v, g.cols, fn, "v");
      check_vec(*coef, g.rows, fn, "coef");
    }
    rng::RowGen r = g;
    r.v = v ? v->data() : nullptr;
    r.coef = coef ? coef->data() : nullptr;
    return r;
  }
};

template <class T>
py::object preacts_generated(const RowGenSpec& spec, std::uint64_t seed, std::uint32_t stream, Index rows,
                             double scale, int n_threads, const std::optional<CMat<T>>& E) {
  if (rows < 0) throw InvalidArgument("normal_preacts_generated: rows must be >= 0");
  const rng::RowGen g = spec.view("normal_preacts_generated");
  if (E && E->cols() != g.cols)
    throw InvalidArgument("normal_preacts_generated: E must have as many columns as the generated rows");
  return preacts_tuple<T>(E, [&](RowMatrix<T>& Z, Vectord& rowsq, const MatRef<T>* Er, RowMatrix<T>* XE) {
    rng::normal_preacts_generated<T>(g, seed, stream, rows, scale, Z, rowsq, n_threads, Er, XE);
  });
}

}  // namespace

void bind_random(py::module_& m) {
  m.attr("rng_name") = rng::generator_name();
  m.attr("rng_version") = rng::generator_version();

  m.def(
      "philox4x32_10",
      [](std::array<std::uint32_t, 4> ctr, std::array<std::uint32_t, 2> key) {
        std::array<std::uint32_t, 4> out;
        rng::philox4x32_10(ctr.data(), key.data(), out.data());
        return out;
      },
      py::arg("counter"), py::arg("key"), "One Philox4x32-10 block (Salmon et al., SC'11): 4 uint32 words.");

  m.def(
      "normal_block",
      [](std::uint64_t seed, std::uint32_t stream, Index row0, Index rows, Index col0, Index cols, double scale,
         const std::string& dtype, std::optional<Vectord> v, std::optional<Vectord> coef, int n_threads) -> py::object {
        check_block(row0, rows, col0, cols, "normal_block");
        if (v.has_value() != coef.has_value()) throw InvalidArgument("normal_block: give both v and coef, or neither");
        if (v) {
          check_vec(*v, cols, "normal_block", "v");
          check_vec(*coef, rows, "normal_block", "coef");
        }
        const double* vp = v ? v->data() : nullptr;
        const double* cp = coef ? coef->data() : nullptr;
        if (dtype == "float64") return block<double>(seed, stream, row0, rows, col0, cols, scale, vp, cp, n_threads);
        if (dtype == "float32") return block<float>(seed, stream, row0, rows, col0, cols, scale, vp, cp, n_threads);
        throw InvalidArgument("normal_block: dtype must be 'float64' or 'float32', got '" + dtype + "'");
      },
      py::arg("seed"), py::arg("stream"), py::arg("row0"), py::arg("rows"), py::arg("col0"), py::arg("cols"),
      py::arg("scale") = 1.0, py::arg("dtype") = "float64", py::arg("v") = py::none(), py::arg("coef") = py::none(),
      py::arg("n_threads") = 0,
      "out[r, c] = dtype(scale * z(row0 + r, col0 + c) [+ coef[r] * v[c]]) for the standard normals z of "
      "(seed, stream) (Philox4x32-10 + Box-Muller; see kktunlearn/_random.py); bit-identical for any "
      "n_threads and any block split.");

  def_preacts<double>(m);
  def_preacts<float>(m);

  py::class_<RowGenSpec>(m, "RowGen",
                         "Rows generated on the fly: X[r, c] = T(scale * z(seed, stream, row0 + r, c) [+ coef[r] * v[c]]), "
                         "the entries of normal_block(seed, stream, row0, rows, 0, cols, scale, v=v, coef=coef).")
      .def(py::init([](std::uint64_t seed, std::uint32_t stream, Index row0, Index rows, Index cols, double scale,
                       std::optional<Vectord> v, std::optional<Vectord> coef) {
             RowGenSpec s;
             s.g = rng::RowGen{seed, stream, row0, rows, cols, scale, nullptr, nullptr};
             s.v = std::move(v);
             s.coef = std::move(coef);
             s.view("RowGen");
             return s;
           }),
           py::kw_only(), py::arg("seed"), py::arg("stream"), py::arg("row0"), py::arg("rows"), py::arg("cols"),
           py::arg("scale") = 1.0, py::arg("v") = py::none(), py::arg("coef") = py::none());

  m.def(
      "normal_preacts_generated",
      [](const RowGenSpec& X, std::uint64_t seed, std::uint32_t stream, Index rows, double scale, const std::string& dtype,
         int n_threads, py::object E) -> py::object {
        if (dtype == "float64")
          return preacts_generated<double>(X, seed, stream, rows, scale, n_threads,
                                           E.is_none() ? std::nullopt : std::optional<CMat<double>>(E.cast<CMat<double>>()));
        if (dtype == "float32")
          return preacts_generated<float>(X, seed, stream, rows, scale, n_threads,
                                          E.is_none() ? std::nullopt : std::optional<CMat<float>>(E.cast<CMat<float>>()));
        throw InvalidArgument("normal_preacts_generated: dtype must be 'float64' or 'float32', got '" + dtype + "'");
      },
      py::arg("X"), py::arg("seed"), py::arg("stream"), py::arg("rows"), py::arg("scale"), py::arg("dtype"),
      py::arg("n_threads") = 0, py::arg("E") = py::none(),
      "normal_preacts with X = the RowGen's rows in dtype, generated sub-block by sub-block and never held in "
      "memory: the same bits as normal_preacts on the materialized rows, for any n_threads. E (k x d) must be in "
      "dtype, C-contiguous.");
}

}  // namespace bind
}  // namespace kktunlearn
