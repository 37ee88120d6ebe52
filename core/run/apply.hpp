#pragma once
// `cairn apply`: brings a recorded run's outputs (and its code snapshot's files) into the work
// tree, so that work can continue from a good experiment.

#include <string>
#include <vector>

#include "core/run/record.hpp"
#include "core/util/progress.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::run {

inline constexpr std::string_view k_apply_stash_ref = "refs/cairn/apply/stash";

struct ApplyOptions {
    bool outputs_only = false; // leave the code alone
    bool force = false;        // overwrite uncommitted changes, after saving them
};

struct ApplyResult {
    std::vector<std::string> code_files;     // files the code snapshot changed in the work tree
    std::vector<std::string> outputs;        // outputs restored
    std::vector<std::string> pointers_changed; // pointer files the code changed
    std::vector<std::string> data;           // tracked data brought in line with them (as `cairn checkout`)
    std::string stash_commit;                // uncommitted work saved first (with --force), else ""
    std::string stash_ref;                   // where (refs/cairn/apply/stash)
    std::vector<std::pair<std::string, std::string>> saved_outputs; // output path -> id of the bytes it held
};

// Tracked data whose pointer file the code changes is checked out too. Without force, throws
// Error(input) listing the uncommitted changes it would overwrite (code files modified since
// HEAD, output or tracked-data bytes not in the cache) and changes nothing. With force,
// saves them first: the work tree as a commit on refs/cairn/apply/stash (the previous stash is
// kept as refs/cairn/apply/stash-<commit>), output bytes in the cache.
[[nodiscard]] ApplyResult apply(workspace::Workspace& ws, const RunRecord& run, const ApplyOptions& options,
                                util::Progress& progress);

} // namespace cairn::run
