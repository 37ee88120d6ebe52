#pragma once
// `cairn status`: how the workspace differs from its pointer files.

#include <string>
#include <string_view>
#include <vector>

#include "core/util/progress.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::workspace {

enum class DataState { unchanged, modified, deleted, not_in_cache };

[[nodiscard]] std::string_view to_string(DataState state);

struct PathStatus {
    std::string data_path;
    std::string pointer_path;
    DataState state = DataState::unchanged;
    bool is_directory = false;
    // For directories: workspace-relative paths of the files that differ.
    std::vector<std::string> added, modified, deleted;
};

// Status of every pointer, or of those at/below the given workspace-relative paths.
[[nodiscard]] std::vector<PathStatus> status(Workspace& ws, const std::vector<std::string>& paths,
                                             util::Progress& progress);

} // namespace cairn::workspace
