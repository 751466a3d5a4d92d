// dense.hpp's generator kernel: random.hpp's row segments of Philox4x32-10 + Box-Muller normals.
// Compiled once per CPU variant, with -ffp-contract=off (CMakeLists.txt): no a*b+c is fused into an
// FMA, so every variant produces the same bits.
#include "kernels.hpp"

#include <kktunlearn/random.hpp>

namespace kktunlearn {
namespace dense {
namespace impl {

void normal_row_d(std::uint64_t seed, std::uint32_t stream, std::uint32_t row, std::uint64_t col0, Index len,
                  double scale, double* out, const double* v, double coef) {
  rng::normal_row_kernel<double>(seed, stream, row, col0, len, scale, out, v, coef);
}
void normal_row_f(std::uint64_t seed, std::uint32_t stream, std::uint32_t row, std::uint64_t col0, Index len,
                  double scale, float* out, const double* v, double coef) {
  rng::normal_row_kernel<float>(seed, stream, row, col0, len, scale, out, v, coef);
}

}  // namespace impl
}  // namespace dense
}  // namespace kktunlearn
