#pragma once
// The one seam to libgit2: RAII handles and throwing wrappers. Nothing outside core/git includes
// <git2.h>.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct git_repository;

namespace cairn::git {

namespace stdfs = std::filesystem;

// Owns libgit2's global state; create exactly one in main() (and in the test main). libgit2 is
// initialised lazily, on the first Repository made, because its initialisation costs ~4 ms (it
// loads the system CA bundle) and commands like `cairn log metric`, run in loops by user
// scripts, never touch git. The destructor shuts it down if it was initialised.
class Library {
public:
    Library();
    ~Library();
    // Initialises libgit2 once (thread-safe). Called by every Repository constructor path.
    static void ensure();
    // ensure(), plus libgit2's TLS set-up, which a static build defers (see
    // cmake/Dependencies.cmake). Call it before anything that may open an HTTPS connection.
    static void ensure_tls();
    Library(const Library&) = delete;
    Library& operator=(const Library&) = delete;
};

// Throws Error(io) with libgit2's last message when rc < 0.
void check(int rc, std::string_view what);

class Repository {
public:
    // The repository containing `start` (searching upwards); nullopt when there is none.
    [[nodiscard]] static std::optional<Repository> discover(const stdfs::path& start);
    // Creates a new non-bare repository at `path` (git init). Throws Error(io).
    [[nodiscard]] static Repository init(const stdfs::path& path);
    // Opens the repository whose work tree is `workdir`. Throws Error(environment).
    [[nodiscard]] static Repository open(const stdfs::path& workdir);

    ~Repository();
    Repository(Repository&&) noexcept;
    Repository& operator=(Repository&&) noexcept;

    // The work tree root (absolute, without trailing slash); Error(environment) for a bare repo.
    [[nodiscard]] stdfs::path workdir() const;

    // The directory shared by all work trees of the repository (`.git` for an ordinary one; the
    // main `.git` for a linked worktree), where `info/exclude` lives.
    [[nodiscard]] stdfs::path common_dir() const;

    // Paths in git's index (re-read from disk) equal to `relative_path` or below it as a
    // directory, in index order, at most `limit` of them.
    [[nodiscard]] std::vector<std::string> tracked_at_or_under(const std::string& relative_path,
                                                               std::size_t limit = 10) const;

    // Every file staged in git's index (stage 0) whose path ends in `suffix`: (path, content),
    // in path order. Throws Error(io) when a staged blob cannot be read.
    [[nodiscard]] std::vector<std::pair<std::string, std::string>> index_blobs_with_suffix(std::string_view suffix) const;

    // True when git would ignore `relative_path` (relative to the work tree).
    [[nodiscard]] bool is_ignored(const std::string& relative_path) const;

    // Visits the blobs reachable from the roots gc must keep: the tips of every branch, tag and
    // remote-tracking branch, the mirrors of git remotes under refs/cairn-gc/, every run ref under
    // refs/cairn/ and refs/cairn-incoming/ (and its commits' parents, the runs' code snapshots),
    // HEAD, and the index. For each blob whose path ends in `suffix`, calls on_pointer(path,
    // content). For every blob of a run ref (run records), calls on_record(path, content). Each
    // distinct tree and blob is read once.
    void visit_reachable_blobs(std::string_view suffix,
                               const std::function<void(const std::string&, std::string_view)>& on_pointer,
                               const std::function<void(const std::string&, std::string_view)>& on_record) const;

    // Writes a blob; returns its object id (40 hex).
    [[nodiscard]] std::string write_blob(std::string_view content) const;
    // Writes a flat tree of blobs (name -> blob id, mode 100644); returns its id.
    [[nodiscard]] std::string write_tree(const std::vector<std::pair<std::string, std::string>>& blobs) const;
    // Writes a commit (author and committer from git config user.name/email, else "cairn");
    // returns its id. Does not move any ref.
    [[nodiscard]] std::string write_commit(const std::string& tree, const std::vector<std::string>& parents,
                                           const std::string& message) const;
    // The id of a commit's tree.
    [[nodiscard]] std::string tree_of(const std::string& commit) const;
    // Creates `name` pointing at `commit`; Error(io) if it exists.
    void create_ref(const std::string& name, const std::string& commit, const std::string& log_message) const;
    // Creates `name` pointing at `commit` unless it exists: false then, nothing changed (the
    // compare-and-swap of a ref that must be new).
    [[nodiscard]] bool try_create_ref(const std::string& name, const std::string& commit,
                                      const std::string& log_message) const;
    // Creates the annotated tag refs/tags/`name` on `commit` with `message`, tagged by the user
    // (git config user.name/email, else "cairn"); false when the tag exists.
    [[nodiscard]] bool try_create_tag(const std::string& name, const std::string& commit, const std::string& message) const;
    // The value of a git config key (repository, then global and system config), or nullopt.
    [[nodiscard]] std::optional<std::string> config_string(const std::string& key) const;
    // "Name <email>" from git config user.name/email, else "cairn <cairn@localhost>".
    [[nodiscard]] std::string signature_text() const;

    struct Snapshot {
        std::string commit;      // HEAD when the work tree is clean, else a commit of it
        std::string base;        // HEAD's commit ("" on an unborn branch)
        std::string branch;      // short branch name ("" when detached)
        bool dirty = false;
        std::vector<std::string> left_out; // untracked files over the size limit, not in the commit
        std::vector<std::string> nested;   // untracked nested git repositories, not in the commit
    };
    // The code as it is now, without touching the index, the work tree or any ref: HEAD when
    // clean; otherwise a commit (parent HEAD) of tracked files plus untracked, non-ignored ones,
    // built in a temporary index at `temp_index`.
    // Untracked files larger than `max_untracked` bytes are left out and listed in left_out;
    // untracked files at or below the paths in `exclude` (a run's declared outputs) are left out
    // silently. When what is left equals HEAD's tree, the snapshot is HEAD (dirty = false).
    [[nodiscard]] Snapshot snapshot_workdir(const stdfs::path& temp_index, const std::string& message,
                                            std::uint64_t max_untracked = UINT64_MAX,
                                            const std::vector<std::string>& exclude = {}) const;

    struct RefTarget {
        std::string name;
        std::string target; // the object id it points to ("" when it cannot be resolved)
    };
    // Every ref whose name starts with `prefix`, sorted by name.
    [[nodiscard]] std::vector<RefTarget> list_refs(const std::string& prefix) const;
    // The blob at `path` in the commit's tree; nullopt when absent.
    [[nodiscard]] std::optional<std::string> read_blob(const std::string& commit, const std::string& path) const;
    // The contents of the blobs at the top of a commit's tree, by name.
    [[nodiscard]] std::map<std::string, std::string> read_top_blobs(const std::string& commit) const;
    // The blobs at the top of a commit's tree: (name, blob id), sorted by name.
    [[nodiscard]] std::vector<std::pair<std::string, std::string>> top_blobs(const std::string& commit) const;
    // The parents of a commit.
    [[nodiscard]] std::vector<std::string> parents(const std::string& commit) const;
    // Moves `name` from `old_commit` to `new_commit`; Error(busy) if someone else moved it first.
    void update_ref(const std::string& name, const std::string& new_commit, const std::string& old_commit,
                    const std::string& log_message) const;
    struct FileChange {
        std::string path;
        char status; // 'A' added, 'D' deleted, 'M' modified, 'R' renamed, 'T' type changed
    };
    // Files that differ between two commits' trees; with `patch`, the unified diff text too.
    [[nodiscard]] std::vector<FileChange> diff_commits(const std::string& a, const std::string& b,
                                                       std::string* patch = nullptr) const;
    // Makes `dir` (new) a git repository of its own that shows the code of a recorded run as the
    // run saw it: its objects are this repository's (through alternates, nothing is copied), HEAD
    // is `base` (on a local branch named `branch` when there is one; unborn when `base` is empty),
    // the index is `base`'s tree, and the files are `snapshot`'s tree, so that `git rev-parse
    // HEAD` and `git status` inside answer as they did for the run. Nothing of this repository
    // changes.
    void materialize_worktree(const std::string& snapshot, const std::string& base, const std::string& branch,
                              const stdfs::path& dir) const;
    // Makes the work tree's files match a commit's tree (files the commit lacks but HEAD has are
    // removed; untracked files stay), without moving HEAD or changing the index.
    void checkout_into_workdir(const std::string& commit) const;
    // Writes the files at `paths` (work-tree-relative, exact paths, no patterns) from a commit's
    // tree into the work tree, replacing whatever is at each of them (a modified file, a missing
    // one), with the repository's checkout filters and modes as any checkout. Nothing else is
    // touched: not other files, HEAD or the index. A path the commit lacks is left alone. An
    // empty list writes nothing. Throws Error(io).
    void checkout_paths(const std::string& commit, const std::vector<std::string>& paths) const;
    // Work tree files with changes not committed (modified or untracked, not ignored) that a
    // checkout_into_workdir(commit) would overwrite or delete: their bytes differ from the
    // commit's, and the commit has the path or HEAD tracks it. Staged content is not at risk
    // (the index is never written).
    [[nodiscard]] std::vector<std::string> uncommitted_in_the_way(const std::string& commit) const;
    // Every blob in a commit's tree whose path ends in `suffix`: (path, content), in path order.
    [[nodiscard]] std::vector<std::pair<std::string, std::string>> blobs_with_suffix(const std::string& commit,
                                                                                   std::string_view suffix) const;
    struct CommitInfo {
        std::string id;
        std::string summary;   // first line of the message
        std::int64_t time = 0; // committer time, unix seconds
    };
    // Following first parents back from `commit`, the oldest commit in the unbroken line whose
    // blob at `path` is the one `commit` has (the commit that made the file what it is there).
    // Looks at most `limit` commits back; nullopt when `commit` has no blob at `path`.
    [[nodiscard]] std::optional<CommitInfo> introducing_commit(const std::string& commit, const std::string& path,
                                                               std::size_t limit = 10000) const;
    // HEAD's commit; "" on an unborn branch.
    [[nodiscard]] std::string head() const;
    // The commit `rev` names (anything `git rev-parse` takes: HEAD~1, a branch, an id). Throws
    // Error(input) naming it.
    [[nodiscard]] std::string resolve_commit(const std::string& rev) const;
    // True when `commit` names a commit present in the object database.
    [[nodiscard]] bool has_commit(const std::string& commit) const;
    // Deletes a ref; false if it did not exist.
    bool delete_ref(const std::string& name) const;

    [[nodiscard]] git_repository* raw() const { return m_repo; }

private:
    explicit Repository(git_repository* repo) : m_repo(repo) {}
    git_repository* m_repo = nullptr;
};

} // namespace cairn::git
