#!/usr/bin/env bash
# Builds the libFuzzer targets (build-fuzz/, clang, -DCAIRN_FUZZ=ON) and runs them, one line of
# figures per target. The repository's seed corpus (tests/fuzz/corpus/<target>/) is only read:
# new inputs go to a scratch corpus (<out>/<target>/corpus, emptied at each run) unless --merge.
#
# Usage: tests/fuzz/run.sh [options] [target...]        (default: every target)
#   --seconds N      how long each target runs (default 60)
#   --seed N         libFuzzer's random seed (default 0: a new one each run)
#   --timeout N      an input taking longer than N seconds is a finding (default 2)
#   --jobs N         targets fuzzed at the same time (default 1)
#   --keep-going     fork mode: after a finding, save its input and go on (-ignore_crashes etc.)
#   --merge          afterwards, add the inputs that reach new coverage to the seed corpus
#   --build-dir DIR  (default build-fuzz/)   --out DIR  scratch space (default <build-dir>/fuzz-out)
#   --no-build       use the targets already built
#   --if-available   when clang or libFuzzer is missing, say so and exit 0 (scripts/test.sh)
# Exits 1 when any target finds a crash, a hang, a leak, a sanitizer report or a broken property;
# its input is saved in <out>/<target>/artifacts/ and the report is in <out>/<target>/log.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
all_targets=(pointer tree run_record params params_toml metrics_file filter table remotes
             s3_xml aws_ini)
yaml_targets=" pointer run_record params metrics_file remotes "

seconds=60 seed=0 timeout=2 jobs=1 merge=0 build=1 if_available=0 keep_going=()
build_dir=$root/build-fuzz out=
targets=()
while [[ $# -gt 0 ]]; do
    case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --merge) merge=1; shift ;;
    --keep-going) keep_going=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1); shift ;;
    --build-dir) build_dir=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --if-available) if_available=1; shift ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
    esac
done
[[ ${#targets[@]} -gt 0 ]] || targets=("${all_targets[@]}")
out=${out:-$build_dir/fuzz-out}
for t in "${targets[@]}"; do
    [[ -d "$here/corpus/$t" ]] || { echo "run.sh: unknown target '$t' (${all_targets[*]})" >&2; exit 2; }
done

if [[ $build -eq 1 ]]; then
    # libFuzzer comes with clang in Debian's libclang-rt-dev: check that both work together.
    missing=
    if ! command -v clang++ >/dev/null; then
        missing="clang++ is not installed (Debian: clang libclang-rt-dev)"
    elif ! echo 'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long) { return 0; }' |
            clang++ -fsanitize=fuzzer,address,undefined -x c++ - -o /dev/null 2>/dev/null; then
        missing="clang++ cannot link -fsanitize=fuzzer (Debian: libclang-rt-dev)"
    fi
    if [[ -n "$missing" ]]; then
        if [[ $if_available -eq 1 ]]; then
            echo "fuzz: skipped: $missing"
            exit 0
        fi
        echo "run.sh: $missing" >&2
        exit 1
    fi
    generator=()
    command -v ninja >/dev/null && generator=(-G Ninja)
    if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
        # -O1 and line tables only: the usual for fuzzing, and half the compile time of -O2 -g.
        cmake -S "$root" -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCAIRN_FUZZ=ON \
            -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" -DCMAKE_CXX_COMPILER=clang++ >/dev/null
    fi
    cmake --build "$build_dir" --parallel "${CAIRN_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}" |
        { grep -v '^\[[0-9]*/[0-9]*\] ' || true; }
fi

# One target: fuzz, then write one summary line to <out>/<target>/summary; exit status 1 on a finding.
fuzz_one() {
    local t=$1 dir=$out/$1 bin=$build_dir/tests/fuzz/fuzz_$1
    rm -rf "$dir"
    mkdir -p "$dir/corpus" "$dir/artifacts"
    : > "$dir/dict"
    [[ -f "$here/dict/$t.dict" ]] && cat "$here/dict/$t.dict" >> "$dir/dict"
    [[ "$yaml_targets" == *" $t "* ]] && cat "$here/dict/yaml.dict" >> "$dir/dict"
    local rc=0
    "$bin" "$dir/corpus" "$here/corpus/$t" -dict="$dir/dict" -max_total_time="$seconds" -seed="$seed" \
        -timeout="$timeout" -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
        "${keep_going[@]}" >"$dir/log" 2>&1 || rc=$?
    # Figures from libFuzzer's final stats, or (fork mode) from its last status line.
    local last runs rate cov ft corpus added crashes
    last=$(grep -E '^#[0-9]+.*cov: ' "$dir/log" | tail -1 || true)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
    [[ -n "$runs" ]] || runs=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$last")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)
    [[ -n "$rate" || -z "$runs" ]] || rate=$((runs / seconds))
    cov=$(grep -o 'cov: [0-9]*' <<<"$last" | cut -d' ' -f2 || true)
    ft=$(grep -o 'ft: [0-9]*' <<<"$last" | cut -d' ' -f2 || true)
    corpus=$(find "$dir/corpus" "$here/corpus/$t" -type f | wc -l)
    added=$(find "$dir/corpus" -type f | wc -l)
    crashes=$(find "$dir/artifacts" -type f | wc -l)
    local figures="${runs:-?} runs in ${seconds} s (${rate:-?}/s), cov ${cov:-?}, ft ${ft:-?}, corpus $corpus (+$added)"
    [[ $crashes -eq 0 || $rc -ne 0 ]] || rc=1
    if [[ $rc -eq 0 ]]; then
        echo "fuzz $t: $figures, no finding" > "$dir/summary"
        if [[ $merge -eq 1 ]]; then
            local before after
            before=$(find "$here/corpus/$t" -type f | wc -l)
            "$bin" -merge=1 "$here/corpus/$t" "$dir/corpus" >"$dir/merge.log" 2>&1
            after=$(find "$here/corpus/$t" -type f | wc -l)
            echo "fuzz $t: merged $((after - before)) new inputs into tests/fuzz/corpus/$t" >> "$dir/summary"
        fi
        return 0
    fi
    local what artifact
    what=$(grep -a -m1 -E '==cairn-fuzz==|ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:' \
        "$dir/log" | sed 's/^ *//' || true)
    artifact=$(ls "$dir/artifacts/" 2>/dev/null | head -1 || true)
    {
        echo "fuzz $t: FOUND (exit $rc, $crashes inputs saved) after $figures: ${what:-see the log}"
        echo "fuzz $t:   input: $dir/artifacts/${artifact:-?}   log: $dir/log"
    } > "$dir/summary"
    return 1
}

status=0
failed=()
running=0
for t in "${targets[@]}"; do
    if [[ $running -ge $jobs ]]; then
        wait -n || true
        running=$((running - 1))
    fi
    fuzz_one "$t" &
    running=$((running + 1))
done
wait || true
for t in "${targets[@]}"; do
    [[ -f "$out/$t/summary" ]] || echo "fuzz $t: FOUND nothing to report: run.sh failed before the summary" > "$out/$t/summary"
    cat "$out/$t/summary"
    grep -q ': FOUND' "$out/$t/summary" && failed+=("$t")
done
for t in "${failed[@]}"; do
    status=1
    echo "---- fuzz $t: end of $out/$t/log" >&2
    grep -v -E '^(#[0-9]+|INFO:|MS:|stat::)' "$out/$t/log" | tail -40 >&2
done
exit $status
