// Bindings for unlearning methods and the cubic-regularized Newton solver (filled in by the
// unlearning work).
#include "bindings.hpp"

namespace kktunlearn {
namespace bind {
void bind_unlearn(py::module_& m) { (void)m; }
}  // namespace bind
}  // namespace kktunlearn
