// Test-only bindings (kktunlearn._core._testing): hooks that let the test-suite exercise failure
// paths of the core that normal inputs cannot reach, e.g. an exception thrown inside an OpenMP
// parallel region. Not part of the public API.
#include <atomic>

#include "bindings.hpp"

#include <kktunlearn/dense.hpp>
#include <kktunlearn/newton.hpp>

namespace kktunlearn {
namespace bind {

namespace {

// dense.hpp's adapters on every layout: row- or column-major blocks (inside larger matrices, so the
// leading dimension differs from the width) of operands and outputs; see tests/test_span.py
template <class T>
RowMatrix<T> dense_kernels(const std::string& kind, const RowMatrix<T>& A, bool ta, const RowMatrix<T>& B, bool tb,
                           const RowMatrix<T>& C, double alpha, double beta, bool col) {
  using ColMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
  auto embed = [](const RowMatrix<T>& M, auto& big) {
    big.setConstant(T(7));
    big.block(1, 2, M.rows(), M.cols()) = M;
  };
  if (kind == "gemm") {
    // operands and output all row-major or all column-major (`col`)
    auto run = [&](auto tag) -> RowMatrix<T> {
      using M = decltype(tag);
      M Ab(A.rows() + 3, A.cols() + 4), Bb(B.rows() + 2, B.cols() + 3), Cb(C.rows() + 3, C.cols() + 5);
      embed(A, Ab);
      embed(B, Bb);
      embed(C, Cb);
      dense::gemm(T(alpha), Ab.block(1, 2, A.rows(), A.cols()), ta, Bb.block(1, 2, B.rows(), B.cols()), tb, T(beta),
                  Cb.block(1, 2, C.rows(), C.cols()));
      return Cb.block(1, 2, C.rows(), C.cols());
    };
    return col ? run(ColMatrix()) : run(RowMatrix<T>());
  }
  if (kind == "syrk") {
    RowMatrix<T> Cb(C.rows() + 3, C.cols() + 5);
    embed(C, Cb);
    auto Cblk = Cb.block(1, 2, C.rows(), C.cols());
    dense::syrk_lower(A, Cblk);
    return Cblk;
  }
  if constexpr (std::is_same<T, double>::value) {
    if (kind == "gemv") {
      // A a row-major (or, with `col`, column-major) block; x and y contiguous
      Vectord x = B.col(0), y = C.col(0);
      auto run = [&](auto tag) {
        using M = decltype(tag);
        M Ab(A.rows() + 3, A.cols() + 4);
        embed(A, Ab);
        dense::gemv(alpha, Ab.block(1, 2, A.rows(), A.cols()), ta, x, beta, y);
      };
      if (col) run(ColMatrix()); else run(RowMatrix<T>());
      return y;
    }
    if (kind == "trsm") {
      ColMatrix Lb(A.rows() + 3, A.cols() + 4), Bb(B.rows() + 2, B.cols() + 3);
      embed(A, Lb);
      embed(B, Bb);
      auto Bblk = Bb.block(1, 2, B.rows(), B.cols());
      dense::trsm_lower(tb, ta, Lb.block(1, 2, A.rows(), A.cols()), Bblk);
      return Bblk;
    }
  }
  throw InvalidArgument("dense_kernels: unknown kind '" + kind + "' for this dtype");
}

}  // namespace

void bind_testing(py::module_& m) {
  py::module_ t = m.def_submodule("_testing", "Test-only hooks (not part of the API).");

  t.def("dense_kernels", &dense_kernels<double>, py::arg("kind"), py::arg("A"), py::arg("ta"), py::arg("B"),
        py::arg("tb"), py::arg("C"), py::arg("alpha"), py::arg("beta"), py::arg("col"));
  t.def("dense_kernels", &dense_kernels<float>, py::arg("kind"), py::arg("A").noconvert(), py::arg("ta"),
        py::arg("B").noconvert(), py::arg("tb"), py::arg("C").noconvert(), py::arg("alpha"), py::arg("beta"),
        py::arg("col"));

  // Run parallel_blocks (or parallel_tiles) over `total` items in blocks of `block`; every item
  // whose index is in `throw_at` throws an exception of `kind` ("invalid", "numerical", "runtime",
  // "bad_alloc", "int"). Returns the number of items processed (all of them when nothing throws).
  t.def(
      "throw_in_parallel",
      [](std::int64_t total, std::int64_t block, std::vector<std::int64_t> throw_at, const std::string& kind,
         bool tiles, int n_threads) {
        require(total >= 0 && block >= 1, "throw_in_parallel: total >= 0 and block >= 1 required");
        require(kind == "invalid" || kind == "numerical" || kind == "runtime" || kind == "bad_alloc" ||
                    kind == "int",
                "throw_in_parallel: unknown kind '" + kind + "'");
        std::vector<char> bad(static_cast<size_t>(total), 0);
        for (auto i : throw_at) {
          require(i >= 0 && i < total, "throw_in_parallel: throw_at index out of range");
          bad[static_cast<size_t>(i)] = 1;
        }
        std::atomic<std::int64_t> done{0};
        auto item = [&](Index i) {
          if (bad[static_cast<size_t>(i)]) {
            if (kind == "invalid") throw InvalidArgument("test: invalid argument at item " + std::to_string(i));
            if (kind == "numerical") throw NumericalError("test: numerical error at item " + std::to_string(i));
            if (kind == "bad_alloc") throw std::bad_alloc();
            if (kind == "int") throw 42;  // not derived from std::exception
            throw std::runtime_error("test: runtime error at item " + std::to_string(i));
          }
          done.fetch_add(1, std::memory_order_relaxed);
        };
        {
          py::gil_scoped_release nogil;
          if (tiles) {
            // total items laid out as a (total x 1) grid, tiles of (block x 1)
            parallel_tiles(total, 1, block, 1, n_threads, [&](Index r0, Index r1, Index, Index) {
              for (Index i = r0; i < r1; ++i) item(i);
            });
          } else {
            parallel_blocks(total, block, n_threads, [&](Index b0, Index b1) {
              for (Index i = b0; i < b1; ++i) item(i);
            });
          }
        }
        return done.load();
      },
      py::arg("total"), py::arg("block"), py::arg("throw_at"), py::arg("kind") = "runtime",
      py::arg("tiles") = false, py::arg("n_threads") = 0);

  // Reads element k of a 4-element heap array. k >= 4 is a deliberate heap-buffer-overflow: the
  // sanitizer stage of CI calls it once to prove that AddressSanitizer is active and reports.
  // Never called with k >= 4 by the normal tests.
  t.def(
      "read_heap",
      [](std::int64_t k) {
        std::vector<double> v(4, 1.0);
        volatile const double* p = v.data();
        return static_cast<double>(p[k]);
      },
      py::arg("k"));

  // `count` chi-square draws with k degrees of freedom from one mt19937_64 stream (SCureNewton's hidden part of
  // the perturbation; tests/test_state.py checks them against the chi-square law).
  t.def(
      "chi2_draws",
      [](std::uint64_t seed, std::int64_t k, std::int64_t count) {
        require(k >= 1 && count >= 0, "chi2_draws: k >= 1 and count >= 0 required");
        std::mt19937_64 rng(seed);
        Vectord out(count);
        for (std::int64_t i = 0; i < count; ++i) out[i] = detail::chi2_draw(rng, static_cast<Index>(k));
        return out;
      },
      py::arg("seed"), py::arg("k"), py::arg("count"));

  // Number of OpenMP threads that actually ran a parallel region of n_threads (0 = default).
  t.def(
      "threads_used",
      [](int n_threads) {
        std::atomic<int> mx{1};
        {
          py::gil_scoped_release nogil;
          parallel_blocks(1024, 1, n_threads, [&](Index, Index) {
#ifdef KKTUNLEARN_HAVE_OPENMP
            int nt = omp_get_num_threads();
            int cur = mx.load();
            while (nt > cur && !mx.compare_exchange_weak(cur, nt)) {
            }
#endif
          });
        }
        return mx.load();
      },
      py::arg("n_threads") = 0);
}

}  // namespace bind
}  // namespace kktunlearn
