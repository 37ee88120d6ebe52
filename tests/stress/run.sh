#!/usr/bin/env bash
# The long form of the stress campaign (tests/e2e/test_stress.cpp): every scenario with N trials.
# Usage: tests/stress/run.sh [--trials N] [--seed S] [--runs R] [--build DIR] [scenario-tag-filter]
# Prints one line per scenario ("stress <scenario>: N trials, M failed") and a total; exits 1 if
# any trial failed. Failed trials print the seed and delay that reproduce them.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${CAIRN_BUILD_DIR:-$root/build}
trials=20 seed=1 runs=64 filter="[stress]"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --trials) trials=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --build) build=$2; shift 2 ;;
        -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
        *) filter=$1; shift ;;
    esac
done
exe=$build/tests/cairn_e2e_tests
[[ -x $exe ]] || { echo "tests/stress/run.sh: $exe not built (run scripts/test.sh or scripts/build.sh -DCAIRN_TESTS=ON)" >&2; exit 2; }
log=$(mktemp "${TMPDIR:-/tmp}/cairn-stress.XXXXXX")
start=$(date +%s)
set +e
CAIRN_STRESS_TRIALS=$trials CAIRN_STRESS_SEED=$seed CAIRN_STRESS_RUNS=$runs "$exe" "$filter" >"$log" 2>&1
rc=$?
set -e
grep '^stress ' "$log" || true
total=$(grep '^stress ' "$log" | awk '{t+=$3; f+=$5} END {printf "%d trials, %d failed", t, f}')
echo "total: $total (seed $seed, $(( $(date +%s) - start )) s)"
if [[ $rc -ne 0 ]]; then
    echo "failures: see $log"
    grep -E 'FAILED|with expansion|seed [0-9]+' "$log" | head -40
    exit 1
fi
rm -f "$log"
