#pragma once
// Profiles of the tables a user names, and the profile store: the profile of a cache object is
// computed once and kept in `.cairn/state/profiles/` (docs/format.md, "Profiles"), so profiling
// the same bytes again reads it back.

#include <filesystem>
#include <optional>
#include <string>

#include "core/hash/hash.hpp"
#include "core/table/profile.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::drift {

namespace stdfs = std::filesystem;

struct ProfiledTable {
    table::Profile profile;
    std::string path;    // workspace-relative; empty for a table named by object id
    bool stored = false; // read from the profile store rather than computed now
};

// Profiles the table `user_path` names (relative to `cwd`): a file in the workspace; a path
// tracked by a pointer (`data.csv` or `data.csv.cairn`, or a file inside a tracked directory)
// whose bytes are in the cache; or an object id (`sha256:<hex>`, a unique prefix of 8+ digits).
// The format comes from the file name's extension, else from the bytes (table::sniff_format).
// Bytes that are a cache object are profiled at most once: their profile is stored under their
// id. Throws Error(input) for a malformed table (naming the path and line), a directory, or a
// path that is neither a file nor tracked; Error(integrity) when tracked bytes are not in the
// cache or do not match their id.
[[nodiscard]] ProfiledTable profile_path(workspace::Workspace& ws, const stdfs::path& cwd, const std::string& user_path);

// The profile of object `digest` read as `format`: from the store, or computed from the
// verified object and stored. `display` names it in errors.
[[nodiscard]] ProfiledTable profile_object(workspace::Workspace& ws, const hash::Digest& digest, table::Format format,
                                           const std::string& display);

// `.cairn/state/profiles/<64 hex>.<format>.json`.
[[nodiscard]] stdfs::path stored_profile_path(const workspace::Workspace& ws, const hash::Digest& digest, table::Format format);

} // namespace cairn::drift
