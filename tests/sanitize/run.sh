#!/usr/bin/env bash
# Sanitizer stage of CI (called by .ci/run after the normal tests, inside its virtual environment).
#
# Rebuilds the extension with AddressSanitizer + UndefinedBehaviorSanitizer (CMake option
# KKTUNLEARN_SANITIZE, in its own build dir), installs it over the normal build in the active
# environment, and runs the test subset listed in tests/sanitize/subset.txt with the sanitizer runtime
# preloaded (CPython itself is not instrumented). Fails on any test failure and on any sanitizer
# report (reports are also written to files, so a report from a child process that exits 0 is not
# missed).
#
#   tests/sanitize/run.sh [extra pytest args]
#   tests/sanitize/run.sh --build-wheel DIR    only build the sanitized wheel into DIR (CI runs this in
#                                              the background while single-core stages run)
#   KKT_SANITIZE_WHEEL=WHEEL tests/sanitize/run.sh [...]   install that prebuilt wheel instead of building
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
start=$(date +%s)
san_opts=(-C cmake.define.KKTUNLEARN_TESTING=ON -C cmake.define.KKTUNLEARN_SANITIZE=ON -C build-dir=build/sanitize)

if [ "${1:-}" = "--build-wheel" ]; then
  python -m pip wheel --quiet --no-deps "${san_opts[@]}" --wheel-dir "$2" .
  echo "sanitized wheel built in $(( $(date +%s) - start )) s: $(ls "$2")"
  exit 0
fi
if [ -n "${KKT_SANITIZE_WHEEL:-}" ]; then
  python -m pip install --quiet --no-deps --force-reinstall "$KKT_SANITIZE_WHEEL"
else
  python -m pip install --quiet --no-deps --force-reinstall "${san_opts[@]}" .
fi

so=$(ls "$(python -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')"/kktunlearn/_core*.so)
asan=$(ldd "$so" | awk '/libasan/ {print $3}')
ubsan=$(ldd "$so" | awk '/libubsan/ {print $3}')
if [ -z "$asan" ]; then
  echo "sanitize: $so is not linked against libasan (was KKTUNLEARN_SANITIZE applied?)" >&2
  exit 1
fi

# libstdc++ must be loaded with the runtime: CPython does not link it, and ASan's __cxa_throw
# interceptor then has no real function to call (a C++ exception would abort the process)
stdcxx=$(ldd "$so" | awk '/libstdc\+\+/ {print $3}')

reports=$(mktemp -d)
mapfile -t subset < <(grep -v '^\s*#' tests/sanitize/subset.txt | grep -v '^\s*$')
export LD_PRELOAD="$asan${stdcxx:+ $stdcxx}${ubsan:+ $ubsan}"
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:detect_odr_violation=0:log_path=$reports/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan"
export KKT_FUZZ_SCALE=${KKT_FUZZ_SCALE:-1}
export KKT_SANITIZE=1  # tests relax their latency bounds (instrumented kernels are ~10x slower)
# self-check: a deliberate heap-buffer-overflow must be reported (proves the runtime is active)
if python -c "import kktunlearn._core as c; c._testing.read_heap(4)" 2>/dev/null; then
  echo "sanitize: AddressSanitizer did not report a deliberate overflow; the stage is not effective" >&2
  exit 1
fi
rm -f "$reports"/*
python -c "import kktunlearn._core as c; c._testing.throw_in_parallel(100, 3, [5], 'invalid', False, 2)" 2>/dev/null \
  && { echo "sanitize: expected a ValueError from the self-check" >&2; exit 1; }
if compgen -G "$reports/*" >/dev/null; then
  echo "sanitize: an exception thrown inside an OpenMP region produced a sanitizer report:" >&2
  cat "$reports"/* >&2
  exit 1
fi
# run from the tests folder's parent, importing the installed (sanitized) package
status=0
python -m pytest "${subset[@]}" -q -p no:cacheprovider "$@" || status=$?
unset LD_PRELOAD

if compgen -G "$reports/*" >/dev/null; then
  echo "sanitize: sanitizer reports were written:" >&2
  for f in "$reports"/*; do echo "== $f" >&2; head -60 "$f" >&2; done
  status=1
fi
echo "sanitizer stage finished in $(( $(date +%s) - start )) s (status $status)"
exit $status
