#pragma once
// Store maintenance: `cairn fsck` (verify) and `cairn gc` (reclaim).

#include <cstdint>
#include <string>
#include <vector>

#include "core/hash/hash.hpp"
#include "core/util/progress.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::workspace {

struct FsckProblem {
    std::string kind;   // "corrupt", "missing", "unreadable", "stray", "bad pointer",
                        // "unparseable tree", "too deep"
    std::string object; // object id, when there is one
    std::string detail; // path in the store, or the pointer/file that needs the object
};

struct FsckResult {
    std::uint64_t objects = 0;
    std::uint64_t bytes = 0;
    std::vector<FsckProblem> problems;
};

// Re-hashes every object in the cache, parses every object that starts like a tree object, and
// checks that every object the workspace's pointers need is present and that every tree they or
// run records name parses, nesting at most cache::k_max_tree_depth levels. Never deletes
// anything.
[[nodiscard]] FsckResult fsck(Workspace& ws, util::Progress& progress);

enum class GcMode { remove, dry_run };

struct GcResult {
    struct Removed {
        hash::Digest digest;
        std::uint64_t size;
    };
    std::vector<Removed> removed; // or, with dry_run, what would be removed
    std::uint64_t freed = 0;
    std::uint64_t kept = 0;
    std::uint64_t temp_files = 0; // leftovers of interrupted commands swept from .cairn/tmp
    std::uint64_t state_entries = 0; // stat cache entries of files, stored profiles of objects, no longer there
    struct Unparseable {
        hash::Digest digest;
        std::string reason;
    };
    // Live objects that start like a tree but could not be read as one (or nest too deep):
    // kept, with every id in their text.
    std::vector<Unparseable> unparseable;
};

// Removes every object not reachable from a pointer in the workspace, the index, the tip of any
// branch, tag or remote-tracking branch, or anything under refs/cairn/ (and the code snapshots
// those runs point to). Holds the store lock exclusively, so no add or checkout runs meanwhile.
[[nodiscard]] GcResult gc(Workspace& ws, GcMode mode, util::Progress& progress);

// Every "sha256:<64 hex>" in `text`.
[[nodiscard]] std::vector<hash::Digest> find_object_ids(std::string_view text);

} // namespace cairn::workspace
