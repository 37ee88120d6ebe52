#!/usr/bin/env bash
# Sweep benchmark (see docs/performance.md, "Sweeps").
#
#   bench/sweep.sh [--trials N] [--jobs J] [--files F] [--dir DIR]
#
# In a repository of F tracked files (default 1,000), times a sweep of N trials (default 16) of
# `true` with --jobs J (default 2) and reports the wall time per trial against one plain
# `cairn run -- true` in the same repository (the goal: at most 3x). Each job slot materialises a
# worktree of the F files once; between its trials it is reset (only what a trial changed is
# rewritten). A last sweep has each trial edit params.yaml and write a declared output.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
trials=16 jobs=2 files=1000
dir=${BENCH_DIR:-${TMPDIR:-/tmp}/cairn-bench-sweep}
while [[ $# -gt 0 ]]; do
    case "$1" in
    --trials) trials=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --files) files=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    *) echo "usage: bench/sweep.sh [--trials N] [--jobs J] [--files F] [--dir DIR]" >&2; exit 2 ;;
    esac
done
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
bench_cairn
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
git init -q && "$cairn" init >/dev/null
for ((i = 0; i < files; i++)); do
    mkdir -p "src/d$((i / 100))" && echo "file $i" > "src/d$((i / 100))/f$i.py"
done
echo "trial: 0" > bench-params.yaml # only the last sweep reads it
git add -A && git commit -q -m init

# One plain run, the median of 5 (the first warms the page cache and the executable-hash cache).
"$cairn" run -- true >/dev/null 2>&1
plain=()
for _ in 1 2 3 4 5; do
    s=$(now_ms)
    "$cairn" run -- true >/dev/null 2>&1
    e=$(now_ms)
    plain+=($((e - s)))
done
plain_ms=$(printf '%s\n' "${plain[@]}" | sort -n | sed -n 3p)

s=$(now_ms)
"$cairn" run -j "$jobs" -p "trial=range(0,$trials)" -- true >/dev/null 2>&1
e=$(now_ms)
sweep_ms=$((e - s))
per_trial=$(echo "$sweep_ms / $trials" | bc -l)
printf 'plain cairn run -- true: %d ms (median of 5), %d tracked files\n' "$plain_ms" "$files"
printf 'sweep of %d trials of true, --jobs %d: %d ms, %.1f ms per trial, %.2fx a plain run (goal <= 3x)\n' \
    "$trials" "$jobs" "$sweep_ms" "$per_trial" "$(echo "$per_trial / $plain_ms" | bc -l)"
s=$(now_ms)
"$cairn" run -j 1 -p "trial=range(0,$trials)" -- true >/dev/null 2>&1
e=$(now_ms)
printf 'the same with --jobs 1: %d ms, %.1f ms per trial, %.2fx a plain run\n' "$((e - s))" \
    "$(echo "($e - $s) / $trials" | bc -l)" "$(echo "($e - $s) / $trials / $plain_ms" | bc -l)"
# Trials that change files: each edits a params file and writes a declared output, against a
# plain run doing the same (storing the output costs a syncfs, whatever the worktree).
write_out='mkdir -p out && echo "$CAIRN_PARAM_TRIAL" > out/result.txt'
plain=()
for t in 1 2 3 4 5; do
    s=$(now_ms)
    "$cairn" run -p "trial=$t" --params bench-params.yaml -o out -- sh -c "$write_out" >/dev/null 2>&1
    e=$(now_ms)
    plain+=($((e - s)))
done
rm -rf out
plain_out_ms=$(printf "%s\n" "${plain[@]}" | sort -n | sed -n 3p)
s=$(now_ms)
"$cairn" run -j "$jobs" -p "trial=range(0,$trials)" --params bench-params.yaml -o out -- \
    sh -c "$write_out" >/dev/null 2>&1
e=$(now_ms)
printf 'trials editing a params file and writing an output, --jobs %d: %.1f ms per trial, %.2fx such a plain run (%d ms, median of 5)\n' \
    "$jobs" "$(echo "($e - $s) / $trials" | bc -l)" "$(echo "($e - $s) / $trials / $plain_out_ms" | bc -l)" "$plain_out_ms"
