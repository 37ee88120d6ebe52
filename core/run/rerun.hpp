#pragma once
// `cairn rerun`: re-executes a recorded run from its record in a throwaway worktree and says,
// with evidence, whether it reproduced.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/run/diff.hpp"
#include "core/run/record.hpp"
#include "core/util/progress.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::run {

// MLflow's MetricThreshold for re-evaluation on new data: a metric of the re-run may drop by at
// most max_drop (absolute) and max_rel_drop (relative to |old|) in the bad direction.
struct MetricThreshold {
    std::string key;
    std::optional<double> max_drop, max_rel_drop;
    std::optional<bool> higher_is_better; // nullopt: from the name (loss, error, mse, mae, rmse: lower)
};

// Whether a higher value of `key` is better when nothing says otherwise.
[[nodiscard]] bool higher_is_better_by_name(const std::string& key);

struct RerunOptions {
    double rtol = 0, atol = 0; // |new - old| <= atol + rtol * |old| is "within tolerance"
    bool keep = false;         // keep the worktrees
    bool stdout_to_stderr = false; // the commands' stdout goes to stderr (for --json)
    // Told what happens, step by step ("re-running 1/2: ...").
    std::function<void(const std::string&)> notice;
    // `--with OLD=NEW`: input path -> the object id whose bytes the re-run gets at that path, in
    // every step that read it. Non-empty: the verdict is held / degraded by `thresholds`.
    std::map<std::string, std::string> substitute;
    std::vector<MetricThreshold> thresholds;
};

// What one step (one re-run of one recorded run) will do.
struct RerunStep {
    RunRecord original;
    // path -> object id restored before the command runs: the recorded inputs, with the outputs
    // of earlier re-run steps fed forward in their place.
    std::map<std::string, std::string> inputs;
    std::vector<workspace::TrackedData> tracked; // the snapshot's pointer files, whose data is restored
    std::vector<std::string> missing;     // objects absent from the cache, each with its producer if known
};

struct OutputVerdict {
    std::string path;
    std::string old_id, new_id;          // new_id empty: the re-run did not produce it
    std::uint64_t old_size = 0, new_size = 0;
    bool identical = false;
    std::string detail;                  // for text files that differ: where, and how many lines
};

struct MetricVerdict {
    std::string key;
    std::optional<double> old_value, new_value;
    std::optional<double> rel_delta;     // (new - old) / |old| when both are finite and old != 0
    std::string verdict;                 // "equal", "within tolerance", "differs"
};

struct ThresholdVerdict {
    std::string key;
    std::optional<double> old_value, new_value;
    bool higher_is_better = true;
    std::string threshold; // "max drop 0.05", "max relative drop 5%", both joined by ", "
    bool held = true;
    std::string detail;    // why it degraded
};

struct StepReport {
    RunRecord original;
    RunRecord rerun;
    std::vector<OutputVerdict> outputs;
    std::vector<MetricVerdict> metrics;
    bool exit_same = true;
    std::string verdict;                 // "reproduced", "reproduced within tolerance", "diverged", "interrupted"
    std::vector<ValueChange> causes;     // record differences that could explain a divergence
    std::vector<ValueChange> fed_inputs; // inputs whose id differs from the recorded one (fed forward)
    std::vector<ValueChange> substituted; // inputs replaced by --with (old id -> new id)
    std::vector<ThresholdVerdict> judged; // the requested run's metrics against --max-drop etc.
    bool nondeterministic = false;       // diverged with nothing in the records to explain it (same exit code)
    std::vector<std::string> log_tail;   // when the exit code differs: the last lines of the re-run's log
    std::string worktree;                // kept worktree (with --keep)
};

struct RerunReport {
    std::vector<StepReport> steps;       // in the order run; the requested run last
    std::string verdict;                 // the worst step verdict; with substitutions: "held" or "degraded"
    bool interrupted = false;
};

// The steps `cairn rerun RUN [--upstream]` would take, in order, with every object it needs
// checked against the cache. Throws Error(input) for an unknown run or an unsafe record. `note`
// as for find_run.
[[nodiscard]] std::vector<RerunStep> plan_rerun(workspace::Workspace& ws, const std::string& name, bool upstream,
                                                std::string* note = nullptr);

// Throws what rerun() throws before anything runs (`rerun --dry-run` exits as the re-run
// would): Error(environment) when a code snapshot is not in the repository, Error(input) for a
// command recorded with a secret redacted, Error(integrity) naming every missing object (and
// the run that produced it).
void check_plan(workspace::Workspace& ws, const std::vector<RerunStep>& plan);

// Checks that some step of the plan read each path of `substitute` (Error(input) naming the run's
// inputs otherwise).
void check_substitutions(const std::vector<RerunStep>& plan, const std::map<std::string, std::string>& substitute);

// Judges old -> new against a threshold (exposed for tests).
[[nodiscard]] ThresholdVerdict judge_metric(const MetricThreshold& t, std::optional<double> old_value,
                                            std::optional<double> new_value);

// Runs the plan, after check_plan().
[[nodiscard]] RerunReport rerun(workspace::Workspace& ws, std::vector<RerunStep> plan, const RerunOptions& options,
                                util::Progress& progress);

// The verdict of one metric (exposed for tests of the tolerance rule).
[[nodiscard]] std::string metric_verdict(double old_value, double new_value, double rtol, double atol);

} // namespace cairn::run
