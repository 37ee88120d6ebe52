#pragma once
// Running a sweep: every trial is a recorded run in a worktree of its own, materialised from one
// code snapshot of the work tree, with N trials at a time. Described for users in
// docs/guide-sweeps.md.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/run/execute.hpp"
#include "core/run/store.hpp"
#include "core/run/worktree.hpp"
#include "core/sweep/expand.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::sweep {

struct SweepOptions {
    // What every trial runs: command, inputs, outputs, metric and parameter files, experiment,
    // tags; `params` holds the values common to all trials. Its name is unused (see
    // name_template), as are replay and snapshot.
    run::RunOptions run;
    std::vector<Trial> trials;
    std::string name_template;         // trial_name()'s template; "" leaves trials unnamed
    std::size_t jobs = 1;              // trials at a time (at least 1)
    std::optional<std::uint64_t> seed; // for a random sweep: recorded as the tag sweep.seed
    // Told when a trial ends (its result), from the trials' threads, one call at a time.
    struct TrialResult;
    std::function<void(const TrialResult&)> on_end;
    // What a trial does in its worktree (`replica`) with its run options (`run` plus the trial's
    // params, name, sweep id, tags and the snapshot); empty: run::execute. A pipeline sweep
    // (`cairn repro -S`) runs the stage there instead.
    std::function<run::RunResult(workspace::Workspace& replica, const run::RunOptions& trial)> body;
};

struct SweepOptions::TrialResult {
    std::size_t number = 0; // 1-based, in the order of `trials`
    Trial params;
    std::string name;
    // The recorded run (id empty when the trial never became a run: it did not start because
    // the sweep was interrupted, or it failed before its command started).
    run::RunRecord record;
    // "finished", "failed", "interrupted", "crashed" (as the record), "error" (no run: see
    // `error`) or "not started" (the sweep was interrupted first).
    std::string status;
    int exit_code = 0;
    std::string error; // why the trial failed without a record, or could not be recorded
    std::vector<std::string> warnings; // from its run
};
using TrialResult = SweepOptions::TrialResult;

struct SweepResult {
    std::string id;       // 16 hex digits, recorded as `sweep:` in every trial's run.yaml
    std::string snapshot; // the code snapshot every trial ran
    std::vector<TrialResult> trials; // in trial order
    std::vector<std::string>
        warnings; // about the snapshot (large files kept out, nested repositories)
    bool interrupted = false;
    // 0 when every trial finished, 130 when interrupted, else 1.
    [[nodiscard]] int exit_code() const;
};

// A new sweep id: 16 random hex digits.
[[nodiscard]] std::string new_sweep_id();

// What every trial starts from, prepared once in the user's workspace by run_sweep, and by a
// submission to a cluster (core/sweep/submit.hpp) before its jobs are queued.
struct Prepared {
    run::RunRecord snapshot; // git fields and large files, as run::RunOptions::snapshot wants them
    std::vector<workspace::TrackedData> tracked;
    std::map<std::string, std::string> inputs; // path -> object id
};

// Stores `ro`'s declared inputs and the untracked files too large for git in the cache and
// snapshots the work tree (a commit of it when dirty). Appends warnings (large files, nested
// repositories). Throws Error(integrity) when tracked data is missing from the cache, and as
// workspace::add and git::Repository::snapshot_workdir.
[[nodiscard]] Prepared prepare(workspace::Workspace& ws, const run::RunOptions& ro, const std::string& sweep_id,
                               std::vector<std::string>& warnings);

// What a trial's worktree is made from (run::TrialWorktree); points into `prepared`.
[[nodiscard]] run::TrialWorktree::Source trial_source(const Prepared& prepared, const run::RunOptions& base);

// Runs the trials. First, once: crashed runs are recovered, the declared inputs and the untracked
// files too large for git are stored in the cache, and the work tree is snapshotted (a commit of it
// when dirty, as `cairn run` does). Then each trial, `jobs` at a time: in its job slot's worktree
// under `.cairn/tmp/sweep-<id>-<slot>-<random>/` (materialised from the snapshot, with its tracked
// data, large files and inputs restored from the cache, by the slot's first trial, and reset to
// that by the later ones: run::TrialWorktree), the run executes with the trial's params written
// into its parameter files; its outputs are stored in the cache and recorded. The worktrees are
// removed at the end. A trial that fails or cannot run does not stop the others. On SIGINT or
// SIGTERM the running trials' commands are stopped and recorded as interrupted, and no new trial
// starts. The store lock is held shared throughout (gc waits for the sweep). Throws Error before
// any trial starts (an input that cannot be stored, a snapshot that cannot be made).
[[nodiscard]] SweepResult run_sweep(workspace::Workspace& ws, const SweepOptions& options);

} // namespace cairn::sweep
