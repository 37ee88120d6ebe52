#!/usr/bin/env bash
# Configures (once) and builds cairn in build/ (or $CAIRN_BUILD_DIR). Extra arguments go to cmake.
# Reuses an existing build directory, so a second run only rebuilds what changed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${CAIRN_BUILD_DIR:-$root/build}
jobs=${CAIRN_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [[ ! -f "$build/CMakeCache.txt" ]]; then
    cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
elif [[ $# -gt 0 ]]; then
    cmake "$build" "$@"
fi
cmake --build "$build" --parallel "$jobs"
