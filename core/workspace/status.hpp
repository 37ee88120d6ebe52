#pragma once
// `cairn status`: how the workspace differs from its pointer files.

#include <string>
#include <string_view>
#include <vector>

#include "core/util/progress.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::workspace {

enum class DataState {
    unchanged,
    modified,
    deleted,
    not_in_cache,
    not_staged // (Against::index) the data differs from the staged pointer, and the work tree's pointer is not the staged one
};

[[nodiscard]] std::string_view to_string(DataState state);

struct PathStatus {
    std::string data_path;
    std::string pointer_path;
    DataState state = DataState::unchanged;
    bool is_directory = false;
    // For directories: workspace-relative paths of the files that differ.
    std::vector<std::string> added, modified, deleted;
};

// What the data is compared with: the pointer files in the work tree, or the ones staged in
// git's index (what the next commit records; for pre-commit hooks).
enum class Against { worktree, index };

// Status of every pointer, or of those at/below the given workspace-relative paths. With
// Against::index, the pointers are the staged ones (a pointer in the work tree that was never
// staged is not listed), and a path with no staged pointer at or below it is Error(input).
// Throws Error(input) for a malformed pointer.
[[nodiscard]] std::vector<PathStatus> status(Workspace& ws, const std::vector<std::string>& paths,
                                             util::Progress& progress, Against against = Against::worktree);

} // namespace cairn::workspace
