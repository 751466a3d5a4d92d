// kktunlearn._core: the pybind11 module. One bind_<area>.cpp per area.
#include "bindings.hpp"

#ifndef KKTUNLEARN_VERSION
#define KKTUNLEARN_VERSION "dev"
#endif

#ifndef KKTUNLEARN_MODULE_NAME
#define KKTUNLEARN_MODULE_NAME _core
#endif
#define KKT_STR2(x) #x
#define KKT_STR(x) KKT_STR2(x)

// Compiled as _core (baseline ISA, every binding) and, on x86-64, as _core_avx2 / _core_avx512 with
// KKTUNLEARN_HOT_ONLY: the hot kernels only (see CMakeLists.txt and kktunlearn/_dispatch.py, which
// merges a variant's functions over the baseline's).
PYBIND11_MODULE(KKTUNLEARN_MODULE_NAME, m) {
  m.doc() = "kktunlearn C++ core (Eigen + OpenMP). Use the Python API in kktunlearn, not this module.";
  namespace kb = kktunlearn::bind;

#ifndef KKTUNLEARN_HOT_ONLY
  // C++ exceptions -> Python: InvalidArgument -> ValueError, NumericalError -> ArithmeticError subclass
  static py::exception<kktunlearn::NumericalError> numerical_error(m, "NumericalError", PyExc_ArithmeticError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const kktunlearn::InvalidArgument& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const kktunlearn::NumericalError& e) {
      py::set_error(numerical_error, e.what());
    } catch (const kktunlearn::Interrupted& e) {
      PyErr_SetString(PyExc_KeyboardInterrupt, e.what());
    }
  });
#else
  // A hot-kernel variant (_core_avx2 / _core_avx512) is loaded next to the baseline _core, which has
  // every binding and owns the exception classes: raise *its* NumericalError, through a translator
  // local to this module (pybind11 shares global translators between modules, so a global one here
  // would retype the baseline's errors). The class object is kept alive for the process's lifetime.
  static py::object* numerical_error =
      new py::object(py::module_::import("kktunlearn._core").attr("NumericalError"));
  m.attr("NumericalError") = *numerical_error;
  py::register_local_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const kktunlearn::InvalidArgument& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const kktunlearn::NumericalError& e) {
      PyErr_SetString(numerical_error->ptr(), e.what());
    } catch (const kktunlearn::Interrupted& e) {
      PyErr_SetString(PyExc_KeyboardInterrupt, e.what());
    }
  });
#endif

  m.attr("__version__") = KKTUNLEARN_VERSION;
  m.attr("have_openmp") = kktunlearn::have_openmp();
  m.attr("variant") = KKT_STR(KKTUNLEARN_MODULE_NAME);
#ifdef KKTUNLEARN_TESTING
  m.attr("with_testing") = true;
#else
  m.attr("with_testing") = false;
#endif

  m.def(
      "cpu_features",
      []() {
        py::dict d;
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
        // cpuid bits plus the OS's XSAVE support of the wide registers (libgcc checks XCR0)
        __builtin_cpu_init();
        d["avx2"] = static_cast<bool>(__builtin_cpu_supports("avx2"));
        d["fma"] = static_cast<bool>(__builtin_cpu_supports("fma"));
        d["bmi2"] = static_cast<bool>(__builtin_cpu_supports("bmi2"));
        d["f16c"] = static_cast<bool>(__builtin_cpu_supports("f16c"));
        d["avx512f"] = static_cast<bool>(__builtin_cpu_supports("avx512f"));
        d["avx512bw"] = static_cast<bool>(__builtin_cpu_supports("avx512bw"));
        d["avx512dq"] = static_cast<bool>(__builtin_cpu_supports("avx512dq"));
        d["avx512vl"] = static_cast<bool>(__builtin_cpu_supports("avx512vl"));
        d["avx512cd"] = static_cast<bool>(__builtin_cpu_supports("avx512cd"));
#endif
        return d;
      },
      "CPU features relevant to the dispatch between the _core variants (x86-64; empty elsewhere).");
  m.def("max_threads", [](int n) { return kktunlearn::resolve_threads(n); }, py::arg("n_threads") = 0,
        "Threads a kernel would use for n_threads (0 = the OpenMP default).");

  // the hot kernels: every variant (the d-sized products, training, the generator, certificates)
  kb::bind_model(m);
  kb::bind_training(m);
  kb::bind_kkt(m);
  kb::bind_random(m);
#ifdef KKTUNLEARN_HOT_ONLY
  m.attr("hot_only") = true;
#else
  // the rest (unlearning: Newton family, cubic solves, GA): the baseline module only
  m.attr("hot_only") = false;
  kb::bind_unlearn(m);
#endif
#if defined(KKTUNLEARN_TESTING) && !defined(KKTUNLEARN_HOT_ONLY)
  // test-only hooks (kktunlearn._core._testing), compiled only with the CMake option
  // KKTUNLEARN_TESTING=ON (dev/build.sh, the README's test install); never in release wheels
  kb::bind_testing(m);
#endif
}
