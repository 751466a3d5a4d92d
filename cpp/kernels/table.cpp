// This shared object's table of dense kernels (dense.hpp). KKTUNLEARN_KERNELS_NAME names the CPU
// build: "baseline" in the extension itself, "avx2" / "avx512" in the variant modules.
#include "kernels.hpp"

#ifndef KKTUNLEARN_KERNELS_NAME
#define KKTUNLEARN_KERNELS_NAME "baseline"
#endif

namespace kktunlearn {
namespace dense {

const Kernels* builtin_kernels() {
  static const Kernels table{kKernelAbi,        KKTUNLEARN_KERNELS_NAME, &impl::gemm_d,         &impl::gemm_f,
                             &impl::syrk_d,      &impl::syrk_f,          &impl::normal_row_d,   &impl::normal_row_f,
                             &impl::gemv_d,      &impl::trsm_d,          &impl::widen_f,        &impl::outputs_d,
                             &impl::outputs_f,   &impl::coefficients_d,  &impl::coefficients_f};
  return &table;
}

}  // namespace dense
}  // namespace kktunlearn
