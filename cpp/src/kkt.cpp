// The kkt solvers, compiled once for every module that uses them (see KKTUNLEARN_SOLVER in common.hpp).
#define KKTUNLEARN_COMPILE_KKT
#include <kktunlearn/kkt.hpp>
