#pragma once
// `cairn checkout`: make the workspace match the pointer files.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/util/progress.hpp"
#include "core/workspace/pointer.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::workspace {

enum class Overwrite { refuse_unsaved, force };

struct CheckedOut {
    std::string data_path;
    std::uint64_t written = 0; // files (re)written from the cache
    std::uint64_t removed = 0; // files removed because the pointer does not list them
    std::uint64_t dirs_created = 0; // directories the pointer lists that were missing
};

// Restores every pointer (or those at/below `paths`). Before touching anything it checks that
// every needed object is in the cache, and, unless Overwrite::force, that no workspace file it
// would overwrite or remove holds bytes that are not in the cache (Error(input) naming them).
// Objects are verified before they are linked: a corrupt one is Error(integrity).
[[nodiscard]] std::vector<CheckedOut> checkout(Workspace& ws, const std::vector<std::string>& paths,
                                               Overwrite overwrite, util::Progress& progress);

// checkout() of explicit targets: makes each data path hold what its pointer describes (a
// pointer need not exist in the workspace: `cairn apply` restores a run's outputs this way).
// Temp files that killed cairn processes left inside a data path or in its parent directory
// are removed on the way (fs::is_dead_temp); other temp files are left alone and never count
// as data. A target that needs an object the cache lacks is left as it is while the others are
// restored; then Error(integrity) names every missing object.
std::vector<CheckedOut> restore_data(Workspace& ws, const std::vector<std::pair<std::string, Pointer>>& targets,
                                     Overwrite overwrite, util::Progress& progress);

// The object a user names by id: `sha256:<hex>` or bare hex, a prefix of at least 8 digits that
// names exactly one object in the cache. Throws Error(input) for a malformed, unknown or
// ambiguous id (listing the candidates).
[[nodiscard]] hash::Digest find_object(Workspace& ws, const std::string& id);

// `cairn checkout --object ID -o PATH`: restore_data() of the object (find_object) at the
// workspace-relative `path`, a directory for a tree object, else a file. Unsaved data at `path`
// is Error(input) unless Overwrite::force.
[[nodiscard]] CheckedOut checkout_object(Workspace& ws, const hash::Digest& object, const std::string& path,
                                         Overwrite overwrite, util::Progress& progress);

// The check restore_data() makes first, alone, writing nothing: the workspace files it would
// overwrite or remove whose bytes are not in the cache. Throws Error(integrity) naming every
// object the cache lacks.
[[nodiscard]] std::vector<std::string> unsaved_data_in_the_way(Workspace& ws,
                                                               const std::vector<std::pair<std::string, Pointer>>& targets,
                                                               util::Progress& progress);

} // namespace cairn::workspace
