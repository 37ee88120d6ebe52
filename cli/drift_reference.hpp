#pragma once
// The tables `cairn drift --against` and `cairn report --drift/--against` take (cmd_drift.cpp).

#include <filesystem>
#include <string>

#include "core/drift/profiles.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::cli {

// The profile of a table named as `cairn drift --against` takes it: a file or an object id
// (drift::profile_path), RUN:PATH (a run's recorded input or output), or
// model:NAME[@vN|@ALIAS][:PATH] (the data that model version was trained on). `what` is set to
// how the table is described in output. Throws Error(input) naming `text` when it names none.
[[nodiscard]] drift::ProfiledTable reference_table(workspace::Workspace& ws, const std::filesystem::path& cwd, const std::string& text,
                                                   std::string& what);

} // namespace cairn::cli
