#!/usr/bin/env bash
# Profile and drift benchmark (see docs/performance.md, "Profiles and drift").
#
#   bench/drift.sh [--rows N] [--reps R] [--dir DIR]
#
# Writes two CSV tables of N rows (default 1,000,000) and 20 columns — 12 numeric (floats with
# 6 to 9 significant digits, integers, a column with missing cells), 8 categorical (3 to 2,000
# distinct values) — a reference and a current one in which 5 columns have drifted. Then times,
# as the median of R runs (default 3):
#   - `cairn profile` of the reference (a file outside the cache: profiled each time), and its
#     reading speed in MB/s, per core used;
#   - `cairn drift CURRENT --against REF` with both profiles to compute (cold: neither table is
#     in the cache);
#   - the same with pandas and SciPy (bench/drift_reference.py): read_csv of both tables, a
#     profile of each (describe, quantiles, value counts) and the tests cairn picks for a large
#     reference (normalised Wasserstein distance, Jensen-Shannon distance).
# Goal (issue 11): cairn >= 10x faster than pandas + SciPy, and reading >= 200 MB/s per core.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rows=1000000 reps=3
dir=${BENCH_DIR:-${TMPDIR:-/tmp}/cairn-bench-drift}
while [[ $# -gt 0 ]]; do
    case "$1" in
    --rows) rows=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    *) echo "usage: bench/drift.sh [--rows N] [--reps R] [--dir DIR]" >&2; exit 2 ;;
    esac
done
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
bench_cairn
py=/usr/bin/python3
"$py" -c 'import numpy, pandas, scipy' 2>/dev/null ||
    { echo "bench/drift.sh: needs Debian's python3-numpy, python3-pandas and python3-scipy (scripts/install-deps.sh --bench)" >&2; exit 1; }

mkdir -p "$dir" && cd "$dir"
if [[ ! -f ref.csv || ! -f cur.csv || "$(cat rows 2>/dev/null)" != "$rows" ]]; then
    echo "writing two tables of $rows rows (once per --rows)..." >&2
    "$py" - "$rows" <<'EOF'
import sys
import numpy as np
import pandas as pd

n = int(sys.argv[1])

def table(seed, shift):
    rng = np.random.default_rng(seed)
    cols = {}
    for i in range(8):
        cols[f"f{i}"] = np.round(rng.normal(10 * i + (shift if i < 3 else 0), 1 + i, n), 6)
    cols["count"] = rng.poisson(3 + (2 if shift else 0), n)
    cols["id"] = rng.integers(0, 10**9, n)
    cols["price"] = np.round(rng.lognormal(3, 1, n), 2)
    few = rng.normal(0, 1, n)
    few[rng.random(n) < 0.3] = np.nan
    cols["sparse"] = few
    cols["colour"] = rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2] if not shift else [0.3, 0.3, 0.4])
    cols["city"] = rng.choice([f"city{k}" for k in range(200)], n)
    cols["user"] = rng.choice([f"u{k:05d}" for k in range(2000)], n)
    cols["flag"] = rng.choice(["yes", "no"], n)
    cols["grade"] = rng.choice(list("ABCDEF"), n)
    cols["device"] = rng.choice(["ios", "android", "web", "tv"], n)
    cols["plan"] = rng.choice(["free", "pro", "team"], n, p=[0.7, 0.2, 0.1])
    cols["region"] = rng.choice([f"r{k}" for k in range(30)], n)
    return pd.DataFrame(cols)

table(1, 0.0).to_csv("ref.csv", index=False)
table(2, 0.5).to_csv("cur.csv", index=False)
EOF
    echo "$rows" > rows
fi
# A fresh repository each time, the tables untracked (outside the cache: profiled every time).
rm -rf repo && mkdir repo && cp ref.csv cur.csv repo/ && cd repo
git init -q && "$cairn" init >/dev/null
mb=$(echo "$(stat -c %s ref.csv) / 1000000" | bc -l)
cores=$(nproc)

cat ref.csv cur.csv >/dev/null # in the page cache for every contender
ms() { echo $(($1 / 1000)); }
one=$(CAIRN_JOBS=1 time_us "$reps" "$cairn" profile ref.csv) || exit 1
prof=$(time_us "$reps" "$cairn" profile ref.csv) || exit 1
drift=$(time_us "$reps" "$cairn" drift cur.csv --against ref.csv --fail-on never) || exit 1
pyms=$(time_us "$reps" "$py" "$root/bench/drift_reference.py" ref.csv cur.csv) || exit 1
one=$(ms "$one") prof=$(ms "$prof") drift=$(ms "$drift") pyms=$(ms "$pyms")

printf 'tables: %d rows x 20 columns, %.0f MB each (%s cores)\n' "$rows" "$mb" "$cores"
printf 'cairn profile, 1 thread: %d ms, %.0f MB/s per core (goal >= 200)\n' "$one" "$(echo "$mb * 1000 / $one" | bc -l)"
printf 'cairn profile, %d threads: %d ms, %.0f MB/s\n' "$cores" "$prof" "$(echo "$mb * 1000 / $prof" | bc -l)"
printf 'cairn drift (both tables profiled): %d ms\n' "$drift"
printf 'pandas read_csv + profile + SciPy tests: %d ms\n' "$pyms"
printf 'ratio pandas+SciPy / cairn drift: %.1fx (goal >= 10x)\n' "$(echo "$pyms / $drift" | bc -l)"
