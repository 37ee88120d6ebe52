#pragma once
// `cairn hooks install|uninstall`: git hooks that keep data and pointer files in step.
//
//   pre-commit     cairn status --check --staged   (refuses a commit whose pointers' data is unsaved)
//   post-checkout  cairn hooks run post-checkout    (restores the data of the pointers that changed)
//   pre-push       cairn push --data-only --rev ... (uploads the data of the commits being pushed)
//
// Hooks go where git runs them: core.hooksPath when set (relative to the work tree root, `~/`
// expanded), else the hooks/ directory of the repository's common git directory. A hook that is
// already there and is not cairn's is kept as `<name>.pre-cairn` and run first by cairn's hook
// (chained), with the same arguments and standard input; uninstall puts it back. cairn's hooks
// are recognised by their marker line, so uninstall never removes a hook cairn did not write.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/git/git.hpp"

namespace cairn::workspace {

namespace stdfs = std::filesystem;

// The hooks cairn manages, in the order they are installed and listed.
[[nodiscard]] const std::vector<std::string>& managed_hooks();

// Where git runs this repository's hooks.
[[nodiscard]] stdfs::path hooks_dir(const git::Repository& repo);

// The script cairn installs as hook `name` (one of managed_hooks()).
[[nodiscard]] std::string hook_script(const std::string& name);

struct HookChange {
    std::string name;
    stdfs::path path;
    // install: "installed", "chained" (an existing hook kept as <name>.pre-cairn and run first),
    // "updated" (an older cairn hook rewritten), "unchanged", "kept" (a cairn hook edited by hand,
    // left alone without --force). uninstall: "removed", "restored" (removed, and the chained
    // hook put back), "not installed", "not cairn's" (a hook cairn did not write, left alone).
    std::string action;
};

// Installs every managed hook. Error(input) when an existing foreign hook cannot be chained
// because `<name>.pre-cairn` is taken, unless `force` (then the foreign hook is replaced and the
// saved one stays chained). `force` also rewrites cairn hooks that were edited by hand.
[[nodiscard]] std::vector<HookChange> install_hooks(const git::Repository& repo, bool force);

// Removes what install_hooks() added, restoring chained hooks.
[[nodiscard]] std::vector<HookChange> uninstall_hooks(const git::Repository& repo);

// The data paths to restore after `git checkout` moved HEAD from `old_head` to `new_head`: the
// pointer files (`*.cairn`) added or changed between the two commits, without their suffix.
// nullopt when `old_head` is all zeros (a fresh clone): then every pointer is new.
[[nodiscard]] std::optional<std::vector<std::string>> changed_data_paths(const git::Repository& repo, const std::string& old_head,
                                                          const std::string& new_head);

} // namespace cairn::workspace
