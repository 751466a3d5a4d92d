// kktunlearn._core: the pybind11 module. One bind_<area>.cpp per area.
#include "bindings.hpp"

#ifndef KKTUNLEARN_VERSION
#define KKTUNLEARN_VERSION "dev"
#endif

PYBIND11_MODULE(_core, m) {
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
  m.def("max_threads", [](int n) { return kktunlearn::resolve_threads(n); }, py::arg("n_threads") = 0,
        "Threads a kernel would use for n_threads (0 = the OpenMP default).");

  kb::bind_model(m);
  kb::bind_training(m);
  kb::bind_kkt(m);
  kb::bind_unlearn(m);
  kb::bind_testing(m);
}
