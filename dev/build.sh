#!/usr/bin/env bash
# Developer build: compile the extension into a private build dir and drop it next to the Python
# sources, so `PYTHONPATH=python python -m pytest` runs against this checkout without pip.
#   dev/build.sh [BUILD_DIR] [extra cmake args...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bdir=${1:-/tmp/kkt-build-$(echo "$root" | md5sum | cut -c1-8)}
shift || true
py=${PYTHON:-python3}
pbdir=$($py -c "import pybind11; print(pybind11.get_cmake_dir())")
cmake -S "$root" -B "$bdir" -DCMAKE_BUILD_TYPE=Release -Dpybind11_DIR="$pbdir" -DPython_EXECUTABLE="$(command -v $py)" "$@" >/dev/null
cmake --build "$bdir" -j2
for so in "$bdir"/_core*.so; do
  cp "$so" "$root/python/kktunlearn/"
  echo "built $(basename "$so") -> python/kktunlearn/"
done
