#pragma once
// The Slurm executor: submitting a batch script (sbatch), asking for a job's state (scontrol) and
// cancelling (scancel), through Slurm's own client commands on PATH. Nothing here knows about
// runs; core/sweep/submit.hpp turns runs and sweeps into jobs. Described in docs/guide-cluster.md.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cairn::executor {

// sbatch long options, in the order given: name (without `--`) and value.
using SlurmOptions = std::vector<std::pair<std::string, std::string>>;

// Throws Error(usage) unless `name` has the shape of an sbatch long option (a lower-case letter,
// then letters, digits and `-`) and is not one cairn sets itself (array, output, error, parsable,
// wrap, chdir, job-name is allowed). `where` names where it was given (`--slurm`, a config file).
void check_option_name(const std::string& name, const std::string& where);

// Parses `OPT=VALUE` (as `--slurm` takes it) and checks OPT. Throws Error(usage).
[[nodiscard]] std::pair<std::string, std::string> parse_option(const std::string& text);

// The output of a finished client command.
struct Output {
    int exit_code = 0;
    std::string out, err;
};

// Runs a Slurm client (`sbatch`, `squeue`, `scontrol`, `scancel`) found on PATH, with cairn's
// environment, in `cwd`, and waits for it. Throws Error(environment) when it is not installed
// ("sbatch not found on PATH: is this a Slurm login node?"), Error(io) when it cannot start.
[[nodiscard]] Output run_client(const std::vector<std::string>& argv, const std::filesystem::path& cwd,
                                const std::filesystem::path& tmp_dir);

// Submits `script` (a batch script file) with `options` (as `--NAME=VALUE`, before the script)
// and returns the job id. Throws Error(environment) for a missing sbatch, Error(input) with
// Slurm's message when it refuses the job.
[[nodiscard]] std::string submit(const std::filesystem::path& script, const SlurmOptions& options,
                                 const std::filesystem::path& cwd, const std::filesystem::path& tmp_dir);

// What scontrol knows of one job (or one array task): JobState (PENDING, RUNNING, COMPLETED,
// FAILED, CANCELLED, TIMEOUT, NODE_FAIL, PREEMPTED, OUT_OF_MEMORY...), Reason, NodeList...
struct JobInfo {
    std::string id;    // JobId (for an array task, its own id)
    std::string state; // JobState
    std::string reason;
    std::string node;
    std::string array_job_id, array_task_id;
    std::map<std::string, std::string> fields; // every KEY=VALUE of `scontrol show job -o`
};

// The jobs `scontrol show job -o ID` lists (one per array task already split off, plus one for
// the pending rest of an array); empty when Slurm no longer knows the job (MinJobAge passed).
// Throws Error(environment) for a missing scontrol.
[[nodiscard]] std::vector<JobInfo> show_job(const std::string& id, const std::filesystem::path& tmp_dir);

// True for a JobState after which the job runs no more.
[[nodiscard]] bool is_final_state(const std::string& state);

// Cancels a job (an array job id cancels every task). Throws Error(environment) for a missing
// scancel, Error(input) with Slurm's message when it refuses.
void cancel(const std::string& id, const std::filesystem::path& tmp_dir);

} // namespace cairn::executor
