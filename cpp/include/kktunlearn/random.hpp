// kktunlearn: a counter-based normal generator (Philox4x32-10 + Box-Muller) and the kernels that
// use it (W0 in blocks, Z0 = X W0^T with W0 generated on the fly, data matrices).
//
// Philox4x32-10 is the counter-based generator of J. K. Salmon, M. A. Moraes, R. O. Dror and
// D. E. Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC'11 (Random123), implemented here
// from the published algorithm: a 4 x 32-bit counter is run through 10 rounds of
//   (L0, R0, L1, R1) -> (hi(M1 R1) ^ L0... ) see philox4x32_10 below,
// with the 2 x 32-bit key bumped by the Weyl constants between rounds. It is a keyed bijection of
// the counter, so the value at any counter is computed directly, with no state and no sequence.
//
// Entry (i, j) of a generated matrix of stream `stream` and seed `seed` (a 64-bit integer):
//   key     = (seed mod 2^32, seed div 2^32)
//   counter = (q mod 2^32, q div 2^32, i, stream)      q = floor(j / 2), 0 <= i < 2^32
//   (r0, r1, r2, r3) = Philox4x32-10(counter, key)
//   a = r0 * 2^32 + r1,  b = r2 * 2^32 + r3           (two 64-bit words)
//   u1 = (floor(a / 2^11) + 1) * 2^-53   in (0, 1]    (53 random bits; never 0)
//   u2 =  floor(b / 2^11)      * 2^-53   in [0, 1)
//   z(i, j) = sqrt(-2 ln u1) * cos(2 pi u2)   for even j,
//             sqrt(-2 ln u1) * sin(2 pi u2)   for odd j      (Box-Muller, one pair per counter)
// so z(i, j) is a pure function of (seed, stream, i, j): any block of any matrix can be generated
// alone, in any order, by any number of threads, with the same bits.
//
// ln, sin and cos are computed by the fixed polynomial formulas below (atanh series for ln,
// Taylor series after an exact reduction to |2 pi r| <= pi/4 for sin/cos; all to about 1e-16
// relative) from +, -, *, / and sqrt only, which IEEE 754 rounds correctly; no libm call. The
// translation unit that uses this header is compiled with -ffp-contract=off (CMakeLists.txt), so
// the compiler never fuses a*b+c, and the numbers are the same on every machine and ISA variant.
//
// Streams used by the library (never reuse one for two purposes with the same seed):
//   0 = W0 of a model, 1 = data rows, 2 = data directions (mu, c), 3.. = test samples.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "common.hpp"
#include "dense.hpp"

namespace kktunlearn {
namespace rng {

/// Name and version recorded with every model whose W0 was drawn here.
inline const char* generator_name() { return "philox4x32-10+box-muller"; }
inline int generator_version() { return 1; }

/// One Philox4x32-10 block: out = bijection_key(ctr) (Salmon et al., SC'11, Sec. 5; the
/// multipliers and Weyl constants are the published ones).
inline void philox4x32_10(const std::uint32_t ctr[4], const std::uint32_t key[2], std::uint32_t out[4]) {
  const std::uint64_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;
  const std::uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  std::uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
  std::uint32_t k0 = key[0], k1 = key[1];
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {
      k0 += W0;
      k1 += W1;
    }
    const std::uint64_t p0 = M0 * c0, p1 = M1 * c2;
    const std::uint32_t hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
    const std::uint32_t hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

namespace detail {

inline std::uint64_t bits_of(double x) {
  std::uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}
inline double from_bits(std::uint64_t b) {
  double x;
  std::memcpy(&x, &b, sizeof x);
  return x;
}

/// ln(u) for u in [2^-53, 1]: u = 2^e f with f in [sqrt(1/2), sqrt(2)), ln f = 2 atanh(s),
/// s = (f - 1) / (f + 1), |s| <= 0.1716, series to s^21 (truncation < 3e-17 relative).
inline double log_unit(double u) {
  const std::uint64_t b = bits_of(u);
  std::int64_t e = static_cast<std::int64_t>((b >> 52) & 0x7ff) - 1023;
  double f = from_bits((b & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull);  // [1, 2)
  const bool big = f > 1.4142135623730951;
  f = big ? f * 0.5 : f;
  e = big ? e + 1 : e;
  const double s = (f - 1.0) / (f + 1.0);
  const double s2 = s * s;
  double p = 1.0 / 21.0;
  p = p * s2 + 1.0 / 19.0;
  p = p * s2 + 1.0 / 17.0;
  p = p * s2 + 1.0 / 15.0;
  p = p * s2 + 1.0 / 13.0;
  p = p * s2 + 1.0 / 11.0;
  p = p * s2 + 1.0 / 9.0;
  p = p * s2 + 1.0 / 7.0;
  p = p * s2 + 1.0 / 5.0;
  p = p * s2 + 1.0 / 3.0;
  p = p * s2 + 1.0;
  const double ed = static_cast<double>(e);
  const double ln2_hi = 6.93147180369123816490e-01;  // 0x3FE62E42FEE00000 (e * ln2_hi is exact)
  const double ln2_lo = 1.90821492927058770002e-10;
  return ed * ln2_hi + (ed * ln2_lo + 2.0 * s * p);
}

/// (sin(2 pi u), cos(2 pi u)) for u in [0, 1): k = round(4u), r = u - k/4 in [-1/8, 1/8] (exact),
/// t = 2 pi r in [-pi/4, pi/4], Taylor series of sin t to t^15 and cos t to t^16, then the
/// quadrant k mod 4.
inline void sincos_2pi(double u, double& s_out, double& c_out) {
  const double kd = static_cast<double>(static_cast<std::int64_t>(u * 4.0 + 0.5));
  const std::int64_t k = static_cast<std::int64_t>(kd);
  const double t = (u - kd * 0.25) * 6.283185307179586;
  const double t2 = t * t;
  double ps = -1.0 / 1307674368000.0;  // -1/15!
  ps = ps * t2 + 1.0 / 6227020800.0;   // 1/13!
  ps = ps * t2 - 1.0 / 39916800.0;     // 1/11!
  ps = ps * t2 + 1.0 / 362880.0;       // 1/9!
  ps = ps * t2 - 1.0 / 5040.0;
  ps = ps * t2 + 1.0 / 120.0;
  ps = ps * t2 - 1.0 / 6.0;
  const double sn = t + t * t2 * ps;
  double pc = 1.0 / 20922789888000.0;  // 1/16!
  pc = pc * t2 - 1.0 / 87178291200.0;  // 1/14!
  pc = pc * t2 + 1.0 / 479001600.0;    // 1/12!
  pc = pc * t2 - 1.0 / 3628800.0;      // 1/10!
  pc = pc * t2 + 1.0 / 40320.0;
  pc = pc * t2 - 1.0 / 720.0;
  pc = pc * t2 + 1.0 / 24.0;
  pc = pc * t2 - 0.5;
  const double cs = 1.0 + t2 * pc;
  // sin(t + k pi/2), cos(t + k pi/2)
  const bool odd = (k & 1) != 0;
  const double s0 = odd ? cs : sn;
  const double c0 = odd ? sn : cs;
  s_out = (k & 2) != 0 ? -s0 : s0;
  c_out = ((k + 1) & 2) != 0 ? -c0 : c0;
}

}  // namespace detail

/// The normal pair (z(i, 2q), z(i, 2q + 1)) of the module comment.
inline void normal_pair(std::uint64_t seed, std::uint32_t stream, std::uint32_t i, std::uint64_t q, double& z0,
                        double& z1) {
  const std::uint32_t key[2] = {static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)};
  const std::uint32_t ctr[4] = {static_cast<std::uint32_t>(q), static_cast<std::uint32_t>(q >> 32), i, stream};
  std::uint32_t r[4];
  philox4x32_10(ctr, key, r);
  const std::uint64_t a = (static_cast<std::uint64_t>(r[0]) << 32) | r[1];
  const std::uint64_t b = (static_cast<std::uint64_t>(r[2]) << 32) | r[3];
  const double u1 = static_cast<double>((a >> 11) + 1) * 0x1.0p-53;
  const double u2 = static_cast<double>(b >> 11) * 0x1.0p-53;
  const double rad = std::sqrt(-2.0 * detail::log_unit(u1));
  double sn, cs;
  detail::sincos_2pi(u2, sn, cs);
  z0 = rad * cs;
  z1 = rad * sn;
}

namespace detail {

/// x (an integer below 2^54, exactly representable when below 2^53 + 1) as a double, exactly:
/// the same value as static_cast<double>(x), computed from two 26/28-bit halves by the 2^52 trick
/// (vectorizable; there is no SIMD uint64 -> double conversion before AVX-512DQ).
inline double u64_to_double_exact(std::uint64_t x) {
  const double two52 = 4503599627370496.0;
  const double hi = from_bits((x >> 26) | 0x4330000000000000ull) - two52;
  const double lo = from_bits((x & 0x3FFFFFFull) | 0x4330000000000000ull) - two52;
  return hi * 67108864.0 + lo;  // hi 2^26 + lo: both exact, the sum is the integer x
}

constexpr Index kBatch = 64;  // counters per batch

/// z[2p], z[2p + 1] = the normal pair of counter q0 + p (p < np <= kBatch): the same numbers as
/// normal_pair, computed in structure-of-arrays loops that the compiler vectorizes.
inline void normal_batch(std::uint64_t seed, std::uint32_t stream, std::uint32_t i, std::uint64_t q0, Index np,
                         double* z) {
  alignas(64) std::uint32_t c0[kBatch], c1[kBatch], c2[kBatch], c3[kBatch];
  alignas(64) double u1[kBatch], u2[kBatch];
  alignas(64) std::uint64_t kq[kBatch];
  for (Index p = 0; p < np; ++p) {
    const std::uint64_t q = q0 + static_cast<std::uint64_t>(p);
    c0[p] = static_cast<std::uint32_t>(q);
    c1[p] = static_cast<std::uint32_t>(q >> 32);
    c2[p] = i;
    c3[p] = stream;
  }
  const std::uint64_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;
  std::uint32_t k0 = static_cast<std::uint32_t>(seed), k1 = static_cast<std::uint32_t>(seed >> 32);
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
#if defined(KKTUNLEARN_HAVE_OPENMP)
#pragma omp simd
#endif
    for (Index p = 0; p < np; ++p) {
      const std::uint64_t p0 = M0 * c0[p], p1 = M1 * c2[p];
      const std::uint32_t n0 = static_cast<std::uint32_t>(p1 >> 32) ^ c1[p] ^ k0;
      const std::uint32_t n2 = static_cast<std::uint32_t>(p0 >> 32) ^ c3[p] ^ k1;
      c1[p] = static_cast<std::uint32_t>(p1);
      c3[p] = static_cast<std::uint32_t>(p0);
      c0[p] = n0;
      c2[p] = n2;
    }
  }
#if defined(KKTUNLEARN_HAVE_OPENMP)
#pragma omp simd
#endif
  for (Index p = 0; p < np; ++p) {
    const std::uint64_t a = (static_cast<std::uint64_t>(c0[p]) << 32) | c1[p];
    const std::uint64_t b = (static_cast<std::uint64_t>(c2[p]) << 32) | c3[p];
    u1[p] = u64_to_double_exact((a >> 11) + 1) * 0x1.0p-53;
    u2[p] = u64_to_double_exact(b >> 11) * 0x1.0p-53;
    kq[p] = ((b >> 11) + (std::uint64_t(1) << 50)) >> 51;  // floor(4 u2 + 1/2), exactly, in 0..4
  }
  const double two52 = 4503599627370496.0;
#if defined(KKTUNLEARN_HAVE_OPENMP)
#pragma omp simd
#endif
  for (Index p = 0; p < np; ++p) {
    // ln u1 (as log_unit)
    // (branch-free: big = [f > 1.4142135623730951] from the bit patterns, f * 0.5 by the exponent)
    const std::uint64_t bb = bits_of(u1[p]);
    const std::uint64_t fb = (bb & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull;
    const std::uint64_t big = (0x3FF6A09E667F3BCDull - fb) >> 63;  // bits of 1.4142135623730951
    const double f = from_bits(fb - (big << 52));
    const double ed = from_bits(((bb >> 52) + big) | 0x4330000000000000ull) - (two52 + 1023.0);
    const double s = (f - 1.0) / (f + 1.0);
    const double s2 = s * s;
    double pl = 1.0 / 21.0;
    pl = pl * s2 + 1.0 / 19.0;
    pl = pl * s2 + 1.0 / 17.0;
    pl = pl * s2 + 1.0 / 15.0;
    pl = pl * s2 + 1.0 / 13.0;
    pl = pl * s2 + 1.0 / 11.0;
    pl = pl * s2 + 1.0 / 9.0;
    pl = pl * s2 + 1.0 / 7.0;
    pl = pl * s2 + 1.0 / 5.0;
    pl = pl * s2 + 1.0 / 3.0;
    pl = pl * s2 + 1.0;
    const double ln = ed * 6.93147180369123816490e-01 + (ed * 1.90821492927058770002e-10 + 2.0 * s * pl);
    const double rad = std::sqrt(-2.0 * ln);
    // sin, cos of 2 pi u2 (as sincos_2pi): k = floor(4 u2 + 1/2), computed exactly
    const std::uint64_t kb = kq[p];
    const double kd = from_bits(kb | 0x4330000000000000ull) - two52;
    const double t = (u2[p] - kd * 0.25) * 6.283185307179586;
    const double t2 = t * t;
    double ps = -1.0 / 1307674368000.0;
    ps = ps * t2 + 1.0 / 6227020800.0;
    ps = ps * t2 - 1.0 / 39916800.0;
    ps = ps * t2 + 1.0 / 362880.0;
    ps = ps * t2 - 1.0 / 5040.0;
    ps = ps * t2 + 1.0 / 120.0;
    ps = ps * t2 - 1.0 / 6.0;
    const double sn = t + t * t2 * ps;
    double pc = 1.0 / 20922789888000.0;
    pc = pc * t2 - 1.0 / 87178291200.0;
    pc = pc * t2 + 1.0 / 479001600.0;
    pc = pc * t2 - 1.0 / 3628800.0;
    pc = pc * t2 + 1.0 / 40320.0;
    pc = pc * t2 - 1.0 / 720.0;
    pc = pc * t2 + 1.0 / 24.0;
    pc = pc * t2 - 0.5;
    const double cs = 1.0 + t2 * pc;
    // quadrant k mod 4 by bit operations (select by mask, negate by the sign bit)
    const std::uint64_t odd = 0 - (kb & 1u);
    const std::uint64_t snb = bits_of(sn), csb = bits_of(cs);
    const double sv = from_bits(((csb & odd) | (snb & ~odd)) ^ ((kb & 2u) << 62));
    const double cv = from_bits(((snb & odd) | (csb & ~odd)) ^ (((kb + 1u) & 2u) << 62));
    z[2 * p] = rad * cv;
    z[2 * p + 1] = rad * sv;
  }
}

}  // namespace detail

/// out[c] = T(scale * z(i, j0 + c)) for c in [0, len): one row segment (the product in double,
/// then one rounding to T).
/// With v != nullptr: out[c] = T(scale * z(i, j0 + c) + coef * v[c]) (both products and the sum
/// in double, one rounding to T): the rows of the data generators.
/// (The kernel itself, compiled per CPU variant in cpp/kernels/rng.cpp; call normal_row.)
template <class T>
void normal_row_kernel(std::uint64_t seed, std::uint32_t stream, std::uint32_t i, std::uint64_t j0, Index len,
                       double scale, T* out, const double* v = nullptr, double coef = 0.0) {
  constexpr Index CH = detail::kBatch;
  alignas(64) double zb[2 * CH];
  const std::uint64_t j1 = j0 + static_cast<std::uint64_t>(len);
  std::uint64_t q = j0 >> 1;
  const std::uint64_t qend = (j1 + 1) >> 1;
  while (q < qend) {
    const Index np = static_cast<Index>(std::min<std::uint64_t>(CH, qend - q));
    detail::normal_batch(seed, stream, i, q, np, zb);
    // columns 2q .. 2(q + np) - 1 are in zb; copy the part inside [j0, j1)
    const std::uint64_t c0 = std::max<std::uint64_t>(2 * q, j0), c1 = std::min<std::uint64_t>(2 * (q + np), j1);
    if (v == nullptr) {
      for (std::uint64_t c = c0; c < c1; ++c) out[c - j0] = static_cast<T>(scale * zb[c - 2 * q]);
    } else {
      for (std::uint64_t c = c0; c < c1; ++c) out[c - j0] = static_cast<T>(scale * zb[c - 2 * q] + coef * v[c - j0]);
    }
    q += static_cast<std::uint64_t>(np);
  }
}

template <class T>
void normal_row(std::uint64_t seed, std::uint32_t stream, std::uint32_t i, std::uint64_t j0, Index len, double scale,
                T* out, const double* v = nullptr, double coef = 0.0) {
  const dense::Kernels& k = dense::active();
  if constexpr (std::is_same<T, double>::value) {
    k.normal_row_d(seed, stream, i, j0, len, scale, out, v, coef);
  } else {
    k.normal_row_f(seed, stream, i, j0, len, scale, out, v, coef);
  }
}

/// out (rows x cols block, leading dimension ld) = T(scale * z(row0 + r, col0 + c)), parallel over
/// fixed (row, 4096-column) tiles: every entry is computed alone, so any thread count and any
/// tiling give the same bits.
/// With v (cols doubles) and coef (rows doubles): out(r, c) = T(scale * z + coef[r] * v[c]).
template <class T>
void normal_fill(std::uint64_t seed, std::uint32_t stream, Index row0, Index rows, Index col0, Index cols,
                 double scale, T* out, Index ld, int n_threads, const double* v = nullptr,
                 const double* coef = nullptr) {
  require(row0 >= 0 && rows >= 0 && col0 >= 0 && cols >= 0, "normal_fill: negative block");
  require(row0 + rows <= (Index(1) << 32), "normal_fill: row index beyond 2^32");
  parallel_tiles(rows, cols, 1, 4096, n_threads, [&](Index r0, Index r1, Index c0, Index c1) {
    for (Index r = r0; r < r1; ++r)
      normal_row<T>(seed, stream, static_cast<std::uint32_t>(row0 + r), static_cast<std::uint64_t>(col0 + c0), c1 - c0,
                    scale, out + r * ld + c0, v ? v + c0 : nullptr, coef ? coef[r] : 0.0);
  });
}

/// Rows generated on the fly instead of read from memory: X(r, c) = T(scale * z(seed, stream, row0 + r, c)
/// [+ coef[r] * v[c]]), normal_fill's entries (v: cols doubles, coef: rows doubles, both or neither).
struct RowGen {
  std::uint64_t seed = 0;
  std::uint32_t stream = 0;
  Index row0 = 0, rows = 0, cols = 0;
  double scale = 1.0;
  const double* v = nullptr;
  const double* coef = nullptr;
};

namespace detail {

template <class T>
using SubBlock = Eigen::Map<const RowMatrix<T>, 0, Eigen::OuterStride<>>;

/// X's 512-column sub-blocks read from memory.
template <class T>
struct MemRows {
  const MatRef<T>& X;
  Index rows() const { return X.rows(); }
  Index cols() const { return X.cols(); }
  SubBlock<T> sub(Index s0, Index w, RowMatrix<T>&) const {
    return SubBlock<T>(X.data() + s0, X.rows(), w, Eigen::OuterStride<>(X.outerStride()));
  }
};

/// X's 512-column sub-blocks generated into the task's buffer (n x 512), the same entries as
/// normal_fill gives the materialized X.
template <class T>
struct GenRows {
  const RowGen& g;
  Index rows() const { return g.rows; }
  Index cols() const { return g.cols; }
  SubBlock<T> sub(Index s0, Index w, RowMatrix<T>& buf) const {
    if (buf.rows() != g.rows || buf.cols() < w) buf.resize(g.rows, 512);
    normal_fill<T>(g.seed, g.stream, g.row0, g.rows, s0, w, g.scale, buf.data(), buf.cols(), 1,
                   g.v ? g.v + s0 : nullptr, g.coef);
    return SubBlock<T>(buf.data(), g.rows, w, Eigen::OuterStride<>(buf.cols()));
  }
};

template <class T, class Src>
void normal_preacts_impl(const Src& X, std::uint64_t seed, std::uint32_t stream, Index m, double scale,
                         RowMatrix<T>& Z0, Vectord& rowsq, int n_threads, const MatRef<T>* E, RowMatrix<T>* XE) {
  const Index n = X.rows(), d = X.cols();
  require(m >= 0 && m <= (Index(1) << 32), "normal_preacts: m out of range");
  require((E == nullptr) == (XE == nullptr), "normal_preacts: E and XE go together");
  require(E == nullptr || E->cols() == d, "normal_preacts: E must have as many columns as X");
  const Index ke = E ? E->rows() : 0;
  Z0.setZero(n, m);
  rowsq.setZero(m);
  if (XE) XE->setZero(n, ke);
  if (m == 0 && ke > 0) {  // nothing to generate: the extra product alone
    RowMatrix<double> acc = RowMatrix<double>::Zero(n, ke);
    RowMatrix<double> Xd, Ed;
    RowMatrix<T> buf;
    for (Index s0 = 0; s0 < d; s0 += 512) {
      const Index w = std::min<Index>(512, d - s0);
      const SubBlock<T> xs = X.sub(s0, w, buf);
      if constexpr (std::is_same<T, double>::value) {
        dense::gemm(1.0, xs, false, E->middleCols(s0, w), true, 1.0, acc);
      } else {
        dense::widen(xs, Xd);
        dense::widen(E->middleCols(s0, w), Ed);
        dense::gemm(1.0, Xd, false, Ed, true, 1.0, acc);
      }
    }
    *XE = acc.template cast<T>();
    return;
  }
  if (m == 0 || d == 0) return;
  const Index RB = 128, SB = 512;
  const Index rb = std::min(m, RB);
  const Index nrb = (m + rb - 1) / rb;
  // number of column chunks: enough tasks for 16 threads, chunks of >= 4 sub-blocks, partials <= 64 MB
  Index C = std::max<Index>(1, (16 + nrb - 1) / nrb);
  C = std::min<Index>(C, std::max<Index>(1, d / (4 * SB)));
  C = std::min<Index>(C, std::max<Index>(1, (Index(8) << 20) / std::max<Index>(1, n * m)));
  const Index cw = ((d + C - 1) / C + SB - 1) / SB * SB;  // chunk width, a multiple of SB
  C = (d + cw - 1) / cw;
  std::vector<RowMatrix<double>> part(static_cast<std::size_t>(C));
  std::vector<RowMatrix<double>> part_e(static_cast<std::size_t>(ke > 0 ? C : 0));
  std::vector<double> psq(static_cast<std::size_t>(C * m), 0.0);  // psq[c m + j]: chunk c's part of rowsq_j
  for (auto& p : part) p.setZero(n, m);
  for (auto& p : part_e) p.setZero(n, ke);
  const Index ntasks = C * nrb;
  const int nt = static_cast<int>(std::min<Index>(resolve_threads(n_threads), ntasks));
  ExceptionCollector ex;
  auto task = [&](Index t) {
    const Index c = t / nrb, b = t % nrb;
    const Index r0 = b * rb, r1 = std::min(m, r0 + rb), nr = r1 - r0;
    const Index k0 = c * cw, k1 = std::min(d, k0 + cw);
    RowMatrix<T> Wt(nr, SB), buf;
    RowMatrix<double> Wd, Xd, Ed;
    double* sq = psq.data() + c * m + r0;
    auto P = part[static_cast<std::size_t>(c)].middleCols(r0, nr);
    for (Index s0 = k0; s0 < k1; s0 += SB) {
      const Index w = std::min(SB, k1 - s0);
      for (Index r = 0; r < nr; ++r)
        normal_row<T>(seed, stream, static_cast<std::uint32_t>(r0 + r), static_cast<std::uint64_t>(s0), w, scale,
                      Wt.data() + r * SB);
      for (Index r = 0; r < nr; ++r) {
        const T* wr = Wt.data() + r * SB;
        double acc = 0.0;
        for (Index k = 0; k < w; ++k) acc += static_cast<double>(wr[k]) * static_cast<double>(wr[k]);
        sq[r] += acc;
      }
      const bool extra = ke > 0 && b == 0;
      const SubBlock<T> xs = X.sub(s0, w, buf);
      if constexpr (std::is_same<T, double>::value) {
        dense::gemm(1.0, xs, false, Wt.leftCols(w), true, 1.0, P);
        if (extra)
          dense::gemm(1.0, xs, false, E->middleCols(s0, w), true, 1.0, part_e[static_cast<std::size_t>(c)]);
      } else {
        dense::widen(xs, Xd);
        dense::widen(Wt.leftCols(w), Wd);
        dense::gemm(1.0, Xd, false, Wd, true, 1.0, P);
        if (extra) {
          dense::widen(E->middleCols(s0, w), Ed);
          dense::gemm(1.0, Xd, false, Ed, true, 1.0, part_e[static_cast<std::size_t>(c)]);
        }
      }
    }
  };
  if (nt <= 1) {
    for (Index t = 0; t < ntasks; ++t) task(t);
  } else {
#ifdef KKTUNLEARN_HAVE_OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
#endif
    for (Index t = 0; t < ntasks; ++t) ex.run([&] { task(t); });
    ex.rethrow();
  }
  RowMatrix<double> acc = part[0];
  for (Index c = 1; c < C; ++c) acc += part[static_cast<std::size_t>(c)];
  Z0 = acc.template cast<T>();
  if (ke > 0) {
    RowMatrix<double> acc_e = part_e[0];
    for (Index c = 1; c < C; ++c) acc_e += part_e[static_cast<std::size_t>(c)];
    *XE = acc_e.template cast<T>();
  }
  for (Index c = 0; c < C; ++c)
    for (Index j = 0; j < m; ++j) rowsq[j] += psq[static_cast<std::size_t>(c * m + j)];
}

}  // namespace detail

/// The fused kernel: Z0 = X W0^T (n x m) and the row norms rowsq_j = sum_k W0_jk^2 (float64) for W0
/// (m x d) with entries T(scale * z(j, k)) of (seed, stream), W0 generated tile by tile and never
/// held at m x d. n = 0 is allowed (then only rowsq is computed).
///
/// Work split (from the shapes only, never from the thread count): W0 rows in blocks of up to 128
/// (X is streamed once per row block) and the d columns in C chunks; task (row block, chunk)
/// computes its partial product in double, sub-block by sub-block of 512 columns, and the
/// partials (and the per-chunk row norms) are summed in chunk order. So the result is bit-identical
/// for any thread count.
/// float: X and W0 tiles are converted to double before the product (exact products, double
/// sums), Z0 is rounded to float once at the end.
///
/// With E (k x d) and XE: also XE = X E^T (n x k) in the same pass over X. The row-block-0 task of each
/// chunk multiplies every 512-column sub-block of X it has just used (still in cache) by E's sub-block
/// too, into a per-chunk partial summed in chunk order like Z0's (float: in double, one rounding to T at
/// the end). Bit-identical for any thread count; not the bits of a separate X E^T product.
template <class T>
void normal_preacts(const MatRef<T>& X, std::uint64_t seed, std::uint32_t stream, Index m, double scale,
                    RowMatrix<T>& Z0, Vectord& rowsq, int n_threads, const MatRef<T>* E = nullptr,
                    RowMatrix<T>* XE = nullptr) {
  detail::normal_preacts_impl<T>(detail::MemRows<T>{X}, seed, stream, m, scale, Z0, rowsq, n_threads, E, XE);
}

/// normal_preacts with X generated on the fly (RowGen), never held in memory: each task generates the
/// n x 512 sub-block it multiplies (n x 512 T per task), with the entries normal_fill gives the
/// materialized X. The same arithmetic on the same numbers in the same order, so the same bits as
/// normal_preacts on normal_fill's matrix, for any thread count. With m > 128, each 128-row block of
/// W0 generates X's sub-blocks again.
template <class T>
void normal_preacts_generated(const RowGen& X, std::uint64_t seed, std::uint32_t stream, Index m, double scale,
                              RowMatrix<T>& Z0, Vectord& rowsq, int n_threads, const MatRef<T>* E = nullptr,
                              RowMatrix<T>* XE = nullptr) {
  require(X.row0 >= 0 && X.rows >= 0 && X.cols >= 0, "normal_preacts_generated: negative block");
  require(X.row0 + X.rows <= (Index(1) << 32), "normal_preacts_generated: row index beyond 2^32");
  require((X.v == nullptr) == (X.coef == nullptr), "normal_preacts_generated: v and coef go together");
  detail::normal_preacts_impl<T>(detail::GenRows<T>{X}, seed, stream, m, scale, Z0, rowsq, n_threads, E, XE);
}

}  // namespace rng
}  // namespace kktunlearn
