// dense.hpp's activation kernels: the network outputs N_i = sum_j u_j sigma(Z_ij) and the coefficient
// matrix Gamma_ij = c_i u_j sigma'(Z_ij) of one training step, from the pre-activations Z.
// Compiled once per CPU variant, with -ffp-contract=off (CMakeLists.txt): every product and sum is
// rounded on its own, in the order written, so every variant produces the same bits as the scalar
// loops of model.hpp that they replace.
#include <cstring>

#include "kernels.hpp"

namespace kktunlearn {
namespace dense {
namespace impl {
namespace {

template <class T>
struct BitsOf;
template <>
struct BitsOf<double> {
  using U = std::uint64_t;
};
template <>
struct BitsOf<float> {
  using U = std::uint32_t;
};

template <class T>
typename BitsOf<T>::U bits(T x) {
  typename BitsOf<T>::U b;
  std::memcpy(&b, &x, sizeof(T));
  return b;
}

// sigma'(z) = 1 for z > 0, else the slope: selected by the comparison's mask, with no branch and no
// table (either blocks vectorization; a branch mispredicts on random activation patterns)
template <class T>
inline T dact_sel(T z, typename BitsOf<T>::U one, typename BitsOf<T>::U slope) {
  using U = typename BitsOf<T>::U;
  const U mask = U(0) - static_cast<U>(z > T(0));
  const U r = (one & mask) | (slope & ~mask);
  T out;
  std::memcpy(&out, &r, sizeof(T));
  return out;
}

template <class T>
void outputs(Index n, Index m, const T* Z, Index ldz, const T* u, double slope, double* out) {
  // each row's sum runs over j in order from 0 (the bits of one row at a time); R rows at a time, the
  // terms u_j sigma(z_ij) of a 256-column chunk computed first (vectorized along j), then added in order
  constexpr Index R = 8, CW = 256;
  const auto one = bits(T(1)), sl = bits(static_cast<T>(slope));
  double t[R * CW];
  for (Index i = 0; i < n; i += R) {
    const Index nr = std::min(R, n - i);
    double acc[R] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (Index j0 = 0; j0 < m; j0 += CW) {
      const Index w = std::min(CW, m - j0);
      for (Index r = 0; r < nr; ++r) {
        const T* zr = Z + (i + r) * ldz + j0;
        const T* ur = u + j0;
        double* tr = t + r * CW;
        for (Index j = 0; j < w; ++j) {
          const T z = zr[j];
          const T a = dact_sel(z, one, sl) * z;  // sigma(z) in T, as act() computes it
          tr[j] = static_cast<double>(ur[j]) * static_cast<double>(a);
        }
      }
      if (nr == R) {
        for (Index j = 0; j < w; ++j)
          for (Index r = 0; r < R; ++r) acc[r] += t[r * CW + j];
      } else {
        for (Index r = 0; r < nr; ++r)
          for (Index j = 0; j < w; ++j) acc[r] += t[r * CW + j];
      }
    }
    for (Index r = 0; r < nr; ++r) out[i + r] = acc[r];
  }
}

template <class T>
void coefficients(Index n, Index m, const T* Z, Index ldz, const T* u, const double* c, double slope, T* G,
                  Index ldg) {
  const auto one = bits(T(1)), sl = bits(static_cast<T>(slope));
  for (Index i = 0; i < n; ++i) {
    const double ci = c[i];
    const T* zr = Z + i * ldz;
    T* gr = G + i * ldg;
    for (Index j = 0; j < m; ++j)
      gr[j] = static_cast<T>(ci * static_cast<double>(u[j]) * static_cast<double>(dact_sel(zr[j], one, sl)));
  }
}

}  // namespace

void outputs_d(Index n, Index m, const double* Z, Index ldz, const double* u, double slope, double* out) {
  outputs<double>(n, m, Z, ldz, u, slope, out);
}
void outputs_f(Index n, Index m, const float* Z, Index ldz, const float* u, double slope, double* out) {
  outputs<float>(n, m, Z, ldz, u, slope, out);
}
void coefficients_d(Index n, Index m, const double* Z, Index ldz, const double* u, const double* c, double slope,
                    double* G, Index ldg) {
  coefficients<double>(n, m, Z, ldz, u, c, slope, G, ldg);
}
void coefficients_f(Index n, Index m, const float* Z, Index ldz, const float* u, const double* c, double slope,
                    float* G, Index ldg) {
  coefficients<float>(n, m, Z, ldz, u, c, slope, G, ldg);
}

}  // namespace impl
}  // namespace dense
}  // namespace kktunlearn
