// Bindings for multipliers, KKT residuals and certificates (filled in by the verification work).
#include "bindings.hpp"

namespace kktunlearn {
namespace bind {
void bind_kkt(py::module_& m) { (void)m; }
}  // namespace bind
}  // namespace kktunlearn
