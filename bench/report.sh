#!/usr/bin/env bash
# Report benchmark (issue 13): `cairn report` over N runs of S steps of 5 metrics each.
#
#   bench/report.sh [--runs N] [--steps S] [--reps R] [--dir DIR]
#
# One run is recorded by `cairn run`; the other N-1 are written as the same records with
# `git fast-import` (recording 1,000 runs of 50,000 points one by one would take minutes and
# measure nothing the report does): each its own run.yaml and params.yaml (lr, depth, seed vary),
# and one of 20 different metrics.tsv series (5 keys x S steps; libgit2 keeps no blob cache, so
# each run's series is inflated and parsed again as if distinct). The run index is built once
# (`cairn ls -n 1`, timed apart). Then times, as the median of R runs (default 3), `cairn report
# -o report.html` over every run and over the 50 best by loss, the first time (the series cache
# .cairn/state/series/ removed before each) and again (cached), and prints the file sizes.
# The runs cairn records itself get their series cut when they are recorded (run::commit_run);
# fast-import bypasses the recorder, so the script then runs the hidden `cairn fill-series-cache`,
# which cuts every run's series with the recorder's own function (its time is the recorder's
# extra cost summed over all runs), and times the first `cairn report` after it: the first report
# of runs recorded by cairn.
# Goal (issue 13): 1,000 runs x 10,000 steps x 5 metrics in under 3 s and under 10 MB.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=1000 steps=10000 reps=3
dir=${BENCH_DIR:-${TMPDIR:-/tmp}/cairn-bench-report}
while [[ $# -gt 0 ]]; do
    case "$1" in
    --runs) runs=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    *) echo "usage: bench/report.sh [--runs N] [--steps S] [--reps R] [--dir DIR]" >&2; exit 2 ;;
    esac
done
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
bench_cairn
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
git init -q && "$cairn" init >/dev/null && git add -A && git commit -q -m init
"$cairn" run -n r0 -p lr=0.1 -p depth=2 -p seed=0 -- sh -c 'echo "loss 1 0" >> "$CAIRN_METRICS_FILE"' >/dev/null 2>&1
first=$(git for-each-ref --format='%(refname)' refs/cairn/runs/ | head -1)
git show "$first:run.yaml" > template.yaml
snapshot=$(git rev-parse "$first^")

echo "writing $runs runs x $steps steps x 5 metrics with git fast-import..." >&2
s=$(now_ms)
python3 - "$runs" "$steps" "$snapshot" <<'PY' | git fast-import --quiet
import math, random, sys
runs, steps, snapshot = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
template = open("template.yaml").read().splitlines()
out = sys.stdout.buffer
mark = 0
def blob(data):
    global mark
    mark += 1
    out.write(b"blob\nmark :%d\ndata %d\n" % (mark, len(data)))
    out.write(data)
    out.write(b"\n")
    return mark
series = []
for v in range(20):
    rnd = random.Random(v)
    lines = []
    t = 200 + 50 * v
    for key, f in (("loss", lambda s: math.exp(-s / t) + 0.05), ("acc", lambda s: 1 - math.exp(-s / t) * 0.9),
                   ("val_loss", lambda s: math.exp(-s / t) + 0.08), ("lr", lambda s: 0.1 * 0.5 ** (s // 2500)),
                   ("grad_norm", lambda s: 2 * math.exp(-s / (2 * t)) + 0.1)):
        for s in range(steps):
            spike = 5.0 if (key == "grad_norm" and s % 3331 == 17) else 0.0
            lines.append("%s\t%d\t%.6g\t%d" % (key, s, f(s) * (1 + 0.02 * rnd.random()) + spike, 1700000000000 + s * 10))
    series.append(blob(("\n".join(lines) + "\n").encode()))
for i in range(1, runs):
    run_id = "%032x" % (0xbe000000 + i)
    yaml = []
    for line in template:
        if line.startswith("id: "): line = "id: " + run_id
        elif line.startswith("name: "): line = "name: run-%d" % i
        elif line.startswith("start: "): line = "start: 2026-01-01T00:%02d:%02d.000Z" % (i // 60 % 60, i % 60)
        elif line.startswith("end: "): line = "end: 2026-01-01T01:%02d:%02d.000Z" % (i // 60 % 60, i % 60)
        yaml.append(line)
    ry = blob(("\n".join(yaml) + "\n").encode())
    py = blob(("depth: %d\nlr: %g\nseed: %d\n" % (1 + i % 4, 0.001 * (1 + i % 50), i)).encode())
    mt = series[i % 20]
    message = b"run %s: true" % run_id[:8].encode()
    out.write(b"commit refs/cairn/runs/%s\ncommitter bench <bench@example.com> 1700000000 +0000\ndata %d\n%s\n"
              % (run_id.encode(), len(message), message))
    out.write(b"from %s\nM 100644 :%d run.yaml\nM 100644 :%d params.yaml\nM 100644 :%d metrics.tsv\n\n" % (snapshot.encode(), ry, py, mt))
PY
git pack-refs --all
# fast-import stores the 20 series as deltas of one another, which no real runs' series are:
# repack without deltas (each blob zlib-compressed on its own, as cairn writes them).
git repack -a -d -F --window=0 -q
e=$(now_ms)
echo "written in $(( (e - s) / 1000 )) s" >&2
s=$(now_ms)
"$cairn" ls -n 1 >/dev/null
e=$(now_ms)
n=$("$cairn" ls --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
printf 'runs: %d (%d steps x 5 metrics each: %d points); run index built in %.1f s\n' "$n" "$steps" "$((n * steps * 5))" \
    "$(echo "($e - $s) / 1000" | bc -l)"

cold() { rm -rf .cairn/state/series && "$cairn" report "$@"; }
cold_us=$(time_us "$reps" cold -o report.html) || exit 1
all_us=$(time_us "$reps" "$cairn" report -o report.html) || exit 1
best_cold_us=$(time_us "$reps" cold --sort metrics.loss -n 50 -o best.html) || exit 1
best_us=$(time_us "$reps" "$cairn" report --sort metrics.loss -n 50 -o best.html) || exit 1
rm -rf .cairn/state/series
s=$(now_ms)
"$cairn" fill-series-cache >/dev/null
e=$(now_ms)
fill_ms=$((e - s))
first_s=$(now_ms)
"$cairn" report -o report.html >/dev/null
first_e=$(now_ms)
printf 'cairn fill-series-cache (the recorder'"'"'s cut, all %d runs): %.2f s, %.1f ms a run\n' "$n" "$(echo "$fill_ms / 1000" | bc -l)" \
    "$(echo "$fill_ms / $n" | bc -l)"
printf 'cairn report (all %d runs), first time after recording (series cut by the recorder): %.2f s\n' "$n" \
    "$(echo "($first_e - $first_s) / 1000" | bc -l)"
printf 'cairn report (all %d runs), series cached: %.2f s, %.1f MB (goal: < 3 s, < 10 MB)\n' "$n" "$(echo "$all_us / 1000000" | bc -l)" \
    "$(echo "$(stat -c %s report.html) / 1048576" | bc -l)"
printf 'cairn report (all %d runs), first time (every metrics.tsv read and cut): %.2f s\n' "$n" "$(echo "$cold_us / 1000000" | bc -l)"
printf 'cairn report --sort metrics.loss -n 50: %.2f s cached, %.2f s first time, %.2f MB\n' "$(echo "$best_us / 1000000" | bc -l)" \
    "$(echo "$best_cold_us / 1000000" | bc -l)" "$(echo "$(stat -c %s best.html) / 1048576" | bc -l)"
