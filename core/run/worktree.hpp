#pragma once
// Throwaway worktrees under `.cairn/tmp/`: where `cairn rerun` replays a run and where each trial
// of a sweep runs, apart from the user's files.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/fs/lock.hpp"
#include "core/git/git.hpp"
#include "core/hash/hash.hpp"
#include "core/run/record.hpp"
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

// A trial's worktree that can be put back the way it was made, so that the successive trials of
// one sweep slot share it: the code snapshot checked out, objects restored over it, directories
// made. reset() rewrites or removes only what differs from that, as `git checkout -f` plus
// `git clean -fdx` would, without touching unchanged files. Unchanged means the same lstat data
// (type, mode, device, inode, size, mtime and ctime in ns) as recorded after writing; a file
// written in the same filesystem clock tick as the recording ended (racily clean, as git calls
// it) is also compared by content. The worktree's own `.git/` is reset the same way, from a copy
// of its files taken when it was made.
class TrialWorktree {
  public:
    struct Source {
        const RunRecord* snapshot = nullptr; // git_snapshot, git_base, git_branch, git_dirty
        // Restored over the checkout in this order (a later one replaces what is at its path).
        std::vector<std::pair<std::string, std::string>> objects; // path -> object id
        // Made after the objects: the run's working directory, and the parents of its outputs
        // (refusing a symlink on their paths).
        std::string cwd;
        std::vector<std::string> output_dirs;
    };
    // Materialises `source` in `replica`'s root (scratch.work()), replacing anything there, and
    // records it. `replica` and `scratch` must outlive this object. Throws as
    // git::Repository::materialize_worktree and restore_object, Error(input) for an output
    // directory with a symlink on its path, Error(io).
    TrialWorktree(Scratch& scratch, workspace::Workspace& replica, Source source);
    ~TrialWorktree();
    TrialWorktree(const TrialWorktree&) = delete;
    TrialWorktree& operator=(const TrialWorktree&) = delete;

    // Makes the worktree what the constructor made again (from scratch, should something not be
    // put back in place). Throws Error(io), Error(integrity) (an object missing or corrupt in
    // the cache).
    void reset();

  private:
    struct Entry {
        unsigned mode = 0; // st_mode: type and permissions
        std::uint64_t dev = 0, ino = 0, size = 0;
        std::int64_t mtime = 0, ctime = 0;   // ns
        std::optional<hash::Digest> content; // a racily clean file's bytes
        bool seen = false;                   // during reset()
    };
    void materialize();
    void record(const std::string& rel, const std::filesystem::path& abs);
    void stamp();
    [[nodiscard]] std::filesystem::path git_copy() const { return m_scratch.dir() / "git"; }

    Scratch& m_scratch;
    workspace::Workspace& m_replica;
    Source m_source;
    std::unique_ptr<git::Repository> m_repo; // the worktree's own repository
    // Where each restored file's bytes come from: path -> (object, executable).
    std::map<std::string, std::pair<hash::Digest, bool>> m_objects;
    std::map<std::string, Entry> m_entries; // every entry of the worktree, by relative path
};

} // namespace cairn::run
