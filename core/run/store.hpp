#pragma once
// The run store: runs read back from refs/cairn/runs/<id> (through the run index) and, for runs
// in progress, from their staging directories; naming, tagging and removing runs; recording the
// runs whose cairn died. Executing a run is core/run/execute.hpp.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/run/record.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::run {

inline constexpr std::string_view k_ref_prefix = "refs/cairn/runs/";

// Records every staged run whose cairn died (its staging lock is free) as `crashed`, with all
// it logged, and removes its staging directory. A command still running (its cairn was killed
// while it ran) is stopped first: its process group, recorded in the staging directory, gets
// SIGKILL if it is still that group (process::kill_group). Returns the ids recovered.
std::vector<std::string> recover_crashed(workspace::Workspace& ws);

// Where runs submitted to a cluster wait until they start: `<id>.yaml` holds each one's run.yaml
// (status `queued`) and `<id>.params.yaml` its params, written at submission, removed once it is
// recorded (core/sweep/submit.hpp).
[[nodiscard]] std::filesystem::path queued_dir(const workspace::Workspace& ws);

// Adds a just-recorded run (its commit's files, as written) to the run index, so that the next
// listing need not read its record back from git. Best effort and never throws: the index is a
// cache (busy, missing or malformed: left to the next listing).
void index_recorded(workspace::Workspace& ws, const std::string& id, const std::string& commit,
                    const std::map<std::string, std::string>& files) noexcept;

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
// other runs of that name, and stays untouched otherwise (and when the runs are all executions
// of one stage of one pipeline, which share the stage's name by design). Throws Error(input) for an unknown
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

// Sets a recorded run's status and reason by rewriting its commit's run.yaml (as set_tags does):
// how a cluster submission records a run Slurm cancelled (`cancelled`) or killed (`crashed`)
// after its command was stopped. Returns the updated record. Throws Error(busy) for a run in
// progress.
RunRecord set_status(workspace::Workspace& ws, const RunRecord& record, const std::string& status,
                     const std::string& reason);

// Deletes a run's ref. Its objects stay in the cache until `cairn gc`. Throws Error(busy) for a
// run in progress.
void remove_run(workspace::Workspace& ws, const RunRecord& record);

// The whole log of a run (from the cache when it was stored there, else the log.txt blob; for a
// run in progress, what its staging log holds so far).
[[nodiscard]] std::string read_log(workspace::Workspace& ws, const RunRecord& record);

} // namespace cairn::run
