# Shared by the bench scripts (sourced, not run): tool set-up and timing helpers.

# Installs the reference tools, builds cairn, sets $cairn and a git identity for the runs.
bench_setup() {
    "$root/scripts/install-deps.sh" --bench >&2
    "$root/scripts/build.sh" >&2
    cairn=$root/build/cli/cairn
    export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
    export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
}

# $cairn from the build at hand when there is one (the reference tools bench_setup installs are
# not needed by every script), else bench_setup; a git identity for the commits either way.
bench_cairn() {
    if [[ -x $root/build/cli/cairn ]]; then
        cairn=$root/build/cli/cairn
        export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
        export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
    else
        bench_setup
    fi
}

# time_us REPS CMD...: the median wall time of REPS runs of CMD (a command or a shell function,
# its output discarded), in microseconds. Fails, saying so, when CMD fails.
time_us() {
    local n=$1 i s e times=()
    shift
    for ((i = 0; i < n; i++)); do
        s=$(date +%s%N)
        "$@" >/dev/null 2>&1 || { echo "bench: '$*' failed" >&2; return 1; }
        e=$(date +%s%N)
        times+=($(((e - s) / 1000)))
    done
    printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((n + 1) / 2))p"
}

# Milliseconds since the epoch.
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
