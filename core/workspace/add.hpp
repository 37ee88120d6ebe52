#pragma once
// `cairn add`: store files and directories in the cache and write their pointer files.

#include <cstdint>
#include <string>
#include <vector>

#include "core/hash/hash.hpp"
#include "core/util/progress.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::workspace {

struct AddedPath {
    std::string data_path;    // workspace-relative
    std::string pointer_path; // workspace-relative
    hash::Digest digest;
    std::uint64_t size = 0;
    std::uint64_t files = 1;
    bool is_directory = false;
    bool changed = false; // the pointer file was created or now says something new
};

struct AddResult {
    std::vector<AddedPath> paths;
    std::vector<std::string> gitignores; // .gitignore files that now list the data
    std::uint64_t new_objects = 0;       // objects written to the cache by this add
};

enum class Track {
    pointers,  // cairn add: write pointer files and .gitignore entries, apply the link type
    store_only, // run inputs/outputs: only store the bytes and report their ids
    hash_only   // pipeline staleness: only compute the ids (from the stat cache where it can); nothing is stored
};

// Adds workspace-relative paths (already checked by Workspace::relative_path). Objects are
// stored before any pointer is written, and the user's files are replaced by links only after
// that (for link types hardlink and symlink). Throws Error; the store stays valid.
[[nodiscard]] AddResult add(Workspace& ws, const std::vector<std::string>& paths, util::Progress& progress,
                            Track track = Track::pointers);

} // namespace cairn::workspace
