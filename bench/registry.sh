#!/usr/bin/env bash
# Model registry benchmark (see docs/performance.md, "Model registry").
#
#   bench/registry.sh [--models M] [--versions V] [--reps R] [--dir DIR]
#
# Builds a registry of M models (default 100) of V versions each (default 50), each model with
# two aliases: the first version is registered with `cairn model register`, the others are
# written as the same records with `git fast-import` (registering 5,000 versions one by one would
# take minutes and measure nothing the listing does). Then times, as the median of R runs
# (default 5), `cairn model ls` against `git for-each-ref refs/cairn/models/` over the same refs,
# and `cairn model ls NAME` (one model's versions, every record read) and `cairn model show`.
# Goal (issue 11): `cairn model ls` <= 3x `git for-each-ref`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
models=100 versions=50 reps=5
dir=${BENCH_DIR:-${TMPDIR:-/tmp}/cairn-bench-registry}
while [[ $# -gt 0 ]]; do
    case "$1" in
    --models) models=$2; shift 2 ;;
    --versions) versions=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    *) echo "usage: bench/registry.sh [--models M] [--versions V] [--reps R] [--dir DIR]" >&2; exit 2 ;;
    esac
done
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
bench_cairn
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
git init -q && "$cairn" init >/dev/null && git add -A && git commit -q -m init
"$cairn" run -n train -o model.bin -- sh -c 'echo weights > model.bin' >/dev/null 2>&1
"$cairn" model register m0 train >/dev/null
"$cairn" model alias m0@prod v1 >/dev/null
template=$(git show refs/cairn/models/m0/versions/v1:model.yaml)
alias_template=$(git show refs/cairn/models/m0/aliases/prod:alias.yaml)

echo "writing $models models x $versions versions with git fast-import..." >&2
# record REF FILE BODY: a fast-import commit on REF whose tree holds FILE with BODY (and a newline).
mark=0
record() {
    local LC_ALL=C # ${#...} in bytes, as fast-import's data length is
    mark=$((mark + 1))
    printf 'blob\nmark :%d\ndata %d\n%s\n' "$mark" "$((${#3} + 1))" "$3"
    printf 'commit %s\ncommitter bench <bench@example.com> 1700000000 +0000\ndata 0\nM 100644 :%d %s\n\n' "$1" "$mark" "$2"
}
{
    for ((m = 0; m < models; m++)); do
        for ((v = 1; v <= versions; v++)); do
            [[ $m -eq 0 && $v -eq 1 ]] && continue
            record "refs/cairn/models/m$m/versions/v$v" model.yaml \
                "$(printf '%s\n' "$template" | sed "s/^name: .*/name: m$m/; s/^version: .*/version: $v/")"
        done
        for a in prod staging; do
            [[ $m -eq 0 && $a == prod ]] && continue
            record "refs/cairn/models/m$m/aliases/$a" alias.yaml \
                "$(printf '%s\n' "$alias_template" | sed "s/^name: .*/name: m$m/; s/^alias: .*/alias: $a/; s/^version: .*/version: $versions/")"
        done
    done
} | git fast-import --quiet
# fast-import leaves its refs loose only when asked; pack them all, as git gc would.
git pack-refs --all
refs=$(git for-each-ref refs/cairn/models/ | wc -l)
pick=m$((models * 42 / 100)) # m42 of the default 100: any model but the one registered by hand
"$cairn" model show "$pick@prod" >/dev/null # the records read back

git_us=$(time_us "$reps" git for-each-ref refs/cairn/models/) || exit 1
ls_us=$(time_us "$reps" "$cairn" model ls) || exit 1
one_us=$(time_us "$reps" "$cairn" model ls "$pick") || exit 1
show_us=$(time_us "$reps" "$cairn" model show "$pick@prod") || exit 1
printf 'registry: %d models x %d versions, %d refs (packed)\n' "$models" "$versions" "$refs"
printf 'git for-each-ref refs/cairn/models/: %.1f ms\n' "$(echo "$git_us / 1000" | bc -l)"
printf 'cairn model ls: %.1f ms, %.2fx git for-each-ref (goal <= 3x)\n' "$(echo "$ls_us / 1000" | bc -l)" "$(echo "$ls_us / $git_us" | bc -l)"
printf 'cairn model ls %s (%d version records): %.1f ms\n' "$pick" "$versions" "$(echo "$one_us / 1000" | bc -l)"
printf 'cairn model show %s@prod: %.1f ms\n' "$pick" "$(echo "$show_us / 1000" | bc -l)"
