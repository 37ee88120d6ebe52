# Shared by the bench scripts (sourced, not run): tool set-up and timing helpers.

# Installs the reference tools, builds cairn, sets $cairn and a git identity for the runs.
bench_setup() {
    "$root/scripts/install-deps.sh" --bench >&2
    "$root/scripts/build.sh" >&2
    cairn=$root/build/cli/cairn
    export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
    export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
}

# Milliseconds since the epoch.
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
