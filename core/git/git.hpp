#pragma once
// The one seam to libgit2: RAII handles and throwing wrappers. Nothing outside core/git includes
// <git2.h>.

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

struct git_repository;

namespace cairn::git {

namespace stdfs = std::filesystem;

// Owns git_libgit2_init/shutdown; create exactly one in main() (and in the test main).
class Library {
public:
    Library();
    ~Library();
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

    // True when git would ignore `relative_path` (relative to the work tree).
    [[nodiscard]] bool is_ignored(const std::string& relative_path) const;

    // Visits the blobs reachable from the roots gc must keep: the tips of every branch and tag,
    // every ref under refs/cairn/ (and its commits' parents, the runs' code snapshots), HEAD, and
    // the index. For each blob whose path ends in `suffix`, calls on_pointer(path, content). For
    // every blob under refs/cairn/ (run records), calls on_record(path, content). Each distinct
    // tree and blob is read once.
    void visit_reachable_blobs(std::string_view suffix,
                               const std::function<void(const std::string&, std::string_view)>& on_pointer,
                               const std::function<void(const std::string&, std::string_view)>& on_record) const;

    [[nodiscard]] git_repository* raw() const { return m_repo; }

private:
    explicit Repository(git_repository* repo) : m_repo(repo) {}
    git_repository* m_repo = nullptr;
};

} // namespace cairn::git
