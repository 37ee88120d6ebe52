#!/usr/bin/env bash
# The README's first command: installs what is missing, builds cairn, and runs the example
# experiment in examples/ end to end in a scratch copy (your checkout is not touched).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${CAIRN_BUILD_DIR:-$root/build}

"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
export PATH="$build/cli:$PATH"

work=$(mktemp -d "${TMPDIR:-/tmp}/cairn-demo.XXXXXX")
cp -r "$root/examples/." "$work/"
echo "== demo workspace: $work"
cd "$work"
bash ./demo.sh
