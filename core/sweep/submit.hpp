#pragma once
// Runs and sweeps submitted to Slurm (`cairn run --executor slurm`): one batch job for a run, one
// job array for a sweep (a task per trial). The code snapshot, inputs and parameters are fixed
// here, at submission; each task runs `cairn executor-task` on its compute node against the same
// repository (on a filesystem every node sees), which materialises the trial's worktree from that
// snapshot (as a local sweep does) and records the run. Described in docs/guide-cluster.md;
// the files in docs/format.md ("Cluster submissions").

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/executor/slurm.hpp"
#include "core/run/execute.hpp"
#include "core/sweep/expand.hpp"
#include "core/sweep/sweep.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::sweep {

struct SubmitOptions {
    // What every task runs (as SweepOptions::run); for a single run (no trials), also its name.
    run::RunOptions run;
    std::vector<Trial> trials;         // empty: one run, submitted as a plain job
    std::string name_template;         // trial_name()'s template for the trials
    std::size_t max_parallel = 0;      // tasks at a time (`--array=0-N%M`); 0: as Slurm allows
    std::optional<std::uint64_t> seed; // a random sweep's, recorded as the tag sweep.seed
    executor::SlurmOptions slurm;      // sbatch long options, in order (a later one wins in sbatch)
    std::filesystem::path cairn;       // the cairn the tasks run (this one's absolute path)
};

struct Submission {
    std::string id;     // 16 hex digits: the sweep id of an array's runs, the directory's name
    std::string job_id; // Slurm's
    bool array = false;
    std::string snapshot;
    std::vector<std::string> runs;  // the run id of each task, in trial order
    std::vector<std::string> names; // each task's run name
    std::vector<Trial> trials;      // each task's varying params (empty for a single run)
    std::vector<std::string> warnings;
};

// The directory of submission `id`: `.cairn/runs/slurm-<id>/` (submission.yaml, job.sh, job,
// Slurm's output files).
[[nodiscard]] std::filesystem::path submission_dir(const workspace::Workspace& ws, const std::string& id);

// Prepares the snapshot (sweep::prepare), writes the submission and a queued record per task
// (run::queued_dir), and submits the job. Throws Error before anything is queued: environment
// (sbatch missing), input (Slurm refused: its message), and as sweep::prepare.
[[nodiscard]] Submission submit(workspace::Workspace& ws, const SubmitOptions& options);

// On the compute node: runs task `index` of submission `id` in a worktree of the submission's
// snapshot and records it, with the Slurm job in RunRecord::executor. A task cancelled before
// it starts returns nullopt without running. Throws Error(input) for an unknown submission or
// index.
[[nodiscard]] std::optional<run::RunResult> run_task(workspace::Workspace& ws, const std::string& id,
                                                     std::size_t index);

// Polls Slurm (scontrol, every `poll`) until every task of `submission` has ended and its run
// is recorded; a task whose job ended without a record (killed before cairn could record it) is
// recorded `crashed` with Slurm's state and reason. `on_end` is told of each run once recorded.
// Returns the records in task order. Throws Error(interrupted) on SIGINT (the jobs go on).
[[nodiscard]] std::vector<run::RunRecord> wait(workspace::Workspace& ws, const Submission& submission,
                                               const std::function<void(std::size_t, const run::RunRecord&)>& on_end);

// Reads back submission `id` (the runs, names, job id). Throws Error(input) when there is none.
[[nodiscard]] Submission load_submission(const workspace::Workspace& ws, const std::string& id);

struct CancelResult {
    std::string submission, job_id;
    std::vector<std::string> cancelled; // runs recorded `cancelled` now (they had not started)
    std::vector<std::string> stopping;  // runs running, recorded `cancelled` by their task when they stop
};

// `cairn cancel`: scancels the job of one run submitted to Slurm (its array task), or, with
// `sweep`, the whole array of sweep `name`; runs not started are recorded `cancelled` at once.
// Throws Error(input) for a run not submitted to Slurm or already recorded.
[[nodiscard]] CancelResult cancel(workspace::Workspace& ws, const std::string& name, bool sweep);

} // namespace cairn::sweep
