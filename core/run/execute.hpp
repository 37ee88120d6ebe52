#pragma once
// Executing a run (`cairn run`, and each re-run, stage and trial): staging in .cairn/runs/<id>/,
// running the command, and recording it as a commit on refs/cairn/runs/<id>. Reading runs back
// is core/run/store.hpp.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/process/process.hpp"
#include "core/run/record.hpp"
#include "core/util/progress.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::run {

struct RunOptions {
    std::string name;
    std::string experiment;
    // Recorded as is (RunRecord::stage, pipeline, sweep): set by pipelines and sweeps, not the CLI.
    std::string stage;
    std::string pipeline;
    std::string sweep;
    std::string stage_key; // the stage's run-cache key (core/pipeline/stale.hpp)
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
    // Whether the command may have the terminal: background when several run at once.
    process::Terminal terminal = process::Terminal::foreground;

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
    // Set for a run submitted to a cluster (core/sweep/submit.hpp): the id chosen at submission
    // (32 hex digits; empty: a new random one) and what RunRecord::executor records.
    std::string id;
    std::map<std::string, std::string> executor;
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
// While it runs, .cairn/runs/<id>/ holds run.yaml (status running), metrics.tsv, log.txt and
// `command` (its process group, process::format_group), by which crash recovery stops a command
// whose cairn died.
[[nodiscard]] RunResult execute(workspace::Workspace& ws, const RunOptions& options, util::Progress& progress);

// Appends metric points to the staging metrics file of the run in `run_dir` (CAIRN_RUN_DIR). A
// negative step is written as '-': the recorder numbers it after the key's previous point.
void append_metrics(const std::filesystem::path& run_dir, const std::vector<metrics::MetricPoint>& points);

enum class LogKind { param, tag, artifact };

// `cairn log param|tag|artifact` from inside a run: records into the staging directory
// `run_dir`. A param already set to a different value is Error(input) (params are immutable);
// tags may change; an artifact is a workspace-relative path stored when the run ends.
void log_to_run(const std::filesystem::path& run_dir, LogKind kind, const std::string& key, const std::string& value);

// The staging directory's files as the run store reads them back, to list a run in progress or
// to record one whose cairn died (core/run/store.cpp).

// How the command ended, as staging/outcome holds it once it has: the run is then recorded from
// staging with its real exit status even if its cairn died before the commit.
struct Ended {
    std::string status;
    int exit_code = 0;
    std::int64_t end_ms = 0;
    std::string log_error; // why the log stops early, if it does
};

// The outcome written in the staging directory `staging`; nullopt while the command runs (or
// if the file is unreadable).
[[nodiscard]] std::optional<Ended> read_outcome(const std::filesystem::path& staging);

// The line appended to a log that stops before its command's end (`log_error`: why).
[[nodiscard]] std::string log_stop_note(const std::string& log_error);

// Applies the lines `cairn log param|tag|artifact` left in staging/logged.tsv to a record (a
// param already in it is kept). Returns the artifact paths.
std::vector<std::string> apply_logged(const std::filesystem::path& staging, RunRecord& r);

// The run's commit message: `run <short id>: <command>`.
[[nodiscard]] std::string commit_message(const RunRecord& r);

// Writes the run's commit (parent: its code snapshot; a log over k_log_limit goes to the cache)
// and creates refs/cairn/runs/<id>. Sets r.commit (and r.log_object). Throws Error(io) when git or
// the cache cannot write (a full disk).
void commit_run(workspace::Workspace& ws, RunRecord& r, const std::string& full_log);

} // namespace cairn::run
