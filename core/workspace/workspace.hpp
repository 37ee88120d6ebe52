#pragma once
// A cairn workspace: a git work tree with a `.cairn/` store at its root. Owns the paths, the
// configuration, the cache and the stat cache, and turns user-typed paths into safe
// workspace-relative ones.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/cache/cache.hpp"
#include "core/git/git.hpp"
#include "core/state/state.hpp"
#include "core/workspace/config.hpp"
#include "core/workspace/pointer.hpp"

namespace cairn::workspace {

namespace stdfs = std::filesystem;

struct InitResult {
    stdfs::path root;
    bool created_git = false;
    bool created_store = false; // false when .cairn/ already existed (init is idempotent)
};

// Creates `.cairn/` in the git work tree enclosing `cwd`. Without a repository it fails with a
// hint, unless `create_git`, which runs the equivalent of `git init` in `cwd` first.
InitResult init(const stdfs::path& cwd, bool create_git);

// A pointer file found in the workspace.
struct PointerFile {
    std::string pointer_path; // workspace-relative, e.g. "data/images.cairn"
    std::string data_path;    // workspace-relative, e.g. "data/images"
};

// A pointer file in a commit, and the data it tracks.
struct TrackedData {
    std::string pointer_path; // e.g. "data/images.cairn"
    std::string data_path;    // e.g. "data/images"
    std::string text;         // the pointer file's bytes
    Pointer pointer;
};

// Every pointer file in `commit`'s tree, parsed and validated, in path order. Throws
// Error(input) for a malformed one.
[[nodiscard]] std::vector<TrackedData> tracked_data_in(const git::Repository& repo, const std::string& commit);

class Workspace {
public:
    // The workspace enclosing `cwd`. Throws Error(environment) outside a git repository or when
    // `cairn init` has not been run.
    [[nodiscard]] static Workspace discover(const stdfs::path& cwd);

    // A materialised copy of this workspace's files at `root` (a `cairn rerun` worktree): paths
    // resolve under `root`, while the store, configuration and git repository are this
    // workspace's. Its stat cache lives in `state_dir`, apart from the workspace's.
    [[nodiscard]] Workspace replica(const stdfs::path& root, const stdfs::path& state_dir) const;

    [[nodiscard]] const stdfs::path& root() const { return m_root; }
    // The `.cairn/` directory (of the workspace this one is a replica of, for a replica).
    [[nodiscard]] const stdfs::path& store_dir() const { return m_store; }
    [[nodiscard]] const Config& config() const { return m_config; }
    [[nodiscard]] cache::Cache& cache() { return *m_cache; }
    [[nodiscard]] state::StatCache& stat_cache() { return *m_state; }
    [[nodiscard]] git::Repository& repo() { return *m_repo; }

    // Lock taken shared by commands that add or read objects and exclusively by gc, so that gc
    // never removes an object another process is about to reference.
    [[nodiscard]] stdfs::path store_lock_path() const { return store_dir() / "lock"; }
    // Lock around read-modify-write of pointer files and .gitignore files.
    [[nodiscard]] stdfs::path workspace_lock_path() const { return store_dir() / "workspace.lock"; }

    // Turns a path typed by the user (relative to `cwd`, or absolute) into a normalised
    // workspace-relative path. Refuses with Error(input) a path outside the workspace, the
    // workspace root itself, anything inside .git/ or .cairn/, and a path whose existing
    // components include a symlink leading outside the workspace.
    [[nodiscard]] std::string relative_path(const stdfs::path& cwd, const std::string& user_path) const;

    // relative_path() of each path, in order.
    [[nodiscard]] std::vector<std::string> relative_paths(const stdfs::path& cwd,
                                                          const std::vector<std::string>& user_paths) const;

    // Throws Error(input) unless every existing component of `relative` (a workspace-relative
    // path) below the root is a real directory or file, not a symlink: used before writing.
    void check_no_symlinks(const std::string& relative) const;

    // Every pointer file in the workspace (or below the given workspace-relative paths), in path
    // order. Skips .git, .cairn, git-ignored directories and tracked data directories. Only
    // regular files are pointers: a `*.cairn` symlink is Error(input); a FIFO, socket or device
    // is skipped with a warning (never opened) unless named in `under`, then Error(input); a
    // directory named `*.cairn` is searched like any directory, with a warning.
    [[nodiscard]] std::vector<PointerFile> find_pointers(const std::vector<std::string>& under = {}) const;

    // Warnings collected by the commands run on this workspace (pointer files skipped, ...),
    // for the caller to show; taking them clears the list.
    [[nodiscard]] std::vector<std::string> take_warnings();

    // Reads and validates a pointer file.
    [[nodiscard]] Pointer read_pointer(const PointerFile& file) const;

    // Ensures `<dir>/.gitignore` lists `/<name>` (DVC-style, one entry per tracked path).
    void ignore_in_git(const std::string& data_path) const;

    [[nodiscard]] stdfs::path absolute(const std::string& relative) const {
        return relative.empty() ? m_root : m_root / relative;
    }

private:
    Workspace() = default;
    void warn(std::string message) const;
    void not_a_pointer(const std::string& path, bool symlink) const;

    stdfs::path m_root;
    stdfs::path m_store;
    Config m_config;
    std::unique_ptr<git::Repository> m_repo;
    std::unique_ptr<cache::Cache> m_cache;
    std::unique_ptr<state::StatCache> m_state;
    mutable std::vector<std::string> m_warnings;
};

} // namespace cairn::workspace
