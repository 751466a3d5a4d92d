#!/usr/bin/env bash
# Developer build: compile the extension into a private build dir and drop it next to the Python
# sources, so `PYTHONPATH=python python -m pytest` runs against this checkout without pip.
#   dev/build.sh [BUILD_DIR] [extra cmake args...]
# The test-only bindings (kktunlearn._core._testing) are ON here, since the test-suite needs them;
# pass -DKKTUNLEARN_TESTING=OFF to build exactly what a wheel contains.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bdir=${1:-/tmp/kkt-build-$(echo "$root" | md5sum | cut -c1-8)}
shift || true
py=${PYTHON:-python3}
pbdir=$($py -c "import pybind11; print(pybind11.get_cmake_dir())")
cmake -S "$root" -B "$bdir" -DCMAKE_BUILD_TYPE=Release -Dpybind11_DIR="$pbdir" -DPython_EXECUTABLE="$(command -v $py)" -DKKTUNLEARN_TESTING=ON "$@" >/dev/null
cmake --build "$bdir" -j2
# drop the previous build's modules first: a stale _kernels_avx2/_kernels_avx512 from an earlier
# KKTUNLEARN_DISPATCH=ON build would otherwise be the one _dispatch.py loads
rm -f "$root"/python/kktunlearn/_core*.so "$root"/python/kktunlearn/_kernels_*.so
for so in "$bdir"/_core*.so "$bdir"/_kernels_*.so; do
  [ -e "$so" ] || continue
  cp "$so" "$root/python/kktunlearn/"
  echo "built $(basename "$so") -> python/kktunlearn/"
done
