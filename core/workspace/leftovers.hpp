#pragma once
// Temp files that killed cairn processes leave in the work tree, and the bounded set of places
// `gc` looks for them: cairn writes beside and inside the data it restores and the files it
// edits, nowhere else, so gc never walks the rest of a large work tree.

#include <string>
#include <string_view>
#include <vector>

#include "core/fs/atomic_file.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::workspace {

// Removes (with dry_run: counts) the temp files of dead creators (fs::is_dead_temp) in the
// workspace root, in the directory holding each of `places` (workspace-relative data paths,
// run outputs, parameter files), and anywhere below each of those that is a directory. A place
// that is not a safe relative path, or that goes through a symlink, is skipped. Returns the
// count. Throws Error(io) when a directory cannot be listed or a file removed.
std::size_t sweep_work_tree_temps(const Workspace& ws, const std::vector<std::string>& places,
                                  fs::SweepMode mode);

// Adds to `places` the workspace paths a run record's blob names: the keys of outputs.yaml and
// the param_files of run.yaml (`blob_path` is the blob's path in the record's tree). Other
// blobs, and blobs that do not parse, add nothing: these are hints of where to look.
void add_record_places(const std::string& blob_path, std::string_view content,
                       std::vector<std::string>& places);

} // namespace cairn::workspace
