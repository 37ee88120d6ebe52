#!/usr/bin/env bash
# S3 backend benchmark (see docs/performance.md, "S3 remote"), against s3rver on 127.0.0.1.
#
#   bench/remote_s3.sh [--small N] [--small-kib K] [--big-mib M] [--jobs J] [--dir DIR]
#
# Uploads N objects of K KiB (default 10,000 x 10 KiB) and one object of M MiB (default 1024)
# through cairn's S3 backend (core/remote/s3, driven by the hidden [.s3bench] case of
# cairn_unit_tests, J threads, default 8), then downloads them all back and checks the bytes;
# then does the same with `curl --aws-sigv4` (J parallel curl processes, each sending a batch of
# 100 files over one connection; the big object as one PUT). Prints the wall times and the
# ratios cairn / curl. The big object goes up twice through cairn: as a multipart upload (the
# default from 64 MiB on) and as one PUT like curl's. s3rver (node) is most of the time on both
# sides: the figures compare clients, not S3 services. Goal (issue 12): ratio <= 1.0.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
small=10000 small_kib=10 big_mib=1024 jobs=8
dir=${BENCH_DIR:-${TMPDIR:-/tmp}/cairn-bench-s3}
while [[ $# -gt 0 ]]; do
    case "$1" in
    --small) small=$2; shift 2 ;;
    --small-kib) small_kib=$2; shift 2 ;;
    --big-mib) big_mib=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    *) echo "usage: bench/remote_s3.sh [--small N] [--small-kib K] [--big-mib M] [--jobs J] [--dir DIR]" >&2; exit 2 ;;
    esac
done
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
tests=$root/build/tests/cairn_unit_tests
[[ -x $tests ]] || { echo "bench: build the tests first (scripts/build.sh -DCAIRN_TESTS=ON)" >&2; exit 1; }
"$root/tests/s3rver/setup.sh" >&2
command -v node >/dev/null || { echo "bench: node is needed for s3rver" >&2; exit 1; }

rm -rf "$dir" && mkdir -p "$dir/s3" "$dir/small" "$dir/big"
node --openssl-legacy-provider "$root/tests/s3rver/start.js" "$dir/s3" bench > "$dir/port" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do [[ -s "$dir/port" ]] && break; sleep 0.1; done
port=$(head -1 "$dir/port")
endpoint=http://127.0.0.1:$port
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER

python3 - "$dir" "$small" "$small_kib" "$big_mib" <<'PY'
import os, sys
d, n, kib, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
for i in range(n):
    with open(f"{d}/small/{i:06d}", "wb") as f:
        f.write(os.urandom(kib * 1024))
with open(f"{d}/big/big", "wb") as f:
    for _ in range(mib):
        f.write(os.urandom(1 << 20))
PY

cairn_op() { # OP URL DIR
    CAIRN_S3_BENCH_OP=$1 CAIRN_S3_BENCH_URL=$2 CAIRN_S3_BENCH_DIR=$3 CAIRN_S3_BENCH_ENDPOINT=$endpoint \
        CAIRN_S3_BENCH_JOBS=$jobs "$tests" "s3 bench driver" >/dev/null
}
curl_batch() { # OP BASEURL FILE...: one curl process, one connection, files in turn
    local op=$1 base=$2 args=() f
    shift 2
    for f in "$@"; do
        if [[ $op == put ]]; then args+=(-T "$f" "$base/data/$(basename "$f")"); else args+=(-o "$f" "$base/data/$(basename "$f")"); fi
    done
    curl -sS --fail --aws-sigv4 "aws:amz:us-east-1:s3" --user S3RVER:S3RVER -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "${args[@]}"
}
export -f curl_batch
curl_op() { # OP BASEURL DIR NAMESFILE
    (cd "$3" && xargs -a "$4" -P "$jobs" -n 100 bash -c 'curl_batch "$@"' _ "$1" "$2")
}
ms() { local s e; s=$(now_ms); "$@"; e=$(now_ms); echo $((e - s)); }
check() { # DIR1 DIR2
    diff -rq "$1" "$2" >/dev/null || { echo "bench: $2 differs from $1" >&2; exit 1; }
}
(cd "$dir/small" && ls) > "$dir/names"
echo big > "$dir/bignames"

# Warm s3rver up (node's JIT, its first directories) so that whichever client goes first is not
# penalised.
head -500 "$dir/names" > "$dir/warm"
curl_op put "$endpoint/bench/warm" "$dir/small" "$dir/warm"
mkdir -p "$dir/warm-dir" && (cd "$dir/small" && xargs -a "$dir/warm" cp -t "$dir/warm-dir")
cairn_op put s3://bench/warm2 "$dir/warm-dir"

mkdir -p "$dir/back-cairn-small" "$dir/back-cairn-big" "$dir/back-curl-small" "$dir/back-curl-big"
t_cairn_small_put=$(ms cairn_op put s3://bench/cairn-small "$dir/small")
t_cairn_small_get=$(ms cairn_op get s3://bench/cairn-small "$dir/back-cairn-small")
check "$dir/small" "$dir/back-cairn-small"
t_cairn_big_put=$(ms cairn_op put s3://bench/cairn-big "$dir/big")
t_cairn_big_get=$(ms cairn_op get s3://bench/cairn-big "$dir/back-cairn-big")
check "$dir/big" "$dir/back-cairn-big"
# The same object as one PUT (the multipart threshold above its size), as curl sends it.
t_cairn_big_single=$(CAIRN_S3_MULTIPART_THRESHOLD=$(((big_mib + 1) << 20)) ms cairn_op put s3://bench/cairn-big1 "$dir/big")

t_curl_small_put=$(ms curl_op put "$endpoint/bench/curl-small" "$dir/small" "$dir/names")
t_curl_small_get=$(ms curl_op get "$endpoint/bench/curl-small" "$dir/back-curl-small" "$dir/names")
check "$dir/small" "$dir/back-curl-small"
t_curl_big_put=$(ms curl_op put "$endpoint/bench/curl-big" "$dir/big" "$dir/bignames")
t_curl_big_get=$(ms curl_op get "$endpoint/bench/curl-big" "$dir/back-curl-big" "$dir/bignames")
check "$dir/big" "$dir/back-curl-big"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
printf '%-34s %10s %10s %7s\n' "s3rver, $jobs jobs" "cairn ms" "curl ms" "ratio"
printf '%-34s %10d %10d %7s\n' "put $small x $small_kib KiB" "$t_cairn_small_put" "$t_curl_small_put" "$(ratio "$t_cairn_small_put" "$t_curl_small_put")"
printf '%-34s %10d %10d %7s\n' "get $small x $small_kib KiB" "$t_cairn_small_get" "$t_curl_small_get" "$(ratio "$t_cairn_small_get" "$t_curl_small_get")"
printf '%-34s %10d %10d %7s\n' "put 1 x $big_mib MiB" "$t_cairn_big_put" "$t_curl_big_put" "$(ratio "$t_cairn_big_put" "$t_curl_big_put")"
printf '%-34s %10d %10d %7s\n' "put 1 x $big_mib MiB, one PUT" "$t_cairn_big_single" "$t_curl_big_put" "$(ratio "$t_cairn_big_single" "$t_curl_big_put")"
printf '%-34s %10d %10d %7s\n' "get 1 x $big_mib MiB" "$t_cairn_big_get" "$t_curl_big_get" "$(ratio "$t_cairn_big_get" "$t_curl_big_get")"
