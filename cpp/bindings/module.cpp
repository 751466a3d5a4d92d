// kktunlearn._core: the pybind11 module. One bind_<area>.cpp per area.
#include "bindings.hpp"

#include <kktunlearn/dense.hpp>

#ifndef KKTUNLEARN_VERSION
#define KKTUNLEARN_VERSION "dev"
#endif

#ifndef KKTUNLEARN_MODULE_NAME
#define KKTUNLEARN_MODULE_NAME _core
#endif
#define KKT_STR2(x) #x
#define KKT_STR(x) KKT_STR2(x)

// The extension: every binding, and the dense kernels built for the baseline ISA. The CPU variants
// of the dense kernels are separate modules (cpp/kernels/module.cpp); kktunlearn/_dispatch.py installs
// the best one with _set_kernels.
PYBIND11_MODULE(KKTUNLEARN_MODULE_NAME, m) {
  m.doc() = "kktunlearn C++ core (Eigen + OpenMP). Use the Python API in kktunlearn, not this module.";
  namespace kb = kktunlearn::bind;

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

  m.attr("__version__") = KKTUNLEARN_VERSION;
  m.attr("have_openmp") = kktunlearn::have_openmp();
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

  m.attr("kernel_abi") = kktunlearn::dense::kKernelAbi;
  m.def(
      "_set_kernels",
      [](py::object table) {
        // the module that owns the table must stay imported (kktunlearn._dispatch keeps it)
        if (table.is_none()) {
          kktunlearn::dense::set_active(nullptr);
          return;
        }
        py::capsule cap = table.cast<py::capsule>();
        if (std::string(cap.name() ? cap.name() : "") != "kktunlearn.dense.Kernels")
          throw kktunlearn::InvalidArgument("_set_kernels: not a kktunlearn kernel table");
        kktunlearn::dense::set_active(static_cast<const kktunlearn::dense::Kernels*>(cap.get_pointer()));
      },
      py::arg("table"),
      "Install a CPU variant's dense kernels (a capsule from kktunlearn._kernels_<variant>.table()); None: the "
      "built-in baseline kernels. Not while kernels run.");
  m.def("kernels", []() { return std::string(kktunlearn::dense::active().name); },
        "Name of the dense kernels in use: baseline, avx2 or avx512.");

  kb::bind_model(m);
  kb::bind_training(m);
  kb::bind_kkt(m);
  kb::bind_random(m);
  kb::bind_unlearn(m);
#ifdef KKTUNLEARN_TESTING
  // test-only hooks (kktunlearn._core._testing), compiled only with the CMake option
  // KKTUNLEARN_TESTING=ON (dev/build.sh, the README's test install); never in release wheels
  kb::bind_testing(m);
#endif
}
