#pragma once
// `cairn.lock`: per stage, the state of its last successful execution — the command, the id and
// size of each dependency and output, the values of the params it references, and the run that
// produced it. DVC's `dvc.lock` layout with sha256 ids; the grammar is in docs/format.md.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cairn::workspace {
class Workspace;
}

namespace cairn::pipeline {

inline constexpr std::string_view k_lock_schema = "cairn-lock/1";

struct LockedPath {
    std::string path;                     // as the stage writes it (relative to its wdir)
    std::string hash;                     // sha256:<64 hex>
    std::uint64_t size = 0;
    std::optional<std::uint64_t> nfiles;  // set for a directory
    bool operator==(const LockedPath&) const = default;
};

struct LockedStage {
    std::vector<std::string> cmd;
    std::vector<LockedPath> deps, outs;   // sorted by path
    // params file (as the stage writes it) -> dotted key -> value
    std::map<std::string, std::map<std::string, nlohmann::json>> params;
    std::string run;                      // the id of the run that produced this state ("" for none)
};

struct LockFile {
    std::map<std::string, LockedStage> stages;
};

// Serialises a lock file: a version line, stages sorted by name, each entry's fields in a fixed
// order, so that two branches that changed different stages merge without conflict.
[[nodiscard]] std::string serialize_lock(const LockFile& lock);

// Parses `text`; `where` names the file in errors. Throws Error(input) "<where>:<line>: ..." for
// malformed YAML, an unknown schema line (a newer cairn wrote it), an unknown field, a hash that
// is not a sha256 id.
[[nodiscard]] LockFile parse_lock(const std::string& text, const std::string& where);

// Reads the lock file at workspace-relative `rel`; an absent file is an empty lock.
[[nodiscard]] LockFile read_lock(const workspace::Workspace& ws, const std::string& rel);

// Sets (or, with nullopt, removes) one stage's entry: under an exclusive lock in .cairn/, reads
// the file again, changes that entry and writes the file atomically (temp file, fsync, rename),
// so concurrent stages of one pipeline each keep their entry.
void update_lock(const workspace::Workspace& ws, const std::string& rel, const std::string& stage,
                 const std::optional<LockedStage>& entry);

// Removes the entries of every stage not in `keep`, under the same lock and in the same way as
// update_lock (the file is left alone when there is nothing to remove). Returns the names
// removed, sorted.
[[nodiscard]] std::vector<std::string> prune_lock(const workspace::Workspace& ws, const std::string& rel,
                                                  const std::set<std::string>& keep);

} // namespace cairn::pipeline
