#include "core/git/git.hpp"

#include <set>
#include <unordered_set>
#include <vector>

#include <git2.h>

#include "core/util/error.hpp"
#include "core/util/strings.hpp"

namespace cairn::git {
namespace {

template <typename T, void (*Free)(T*)> struct Deleter {
    void operator()(T* p) const { Free(p); }
};
template <typename T, void (*Free)(T*)> using Handle = std::unique_ptr<T, Deleter<T, Free>>;

using ObjectHandle = Handle<git_object, git_object_free>;
using TreeHandle = Handle<git_tree, git_tree_free>;
using BlobHandle = Handle<git_blob, git_blob_free>;
using CommitHandle = Handle<git_commit, git_commit_free>;
using IndexHandle = Handle<git_index, git_index_free>;
using RefIterHandle = Handle<git_reference_iterator, git_reference_iterator_free>;
using RefHandle = Handle<git_reference, git_reference_free>;

struct OidHash {
    std::size_t operator()(const git_oid& oid) const noexcept {
        std::size_t h;
        __builtin_memcpy(&h, oid.id, sizeof h);
        return h;
    }
};
struct OidEq {
    bool operator()(const git_oid& a, const git_oid& b) const noexcept { return git_oid_equal(&a, &b); }
};
using OidSet = std::unordered_set<git_oid, OidHash, OidEq>;

} // namespace

Library::Library() { git_libgit2_init(); }
Library::~Library() { git_libgit2_shutdown(); }

void check(int rc, std::string_view what) {
    if (rc >= 0) return;
    const git_error* err = git_error_last();
    std::string message = err && err->message ? err->message : "unknown libgit2 error";
    throw Error(ErrorKind::io, fmt::format("git: {}: {}", what, message));
}

std::optional<Repository> Repository::discover(const stdfs::path& start) {
    git_buf buf = GIT_BUF_INIT;
    int rc = git_repository_discover(&buf, start.c_str(), 0, nullptr);
    if (rc == GIT_ENOTFOUND) return std::nullopt;
    check(rc, "cannot look for a repository");
    std::string path(buf.ptr, buf.size);
    git_buf_dispose(&buf);
    git_repository* repo = nullptr;
    check(git_repository_open(&repo, path.c_str()), "cannot open repository " + path);
    return Repository(repo);
}

Repository Repository::init(const stdfs::path& path) {
    git_repository* repo = nullptr;
    check(git_repository_init(&repo, path.c_str(), 0), "cannot create a repository in " + path.string());
    return Repository(repo);
}

Repository Repository::open(const stdfs::path& workdir) {
    git_repository* repo = nullptr;
    if (git_repository_open(&repo, workdir.c_str()) < 0)
        fail(ErrorKind::environment, "{} is not a git repository", workdir.string());
    return Repository(repo);
}

Repository::~Repository() {
    if (m_repo) git_repository_free(m_repo);
}
Repository::Repository(Repository&& other) noexcept : m_repo(other.m_repo) { other.m_repo = nullptr; }
Repository& Repository::operator=(Repository&& other) noexcept {
    if (this != &other) {
        if (m_repo) git_repository_free(m_repo);
        m_repo = other.m_repo;
        other.m_repo = nullptr;
    }
    return *this;
}

stdfs::path Repository::workdir() const {
    const char* dir = git_repository_workdir(m_repo);
    if (dir == nullptr) fail(ErrorKind::environment, "cairn needs a repository with a work tree (this one is bare)");
    std::string s = dir;
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    return s;
}

bool Repository::is_ignored(const std::string& relative_path) const {
    int ignored = 0;
    check(git_ignore_path_is_ignored(&ignored, m_repo, relative_path.c_str()), "cannot check ignore rules");
    return ignored != 0;
}

void Repository::visit_reachable_blobs(
    std::string_view suffix, const std::function<void(const std::string&, std::string_view)>& on_pointer,
    const std::function<void(const std::string&, std::string_view)>& on_record) const {
    OidSet seen_trees;
    OidSet seen_blobs;

    // Depth-first over a tree, skipping sub-trees already visited from another root.
    std::function<void(const git_tree*, const std::string&, bool)> walk =
        [&](const git_tree* tree, const std::string& prefix, bool record) {
            std::size_t count = git_tree_entrycount(tree);
            for (std::size_t i = 0; i < count; ++i) {
                const git_tree_entry* entry = git_tree_entry_byindex(tree, i);
                const git_oid* oid = git_tree_entry_id(entry);
                std::string path = prefix + git_tree_entry_name(entry);
                git_object_t type = git_tree_entry_type(entry);
                if (type == GIT_OBJECT_TREE) {
                    if (!seen_trees.insert(*oid).second) continue;
                    git_tree* sub = nullptr;
                    check(git_tree_lookup(&sub, m_repo, oid), "cannot read tree " + path);
                    TreeHandle guard(sub);
                    walk(sub, path + "/", record);
                } else if (type == GIT_OBJECT_BLOB) {
                    bool pointer = util::ends_with(path, suffix);
                    if (!pointer && !record) continue;
                    if (!seen_blobs.insert(*oid).second) continue;
                    git_blob* blob = nullptr;
                    check(git_blob_lookup(&blob, m_repo, oid), "cannot read blob " + path);
                    BlobHandle guard(blob);
                    std::string_view content(static_cast<const char*>(git_blob_rawcontent(blob)),
                                             static_cast<std::size_t>(git_blob_rawsize(blob)));
                    if (pointer) on_pointer(path, content);
                    if (record) on_record(path, content);
                }
            }
        };

    auto visit_commit_tree = [&](const git_commit* commit, bool record) {
        const git_oid* tree_id = git_commit_tree_id(commit);
        if (!seen_trees.insert(*tree_id).second) return;
        git_tree* tree = nullptr;
        check(git_commit_tree(&tree, commit), "cannot read a commit's tree");
        TreeHandle guard(tree);
        walk(tree, "", record);
    };

    auto visit_ref = [&](git_reference* ref) {
        const char* name = git_reference_name(ref);
        bool record = util::starts_with(name, "refs/cairn/");
        git_object* peeled = nullptr;
        if (git_reference_peel(&peeled, ref, GIT_OBJECT_COMMIT) < 0) {
            git_error_clear();
            return; // a ref to a blob or tree, or a broken ref: nothing gc can use
        }
        ObjectHandle guard(peeled);
        auto* commit = reinterpret_cast<git_commit*>(peeled);
        visit_commit_tree(commit, record);
        if (record) {
            // A run's parents are its code snapshot: data pointed to there must survive gc too.
            unsigned parents = git_commit_parentcount(commit);
            for (unsigned p = 0; p < parents; ++p) {
                git_commit* parent = nullptr;
                if (git_commit_parent(&parent, commit, p) < 0) {
                    git_error_clear();
                    continue;
                }
                CommitHandle parent_guard(parent);
                visit_commit_tree(parent, false);
            }
        }
    };

    git_reference_iterator* iter = nullptr;
    check(git_reference_iterator_new(&iter, m_repo), "cannot list references");
    RefIterHandle iter_guard(iter);
    git_reference* ref = nullptr;
    int rc;
    while ((rc = git_reference_next(&ref, iter)) == 0) {
        RefHandle guard(ref);
        std::string_view name = git_reference_name(ref);
        if (util::starts_with(name, "refs/heads/") || util::starts_with(name, "refs/tags/") ||
            util::starts_with(name, "refs/cairn/") || util::starts_with(name, "refs/remotes/"))
            visit_ref(ref);
    }
    if (rc != GIT_ITEROVER) check(rc, "cannot list references");

    git_reference* head = nullptr;
    if (git_repository_head(&head, m_repo) == 0) {
        RefHandle guard(head);
        visit_ref(head);
    } else {
        git_error_clear(); // unborn HEAD: nothing committed yet
    }

    git_index* index = nullptr;
    check(git_repository_index(&index, m_repo), "cannot read the index");
    IndexHandle index_guard(index);
    std::size_t count = git_index_entrycount(index);
    for (std::size_t i = 0; i < count; ++i) {
        const git_index_entry* entry = git_index_get_byindex(index, i);
        if (!util::ends_with(entry->path, suffix) || !seen_blobs.insert(entry->id).second) continue;
        git_blob* blob = nullptr;
        if (git_blob_lookup(&blob, m_repo, &entry->id) < 0) {
            git_error_clear();
            continue;
        }
        BlobHandle guard(blob);
        on_pointer(entry->path, std::string_view(static_cast<const char*>(git_blob_rawcontent(blob)),
                                                 static_cast<std::size_t>(git_blob_rawsize(blob))));
    }
}

} // namespace cairn::git
