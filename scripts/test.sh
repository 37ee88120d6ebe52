#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, and runs the whole test suite.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${CAIRN_BUILD_DIR:-$root/build}

"$root/scripts/install-deps.sh"
werror=OFF
[[ -n "${CI:-}" ]] && werror=ON
"$root/scripts/build.sh" -DCAIRN_TESTS=ON -DCAIRN_WERROR=$werror
cd "$build"
ctest --output-on-failure --parallel "${CAIRN_TEST_JOBS:-2}" "$@"
