#pragma once
// Whether a stage must run: its command, dependencies, params and outputs now, against its entry
// in cairn.lock.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/pipeline/lock.hpp"
#include "core/pipeline/pipeline.hpp"
#include "core/util/progress.hpp"

namespace cairn::workspace {
class Workspace;
}

namespace cairn::pipeline {

// Why a stage is stale.
struct Reason {
    enum class Kind { never_run, always_changed, forced, command, dependency, param, output, upstream };
    Kind kind = Kind::never_run;
    std::string subject; // the path, param key or upstream stage; empty for the others
    std::string change;  // "modified", "added", "removed", "missing", "deleted", "changed"
    std::string note = {}; // what to do about it, or why ("" for most)
    [[nodiscard]] std::string describe() const; // one line for people: the note in parentheses
    [[nodiscard]] std::string kind_name() const; // for --json
};

// Reason::describe() of each, joined with "; ".
[[nodiscard]] std::string describe(const std::vector<Reason>& reasons);

// A stage's state now.
struct StageCheck {
    bool frozen = false;
    std::vector<Reason> reasons; // empty: up to date (or frozen)
    // The stage as it would be locked now: the command, the dependencies that exist (hashed),
    // the referenced param values. Outputs are not filled in (they are known after the run).
    LockedStage current;
    std::vector<std::string> missing_deps; // workspace-relative
    // Missing dependencies that `cairn add` tracks (a pointer file for them or a directory
    // holding them): dependency -> the tracked path to check out.
    std::map<std::string, std::string> tracked_missing;
    std::vector<std::string> missing_params; // "file: key", or "file" for a missing file
    // Params files that do not exist (the stage's own entries): an error unless a stage writes them.
    std::vector<const ParamsRef*> missing_params_files;
    [[nodiscard]] bool stale() const { return !frozen && !reasons.empty(); }
};

// Hashes files for staleness checks, remembering each path (and each params file) once.
class Probe {
public:
    explicit Probe(workspace::Workspace& ws, util::Progress& progress) : m_ws(ws), m_progress(progress) {}
    // The id, size and file count of the file or directory at workspace-relative `rel` (hashed
    // through the stat cache, stored nowhere), or nullopt when it does not exist.
    [[nodiscard]] std::optional<LockedPath> path(const std::string& rel);
    // path() of many paths at once: one pass, hashing in parallel (status and an up-to-date
    // repro of a large pipeline pay one walk, not one per stage).
    void prefetch(std::vector<std::string> paths);
    // The path `cairn add` tracks (a pointer file `<it>.cairn` exists) that is `rel` or holds it,
    // or nullopt: for a dependency that does not exist, whether checking out would bring it.
    [[nodiscard]] std::optional<std::string> tracked(const std::string& rel) const;
    // read_params(), once per file; nullptr when the file does not exist. Throws read_params()'s
    // errors for a malformed file.
    [[nodiscard]] const nlohmann::json* params(const std::string& file);
    // Forgets what it knows (after a stage ran and changed files).
    void forget() { m_paths.clear(); m_params.clear(); }

private:
    workspace::Workspace& m_ws;
    util::Progress& m_progress;
    std::map<std::string, std::optional<LockedPath>> m_paths;
    std::map<std::string, std::optional<nlohmann::json>> m_params;
};

// Checks `stage` against `locked` (its cairn.lock entry, if any). A params file that does not
// exist is a reason (and in missing_params_files); a malformed one throws Error(input) naming the
// pipeline file, the line of the entry and the stage.
[[nodiscard]] StageCheck check_stage(Probe& probe, const Stage& stage, const LockedStage* locked);

// The shell command a stage's `cmd` list runs (one after another, stopping at the first failure).
[[nodiscard]] std::vector<std::string> stage_argv(const Stage& stage);

// The run-cache key of a stage in a given state: sha256 of its command, dependency ids and
// param values (canonical JSON). Two executions with the same key are expected to write the
// same outputs.
[[nodiscard]] std::string stage_key(const LockedStage& current);

} // namespace cairn::pipeline
