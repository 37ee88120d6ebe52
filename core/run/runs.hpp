#pragma once
// Recording runs (`cairn run`) and reading them back from refs/cairn/runs/<id>.

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/run/record.hpp"
#include "core/util/progress.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::run {

inline constexpr std::string_view k_ref_prefix = "refs/cairn/runs/";

struct RunOptions {
    std::string name;
    std::string experiment;
    std::string sweep; // the sweep this run is a trial of (recorded as `sweep:` in run.yaml)
    std::vector<std::pair<std::string, std::string>> params; // -p KEY=VALUE, typed on record
    std::map<std::string, std::string> tags;
    std::vector<std::string> inputs;  // workspace-relative, hashed before the command starts
    std::vector<std::string> outputs; // workspace-relative, hashed after it ends
    std::vector<std::string> command;
    std::string cwd;                  // workspace-relative working directory
    std::vector<std::string> metric_files; // workspace-relative; read after the command ends
    bool capture_stdout = true;       // Guild-style `key: value` scalars from stdout become metrics
    bool stdout_to_stderr = false;    // pass the command's stdout through to stderr (cairn's stdout is JSON)
    // Parameter files (workspace-relative); empty: params.yaml at the root, if there is one.
    std::vector<std::string> param_files;
    // Told why the run waits (another run has overridden values in a parameter file it needs).
    std::function<void(const std::string&)> notice;

    // Set by `cairn rerun`: the run re-run. The workspace passed to execute() is then a replica
    // (a materialised copy of its code snapshot), the command is its recorded argv taken as is,
    // its params are written into `param_files` where they differ, its allow-listed variables
    // are set again (and those it ran without unset), and its code snapshot is recorded as is.
    const RunRecord* replay = nullptr;
    // Set by a sweep for each trial: the workspace passed to execute() is a replica (a worktree
    // materialised from this record's code snapshot), the snapshot (git fields, large files) is
    // recorded as is, the params override the replica's parameter files without locks (the edits
    // stay there), and a declared output not written is reported in the result, not thrown.
    const RunRecord* snapshot = nullptr;
};

struct RunResult {
    RunRecord record;
    int exit_code = 0; // the command's, or 128 + signal
    std::vector<std::string> warnings;
};

// Logs larger than this go to the cache; the run's log.txt keeps their last k_log_tail bytes.
inline constexpr std::size_t k_log_limit = 1u << 20;
inline constexpr std::size_t k_log_tail = 64u << 10;

// Untracked files larger than this go to the cache instead of the code snapshot.
inline constexpr std::uint64_t k_snapshot_file_limit = 10ull << 20;

// Runs the command and records it as a commit on refs/cairn/runs/<id>, whatever the outcome.
// While it runs, .cairn/runs/<id>/ holds run.yaml (status running), metrics.tsv and log.txt.
[[nodiscard]] RunResult execute(workspace::Workspace& ws, const RunOptions& options, util::Progress& progress);

// Appends metric points to the staging metrics file of the run in `run_dir` (CAIRN_RUN_DIR). A
// negative step is written as '-': the recorder numbers it after the key's previous point.
void append_metrics(const std::filesystem::path& run_dir, const std::vector<MetricPoint>& points);

// Records every staged run whose cairn died (its staging lock is free) as `crashed`, with all
// it logged, and removes its staging directory. Returns the ids recovered.
std::vector<std::string> recover_crashed(workspace::Workspace& ws);

enum class LogKind { param, tag, artifact };

// `cairn log param|tag|artifact` from inside a run: records into the staging directory
// `run_dir`. A param already set to a different value is Error(input) (params are immutable);
// tags may change; an artifact is a workspace-relative path stored when the run ends.
void log_to_run(const std::filesystem::path& run_dir, LogKind kind, const std::string& key, const std::string& value);

// A run ref whose record could not be read.
struct SkippedRun {
    std::string id;     // the ref's name below refs/cairn/runs/
    std::string reason; // the error, naming the ref, the file and the field
};

// Every run, newest first: the recorded ones (after recovering crashed ones) and those in
// progress, read from their staging directories without writing to them (status "running",
// end 0, no commit, the metrics, params and tags logged so far). Refs whose record is malformed
// (or of a newer version) and unreadable staging directories are left out and reported in
// *skipped.
[[nodiscard]] std::vector<RunRecord> list_runs(workspace::Workspace& ws, std::vector<SkippedRun>* skipped = nullptr);

// Finds a run in a listing (newest first) by name: a run name (the latest run of that name when
// several share it), NAME~N (the Nth before it), a unique id prefix of at least 4 hex digits,
// `last` or `last~N`. When a name is shared, *note (if given) is set to a message listing the
// other runs of that name, and stays untouched otherwise. Throws Error(input) for an unknown
// name or an ambiguous id prefix, listing candidates; for a name that matches none of `runs` but
// the id of a run in `skipped`, the error is why that run's record could not be read.
[[nodiscard]] const RunRecord& find_run(const std::vector<RunRecord>& runs, const std::string& name,
                                        const std::vector<SkippedRun>& skipped = {}, std::string* note = nullptr);

// The whole record (metric series included) of a run from a listing, read from its commit.
// Throws Error(busy) for a run still in progress: it has no record yet.
[[nodiscard]] RunRecord load_run(workspace::Workspace& ws, const RunRecord& listed);

// What there is to see of a listed run: load_run() for a recorded one, the listing itself (all
// it logged so far) for one in progress. For read-only views (show, metrics, diff).
[[nodiscard]] RunRecord view_run(workspace::Workspace& ws, const RunRecord& listed);

// load_run(find_run(list_runs())): for commands that name one run and need its record; `note`
// as for find_run.
[[nodiscard]] RunRecord resolve(workspace::Workspace& ws, const std::string& name, std::string* note = nullptr);

// Sets (value) or removes (nullopt) tags on a recorded run by rewriting its commit's run.yaml
// (same parents, same other files) and moving its ref. Returns the updated record. Throws
// Error(busy) for a run in progress.
RunRecord set_tags(workspace::Workspace& ws, const RunRecord& record,
                   const std::map<std::string, std::optional<std::string>>& changes);

// Deletes a run's ref. Its objects stay in the cache until `cairn gc`. Throws Error(busy) for a
// run in progress.
void remove_run(workspace::Workspace& ws, const RunRecord& record);

// The whole log of a run (from the cache when it was stored there, else the log.txt blob; for a
// run in progress, what its staging log holds so far).
[[nodiscard]] std::string read_log(workspace::Workspace& ws, const RunRecord& record);

} // namespace cairn::run
