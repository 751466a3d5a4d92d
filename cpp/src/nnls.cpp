// The nnls solvers, compiled once for every module that uses them (see KKTUNLEARN_SOLVER in common.hpp).
#define KKTUNLEARN_COMPILE_NNLS
#include <kktunlearn/nnls.hpp>
