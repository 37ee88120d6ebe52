#!/usr/bin/env bash
# Run-tracking benchmark (partial: see docs/performance.md, "Runs").
#
#   bench/runs.sh [--runs N] [--dir DIR]
#   bench/runs.sh --index-cost N [--dir DIR]
#
# --index-cost N: only the cost of keeping the run index up to date as runs are recorded. Records
# N runs (10 params, 5 metrics of 3 points, one after another) in two fresh repositories: one
# whose index exists (a `cairn ls` first: each recorded run is added to it) and one without an
# index (the recorder then leaves it alone); prints the time of each tenth of the runs in both.
#
# Reports: the overhead of `cairn run -- true` against bare `true` and `git commit --allow-empty`
# in the same repository; points per second through `cairn log metric` in a shell loop and
# through CAIRN_METRICS_FILE (1,000,000 points); `cairn ls --json` and a filtered, sorted `cairn ls`
# on N runs (each with 10 params and 5 metrics of 100 points, one input and one output) against
# `git for-each-ref`; `cairn lineage` upstream through three generations and downstream from an
# input that N/100 runs read, on those N runs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n_runs=1000
index_cost=0
dir=${BENCH_DIR:-${TMPDIR:-/tmp}/cairn-bench-runs}
while [[ $# -gt 0 ]]; do
    case "$1" in
    --runs) n_runs=$2; shift 2 ;;
    --index-cost) index_cost=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    *) echo "usage: bench/runs.sh [--runs N] [--dir DIR] | --index-cost N [--dir DIR]" >&2; exit 2 ;;
    esac
done
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
if ((index_cost > 0)); then
    bench_cairn
    tenth=$(( index_cost >= 10 ? index_cost / 10 : 1 ))
    for mode in with without; do
        d=$dir-index-$mode
        rm -rf "$d" && mkdir -p "$d" && cd "$d"
        git init -q && "$cairn" init >/dev/null && git commit -q --allow-empty -m init
        # An index exists once a listing has seen a run: record one, list, then time the others.
        "$cairn" run -- true >/dev/null 2>&1
        if [[ $mode == with ]]; then "$cairn" ls >/dev/null 2>&1; fi
        start=$(now_ms)
        from=$start
        line="index $mode:"
        for ((i = 1; i <= index_cost; i++)); do
            "$cairn" run -p a=$i -p b=$((i % 7)) -p c=0.$i -p d=x$i -p e=true -p f=1 -p g=2 -p h=3 -p j=4 -p k=$((i % 3)) \
                -- sh -c 'for s in 1 2 3; do echo "acc 0.$s $s"; echo "loss 1.$s $s"; echo "m3 $s $s"; echo "m4 $s $s"; echo "m5 $s $s"; done >> "$CAIRN_METRICS_FILE"' \
                >/dev/null 2>&1
            if ((i % tenth == 0)); then
                now=$(now_ms)
                line+=" $((now - from))"
                from=$now
            fi
        done
        size=$(cat .cairn/index/runs* 2>/dev/null | wc -c || true)
        echo "$line ms per $tenth runs; $index_cost runs in $(( $(now_ms) - start )) ms; index files $size bytes"
    done
    exit 0
fi
bench_setup
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
git init -q && "$cairn" init >/dev/null
mkdir -p in && for s in $(seq 0 99); do echo "source $s" > "in/s$s.txt"; done
printf 'out/\n' > .gitignore
git add -A && git commit -q -m init

per_call() { # label reps cmd...: prints ms per call
    local label=$1 reps=$2
    shift 2
    local s e
    s=$(now_ms)
    for ((i = 0; i < reps; i++)); do "$@" >/dev/null 2>&1; done
    e=$(now_ms)
    echo "$(( (e - s) * 1000 / reps ))" # microseconds
}
us_true=$(per_call true 200 true)
us_commit=$(per_call commit 100 git commit -q --allow-empty -m x)
us_run=$(per_call run 100 "$cairn" run -- true)
printf 'run overhead: cairn run -- true %.2f ms, git commit --allow-empty %.2f ms (ratio %.2f), true %.3f ms\n' \
    "$(echo "$us_run/1000" | bc -l)" "$(echo "$us_commit/1000" | bc -l)" "$(echo "$us_run/$us_commit" | bc -l)" \
    "$(echo "$us_true/1000" | bc -l)"

if command -v datalad >/dev/null; then
    # Outside the benchmark repository: a dataset is a git repository of its own.
    rm -rf "$dir-datalad" && datalad create "$dir-datalad" >/dev/null 2>&1
    us_datalad=$(cd "$dir-datalad" && per_call datalad 10 datalad run -m x true)
    printf 'datalad run true %.1f ms: cairn run is %.1fx faster\n' "$(echo "$us_datalad/1000" | bc -l)" \
        "$(echo "$us_datalad/$us_run" | bc -l)"
fi

s=$(now_ms)
"$cairn" run -n logloop -- sh -c "i=0; while [ \$i -lt 200 ]; do $cairn log metric m \$i; i=\$((i+1)); done" >/dev/null 2>&1
e=$(now_ms)
printf 'cairn log metric in a shell loop: %.0f points/s\n' "$(echo "200000/($e-$s)" | bc -l)"

python3 -c "
import sys
with open('points.txt','w') as f:
    for i in range(1000000): f.write(f'loss {i*1e-6} {i}\n')
"
s=$(now_ms)
"$cairn" run -n bulk -- sh -c 'cat points.txt >> "$CAIRN_METRICS_FILE"' >/dev/null 2>&1
e=$(now_ms)
printf 'CAIRN_METRICS_FILE: 1,000,000 points recorded in %.2f s (%.0f points/s, whole run)\n' \
    "$(echo "($e-$s)/1000" | bc -l)" "$(echo "1000000000/($e-$s)" | bc -l)"
rm -f points.txt

echo "creating $n_runs runs (10 params, 5 metrics x 100 points, one input and one output each) ..." >&2
make_run() {
    local i=$1
    "$cairn" run -p a=$i -p b=$((i % 7)) -p c=0.$i -p d=x$i -p e=true -p f=1 -p g=2 -p h=3 -p j=4 -p k=$((i % 3)) \
        -d "in/s$((i % 100)).txt" -o "out/r$i.txt" \
        -- sh -c 'for s in $(seq 1 100); do echo "acc 0.$(( (s + '"$i"') % 100 )) $s"; echo "loss 1.$s $s"; echo "m3 $s $s"; echo "m4 $s $s"; echo "m5 $s $s"; done >> "$CAIRN_METRICS_FILE"; mkdir -p out; echo '"$i"' > out/r'"$i"'.txt' \
        >/dev/null 2>&1
}
export -f make_run
export cairn
seq 1 "$n_runs" | xargs -P 2 -I{} bash -c 'make_run {}'
time_ms() { local s e; s=$(now_ms); "$@" >/dev/null 2>&1; e=$(now_ms); echo $((e - s)); }
rm -f .cairn/index/runs
rebuild_ms=$(time_ms "$cairn" ls) # builds the run index from the refs
ref_ms=$(time_ms git for-each-ref refs/cairn/runs)
ls_ms=$(time_ms "$cairn" ls --json)
filter_ms=$(time_ms "$cairn" ls --filter 'metrics.acc > 0.5' --sort -metrics.acc -n 20)
total=$(git for-each-ref refs/cairn/runs | wc -l)
printf 'on %d runs: git for-each-ref %d ms; cairn ls --json %d ms (%.1fx); cairn ls --filter ... --sort ... -n 20 %d ms (%.1fx); first ls without the index (rebuilds it) %d ms\n' \
    "$total" "$ref_ms" "$ls_ms" "$(echo "$ls_ms/($ref_ms+0.001)" | bc -l)" "$filter_ms" "$(echo "$filter_ms/($ref_ms+0.001)" | bc -l)" "$rebuild_ms"

# Lineage: three generations on top of the runs above, then queries on the whole set.
"$cairn" run -n gen1 -d out/r1.txt -o out/g1.txt -- sh -c 'cat out/r1.txt out/r1.txt > out/g1.txt' >/dev/null 2>&1
"$cairn" run -n gen2 -d out/g1.txt -o out/g2.txt -- sh -c 'cat out/g1.txt out/g1.txt > out/g2.txt' >/dev/null 2>&1
"$cairn" run -n gen3 -d out/g2.txt -o out/g3.txt -- sh -c 'cat out/g2.txt out/g2.txt > out/g3.txt' >/dev/null 2>&1
"$cairn" ls -n 1 >/dev/null 2>&1 # brings the index up to date
up_ms=$(time_ms "$cairn" lineage out/g3.txt)
down_ms=$(time_ms "$cairn" lineage in/s1.txt --downstream --format json)
consumers=$("$cairn" lineage in/s1.txt --downstream --format json | python3 -c 'import json,sys; print(sum(1 for n in json.load(sys.stdin)["nodes"] if n["type"]=="run"))')
printf 'lineage on %d runs: upstream through 4 runs %d ms (%.1fx for-each-ref); downstream from an input %d runs read %d ms (%.1fx)\n' \
    "$((total + 3))" "$up_ms" "$(echo "$up_ms/($ref_ms+0.001)" | bc -l)" "$consumers" "$down_ms" "$(echo "$down_ms/($ref_ms+0.001)" | bc -l)"
