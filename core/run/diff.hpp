#pragma once
// `cairn diff`: what differs between two recorded runs.

#include <optional>
#include <string>
#include <vector>

#include "core/git/git.hpp"
#include "core/run/record.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::run {

struct ValueChange {
    std::string key;
    std::optional<std::string> old_value, new_value; // nullopt: absent in that run
    [[nodiscard]] std::string change() const;        // "changed", "added", "removed", "same"
};

struct MetricChange {
    std::string key;
    std::optional<double> old_value, new_value; // last values
};

struct RunDiff {
    RunRecord a, b;
    std::vector<ValueChange> params;     // differing only
    std::vector<MetricChange> metrics;   // every metric of either run
    std::vector<ValueChange> inputs;     // every declared path, "same" included
    std::vector<ValueChange> outputs;
    std::vector<ValueChange> environment; // variables, executable, host, OS, cairn version: differing only
    std::vector<git::Repository::FileChange> code; // files changed between the code snapshots
    std::string patch;                   // with patch requested
};

// The last value of every metric either run has (sorted by key; nullopt where a run lacks it).
[[nodiscard]] std::vector<MetricChange> compare_metrics(const RunRecord& a, const RunRecord& b);

// What differs between the environments two runs recorded: allow-listed variables (values),
// other variables (set or not), executable path and hash, host, OS, CPU, cairn version.
[[nodiscard]] std::vector<ValueChange> compare_environment(const RunRecord& a, const RunRecord& b);

// Compares run a (old) with run b (new).
[[nodiscard]] RunDiff diff_runs(workspace::Workspace& ws, const RunRecord& a, const RunRecord& b, bool patch);

} // namespace cairn::run
