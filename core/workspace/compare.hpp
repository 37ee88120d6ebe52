#pragma once
// What a pointer says versus what the workspace holds: the shared engine of status, checkout
// and add.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <sys/stat.h>
#include <unordered_map>
#include <vector>

#include "core/hash/hash.hpp"
#include "core/util/progress.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::workspace {

// A file the pointer lists. Paths are relative to the data path; "" is the data path itself.
struct ExpectedFile {
    hash::Digest digest;
    std::uint64_t size = 0;
    bool executable = false;
};

struct Expected {
    std::unordered_map<std::string, ExpectedFile> files;
    std::set<std::string> dirs; // every directory the pointer lists, "" for the top
    std::vector<std::string> missing_trees; // ids of sub-trees absent from the cache
};

// The pointer that describes the stored object `digest` under the name `name`: a directory (its
// file count and total size from the tree) when it is a tree object, else a file of the
// object's size (0 when the object is absent). Throws Error(integrity) for a corrupt tree.
[[nodiscard]] Pointer pointer_to_object(const cache::Cache& cache, const std::string& name, const hash::Digest& digest);

// Checks a pointer against the object it names, when the cache holds it: a pointer without
// `files:` must name a file object and one with it a tree, and `size` (and `files`) must be the
// object's. Throws Error(input) "<pointer_path>: ..." naming the field otherwise, or
// Error(integrity) for a corrupt or malformed tree (or a file object named by a directory
// pointer), with the tree parser's reason. An absent object is not checked.
void check_pointer_object(const cache::Cache& cache, const Pointer& pointer, const std::string& pointer_path);

// Flattens a pointer into its files, reading (and verifying) its tree objects. Sub-trees absent
// from the cache are listed in missing_trees (their files are then unknown). Throws
// Error(integrity) when a tree object is corrupt or malformed, or when directories nest more
// than cache::k_max_tree_depth levels below the pointer's.
[[nodiscard]] Expected flatten(cache::Cache& cache, const Pointer& pointer);

enum class ObservedKind { file, symlink, other };

struct ObservedFile {
    std::string rel;
    ObservedKind kind = ObservedKind::file;
    struct stat st {}; // lstat result
};

struct Observed {
    bool exists = false;
    bool is_dir = false;
    std::vector<ObservedFile> files;
    std::vector<std::string> dirs; // directories found, "" for the top when it is one
    std::vector<std::string> temps; // temp files found inside a directory (fs::looks_like_temp), never in `files`
};

// Lists what is at `abs` (a file, a directory tree, or nothing). Symlinks are not followed.
// Inside a directory, temp files are listed apart: they are never data.
[[nodiscard]] Observed observe(const stdfs::path& abs);

struct Change {
    std::string rel;
    std::optional<hash::Digest> current; // the bytes now in the workspace, when hashed
};

struct Comparison {
    std::vector<Change> added;    // in the workspace, not in the pointer
    std::vector<Change> modified; // in both, different bytes
    std::vector<std::string> deleted;
    std::vector<std::string> unchanged;
    std::vector<std::string> extra_dirs; // directories the pointer does not list
    std::vector<std::string> temps;      // temp files inside (Observed::temps), neither added nor data
    [[nodiscard]] bool clean() const { return added.empty() && modified.empty() && deleted.empty(); }
};

enum class HashAdded { no, yes };

// Compares the workspace at `data_path` with `expected`, hashing only files whose stat data is
// not in the stat cache (in parallel). With HashAdded::yes, added files are hashed too (checkout
// needs to know whether their bytes are safe in the cache).
[[nodiscard]] Comparison compare(Workspace& ws, const std::string& data_path, const Expected& expected,
                                 HashAdded hash_added, util::Progress& progress);

// The digest of a workspace file, from the stat cache when its stat data is unchanged, else by
// hashing it (and recording the result). `st` is the file's lstat; symlinks are followed.
[[nodiscard]] hash::Digest workspace_digest(Workspace& ws, const std::string& key, const stdfs::path& abs,
                                            const struct stat& st);

// "<data_path>/<rel>", or data_path when rel is empty.
[[nodiscard]] std::string join_rel(const std::string& data_path, const std::string& rel);

} // namespace cairn::workspace
