#!/usr/bin/env bash
# `cairn push` / `cairn pull` benchmark (see docs/performance.md, "Sharing: push and pull").
#
#   bench/remote.sh [--small N] [--small-kib K] [--big-mib M] [--runs R] [--jobs J] [--dir DIR]
#                   [--no-s3] [--no-big] [--aws]
#
# Two repositories, one holding N files of K KiB (default 10,000 x 10 KiB) added as one
# directory, one holding a single M MiB file (default 1024), both committed. For each:
#  - directory remote: `cairn push --data-only` into an empty remote directory against
#    `rsync -a` of the same cache objects into an empty directory; `cairn pull --data-only`
#    into an emptied cache against `rsync -a` of the remote back into an empty directory;
#    goal (issue 12) ratio <= 1.5;
#  - s3rver (started here on 127.0.0.1, a free port, stopped by its pid): push and pull against
#    J parallel `curl --aws-sigv4` processes (100 objects per process over one connection; the
#    big object as one PUT) moving the same object files; goal ratio <= 1.0. With --aws, also
#    `aws s3 sync` (awscli) of the same files, both ways;
#    The big object is pushed twice: multipart (cairn's default from 64 MiB) and as one PUT
#    (CAIRN_S3_MULTIPART_THRESHOLD above its size), as curl sends it;
#  - a no-op push of the small set to the directory remote (every object already there):
#    goal under 1 second.
# Each figure is the median of R runs (default 1), each from an empty destination. cairn uses -j J
# (default 8, cairn's default). The script builds nothing: it uses build/cli/cairn. Data and
# remotes go to DIR (default $TMPDIR/cairn-bench-remote, removed first); give a tmpfs directory
# (/dev/shm/...) to measure cairn rather than the disk.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
small=10000 small_kib=10 big_mib=1024 runs=1 jobs=8 use_s3=1 use_big=1 use_aws=0
dir=${BENCH_DIR:-${TMPDIR:-/tmp}/cairn-bench-remote}
usage="usage: bench/remote.sh [--small N] [--small-kib K] [--big-mib M] [--runs R] [--jobs J] [--dir DIR] [--no-s3] [--no-big] [--aws]"
while [[ $# -gt 0 ]]; do
    case "$1" in
    --small) small=$2; shift 2 ;;
    --small-kib) small_kib=$2; shift 2 ;;
    --big-mib) big_mib=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --no-s3) use_s3=0; shift ;;
    --no-big) use_big=0; shift ;;
    --aws) use_aws=1; shift ;;
    *) echo "$usage" >&2; exit 2 ;;
    esac
done
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
cairn=$root/build/cli/cairn
[[ -x $cairn ]] || { echo "bench: build cairn first (scripts/build.sh)" >&2; exit 1; }
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
if ! command -v rsync >/dev/null; then
    echo "bench: rsync is missing: installing it with apt-get (Debian's rsync package)" >&2
    if [[ $(id -u) -eq 0 ]]; then apt-get install -y -q rsync >&2; else sudo apt-get install -y -q rsync >&2; fi
fi
if [[ $use_aws -eq 1 ]] && ! command -v aws >/dev/null; then
    echo "bench: --aws: the aws command is missing (Debian: apt-get install awscli)" >&2
    exit 1
fi
if [[ $use_s3 -eq 1 ]]; then
    "$root/tests/s3rver/setup.sh" >&2
    command -v node >/dev/null || { echo "bench: node is needed for s3rver (or pass --no-s3)" >&2; exit 1; }
fi

rm -rf "$dir" && mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
mkdir -p "$dir/trash"
# Emptying a destination moves it into trash/, deleted at the end: on ext4, creating files
# within 30 s of deleting as many makes the inode allocator skip (and read) every recently freed
# inode ("recently_deleted" in perf), which would charge whichever tool runs next.
trash() { local p; for p in "$@"; do [[ -e $p ]] && mv "$p" "$dir/trash/$RANDOM$RANDOM"; done; sync; }
server=
cleanup() { rm -rf "$dir/trash"; if [[ -n $server ]]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi; }
trap cleanup EXIT

# --- data --------------------------------------------------------------------------------
make_repo() { # NAME: a git repository with cairn initialised
    local r=$dir/$1
    mkdir -p "$r"
    git -C "$r" init -q
    (cd "$r" && "$cairn" init >/dev/null)
    echo "$r"
}
small_repo=$(make_repo small)
python3 - "$small_repo/data" "$small" "$small_kib" <<'PY'
import os, sys
d, n, kib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(d)
for i in range(n):
    with open(f"{d}/{i:06d}", "wb") as f:
        f.write(os.urandom(kib * 1024))
PY
(cd "$small_repo" && "$cairn" add data >/dev/null && git add -A && git commit -q -m data)
trash "$small_repo/data" # only the cache's copy is moved; the work tree does not matter
repos=(small)
if [[ $use_big -eq 1 ]]; then
    big_repo=$(make_repo big)
    python3 - "$big_repo/big.bin" "$big_mib" <<'PY'
import os, sys
with open(sys.argv[1], "wb") as f:
    for _ in range(int(sys.argv[2])):
        f.write(os.urandom(1 << 20))
PY
    (cd "$big_repo" && "$cairn" add big.bin >/dev/null && git add -A && git commit -q -m data)
    rm -f "$big_repo/big.bin"
    repos+=(big)
fi
cache_of() { echo "$dir/$1/.cairn/cache"; }
for name in "${repos[@]}"; do
    c=$(cache_of "$name")
    [[ -d $c/sha256 ]] || { echo "bench: no cache at $c/sha256" >&2; exit 1; }
    # The objects as they are, to restore the cache before each pull and to compare with.
    mkdir -p "$dir/$name.objects" && cp -a "$c/sha256" "$dir/$name.objects/sha256"
    (cd "$dir/$name.objects" && find sha256 -type f | sort) > "$dir/$name.names"
done
echo "bench: $small x $small_kib KiB ($(wc -l < "$dir/small.names") objects)$([[ $use_big -eq 1 ]] && echo ", 1 x $big_mib MiB") in $dir" >&2

# --- timing --------------------------------------------------------------------------------
# measure SETUP CMD...: the median wall time in ms of $runs runs of CMD, SETUP (a function,
# untimed) before each; the run number is in $run.
measure() {
    local setup=$1 samples=() s e
    shift
    for ((run = 1; run <= runs; run++)); do
        $setup
        s=$(now_ms)
        "$@" >/dev/null 2>"$dir/.err" || { echo "bench: '$*' failed:" >&2; cat "$dir/.err" >&2; exit 1; }
        e=$(now_ms)
        samples+=($((e - s)))
    done
    printf '%s\n' "${samples[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p"
}
check_same() { # DIR1 DIR2: the same files with the same bytes
    diff -rq "$1" "$2" >/dev/null || { echo "bench: $2 differs from $1" >&2; exit 1; }
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) b = 1; printf "%.2f", a / b }'; }
rows=()
row() { # LABEL CAIRN_MS REF_MS REF_NAME GOAL
    local r
    r=$(ratio "$2" "$3")
    rows+=("$(printf '%-40s %9d %9d %-8s %6sx %s' "$1" "$2" "$3" "$4" "$r" "$5")")
    printf '%-40s cairn %d ms, %s %d ms: %sx\n' "$1" "$2" "$4" "$3" "$r" >&2
}

# --- directory remote --------------------------------------------------------------------
for name in "${repos[@]}"; do
    repo=$dir/$name c=$(cache_of "$name")
    (cd "$repo" && "$cairn" remote add dir "$dir/$name.remote" --default >/dev/null)
    empty_remote() { trash "$dir/$name.remote"; }
    empty_rsync() { trash "$dir/$name.rsync"; }
    t_push=$(measure empty_remote bash -c "cd '$repo' && '$cairn' push --data-only -r dir -j $jobs")
    check_same "$dir/$name.objects/sha256" "$dir/$name.remote/sha256"
    t_rsync_push=$(measure empty_rsync rsync -a "$c/sha256/" "$dir/$name.rsync/")
    check_same "$dir/$name.objects/sha256" "$dir/$name.rsync"
    row "$name: push to a directory" "$t_push" "$t_rsync_push" "rsync" "(goal <= 1.5x)"
    empty_cache() { trash "$c/sha256"; }
    empty_back() { trash "$dir/$name.rsync-back"; }
    t_pull=$(measure empty_cache bash -c "cd '$repo' && '$cairn' pull --data-only -r dir -j $jobs")
    check_same "$dir/$name.objects/sha256" "$c/sha256"
    t_rsync_pull=$(measure empty_back rsync -a "$dir/$name.remote/sha256/" "$dir/$name.rsync-back/")
    check_same "$dir/$name.objects/sha256" "$dir/$name.rsync-back"
    trash "$dir/$name.rsync-back" "$dir/$name.rsync"
    [[ -d $c/sha256 ]] || cp -a "$dir/$name.objects/sha256" "$c/sha256"
    row "$name: pull from a directory" "$t_pull" "$t_rsync_pull" "rsync" "(goal <= 1.5x)"
    if [[ $name == small ]]; then
        nothing() { :; }
        saved=$runs
        runs=$((runs < 5 ? 5 : runs))
        t_noop=$(measure nothing bash -c "cd '$repo' && '$cairn' push --data-only -r dir -j $jobs")
        t_noop_rsync=$(measure nothing rsync -a "$c/sha256/" "$dir/$name.remote/sha256/")
        runs=$saved
        row "small: no-op push (all there)" "$t_noop" "$t_noop_rsync" "rsync" "(goal < 1000 ms)"
    fi
done

# --- s3rver -------------------------------------------------------------------------------
if [[ $use_s3 -eq 1 ]]; then
    mkdir -p "$dir/s3"
    node --openssl-legacy-provider "$root/tests/s3rver/start.js" "$dir/s3" bench > "$dir/port" &
    server=$!
    for _ in $(seq 100); do [[ -s "$dir/port" ]] && break; sleep 0.1; done
    [[ -s "$dir/port" ]] || { echo "bench: s3rver did not start" >&2; exit 1; }
    port=$(head -1 "$dir/port")
    endpoint=http://127.0.0.1:$port
    export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
    unset AWS_SESSION_TOKEN AWS_PROFILE
    curl_batch() { # OP BASEURL KEY...: one curl process, one connection, objects in turn
        local op=$1 base=$2 args=() k
        shift 2
        for k in "$@"; do
            if [[ $op == put ]]; then args+=(-T "$k" "$base/$k"); else args+=(--create-dirs -o "$k" "$base/$k"); fi
        done
        curl -sS --fail --aws-sigv4 "aws:amz:us-east-1:s3" --user S3RVER:S3RVER \
            -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "${args[@]}"
    }
    export -f curl_batch
    curl_op() { # OP BASEURL DIR NAMESFILE: J processes of 100 objects each
        (cd "$3" && xargs -a "$4" -P "$jobs" -n 100 bash -c 'curl_batch "$@"' _ "$1" "$2")
    }
    # Warm s3rver up (node's JIT, its first directories) so that whoever goes first is not penalised.
    head -500 "$dir/small.names" > "$dir/warm.names"
    curl_op put "$endpoint/bench/warm" "$dir/small.objects" "$dir/warm.names"
    for name in "${repos[@]}"; do
        repo=$dir/$name c=$(cache_of "$name")
        (cd "$repo" && "$cairn" remote add s3 "s3://bench/none" >/dev/null &&
            "$cairn" remote modify s3 endpoint "$endpoint" >/dev/null)
        fresh_prefix() { (cd "$repo" && "$cairn" remote modify s3 url "s3://bench/cairn-$name-$run" >/dev/null); }
        t_push=$(measure fresh_prefix bash -c "cd '$repo' && '$cairn' push --data-only -r s3 -j $jobs")
        curl_push() { curl_op put "$endpoint/bench/curl-$name-$run" "$dir/$name.objects" "$dir/$name.names"; }
        t_curl_push=$(measure : curl_push)
        row "$name: push to s3rver" "$t_push" "$t_curl_push" "curl" "(goal <= 1.0x)"
        if [[ $name == big ]]; then
            # The big object goes multipart by default (from 64 MiB); as one PUT, as curl sends it:
            fresh_prefix1() { (cd "$repo" && "$cairn" remote modify s3 url "s3://bench/cairn-$name-one-$run" >/dev/null); }
            t_push1=$(CAIRN_S3_MULTIPART_THRESHOLD=$(((big_mib + 1) << 20)) measure fresh_prefix1 bash -c "cd '$repo' && '$cairn' push --data-only -r s3 -j $jobs")
            row "big: push to s3rver, as one PUT" "$t_push1" "$t_curl_push" "curl" "(goal <= 1.0x)"
        fi
        empty_cache() { trash "$c/sha256"; }
        empty_curl_back() { trash "$dir/$name.curl-back"; mkdir -p "$dir/$name.curl-back"; }
        (cd "$repo" && "$cairn" remote modify s3 url "s3://bench/cairn-$name-1" >/dev/null)
        t_pull=$(measure empty_cache bash -c "cd '$repo' && '$cairn' pull --data-only -r s3 -j $jobs")
        check_same "$dir/$name.objects/sha256" "$c/sha256"
        t_curl_pull=$(measure empty_curl_back curl_op get "$endpoint/bench/curl-$name-1" "$dir/$name.curl-back" "$dir/$name.names")
        check_same "$dir/$name.objects/sha256" "$dir/$name.curl-back/sha256"
        trash "$dir/$name.curl-back"
        [[ -d $c/sha256 ]] || cp -a "$dir/$name.objects/sha256" "$c/sha256"
        row "$name: pull from s3rver" "$t_pull" "$t_curl_pull" "curl" "(goal <= 1.0x)"
        if [[ $use_aws -eq 1 ]]; then
            nothing() { :; }
            t_aws_push=$(measure nothing aws --endpoint-url "$endpoint" s3 sync --only-show-errors "$dir/$name.objects/sha256/" "s3://bench/aws-$name/sha256/")
            row "$name: push to s3rver, vs aws s3 sync" "$t_push" "$t_aws_push" "aws" "(goal <= 1.0x)"
            aws_back() { trash "$dir/$name.aws-back"; }
            t_aws_pull=$(measure aws_back aws --endpoint-url "$endpoint" s3 sync --only-show-errors "s3://bench/aws-$name/sha256/" "$dir/$name.aws-back/")
            check_same "$dir/$name.objects/sha256" "$dir/$name.aws-back"
            trash "$dir/$name.aws-back"
            row "$name: pull from s3rver, vs aws s3 sync" "$t_pull" "$t_aws_pull" "aws" "(goal <= 1.0x)"
        fi
    done
    (cd "$dir/small" && "$cairn" remote modify s3 url "s3://bench/cairn-small-1" >/dev/null)
    saved=$runs
    runs=$((runs < 5 ? 5 : runs))
    t_noop=$(measure : bash -c "cd '$dir/small' && '$cairn' push --data-only -r s3 -j $jobs")
    runs=$saved
    rows+=("$(printf '%-40s %9d %9s %-8s %7s %s' "small: no-op push to s3rver" "$t_noop" "-" "" "" "(goal < 1000 ms)")")
fi

printf '\n%-40s %9s %9s %-8s %7s\n' "$small x $small_kib KiB / 1 x $big_mib MiB, -j $jobs" "cairn ms" "ref ms" "ref" "ratio"
printf '%s\n' "${rows[@]}"
