// kktunlearn: common types, errors and the OpenMP helpers shared by every kernel.
// Plain C++17 + Eigen (+ OpenMP when available). No Python headers, nothing prints.
#pragma once

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#ifdef KKTUNLEARN_HAVE_OPENMP
#include <omp.h>
#endif

// The solvers that work on float64 data whatever the input's scalar type (NNLS, the KKT problem and its
// Clarke QP, the cubic subproblem, the symmetric eigendecomposition) are declared in their headers and
// compiled once, in cpp/src/solvers.cpp, which defines KKTUNLEARN_COMPILE_<HEADER> before including the
// header: a binding file instantiating a kernel for float and double then no longer compiles them twice.
// Define KKTUNLEARN_HEADER_ONLY to make every solver body inline instead (no cpp/src; the dense kernels
// of cpp/kernels are still linked, for dense::builtin_kernels).
#ifdef KKTUNLEARN_HEADER_ONLY
#define KKTUNLEARN_SOLVER inline
#else
#define KKTUNLEARN_SOLVER
#endif

namespace kktunlearn {

using Index = Eigen::Index;

template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using Vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;
template <class T>
using MatRef = Eigen::Ref<const RowMatrix<T>>;
template <class T>
using VecRef = Eigen::Ref<const Vector<T>>;

using RowMatrixd = RowMatrix<double>;
using Vectord = Vector<double>;

/// Error in the arguments given to a kernel (the Python layer validates first; this is the backstop).
class InvalidArgument : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// A numerical failure (divergence, singular system, no convergence where convergence is required).
class NumericalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Raised from inside long loops when the caller's progress callback asks to stop (Ctrl-C).
class Interrupted : public std::runtime_error {
 public:
  Interrupted() : std::runtime_error("interrupted") {}
};

/// Cooperative cancellation for long serial loops (solvers): the caller passes a check that
/// returns true when the work should stop (e.g. Ctrl-C seen by the Python binding, which rate-limits
/// its checks); the loop calls check_stop() once per iteration, outside any parallel region.
using StopCheck = std::function<bool()>;
inline void check_stop(const StopCheck& stop) {
  if (stop && stop()) throw Interrupted();
}

inline void require(bool cond, const std::string& msg) {
  if (!cond) throw InvalidArgument(msg);
}

/// Largest team a kernel starts: max(256, 4 x the processors). More threads than that only
/// oversubscribe the machine, and asking libgomp for tens of thousands makes it abort the process
/// ("Thread creation failed"). Results do not depend on the team size (fixed block splits), so
/// clamping never changes a number.
inline int max_team_size() {
#ifdef KKTUNLEARN_HAVE_OPENMP
  return std::max(256, 4 * omp_get_num_procs());
#else
  return 1;
#endif
}

/// Number of OpenMP threads for a call: n_threads > 0 is taken as is (clamped to
/// max_team_size()), anything else means the OpenMP default (omp_get_max_threads(), which
/// OMP_NUM_THREADS and threadpoolctl control).
inline int resolve_threads(int n_threads) {
#ifdef KKTUNLEARN_HAVE_OPENMP
  return std::min(max_team_size(), n_threads > 0 ? n_threads : std::max(1, omp_get_max_threads()));
#else
  (void)n_threads;
  return 1;
#endif
}

inline bool have_openmp() {
#ifdef KKTUNLEARN_HAVE_OPENMP
  return true;
#else
  return false;
#endif
}

/// Captures the first exception thrown inside an OpenMP region so that it can be re-thrown on
/// the calling thread after the region (an exception escaping a parallel region terminates).
class ExceptionCollector {
 public:
  template <class F>
  void run(F&& f) noexcept {
    try {
      f();
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!eptr_) eptr_ = std::current_exception();
    }
  }
  void rethrow() {
    if (eptr_) std::rethrow_exception(eptr_);
  }

 private:
  std::mutex mu_;
  std::exception_ptr eptr_;
};

/// Run f(begin, end) over [0, total) split into fixed-size blocks, the blocks distributed over
/// threads. Because the block boundaries do not depend on the thread count, a kernel whose blocks
/// are independent gives bit-identical results for any number of threads.
template <class F>
void parallel_blocks(Index total, Index block, int n_threads, F&& f) {
  if (total <= 0) return;
  block = std::max<Index>(1, block);
  const Index nblocks = (total + block - 1) / block;
  const int nt = static_cast<int>(std::min<Index>(resolve_threads(n_threads), nblocks));
  if (nt <= 1) {
    for (Index b = 0; b < nblocks; ++b) f(b * block, std::min(total, (b + 1) * block));
    return;
  }
  ExceptionCollector ex;
#ifdef KKTUNLEARN_HAVE_OPENMP
#pragma omp parallel for schedule(static) num_threads(nt)
#endif
  for (Index b = 0; b < nblocks; ++b) {
    ex.run([&] { f(b * block, std::min(total, (b + 1) * block)); });
  }
  ex.rethrow();
}

/// Two-dimensional version: tiles of (row_block x col_block) over a rows x cols output.
template <class F>
void parallel_tiles(Index rows, Index cols, Index row_block, Index col_block, int n_threads, F&& f) {
  if (rows <= 0 || cols <= 0) return;
  row_block = std::max<Index>(1, row_block);
  col_block = std::max<Index>(1, col_block);
  const Index nr = (rows + row_block - 1) / row_block;
  const Index nc = (cols + col_block - 1) / col_block;
  const Index ntiles = nr * nc;
  const int nt = static_cast<int>(std::min<Index>(resolve_threads(n_threads), ntiles));
  auto body = [&](Index t) {
    const Index br = t / nc, bc = t % nc;
    const Index r0 = br * row_block, c0 = bc * col_block;
    f(r0, std::min(rows, r0 + row_block), c0, std::min(cols, c0 + col_block));
  };
  if (nt <= 1) {
    for (Index t = 0; t < ntiles; ++t) body(t);
    return;
  }
  ExceptionCollector ex;
#ifdef KKTUNLEARN_HAVE_OPENMP
#pragma omp parallel for schedule(static) num_threads(nt)
#endif
  for (Index t = 0; t < ntiles; ++t) {
    ex.run([&] { body(t); });
  }
  ex.rethrow();
}

/// Accumulation policy for long inner products (over d). float kernels with more than
/// `threshold` terms convert `chunk`-column slices of their operands to double and multiply
/// those in double: the products of two floats are exact in double and the sums are double
/// sums, so the result is the correctly rounded float of a double-accurate value. Shorter
/// float sums (and all double kernels) run directly in T.
template <class T>
struct Accumulate {
  static constexpr Index threshold = 0;  // 0 = never convert
  static constexpr Index chunk = 0;
};
template <>
struct Accumulate<float> {
  static constexpr Index threshold = 4096;
  static constexpr Index chunk = 1024;
};

}  // namespace kktunlearn
