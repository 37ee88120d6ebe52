#pragma once
// Throwaway worktrees under `.cairn/tmp/`: where `cairn rerun` replays a run and where each trial
// of a sweep runs, apart from the user's files.

#include <filesystem>
#include <optional>
#include <string>

#include "core/fs/lock.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::run {

// The scratch directory of one re-run step or sweep trial: `.cairn/tmp/<label>-<8 random hex>/`
// holding `lock` (held while it is in use, so that gc leaves it alone), `state/` (the replica's
// stat cache) and the worktree `work/`. `label` starts with `rerun-` or `sweep-`, the prefixes gc
// looks for. Removed on destruction (read-only files included) unless kept.
class Scratch {
  public:
    // Creates the directory and takes its lock. Throws Error(io).
    Scratch(const workspace::Workspace& ws, const std::string& label);
    ~Scratch();
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;

    [[nodiscard]] const std::filesystem::path& dir() const { return m_dir; }
    [[nodiscard]] std::filesystem::path work() const { return m_dir / "work"; }
    [[nodiscard]] std::filesystem::path state() const { return m_dir / "state"; }
    // Keeps the directory after destruction, with a `kept` file saying by whom (`why`).
    void keep(const std::string& why);

  private:
    std::filesystem::path m_dir;
    std::optional<fs::FileLock> m_lock;
    bool m_keep = false;
};

// Writes object `id` (a file or a directory tree) at workspace-relative `rel` in `replica`,
// replacing what is there, reflinked where the filesystem allows and copied otherwise (so that a
// command writing to it cannot reach the cache). Throws Error(input) for a malformed id or a
// symlink on the path, Error(integrity) for a sub-tree missing from the cache.
void restore_object(workspace::Workspace& replica, const std::string& rel, const std::string& id);

} // namespace cairn::run
