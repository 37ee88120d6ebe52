#!/usr/bin/env bash
# Pipeline benchmark (issue 10's figures, recorded in docs/performance.md, "Pipelines").
#
#   bench/pipeline.sh [--reps N] [--dir DIR]
#
# (a) A 20-stage chain over 1,000 tracked data files (10 KiB each, in 10 directories; each stage
#     depends on one directory and on the previous stage's output), everything up to date:
#     `cairn repro` and `cairn status` against `git status` in the same repository.
# (b) Run-cache hit: a stage whose 100 MiB output was deleted is restored from the cache by
#     `cairn repro`, against `cp` of the same bytes.
# Medians of N repetitions, warm page cache. Ratios are cairn / reference (lower is better).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
reps=11
dir=${BENCH_DIR:-${TMPDIR:-/tmp}/cairn-bench-pipeline}
while [[ $# -gt 0 ]]; do
    case "$1" in
    --reps) reps=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    *) echo "usage: bench/pipeline.sh [--reps N] [--dir DIR]" >&2; exit 2 ;;
    esac
done
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
bench_setup
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"

# --- (a) 20 stages, 1,000 files, nothing to do -------------------------------------------
git init -q a && cd a && "$cairn" init >/dev/null
python3 - <<'PY'
import os
for d in range(10):
    os.makedirs(f"data/d{d}", exist_ok=True)
    for f in range(100):
        with open(f"data/d{d}/f{f:03d}", "wb") as out:
            out.write(os.urandom(10240))
with open("cairn.yaml", "w") as y:
    y.write("stages:\n")
    for s in range(20):
        deps = [f"data/d{s % 10}"] + ([f"out/s{s-1}.txt"] if s else [])
        y.write(f"  s{s}:\n    cmd: mkdir -p out && ls {deps[0]} | wc -l > out/s{s}.txt\n")
        y.write("    deps:\n" + "".join(f"    - {d}\n" for d in deps))
        y.write(f"    outs:\n    - out/s{s}.txt\n")
PY
"$cairn" add data >/dev/null
git add -A && git commit -q -m init
"$cairn" repro >/dev/null 2>&1
git add -A && git commit -q -m lock
us_git=$(time_us "$reps" git status) || exit 1
us_repro=$(time_us "$reps" "$cairn" repro) || exit 1
us_status=$(time_us "$reps" "$cairn" status) || exit 1
printf '20 stages over 1,000 tracked files, up to date: git status %.1f ms, cairn repro %.1f ms (%.2fx), cairn status %.1f ms (%.2fx); goal <= 2x\n' \
    "$(echo "$us_git/1000" | bc -l)" "$(echo "$us_repro/1000" | bc -l)" "$(echo "$us_repro/$us_git" | bc -l)" \
    "$(echo "$us_status/1000" | bc -l)" "$(echo "$us_status/$us_git" | bc -l)"
cd ..

# --- (b) run-cache hit of a 100 MiB output -------------------------------------------------
git init -q b && cd b && "$cairn" init >/dev/null
head -c 104857600 /dev/urandom > ../big.src
cat > cairn.yaml <<YAML
stages:
  big:
    cmd: cp ../big.src model.bin
    outs:
    - model.bin
YAML
git add -A && git commit -q -m init
"$cairn" repro >/dev/null 2>&1
restore() { rm -f model.bin && "$cairn" repro; }
copy() { rm -f copy.bin && cp ../big.src copy.bin; }
us_restore=$(time_us "$reps" restore) || exit 1
us_cp=$(time_us "$reps" copy) || exit 1
printf 'run-cache restore of a 100 MiB output: cairn repro %.1f ms, cp %.1f ms (%.2fx); goal <= 1.5x\n' \
    "$(echo "$us_restore/1000" | bc -l)" "$(echo "$us_cp/1000" | bc -l)" "$(echo "$us_restore/$us_cp" | bc -l)"
cd "$dir/.." && rm -rf "$dir"
