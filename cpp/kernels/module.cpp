// kktunlearn._kernels_<variant>: one CPU build of the dense kernels (dense.hpp), nothing else. The
// extension _core installs its table (kktunlearn/_dispatch.py: _core._set_kernels(table())).
#include <pybind11/pybind11.h>

#include "kernels.hpp"

#ifndef KKTUNLEARN_MODULE_NAME
#error "KKTUNLEARN_MODULE_NAME must name the module"
#endif

namespace py = pybind11;

PYBIND11_MODULE(KKTUNLEARN_MODULE_NAME, m) {
  m.doc() = "One CPU build of kktunlearn's dense kernels; installed into kktunlearn._core at import.";
  m.attr("name") = KKTUNLEARN_KERNELS_NAME;
  m.attr("abi") = kktunlearn::dense::kKernelAbi;
  m.def(
      "table",
      []() {
        return py::capsule(const_cast<kktunlearn::dense::Kernels*>(kktunlearn::dense::builtin_kernels()),
                           "kktunlearn.dense.Kernels");
      },
      "The kernel table, as a capsule for kktunlearn._core._set_kernels.");
}
