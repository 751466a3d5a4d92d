// kktunlearn._kernels_<variant>: one CPU build of the dense kernels (dense.hpp), nothing else. The
// extension _core installs its table (kktunlearn/_dispatch.py: _core._set_kernels(table())).
// Plain CPython API (no pybind11: the module has one function, and pybind11's machinery would cost
// more compile time than the kernels' own small files).
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "kernels.hpp"

#ifndef KKTUNLEARN_MODULE_NAME
#error "KKTUNLEARN_MODULE_NAME must name the module"
#endif
#define KKT_CAT2(a, b) a##b
#define KKT_CAT(a, b) KKT_CAT2(a, b)
#define KKT_STR2(x) #x
#define KKT_STR(x) KKT_STR2(x)

namespace {

PyObject* kernel_table(PyObject*, PyObject*) {
  auto* table = const_cast<kktunlearn::dense::Kernels*>(kktunlearn::dense::builtin_kernels());
  return PyCapsule_New(static_cast<void*>(table), "kktunlearn.dense.Kernels", nullptr);
}

PyMethodDef methods[] = {
    {"table", kernel_table, METH_NOARGS, "The kernel table, as a capsule for kktunlearn._core._set_kernels."},
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef module_def = {PyModuleDef_HEAD_INIT, KKT_STR(KKTUNLEARN_MODULE_NAME),
                          "One CPU build of kktunlearn's dense kernels; installed into kktunlearn._core at import.",
                          -1, methods, nullptr, nullptr, nullptr, nullptr};

}  // namespace

extern "C" __attribute__((visibility("default"))) PyObject* KKT_CAT(PyInit_, KKTUNLEARN_MODULE_NAME)() {
  PyObject* m = PyModule_Create(&module_def);
  if (m == nullptr) return nullptr;
  if (PyModule_AddStringConstant(m, "name", KKTUNLEARN_KERNELS_NAME) < 0 ||
      PyModule_AddIntConstant(m, "abi", kktunlearn::dense::kKernelAbi) < 0) {
    Py_DECREF(m);
    return nullptr;
  }
  return m;
}
