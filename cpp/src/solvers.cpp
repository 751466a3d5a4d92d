// The float64 solvers, compiled once for every module that uses them (see KKTUNLEARN_SOLVER in
// common.hpp): NNLS (nnls.hpp), the KKT problem and its Clarke QP (kkt.hpp), the cubic subproblem and
// the symmetric eigendecomposition (cubic.hpp). One translation unit for the three, so that the Eigen
// decompositions they share (LLT, column-pivoting QR, the Householder and GEMM kernels) are compiled
// once: 20 s of compile here against 32 s as three files.
#define KKTUNLEARN_COMPILE_NNLS
#define KKTUNLEARN_COMPILE_KKT
#define KKTUNLEARN_COMPILE_CUBIC
#include <kktunlearn/cubic.hpp>
#include <kktunlearn/kkt.hpp>
#include <kktunlearn/nnls.hpp>
