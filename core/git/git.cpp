#include "core/git/git.hpp"

#include <cstdlib>
#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <sys/stat.h>
#include <unordered_set>
#include <vector>

#include <git2.h>
#include <git2/sys/repository.h>

#include "core/fs/atomic_file.hpp"
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
using TreeBuilderHandle = Handle<git_treebuilder, git_treebuilder_free>;
using SignatureHandle = Handle<git_signature, git_signature_free>;
using RepoHandle = Handle<git_repository, git_repository_free>;
using StatusHandle = Handle<git_status_list, git_status_list_free>;

std::string oid_hex(const git_oid& oid) {
    char buf[GIT_OID_HEXSZ + 1] = {};
    git_oid_tostr(buf, sizeof buf, &oid);
    return buf;
}

git_oid parse_oid(const std::string& hex) {
    git_oid oid;
    check(git_oid_fromstr(&oid, hex.c_str()), "bad object id " + hex);
    return oid;
}

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

namespace {
std::once_flag g_init_once;
std::atomic<bool> g_initialised{false};
} // namespace

Library::Library() = default;
Library::~Library() {
    if (g_initialised.load()) git_libgit2_shutdown();
}

#ifdef CAIRN_DEFER_GIT_TLS
// Linked with `ld --wrap=git_mbedtls_stream_global_init`: git_libgit2_init() calls the wrapper,
// which leaves TLS alone (it would parse the whole CA bundle); ensure_tls() calls the real one.
extern "C" int __real_git_mbedtls_stream_global_init(void); // NOLINT(bugprone-reserved-identifier)
extern "C" int __wrap_git_mbedtls_stream_global_init(void) { return 0; } // NOLINT(bugprone-reserved-identifier)
#endif

void Library::ensure_tls() {
    ensure();
#ifdef CAIRN_DEFER_GIT_TLS
    static std::once_flag tls_once;
    std::call_once(tls_once, [] { check(__real_git_mbedtls_stream_global_init(), "cannot set up TLS"); });
#endif
}

void Library::ensure() {
    std::call_once(g_init_once, [] {
        git_libgit2_init();
        g_initialised = true;
    });
}

void check(int rc, std::string_view what) {
    if (rc >= 0) return;
    const git_error* err = git_error_last();
    std::string message = err && err->message ? err->message : "unknown libgit2 error";
    throw Error(ErrorKind::io, fmt::format("git: {}: {}", what, message));
}

std::optional<Repository> Repository::discover(const stdfs::path& start) {
    Library::ensure();
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
    Library::ensure();
    git_repository* repo = nullptr;
    check(git_repository_init(&repo, path.c_str(), 0), "cannot create a repository in " + path.string());
    return Repository(repo);
}

Repository Repository::open(const stdfs::path& workdir) {
    Library::ensure();
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

stdfs::path Repository::common_dir() const {
    std::string s = git_repository_commondir(m_repo);
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    return s;
}

namespace {

// The repository's index, re-read from disk when another process changed it.
git_index* fresh_index(git_repository* repo) {
    git_index* index = nullptr;
    check(git_repository_index(&index, repo), "cannot open the git index");
    check(git_index_read(index, 0), "cannot read the git index");
    return index;
}

} // namespace

std::vector<std::string> Repository::tracked_at_or_under(const std::string& relative_path, std::size_t limit) const {
    IndexHandle index(fresh_index(m_repo));
    std::vector<std::string> out;
    std::string dir = relative_path + "/";
    // The index is sorted by path: entries under `dir` form one run, found by prefix.
    if (git_index_get_bypath(index.get(), relative_path.c_str(), 0) != nullptr) out.push_back(relative_path);
    std::size_t at = 0;
    if (git_index_find_prefix(&at, index.get(), dir.c_str()) == 0) {
        for (std::size_t n = git_index_entrycount(index.get()); at < n && out.size() < limit; ++at) {
            const git_index_entry* e = git_index_get_byindex(index.get(), at);
            if (!util::starts_with(e->path, dir)) break;
            if (out.empty() || out.back() != e->path) out.push_back(e->path); // conflict stages share a path
        }
    } else {
        git_error_clear();
    }
    return out;
}

std::vector<std::pair<std::string, std::string>> Repository::index_blobs_with_suffix(std::string_view suffix) const {
    IndexHandle index(fresh_index(m_repo));
    std::vector<std::pair<std::string, std::string>> out;
    for (std::size_t i = 0, n = git_index_entrycount(index.get()); i < n; ++i) {
        const git_index_entry* e = git_index_get_byindex(index.get(), i);
        if (GIT_INDEX_ENTRY_STAGE(e) != 0 || !util::ends_with(e->path, suffix)) continue;
        git_blob* blob = nullptr;
        check(git_blob_lookup(&blob, m_repo, &e->id), std::string("cannot read the staged ") + e->path);
        BlobHandle guard(blob);
        out.emplace_back(e->path, std::string(static_cast<const char*>(git_blob_rawcontent(blob)),
                                              static_cast<std::size_t>(git_blob_rawsize(blob))));
    }
    return out;
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
        // Runs, and runs fetched from a git remote but not (or not yet) taken in by a pull.
        bool record = util::starts_with(name, "refs/cairn/") || util::starts_with(name, "refs/cairn-incoming/");
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
            util::starts_with(name, "refs/cairn/") || util::starts_with(name, "refs/remotes/") ||
            util::starts_with(name, "refs/cairn-incoming/") || util::starts_with(name, "refs/cairn-gc/"))
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

namespace {

// The tree of a commit, owned.
TreeHandle commit_tree(git_repository* repo, const std::string& commit) {
    git_oid oid = parse_oid(commit);
    git_commit* c = nullptr;
    check(git_commit_lookup(&c, repo, &oid), "cannot read commit " + commit);
    CommitHandle guard(c);
    git_tree* tree = nullptr;
    check(git_commit_tree(&tree, c), "cannot read the tree of " + commit);
    return TreeHandle(tree);
}

} // namespace

std::string Repository::tree_of(const std::string& commit) const {
    TreeHandle tree = commit_tree(m_repo, commit);
    return oid_hex(*git_tree_id(tree.get()));
}

std::string Repository::write_blob(std::string_view content) const {
    git_oid oid;
    check(git_blob_create_from_buffer(&oid, m_repo, content.data(), content.size()), "cannot write a blob");
    return oid_hex(oid);
}

std::string Repository::write_tree(const std::vector<std::pair<std::string, std::string>>& blobs) const {
    git_treebuilder* builder = nullptr;
    check(git_treebuilder_new(&builder, m_repo, nullptr), "cannot build a tree");
    TreeBuilderHandle guard(builder);
    for (const auto& [name, blob] : blobs) {
        git_oid oid = parse_oid(blob);
        check(git_treebuilder_insert(nullptr, builder, name.c_str(), &oid, GIT_FILEMODE_BLOB), "cannot add " + name);
    }
    git_oid tree;
    check(git_treebuilder_write(&tree, builder), "cannot write a tree");
    return oid_hex(tree);
}

std::string Repository::write_commit(const std::string& tree_hex, const std::vector<std::string>& parents,
                                     const std::string& message) const {
    git_signature* sig = nullptr;
    if (git_signature_default(&sig, m_repo) < 0) {
        git_error_clear();
        check(git_signature_now(&sig, "cairn", "cairn@localhost"), "cannot make a signature");
    }
    SignatureHandle sig_guard(sig);
    git_oid tree_oid = parse_oid(tree_hex);
    git_tree* tree = nullptr;
    check(git_tree_lookup(&tree, m_repo, &tree_oid), "cannot read tree " + tree_hex);
    TreeHandle tree_guard(tree);
    std::vector<CommitHandle> parent_handles;
    std::vector<const git_commit*> parent_ptrs;
    for (const auto& p : parents) {
        git_oid oid = parse_oid(p);
        git_commit* c = nullptr;
        check(git_commit_lookup(&c, m_repo, &oid), "cannot read commit " + p);
        parent_handles.emplace_back(c);
        parent_ptrs.push_back(c);
    }
    git_oid out;
    check(git_commit_create(&out, m_repo, nullptr, sig, sig, nullptr, message.c_str(), tree, parent_ptrs.size(),
                            parent_ptrs.data()),
          "cannot write a commit");
    return oid_hex(out);
}

void Repository::create_ref(const std::string& name, const std::string& commit, const std::string& log_message) const {
    git_oid oid = parse_oid(commit);
    git_reference* ref = nullptr;
    check(git_reference_create(&ref, m_repo, name.c_str(), &oid, 0, log_message.c_str()), "cannot create " + name);
    git_reference_free(ref);
}

bool Repository::try_create_ref(const std::string& name, const std::string& commit,
                                const std::string& log_message) const {
    git_oid oid = parse_oid(commit);
    git_reference* ref = nullptr;
    int rc = git_reference_create(&ref, m_repo, name.c_str(), &oid, 0, log_message.c_str());
    if (rc == GIT_EEXISTS) {
        git_error_clear();
        return false;
    }
    if (rc == GIT_ELOCKED) {
        git_error_clear();
        fail(ErrorKind::busy, "{} is being changed by another process; try again", name);
    }
    check(rc, "cannot create " + name);
    git_reference_free(ref);
    return true;
}

namespace {
// The user as git takes them for authorship: GIT_AUTHOR_NAME/EMAIL, else user.name/email.
SignatureHandle default_signature(git_repository* repo) {
    git_signature* sig = nullptr;
    const char* name = std::getenv("GIT_AUTHOR_NAME");
    const char* email = std::getenv("GIT_AUTHOR_EMAIL");
    if (name && *name && email && *email && git_signature_now(&sig, name, email) == 0) return SignatureHandle(sig);
    git_error_clear();
    if (git_signature_default(&sig, repo) < 0) {
        git_error_clear();
        check(git_signature_now(&sig, "cairn", "cairn@localhost"), "cannot make a signature");
    }
    return SignatureHandle(sig);
}
} // namespace

bool Repository::try_create_tag(const std::string& name, const std::string& commit, const std::string& message) const {
    SignatureHandle sig = default_signature(m_repo);
    git_oid oid = parse_oid(commit);
    git_object* target = nullptr;
    check(git_object_lookup(&target, m_repo, &oid, GIT_OBJECT_COMMIT), "cannot read commit " + commit);
    std::unique_ptr<git_object, Deleter<git_object, git_object_free>> target_guard(target);
    git_oid tag;
    int rc = git_tag_create(&tag, m_repo, name.c_str(), target, sig.get(), message.c_str(), 0);
    if (rc == GIT_EEXISTS) {
        git_error_clear();
        return false;
    }
    check(rc, "cannot create tag " + name);
    return true;
}

std::optional<std::string> Repository::config_string(const std::string& key) const {
    git_config* config = nullptr;
    check(git_repository_config_snapshot(&config, m_repo), "cannot read git config");
    Handle<git_config, git_config_free> guard(config);
    const char* value = nullptr;
    int rc = git_config_get_string(&value, config, key.c_str());
    if (rc == GIT_ENOTFOUND) {
        git_error_clear();
        return std::nullopt;
    }
    check(rc, "cannot read git config " + key);
    return std::string(value);
}

std::string Repository::signature_text() const {
    SignatureHandle sig = default_signature(m_repo);
    return std::string(sig->name) + " <" + sig->email + ">";
}

Repository::Snapshot Repository::snapshot_workdir(const stdfs::path& temp_index, const std::string& message,
                                                  std::uint64_t max_untracked,
                                                  const std::vector<std::string>& exclude) const {
    Snapshot snap;
    git_reference* head = nullptr;
    git_commit* head_commit = nullptr;
    if (git_repository_head(&head, m_repo) == 0) {
        RefHandle head_guard(head);
        if (git_reference_is_branch(head)) snap.branch = git_reference_shorthand(head);
        git_object* obj = nullptr;
        check(git_reference_peel(&obj, head, GIT_OBJECT_COMMIT), "cannot read HEAD");
        head_commit = reinterpret_cast<git_commit*>(obj);
        snap.base = oid_hex(*git_commit_id(head_commit));
    } else {
        git_error_clear();
        if (git_repository_head_unborn(m_repo) == 1) {
            git_reference* unborn = nullptr;
            if (git_reference_lookup(&unborn, m_repo, "HEAD") == 0) {
                RefHandle g(unborn);
                const char* target = git_reference_symbolic_target(unborn);
                if (target && util::starts_with(target, "refs/heads/")) snap.branch = target + 11;
            }
            git_error_clear();
        }
    }
    CommitHandle head_guard(head_commit);

    git_status_options opts = GIT_STATUS_OPTIONS_INIT;
    opts.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
    opts.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS |
                 GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
    git_status_list* list = nullptr;
    check(git_status_list_new(&list, m_repo, &opts), "cannot read the work tree status");
    StatusHandle list_guard(list);
    snap.dirty = git_status_list_entrycount(list) > 0 || head_commit == nullptr;
    if (!snap.dirty) {
        snap.commit = snap.base;
        return snap;
    }

    // A second handle on the repository whose index is a private file: git_index_add_all then
    // honours .gitignore and the work tree, and the user's .git/index is never written.
    git_repository* raw_repo = nullptr;
    check(git_repository_open(&raw_repo, git_repository_path(m_repo)), "cannot open the repository");
    RepoHandle repo_guard(raw_repo);
    std::error_code ec;
    std::filesystem::remove(temp_index, ec);
    git_index* index = nullptr;
    check(git_index_open(&index, temp_index.c_str()), "cannot create a temporary index");
    IndexHandle index_guard(index);
    check(git_repository_set_index(raw_repo, index), "cannot use a temporary index");
    if (head_commit) {
        git_tree* tree = nullptr;
        check(git_commit_tree(&tree, head_commit), "cannot read HEAD's tree");
        TreeHandle tree_guard(tree);
        check(git_index_read_tree(index, tree), "cannot load HEAD's tree");
    }
    // Re-fetch the index through the repository so that it is bound to the work tree.
    git_index* bound = nullptr;
    check(git_repository_index(&bound, raw_repo), "cannot use a temporary index");
    IndexHandle bound_guard(bound);
    char star[] = "*";
    char* patterns[] = {star};
    git_strarray all = {patterns, 1};
    struct SkipLarge {
        git_index* index;
        std::string workdir;
        std::uint64_t limit;
        std::vector<std::string>* left_out;
        std::vector<std::string>* nested;
        const std::vector<std::string>* exclude;
    } skip{bound, workdir().string() + "/", max_untracked, &snap.left_out, &snap.nested, &exclude};
    // Called for every path add_all would add: a large file that is not tracked yet stays out,
    // and so does a nested repository (libgit2 reports it as "dir/" and refuses to add it).
    auto on_path = [](const char* path, const char*, void* payload) -> int {
        auto* s = static_cast<SkipLarge*>(payload);
        if (std::string_view(path).ends_with('/')) {
            s->nested->push_back(path);
            return 1;
        }
        if (git_index_get_bypath(s->index, path, 0) != nullptr) return 0;
        // Another cairn's temp file (a parameter file being overridden, a pointer being
        // written): transient, and gone by the time it would be read.
        if (std::string_view(path).find(fs::k_temp_infix) != std::string_view::npos) return 1;
        for (const auto& x : *s->exclude) {
            std::string_view p(path);
            if (p == x || (p.size() > x.size() && p.starts_with(x) && p[x.size()] == '/')) return 1;
        }
        struct stat st {};
        if (::lstat((s->workdir + path).c_str(), &st) != 0) return 1; // vanished since listed
        if (S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) > s->limit) {
            s->left_out->push_back(path);
            return 1;
        }
        return 0;
    };
    // A file another process removes between libgit2's listing and its read (a concurrent cairn
    // add replacing data, gc sweeping) fails the pass with an OS error: list again, a few times.
    for (int attempt = 0;; ++attempt) {
        snap.left_out.clear();
        snap.nested.clear();
        int rc = git_index_add_all(bound, &all, GIT_INDEX_ADD_DEFAULT, on_path, &skip);
        if (rc == 0) rc = git_index_update_all(bound, &all, nullptr, nullptr);
        const git_error* e = rc < 0 ? git_error_last() : nullptr;
        if (rc < 0 && attempt < 4 && e && e->klass == GIT_ERROR_OS) continue;
        check(rc, "cannot snapshot the work tree");
        break;
    }
    git_oid tree_oid;
    check(git_index_write_tree_to(&tree_oid, bound, m_repo), "cannot write the snapshot tree");
    std::filesystem::remove(temp_index, ec);
    // Only left-out files differed (outputs, large or transient files): the code is HEAD's.
    if (head_commit && git_oid_equal(&tree_oid, git_commit_tree_id(head_commit))) {
        snap.commit = snap.base;
        snap.dirty = false;
        return snap;
    }
    std::vector<std::string> parents;
    if (!snap.base.empty()) parents.push_back(snap.base);
    snap.commit = write_commit(oid_hex(tree_oid), parents, message);
    return snap;
}

std::vector<Repository::RefTarget> Repository::list_refs(const std::string& prefix) const {
    std::vector<RefTarget> out;
    git_reference_iterator* iter = nullptr;
    std::string glob = prefix + "*";
    check(git_reference_iterator_glob_new(&iter, m_repo, glob.c_str()), "cannot list references");
    RefIterHandle iter_guard(iter);
    git_reference* ref = nullptr;
    int rc;
    while ((rc = git_reference_next(&ref, iter)) == 0) {
        RefHandle guard(ref);
        RefTarget t;
        t.name = git_reference_name(ref);
        // The target id only, without reading the object (peeling would inflate every commit);
        // callers find out when they read it whether it is a commit.
        if (const git_oid* oid = git_reference_target(ref)) {
            t.target = oid_hex(*oid);
        } else {
            git_reference* resolved = nullptr;
            if (git_reference_resolve(&resolved, ref) == 0) {
                t.target = oid_hex(*git_reference_target(resolved));
                git_reference_free(resolved);
            } else {
                git_error_clear();
            }
        }
        out.push_back(std::move(t));
    }
    if (rc != GIT_ITEROVER) check(rc, "cannot list references");
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return out;
}

std::optional<std::string> Repository::read_blob(const std::string& commit, const std::string& path) const {
    TreeHandle tree = commit_tree(m_repo, commit);
    git_tree_entry* entry = nullptr;
    if (git_tree_entry_bypath(&entry, tree.get(), path.c_str()) < 0) {
        git_error_clear();
        return std::nullopt;
    }
    std::unique_ptr<git_tree_entry, Deleter<git_tree_entry, git_tree_entry_free>> entry_guard(entry);
    if (git_tree_entry_type(entry) != GIT_OBJECT_BLOB) return std::nullopt;
    git_blob* blob = nullptr;
    check(git_blob_lookup(&blob, m_repo, git_tree_entry_id(entry)), "cannot read " + path);
    BlobHandle blob_guard(blob);
    return std::string(static_cast<const char*>(git_blob_rawcontent(blob)), static_cast<std::size_t>(git_blob_rawsize(blob)));
}

void Repository::materialize_worktree(const std::string& snapshot, const std::string& base, const std::string& branch,
                                      const stdfs::path& dir) const {
    {
        git_repository* fresh = nullptr;
        check(git_repository_init(&fresh, dir.c_str(), 0), "cannot create a repository in " + dir.string());
        git_repository_free(fresh);
    }
    // Borrow this repository's objects.
    std::string objects = (stdfs::path(git_repository_commondir(m_repo)) / "objects").lexically_normal().string();
    fs::write_file_atomic(dir / ".git" / "objects" / "info" / "alternates", objects + "\n", 0644, fs::Durability::deferred);
    git_repository* raw = nullptr;
    check(git_repository_open(&raw, dir.c_str()), "cannot open " + dir.string());
    RepoHandle wt(raw);
    git_checkout_options opts = GIT_CHECKOUT_OPTIONS_INIT;
    opts.checkout_strategy = GIT_CHECKOUT_FORCE;
    if (!base.empty()) {
        git_oid base_oid = parse_oid(base);
        bool on_branch = false;
        if (!branch.empty()) {
            git_commit* c = nullptr;
            check(git_commit_lookup(&c, wt.get(), &base_oid), "cannot read commit " + base);
            CommitHandle c_guard(c);
            git_reference* ref = nullptr;
            if (git_branch_create(&ref, wt.get(), branch.c_str(), c, 1) == 0) {
                RefHandle ref_guard(ref);
                on_branch = git_repository_set_head(wt.get(), git_reference_name(ref)) == 0;
            }
            if (!on_branch) git_error_clear();
        }
        if (!on_branch) check(git_repository_set_head_detached(wt.get(), &base_oid), "cannot set HEAD");
        // HEAD's files and index first ...
        check(git_checkout_head(wt.get(), &opts), "cannot check out " + base.substr(0, 12));
    }
    if (snapshot != base) {
        // ... then the run's own files, as changes not staged (the index stays HEAD's).
        TreeHandle tree = commit_tree(wt.get(), snapshot);
        if (!base.empty()) opts.checkout_strategy |= GIT_CHECKOUT_DONT_UPDATE_INDEX;
        check(git_checkout_tree(wt.get(), reinterpret_cast<const git_object*>(tree.get()), &opts),
              "cannot check out " + snapshot.substr(0, 12));
    }
}

void Repository::checkout_into_workdir(const std::string& commit) const {
    TreeHandle tree = commit_tree(m_repo, commit);
    git_checkout_options opts = GIT_CHECKOUT_OPTIONS_INIT;
    opts.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_DONT_UPDATE_INDEX;
    check(git_checkout_tree(m_repo, reinterpret_cast<const git_object*>(tree.get()), &opts),
          "cannot check out " + commit.substr(0, 12));
}

void Repository::checkout_paths(const std::string& commit, const std::vector<std::string>& paths) const {
    // libgit2 reads an empty path list as "every path".
    if (paths.empty()) return;
    TreeHandle tree = commit_tree(m_repo, commit);
    std::vector<char*> raw;
    raw.reserve(paths.size());
    for (const auto& p : paths)
        raw.push_back(const_cast<char*>(p.c_str()));
    git_checkout_options opts = GIT_CHECKOUT_OPTIONS_INIT;
    opts.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_DONT_UPDATE_INDEX | GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH;
    opts.paths.strings = raw.data();
    opts.paths.count = raw.size();
    check(git_checkout_tree(m_repo, reinterpret_cast<const git_object*>(tree.get()), &opts),
          fmt::format("cannot check out {} path(s) of {}", paths.size(), commit.substr(0, 12)));
}

std::vector<std::string> Repository::uncommitted_in_the_way(const std::string& commit) const {
    TreeHandle tree = commit_tree(m_repo, commit);
    git_status_options opts = GIT_STATUS_OPTIONS_INIT;
    opts.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
    opts.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS | GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
    git_status_list* list = nullptr;
    check(git_status_list_new(&list, m_repo, &opts), "cannot read the work tree status");
    StatusHandle list_guard(list);
    std::vector<std::string> out;
    std::string root = workdir().string() + "/";
    for (std::size_t i = 0; i < git_status_list_entrycount(list); ++i) {
        const git_status_entry* e = git_status_byindex(list, i);
        constexpr unsigned k_at_risk = GIT_STATUS_WT_NEW | GIT_STATUS_WT_MODIFIED | GIT_STATUS_WT_TYPECHANGE | GIT_STATUS_WT_RENAMED;
        if (!(e->status & k_at_risk) || !e->index_to_workdir) continue;
        std::string path = e->index_to_workdir->new_file.path;
        git_tree_entry* entry = nullptr;
        bool in_target = git_tree_entry_bypath(&entry, tree.get(), path.c_str()) == 0;
        if (!in_target) git_error_clear();
        std::unique_ptr<git_tree_entry, Deleter<git_tree_entry, git_tree_entry_free>> entry_guard(entry);
        bool untracked = e->status & GIT_STATUS_WT_NEW;
        if (!in_target) {
            if (!untracked) out.push_back(path); // tracked, changed, and the checkout would delete it
            continue;
        }
        git_oid now;
        if (git_odb_hashfile(&now, (root + path).c_str(), GIT_OBJECT_BLOB) == 0 &&
            git_oid_cmp(&now, git_tree_entry_id(entry)) == 0)
            continue; // already what the commit has
        git_error_clear();
        out.push_back(path);
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::pair<std::string, std::string>> Repository::blobs_with_suffix(const std::string& commit,
                                                                             std::string_view suffix) const {
    TreeHandle tree = commit_tree(m_repo, commit);
    struct Walk {
        git_repository* repo;
        std::string_view suffix;
        std::vector<std::pair<std::string, std::string>> out;
    } walk{m_repo, suffix, {}};
    auto cb = [](const char* root, const git_tree_entry* entry, void* payload) -> int {
        auto* w = static_cast<Walk*>(payload);
        if (git_tree_entry_type(entry) != GIT_OBJECT_BLOB) return 0;
        std::string path = std::string(root) + git_tree_entry_name(entry);
        if (!util::ends_with(path, w->suffix)) return 0;
        git_blob* blob = nullptr;
        if (git_blob_lookup(&blob, w->repo, git_tree_entry_id(entry)) < 0) return -1;
        BlobHandle guard(blob);
        w->out.emplace_back(path, std::string(static_cast<const char*>(git_blob_rawcontent(blob)),
                                              static_cast<std::size_t>(git_blob_rawsize(blob))));
        return 0;
    };
    check(git_tree_walk(tree.get(), GIT_TREEWALK_PRE, cb, &walk), "cannot read the tree of " + commit.substr(0, 12));
    std::sort(walk.out.begin(), walk.out.end());
    return std::move(walk.out);
}

std::optional<Repository::CommitInfo> Repository::introducing_commit(const std::string& commit, const std::string& path,
                                                                     std::size_t limit) const {
    auto blob_at = [&](git_commit* c) -> std::optional<git_oid> {
        git_tree* tree = nullptr;
        if (git_commit_tree(&tree, c) < 0) {
            git_error_clear();
            return std::nullopt;
        }
        TreeHandle tree_guard(tree);
        git_tree_entry* entry = nullptr;
        if (git_tree_entry_bypath(&entry, tree, path.c_str()) < 0) {
            git_error_clear();
            return std::nullopt;
        }
        std::optional<git_oid> id = *git_tree_entry_id(entry);
        git_tree_entry_free(entry);
        return id;
    };
    git_oid oid = parse_oid(commit);
    git_commit* current = nullptr;
    check(git_commit_lookup(&current, m_repo, &oid), "cannot read commit " + commit);
    CommitHandle current_guard(current);
    auto want = blob_at(current);
    if (!want) return std::nullopt;
    git_commit* walk = current;
    CommitHandle owned(nullptr);
    for (std::size_t n = 0; n < limit && git_commit_parentcount(walk) > 0; ++n) {
        git_commit* parent = nullptr;
        if (git_commit_parent(&parent, walk, 0) < 0) {
            git_error_clear();
            break;
        }
        CommitHandle parent_guard(parent);
        auto there = blob_at(parent);
        if (!there || git_oid_cmp(&*there, &*want) != 0) break;
        owned = std::move(parent_guard);
        walk = owned.get();
    }
    CommitInfo info;
    info.id = oid_hex(*git_commit_id(walk));
    info.summary = git_commit_summary(walk) ? git_commit_summary(walk) : "";
    info.time = static_cast<std::int64_t>(git_commit_time(walk));
    return info;
}

std::string Repository::head() const {
    git_object* obj = nullptr;
    if (git_revparse_single(&obj, m_repo, "HEAD^{commit}") < 0) {
        git_error_clear();
        return "";
    }
    ObjectHandle guard(obj);
    return oid_hex(*git_object_id(obj));
}

std::string Repository::resolve_commit(const std::string& rev) const {
    git_object* obj = nullptr;
    if (rev.empty() || git_revparse_single(&obj, m_repo, (rev + "^{commit}").c_str()) < 0) {
        git_error_clear();
        throw Error(ErrorKind::input, "'" + rev + "' does not name a commit");
    }
    ObjectHandle guard(obj);
    return oid_hex(*git_object_id(obj));
}

bool Repository::has_commit(const std::string& commit) const {
    if (commit.size() != 40 || commit.find_first_not_of("0123456789abcdef") != std::string::npos) return false;
    git_oid oid = parse_oid(commit);
    git_commit* c = nullptr;
    if (git_commit_lookup(&c, m_repo, &oid) < 0) {
        git_error_clear();
        return false;
    }
    git_commit_free(c);
    return true;
}

std::vector<std::pair<std::string, std::string>> Repository::top_blobs(const std::string& commit) const {
    TreeHandle tree = commit_tree(m_repo, commit);
    std::vector<std::pair<std::string, std::string>> out;
    for (std::size_t i = 0; i < git_tree_entrycount(tree.get()); ++i) {
        const git_tree_entry* e = git_tree_entry_byindex(tree.get(), i);
        if (git_tree_entry_type(e) == GIT_OBJECT_BLOB) out.emplace_back(git_tree_entry_name(e), oid_hex(*git_tree_entry_id(e)));
    }
    return out;
}

std::map<std::string, std::string> Repository::read_top_blobs(const std::string& commit) const {
    TreeHandle tree = commit_tree(m_repo, commit);
    std::map<std::string, std::string> out;
    for (std::size_t i = 0; i < git_tree_entrycount(tree.get()); ++i) {
        const git_tree_entry* e = git_tree_entry_byindex(tree.get(), i);
        if (git_tree_entry_type(e) != GIT_OBJECT_BLOB) continue;
        git_blob* blob = nullptr;
        check(git_blob_lookup(&blob, m_repo, git_tree_entry_id(e)), std::string("cannot read ") + git_tree_entry_name(e));
        BlobHandle guard(blob);
        out.emplace(git_tree_entry_name(e), std::string(static_cast<const char*>(git_blob_rawcontent(blob)),
                                                        static_cast<std::size_t>(git_blob_rawsize(blob))));
    }
    return out;
}

std::vector<std::string> Repository::parents(const std::string& commit) const {
    git_oid oid = parse_oid(commit);
    git_commit* c = nullptr;
    check(git_commit_lookup(&c, m_repo, &oid), "cannot read commit " + commit);
    CommitHandle commit_guard(c);
    std::vector<std::string> out;
    for (unsigned i = 0; i < git_commit_parentcount(c); ++i) out.push_back(oid_hex(*git_commit_parent_id(c, i)));
    return out;
}

void Repository::update_ref(const std::string& name, const std::string& new_commit, const std::string& old_commit,
                            const std::string& log_message) const {
    git_oid new_oid = parse_oid(new_commit);
    git_oid old_oid = parse_oid(old_commit);
    git_reference* ref = nullptr;
    int rc = git_reference_create_matching(&ref, m_repo, name.c_str(), &new_oid, 1, &old_oid, log_message.c_str());
    if (rc == GIT_EMODIFIED || rc == GIT_ELOCKED) {
        git_error_clear();
        fail(ErrorKind::busy, "{} was changed by another process; try again", name);
    }
    check(rc, "cannot update " + name);
    git_reference_free(ref);
}

std::vector<Repository::FileChange> Repository::diff_commits(const std::string& a, const std::string& b,
                                                             std::string* patch) const {
    TreeHandle ta = commit_tree(m_repo, a), tb = commit_tree(m_repo, b);
    git_diff* diff = nullptr;
    git_diff_options opts = GIT_DIFF_OPTIONS_INIT;
    check(git_diff_tree_to_tree(&diff, m_repo, ta.get(), tb.get(), &opts), "cannot diff the code snapshots");
    std::unique_ptr<git_diff, Deleter<git_diff, git_diff_free>> diff_guard(diff);
    git_diff_find_options find = GIT_DIFF_FIND_OPTIONS_INIT;
    git_diff_find_similar(diff, &find);
    std::vector<FileChange> out;
    for (std::size_t i = 0; i < git_diff_num_deltas(diff); ++i) {
        const git_diff_delta* d = git_diff_get_delta(diff, i);
        char status = 'M';
        switch (d->status) {
        case GIT_DELTA_ADDED: status = 'A'; break;
        case GIT_DELTA_DELETED: status = 'D'; break;
        case GIT_DELTA_RENAMED: status = 'R'; break;
        case GIT_DELTA_TYPECHANGE: status = 'T'; break;
        default: status = 'M';
        }
        out.push_back({d->new_file.path ? d->new_file.path : d->old_file.path, status});
    }
    if (patch) {
        git_buf buf = GIT_BUF_INIT;
        check(git_diff_to_buf(&buf, diff, GIT_DIFF_FORMAT_PATCH), "cannot format the diff");
        patch->assign(buf.ptr, buf.size);
        git_buf_dispose(&buf);
    }
    return out;
}

bool Repository::delete_ref(const std::string& name) const {
    git_reference* ref = nullptr;
    if (git_reference_lookup(&ref, m_repo, name.c_str()) < 0) {
        git_error_clear();
        return false;
    }
    RefHandle guard(ref);
    check(git_reference_delete(ref), "cannot delete " + name);
    return true;
}

} // namespace cairn::git
