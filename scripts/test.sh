#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, and runs the whole test suite.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${CAIRN_BUILD_DIR:-$root/build}

"$root/scripts/install-deps.sh"
werror=OFF
[[ -n "${CI:-}" ]] && werror=ON
"$root/scripts/build.sh" -DCAIRN_TESTS=ON -DCAIRN_WERROR=$werror
# s3rver, the S3 server the [s3] tests start (pinned in tests/s3rver/package-lock.json), into
# .cache/s3rver/; without node or npm it prints why and the S3 tests skip.
"$root/tests/s3rver/setup.sh"
(cd "$build" && ctest --output-on-failure --parallel "${CAIRN_TEST_JOBS:-2}" "$@")

# Then each libFuzzer target of tests/fuzz/ for a few seconds on a copy of its seed corpus, in
# build-fuzz/ (clang; skipped with the reason when clang or libFuzzer is missing, or when
# CAIRN_FUZZ_SECONDS=0). A crash, hang, leak or broken property fails the test command.
if [[ "${CAIRN_FUZZ_SECONDS:-3}" == 0 ]]; then
    echo "fuzz: skipped: CAIRN_FUZZ_SECONDS=0"
else
    "$root/tests/fuzz/run.sh" --if-available --seconds "${CAIRN_FUZZ_SECONDS:-3}" --seed 1 --jobs 2
fi
