#!/usr/bin/env bash
# Data-versioning benchmark: cairn add / status against the reference tools, side by side.
#
#   bench/data.sh [--runs N] [--annex-runs N] [--no-annex-c] [--dir DIR]
#
# Scenarios: (a) one 1 GiB file; (b) 10,000 files of 10 KiB in 100 directories; (c) 100,000
# files of 1 KiB in 1,000 directories. For each it prints the median wall time of: cairn add
# (default link type, i.e. copy where reflinks are unsupported), cairn add with cache.type
# hardlink, openssl dgst -sha256 (the SHA-256 speed limit), sha256sum, cp -r (the cost of
# creating the files at all) and git annex add; then no-change cairn status against git status
# on (c). Every timed run starts from a fresh repository; the page cache is warm for every tool.
# Results and how to read them: docs/performance.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=5
annex_runs=1
annex_c=1
dir=${BENCH_DIR:-${TMPDIR:-/tmp}/cairn-bench}
while [[ $# -gt 0 ]]; do
    case "$1" in
    --runs) runs=$2; shift 2 ;;
    --annex-runs) annex_runs=$2; shift 2 ;;
    --no-annex-c) annex_c=0; shift ;;
    --dir) dir=$2; shift 2 ;;
    *) echo "usage: bench/data.sh [--runs N] [--annex-runs N] [--no-annex-c] [--dir DIR]" >&2; exit 2 ;;
    esac
done

# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
bench_setup
mkdir -p "$dir"
cd "$dir"

# --- data (generated once, reused by later invocations) ----------------------------------
gen_tree() { # dir files per_dir size
    python3 - "$@" <<'PY'
import os, sys
root, n, per, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
for i in range(n):
    d = f"{root}/d{i // per:04d}"
    if i % per == 0:
        os.makedirs(d, exist_ok=True)
    with open(f"{d}/f{i:06d}", "wb") as f:
        f.write(os.urandom(size))
PY
}
if [[ ! -f data/.complete ]]; then
    echo "generating data in $dir/data ..." >&2
    rm -rf data && mkdir -p data/a
    head -c 1073741824 /dev/urandom > data/a/big.bin
    gen_tree data/b 10000 100 10240
    gen_tree data/c 100000 100 1024
    touch data/.complete
fi

# --- timing helpers -----------------------------------------------------------------------
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
declare -A result
: > "$dir/.trash" # repositories to delete at the end (timed runs happen in subshells)
fresh_repo() { # prints the path of a new repository with cairn initialised
    local r
    r=$(mktemp -d "$dir/repo.XXXXXX")
    git -C "$r" init -q
    (cd "$r" && "$cairn" init >/dev/null)
    echo "$r" >> "$dir/.trash"
    echo "$r"
}
# time_cmd KEY RUNS SETUP CMD...: SETUP (a function) runs untimed before each run and may cd.
time_cmd() {
    local key=$1 n=$2 setup=$3
    shift 3
    local samples=()
    for ((i = 0; i < n; i++)); do
        (
            $setup
            local s
            s=$(now_ms)
            "$@" >/dev/null 2>&1 || { echo "bench: '$*' failed" >&2; exit 1; }
            echo $(( $(now_ms) - s )) > "$dir/.sample"
            teardown_${setup} 2>/dev/null || true
        )
        samples+=("$(cat "$dir/.sample")")
    done
    result[$key]=$(printf '%s\n' "${samples[@]}" | median)
    printf '  %-34s %8.3f s\n' "$key" "$(echo "${result[$key]} / 1000" | bc -l)" >&2
}

scenario=""
none() { cd "$dir/data/$scenario"; }
cairn_repo() { # moves the scenario's data into a fresh repository (a rename: same filesystem)
    local r
    r=$(fresh_repo)
    mv "$dir/data/$scenario" "$r/$scenario"
    cd "$r"
    echo "$r" > "$dir/.repo"
}
teardown_cairn_repo() { # data back, repository gone: the next run starts from the same memory state
    mv "$(cat "$dir/.repo")/$scenario" "$dir/data/$scenario"
    rm -rf "$(cat "$dir/.repo")"
}
cairn_repo_hardlink() {
    cairn_repo
    printf 'version: 1\ncache:\n  type: hardlink\n' > .cairn/config.yaml
}
teardown_cairn_repo_hardlink() { # undo the links: the files become plain, writable ones again
    local r
    r=$(cat "$dir/.repo")
    mv "$r/$scenario" "$dir/data/$scenario"
    rm -rf "$r"
    chmod -R u+w "$dir/data/$scenario"
}
annex_repo() {
    local r
    r=$(mktemp -d "$dir/annex.XXXXXX")
    echo "$r" >> "$dir/.trash"
    git -C "$r" init -q
    (cd "$r" && git annex init -q bench >/dev/null 2>&1)
    cp -r "$dir/data/$scenario" "$r/$scenario"
    cd "$r"
}
copy_target() { cd "$dir/data"; rm -rf "$dir/copy"; }
teardown_copy_target() { rm -rf "$dir/copy"; }

hash_all() { # tool: sha256sum or "openssl dgst -sha256"
    find . -type f -print0 | xargs -0 "$@" >/dev/null
}

run_scenario() { # name label annex_runs
    scenario=$1
    echo "($1) $2" >&2
    time_cmd "$1 openssl dgst -sha256" "$runs" none hash_all openssl dgst -sha256
    time_cmd "$1 sha256sum" "$runs" none hash_all sha256sum
    time_cmd "$1 cp -r" "$runs" copy_target cp -r "$scenario" "$dir/copy"
    time_cmd "$1 cairn add" "$runs" cairn_repo "$cairn" add "$scenario"
    time_cmd "$1 cairn add (hardlink)" "$runs" cairn_repo_hardlink "$cairn" add "$scenario"
    if [[ $3 -gt 0 ]]; then
        time_cmd "$1 git annex add" "$3" annex_repo git annex add --quiet "$scenario"
    fi
}

echo "cairn $("$cairn" --version | cut -d' ' -f2), $(nproc) cores, data in $dir (warm page cache)" >&2
run_scenario a "one 1 GiB file" "$annex_runs"
run_scenario b "10,000 files of 10 KiB in 100 directories" "$annex_runs"
run_scenario c "100,000 files of 1 KiB in 1,000 directories" $((annex_c ? annex_runs : 0))

echo "(c) no-change status" >&2
status_repo=$(fresh_repo)
mv "$dir/data/c" "$status_repo/c"
(cd "$status_repo" && "$cairn" add c >/dev/null && sleep 1.1 && "$cairn" status >/dev/null)
git_repo=$(mktemp -d "$dir/git.XXXXXX")
echo "$git_repo" >> "$dir/.trash"
cp -r "$status_repo/c" "$git_repo/c"
(cd "$git_repo" && git init -q && git add -A && git commit -q -m data && git status >/dev/null)
in_status_repo() { cd "$status_repo"; }
in_git_repo() { cd "$git_repo"; }
time_cmd "c cairn status" "$runs" in_status_repo "$cairn" status
time_cmd "c git status" "$runs" in_git_repo git status
mv "$status_repo/c" "$dir/data/c"

# --- report ---------------------------------------------------------------------------------
ratio() { echo "scale=2; ${result[$1]} / ${result[$2]}" | bc -l; }
echo
printf '%-6s %-26s %10s   %s\n' scen tool "median s" "cairn add (copy) / tool"
for s in a b c; do
    for tool in "openssl dgst -sha256" sha256sum "cp -r" "cairn add" "cairn add (hardlink)" "git annex add"; do
        key="$s $tool"
        [[ -n "${result[$key]:-}" ]] || continue
        printf '%-6s %-26s %10.3f   %s\n' "($s)" "$tool" "$(echo "${result[$key]} / 1000" | bc -l)" "$(ratio "$s cairn add" "$key")"
    done
done
printf '%-6s %-26s %10.3f\n' "(c)" "cairn status (no change)" "$(echo "${result[c cairn status]} / 1000" | bc -l)"
printf '%-6s %-26s %10.3f   status ratio %s\n' "(c)" "git status (no change)" "$(echo "${result[c git status]} / 1000" | bc -l)" "$(ratio "c cairn status" "c git status")"
echo
echo "targets: (a) cairn add <= 1.3x openssl: $(ratio "a cairn add" "a openssl dgst -sha256")x"
for s in b c; do
    line="($s) cairn add / sha256sum: $(ratio "$s cairn add" "$s sha256sum")x (hardlink: $(ratio "$s cairn add (hardlink)" "$s sha256sum")x)"
    [[ -n "${result[$s git annex add]:-}" ]] && line+=", git annex add / cairn add: $(ratio "$s git annex add" "$s cairn add")x"
    echo "targets: $line"
done
echo "targets: (c) no-change status <= 2x git status: $(ratio "c cairn status" "c git status")x"
while read -r r; do chmod -R u+w "$r" 2>/dev/null || true; rm -rf "$r"; done < "$dir/.trash"
