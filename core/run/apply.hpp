#pragma once
// `cairn apply`: brings a recorded run's outputs (and its code snapshot's files, and its parameter
// values) into the work tree, so that work can continue from a good experiment.

#include <optional>
#include <string>
#include <vector>

#include "core/run/record.hpp"
#include "core/util/progress.hpp"
#include "core/workspace/checkout.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::run {

inline constexpr std::string_view k_apply_stash_ref = "refs/cairn/apply/stash";
// In the stash's last parent: the data saved to the cache (docs/format.md, "Apply stash").
inline constexpr std::string_view k_apply_stash_data = "saved.cairn";

struct ApplyOptions {
    bool outputs_only = false; // leave the code and the parameter files alone
    bool force = false;        // overwrite uncommitted changes, after saving them
};

// One parameter value an apply changed in the work tree.
struct ParamChange {
    std::string file;          // the parameter file (workspace-relative)
    std::string key;           // dotted key (`train.lr`)
    std::optional<params::Param> from; // what the file held before the apply; nullopt when it lacked the key
    std::optional<params::Param> to;   // what it holds now; nullopt when the code snapshot's file lacks the key
};

struct ApplyResult {
    std::vector<std::string> code_files;     // files the code snapshot changed in the work tree
    std::vector<std::string> outputs;        // outputs restored
    std::vector<std::string> pointers_changed; // pointer files the code changed
    std::vector<std::string> data;           // tracked data brought in line with them (as `cairn checkout`)
    std::string stash_commit;                // uncommitted work saved first (with --force), else ""
    std::string stash_ref;                   // where (refs/cairn/apply/stash)
    std::vector<std::pair<std::string, std::string>> saved_outputs; // output path -> id of the bytes it held
    std::vector<std::string> param_files;    // parameter files whose bytes the apply changed
    std::vector<ParamChange> params;         // the values it changed in them, by file then key
    std::vector<std::string> warnings;       // parameter files of the run missing from the work tree (skipped)
};

// Tracked data whose pointer file the code changes is checked out too. Unless outputs_only, the
// run's parameter files (run.param_files, as the code snapshot has them) get the recorded values
// (run.params) where they differ, edited in place by override_params_file as `cairn run -p`
// edits them; a file missing from the work tree is skipped with a warning. Without force, throws
// Error(input) listing the uncommitted changes it would overwrite (code and parameter files
// modified since HEAD whose bytes the apply changes, output or tracked-data bytes not in the
// cache) and changes nothing. With force, saves them first: output, tracked-data and parameter
// file bytes in the cache, and the work tree as a commit on refs/cairn/apply/stash whose last
// parent records those paths and ids (the previous stash is kept as
// refs/cairn/apply/stash-<commit>); undo_apply() brings them back. Error(input) for a parameter
// file that does not parse or a value that cannot be written in place.
[[nodiscard]] ApplyResult apply(workspace::Workspace& ws, const RunRecord& run, const ApplyOptions& options,
                                util::Progress& progress);

struct UndoResult {
    std::string stash_commit;             // the stash restored (its ref is then deleted)
    std::string run;                      // the run whose apply it undid
    std::vector<std::string> code_files;  // code files put back as the stash has them, or removed
    std::vector<std::string> data;        // data paths restored from the cache
    std::vector<std::string> removed;     // data paths the apply had created, removed
    std::vector<std::string> param_files; // parameter files put back as they were before the apply
};

// `cairn apply --undo`: restores the work tree saved by the last `apply --force` from
// refs/cairn/apply/stash, the code files as the stash commit has them, the parameter files the
// apply edited as they were, and the data through the checkout engine, then deletes the ref (as `git stash pop` drops the stash). Files and
// data changed since the apply (neither what the stash saved nor what the apply wrote, and for
// data not in the cache) are in the way: Error(input) naming them, nothing changed, unless
// Overwrite::force. Error(input) when there is no stash or it has no record of saved data;
// Error(integrity) naming any saved object the cache lacks.
[[nodiscard]] UndoResult undo_apply(workspace::Workspace& ws, workspace::Overwrite overwrite, util::Progress& progress);

} // namespace cairn::run
