#pragma once
// `cairn repro`: runs the stale stages of a pipeline in dependency order, each as a recorded
// run, restoring outputs from earlier runs (the run cache) where it can, and `cairn status`'s
// view of the stages.

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/pipeline/pipeline.hpp"
#include "core/pipeline/stale.hpp"
#include "core/run/execute.hpp"
#include "core/util/progress.hpp"

namespace cairn::workspace {
class Workspace;
}

namespace cairn::pipeline {

struct ReproOptions {
    std::vector<std::string> targets; // stage names (a foreach/matrix group name selects its items); empty: all
    bool force = false;        // run the selected stages even when up to date (never frozen ones)
    bool dry_run = false;      // say what would run and why; change nothing
    bool downstream = false;   // the targets and the stages after them, instead of before
    bool single_item = false;  // the targets only
    bool keep_going = false;   // after a failure, go on with the stages that do not depend on it
    bool run_cache = true;     // restore outputs of an earlier run with the same inputs
    unsigned jobs = 1;         // stages run at once (above 1: each in a child `self_exe repro`)
    bool stdout_to_stderr = false;   // the commands' stdout goes to stderr (for --json)
    std::filesystem::path self_exe;  // the cairn binary, for jobs above 1
    std::function<void(const std::string&)> notice; // one line per event ("stage train: running")
    // A sweep trial (run_trial): the targets run whatever their state (upstream stages as
    // usual), and every stage run records the sweep id, the tags and the sweep's code snapshot.
    bool force_targets = false;
    std::string sweep;
    std::map<std::string, std::string> tags;
    const run::RunRecord* snapshot = nullptr;
    // Whether a stage's command may have the terminal (run::RunOptions::terminal).
    process::Terminal terminal = process::Terminal::foreground;
};

struct StageResult {
    enum class Outcome { up_to_date, frozen, would_run, ran, restored, failed, skipped, interrupted };
    std::string stage;
    Outcome outcome = Outcome::up_to_date;
    std::vector<Reason> reasons;
    std::string run;       // the run recorded (ran, failed, interrupted) or restored from
    int exit_code = 0;
    std::string message;   // failed/skipped: why
    // A frozen stage whose command, dependencies, params or outputs changed: it would run if it
    // were not frozen, and `reasons` say why.
    [[nodiscard]] bool frozen_with_changes() const { return outcome == Outcome::frozen && !reasons.empty(); }
};

struct ReproReport {
    std::vector<StageResult> stages; // in the order decided
    // A full repro (no targets): the lock entries it removed, of stages no longer in the file.
    std::vector<std::string> removed_from_lock;
    bool failed = false;
    bool interrupted = false;
};

[[nodiscard]] std::string_view to_string(StageResult::Outcome outcome);

// Runs `options.targets` of `p` (see ReproOptions). Throws Error(input) for an unknown target,
// a malformed lock file or params file; failures of stages are in the report.
[[nodiscard]] ReproReport repro(workspace::Workspace& ws, const Pipeline& p, const ReproOptions& options,
                                util::Progress& progress);

// The stages that `p`'s lock file has entries for but that no pipeline file using that lock
// file defines any more (a full `cairn repro` removes them), sorted. Throws Error(input) for a
// malformed lock file; empty when another pipeline file sharing the lock cannot be read.
[[nodiscard]] std::vector<std::string> removed_stages(const workspace::Workspace& ws, const Pipeline& p);

// Every stage's state (for `cairn status`): up to date, frozen, or would run with its reasons
// (a stage after a stale one is stale with reason `upstream`).
[[nodiscard]] std::vector<StageResult> stage_status(workspace::Workspace& ws, const Pipeline& p, util::Progress& progress);

// One trial of `cairn repro -S KEY=VALUES STAGE` (sweep::SweepOptions::body): in `replica`, a
// trial's worktree, writes the trial's params (`trial.params`) into the YAML params file of the
// pipeline `file` that holds each key (else params.yaml beside it), then runs `base.targets`
// (one stage) with the stages it needs, each recorded with the trial's sweep id and tags and the
// sweep's code snapshot. Returns the target stage's run. Throws Error(input) for a key held only
// by a JSON or TOML file, Error(input) when a stage the target needs failed.
[[nodiscard]] run::RunResult run_trial(workspace::Workspace& replica, const std::string& file, const ReproOptions& base,
                                       const run::RunOptions& trial);

// The report as `cairn repro --json` prints it, and back (a child repro's report).
[[nodiscard]] nlohmann::json to_json(const ReproReport& report);
[[nodiscard]] nlohmann::json to_json(const StageResult& result);
[[nodiscard]] ReproReport report_from_json(const nlohmann::json& j);

} // namespace cairn::pipeline
