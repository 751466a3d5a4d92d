// kktunlearn bindings: shared declarations and helpers (pybind11 only; the math lives in the core).
#pragma once

#include <pybind11/eigen.h>
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <chrono>
#include <optional>
#include <memory>

#include <kktunlearn/common.hpp>
#include <kktunlearn/loss.hpp>
#include <kktunlearn/model.hpp>

namespace py = pybind11;

namespace kktunlearn {
namespace bind {

// Zero-copy inputs: C-contiguous arrays of the kernel's dtype, taken in place. The Python layer
// converts once; `.noconvert()` on these arguments makes the binding refuse anything that would
// need a silent copy.
template <class T>
using CMat = Eigen::Ref<const RowMatrix<T>>;
template <class T>
using CVec = Eigen::Ref<const Vector<T>>;

// Shape checks at the binding boundary. The Python API validates user input first; these make
// the raw _core functions memory-safe too (a mismatched shape would otherwise read out of bounds
// with Eigen's assertions compiled out in Release builds).
inline void check_dim(Index got, Index want, const char* fn, const char* what) {
  if (got != want)
    throw InvalidArgument(std::string(fn) + ": " + what + " is " + std::to_string(got) + ", expected " +
                          std::to_string(want));
}
template <class M>
void check_mat(const M& a, Index rows, Index cols, const char* fn, const char* name) {
  if (a.rows() != rows || a.cols() != cols)
    throw InvalidArgument(std::string(fn) + ": " + name + " has shape (" + std::to_string(a.rows()) + ", " +
                          std::to_string(a.cols()) + "), expected (" + std::to_string(rows) + ", " +
                          std::to_string(cols) + ")");
}
template <class V>
void check_vec(const V& v, Index size, const char* fn, const char* name) {
  if (v.size() != size)
    throw InvalidArgument(std::string(fn) + ": " + name + " has " + std::to_string(v.size()) +
                          " entries, expected " + std::to_string(size));
}

/// The usual (X n x d, y n, W m x d, u m) quadruple of a model kernel.
template <class MX, class VY, class MW, class VU>
void check_net(const MX& X, const VY& y, const MW& W, const VU& u, const char* fn) {
  check_dim(W.cols(), X.cols(), fn, "the number of columns of W");
  check_vec(y, X.rows(), fn, "y");
  check_vec(u, W.rows(), fn, "u");
}

/// A string property of a bound options struct over an enum field, through the enum's one name table
/// (to_name / from_string; an unknown name raises the table's InvalidArgument).
template <class C, class E>
void def_enum_property(py::class_<C>& c, const char* name, E C::*field, const char* (*to_name)(E),
                       E (*from_string)(const std::string&)) {
  c.def_property(
      name, [field, to_name](const C& o) { return std::string(to_name(o.*field)); },
      [field, from_string](C& o, const std::string& s) { o.*field = from_string(s); });
}

/// An optional float64 vector property of a bound options struct: an empty field reads as None, and
/// None writes an empty field.
template <class C>
void def_optional_vector(py::class_<C>& c, const char* name, Vectord C::*field) {
  c.def_property(
      name,
      [field](const C& o) -> std::optional<Vectord> {
        if ((o.*field).size() == 0) return std::nullopt;
        return o.*field;
      },
      [field](C& o, const std::optional<Vectord>& v) { o.*field = v ? *v : Vectord(); });
}

inline NetSpec make_spec(double slope, bool train_outer) {
  NetSpec s;
  s.slope = slope;
  s.train_outer = train_outer;
  return s;
}

/// A progress callback for long C++ loops that run with the GIL released: every call re-acquires
/// the GIL, lets Python handle pending signals (Ctrl-C) and forwards progress to an optional
/// Python callable. Returns false (stop) on a pending KeyboardInterrupt; the caller then reports
/// `interrupted` and the Python layer raises KeyboardInterrupt after saving the consistent state.
//
/// A KeyboardInterrupt raised inside the Python callable (the signal can arrive while it runs)
/// counts as an interrupt too. Any other exception raised by the callable also stops the loop; it
/// is kept in `error` and the binding re-raises it (rethrow_error) once the GIL is held again, so
/// a failing callback is reported as itself rather than as an interrupt.
struct PyProgress {
  py::object fn;  // may be None
  bool interrupted = false;
  std::shared_ptr<py::error_already_set> error;  // destroyed with the GIL held (after the loop)
  explicit PyProgress(py::object f = py::none()) : fn(std::move(f)) {}
  bool operator()(std::int64_t it, double loss) {
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) {
      PyErr_Clear();
      interrupted = true;
      return false;
    }
    if (!fn.is_none()) {
      try {
        py::object r = fn(it, loss);
        if (!r.is_none() && !r.cast<bool>()) {
          interrupted = true;
          return false;
        }
      } catch (py::error_already_set& e) {
        if (e.matches(PyExc_KeyboardInterrupt)) {
          interrupted = true;
        } else {
          error = std::make_shared<py::error_already_set>(std::move(e));
        }
        return false;
      } catch (const py::cast_error&) {
        error = std::make_shared<py::error_already_set>(
            (PyErr_SetString(PyExc_TypeError, "progress callback must return None or a bool"),
             py::error_already_set()));
        return false;
      }
    }
    return true;
  }
  /// Call with the GIL held, after the loop: re-raises the callback's exception, if any.
  void rethrow_error() {
    if (error) throw *error;
  }
};

/// A StopCheck for solver loops that run with the GIL released: at most every 0.1 s it re-acquires
/// the GIL and lets Python handle pending signals; true (stop) on a pending KeyboardInterrupt. The
/// loop then throws kktunlearn::Interrupted, which the module translates to KeyboardInterrupt.
struct PyInterruptCheck {
  std::chrono::steady_clock::time_point last = std::chrono::steady_clock::now();
  double seconds = 0.1;
  bool operator()() {
    const auto now = std::chrono::steady_clock::now();
    if (std::chrono::duration<double>(now - last).count() < seconds) return false;
    last = now;
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) {
      PyErr_Clear();
      return true;
    }
    return false;
  }
};

void bind_model(py::module_& m);
void bind_training(py::module_& m);
void bind_kkt(py::module_& m);
void bind_unlearn(py::module_& m);
void bind_random(py::module_& m);
void bind_testing(py::module_& m);  // test-only hooks (kktunlearn._core._testing)

}  // namespace bind
}  // namespace kktunlearn
