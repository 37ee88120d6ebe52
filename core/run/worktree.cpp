#include "core/run/worktree.hpp"

#include <algorithm>
#include <functional>
#include <random>

#include <sys/stat.h>

#include <fmt/format.h>

#include "core/fs/atomic_file.hpp"
#include "core/fs/file.hpp"
#include "core/fs/walk.hpp"
#include "core/util/error.hpp"
#include "core/util/parallel.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/compare.hpp"
#include "core/workspace/pointer.hpp"

namespace cairn::run {
namespace {

namespace stdfs = std::filesystem;

std::string random_suffix() {
    std::random_device rd;
    return fmt::format("{:08x}", rd());
}

// remove_all that a directory made read-only (by the command, or checked out so) does not stop:
// on failure the directories on and under `path` are made writable and it is tried again.
void remove_forcibly(const stdfs::path& path, std::error_code& ec) {
    stdfs::remove_all(path, ec);
    if (!ec) return;
    const auto all = stdfs::perms::owner_all;
    const auto add = stdfs::perm_options::add;
    stdfs::permissions(path.parent_path(), all, add, ec);
    if (stdfs::is_directory(stdfs::symlink_status(path, ec))) {
        stdfs::permissions(path, all, add, ec);
        for (auto it = stdfs::recursive_directory_iterator(path, ec);
             !ec && it != stdfs::recursive_directory_iterator(); it.increment(ec))
            if (it->is_directory(ec) && !it->is_symlink(ec))
                stdfs::permissions(it->path(), all, add, ec);
    }
    ec.clear();
    stdfs::remove_all(path, ec);
}

void remove_or_fail(const stdfs::path& path) {
    std::error_code ec;
    remove_forcibly(path, ec);
    if (ec) fail(ErrorKind::io, "cannot remove {}: {}", path.string(), ec.message());
}

struct RestoredFile {
    std::string rel; // workspace-relative
    hash::Digest digest;
    bool executable = false;
};

// restore_object, returning the files it wrote.
std::vector<RestoredFile> restore(workspace::Workspace& replica, const std::string& rel,
                                  const std::string& id) {
    auto digest = hash::Digest::from_id(id);
    if (!digest) fail(ErrorKind::input, "'{}': not an object id: {}", rel, id);
    auto& cache = replica.cache();
    replica.check_no_symlinks(rel);
    stdfs::path dst = replica.absolute(rel);
    std::error_code ec;
    if (fs::lstat_path(dst)) stdfs::remove_all(dst, ec);
    fs::make_dirs(dst.parent_path());
    const std::vector<fs::LinkType> links = {fs::LinkType::reflink, fs::LinkType::copy};
    workspace::Pointer pointer =
        workspace::pointer_to_object(cache, dst.filename().string(), *digest);
    if (!pointer.is_directory()) {
        cache.materialize(*digest, dst, links, false);
        return {RestoredFile{rel, *digest, false}};
    }
    workspace::Expected expected = workspace::flatten(cache, pointer);
    if (!expected.missing_trees.empty())
        fail(ErrorKind::integrity, "'{}': sub-tree {} is missing from the cache", rel,
             expected.missing_trees.front());
    for (const auto& dir : expected.dirs)
        fs::make_dirs(dir.empty() ? dst : dst / dir);
    std::vector<RestoredFile> files;
    files.reserve(expected.files.size());
    for (const auto& [file, want] : expected.files)
        files.push_back(RestoredFile{rel + "/" + file, want.digest, want.executable});
    util::parallel_for(files.size(), [&](std::size_t i) {
        cache.materialize(files[i].digest, replica.absolute(files[i].rel), links,
                          files[i].executable);
    });
    return files;
}

// Erases the keys equal to `rel` or below it as a directory.
template <typename Map> void erase_at_or_under(Map& map, const std::string& rel) {
    map.erase(rel);
    auto it = map.lower_bound(rel + "/");
    while (it != map.end() && util::starts_with(it->first, rel + "/"))
        it = map.erase(it);
}

bool in_git_dir(const std::string& rel) {
    return rel == ".git" || util::starts_with(rel, ".git/");
}

} // namespace

Scratch::Scratch(const workspace::Workspace& ws, const std::string& label)
    : m_dir(ws.store_dir() / "tmp" / fmt::format("{}-{}", label, random_suffix())) {
    fs::make_dirs(m_dir);
    m_lock.emplace(m_dir / "lock", fs::LockMode::exclusive);
}

Scratch::~Scratch() {
    m_lock.reset();
    if (m_keep) return;
    std::error_code ec;
    remove_forcibly(m_dir, ec);
}

void Scratch::keep(const std::string& why) {
    m_keep = true;
    fs::write_file_atomic(m_dir / "kept", why + "\n", 0644, fs::Durability::deferred);
}

void restore_object(workspace::Workspace& replica, const std::string& rel, const std::string& id) {
    (void)restore(replica, rel, id);
}

TrialWorktree::TrialWorktree(Scratch& scratch, workspace::Workspace& replica, Source source)
    : m_scratch(scratch), m_replica(replica), m_source(std::move(source)) {
    materialize();
}

TrialWorktree::~TrialWorktree() = default;

void TrialWorktree::materialize() {
    m_repo.reset();
    m_objects.clear();
    m_entries.clear();
    const stdfs::path root = m_replica.root();
    if (fs::lstat_path(root)) remove_or_fail(root);
    const RunRecord& snap = *m_source.snapshot;
    m_replica.repo().materialize_worktree(snap.git_snapshot,
                                          snap.git_dirty ? snap.git_base : snap.git_snapshot,
                                          snap.git_branch, root);
    for (const auto& [path, id] : m_source.objects) {
        erase_at_or_under(m_objects, path);
        for (auto& f : restore(m_replica, path, id))
            m_objects.insert_or_assign(std::move(f.rel), std::make_pair(f.digest, f.executable));
    }
    fs::make_dirs(m_replica.absolute(m_source.cwd));
    for (const auto& dir : m_source.output_dirs) {
        m_replica.check_no_symlinks(dir);
        fs::make_dirs(m_replica.absolute(dir));
    }
    m_repo = std::make_unique<git::Repository>(git::Repository::open(root));
    for (const auto& e : fs::list_dir(root))
        record(e.name, root / e.name);
    // The worktree's repository has no other source to be put back from: its few files (HEAD,
    // index, refs, config) are kept aside.
    const stdfs::path copy = git_copy();
    if (fs::lstat_path(copy)) remove_or_fail(copy);
    for (const auto& [rel, e] : m_entries) {
        if (!in_git_dir(rel) || !S_ISREG(e.mode)) continue;
        fs::make_dirs((copy / rel).parent_path());
        stdfs::copy_file(root / rel, copy / rel);
    }
    stamp();
}

void TrialWorktree::record(const std::string& rel, const stdfs::path& abs) {
    auto st = fs::lstat_path(abs);
    if (!st)
        fail(ErrorKind::io, "{} vanished while the trial worktree was being recorded",
             abs.string());
    Entry e;
    e.mode = st->st_mode;
    e.dev = st->st_dev;
    e.ino = st->st_ino;
    e.size = static_cast<std::uint64_t>(st->st_size);
    e.mtime = fs::mtime_ns(*st);
    e.ctime = fs::ctime_ns(*st);
    m_entries.insert_or_assign(rel, std::move(e));
    if (S_ISDIR(st->st_mode))
        for (const auto& child : fs::list_dir(abs))
            record(rel + "/" + child.name, abs / child.name);
}

void TrialWorktree::stamp() {
    // The filesystem's clock now: a file changed after this in the same clock tick as it was
    // recorded would keep its recorded stat data, so such files are compared by content too.
    stdfs::path path = m_scratch.dir() / "stamp";
    fs::write_file_atomic(path, "", 0644, fs::Durability::deferred);
    auto st = fs::lstat_path(path);
    if (!st) fail(ErrorKind::io, "{} vanished", path.string());
    const std::int64_t now = fs::mtime_ns(*st);
    const stdfs::path root = m_replica.root();
    for (auto& [rel, e] : m_entries) {
        if (!S_ISREG(e.mode) || std::max(e.mtime, e.ctime) < now) {
            e.content.reset();
        } else if (!e.content) {
            e.content = hash::hash_file(root / rel);
        }
    }
}

void TrialWorktree::reset() {
    const stdfs::path root = m_replica.root();
    for (auto& [rel, e] : m_entries)
        e.seen = false;
    std::vector<std::string> unwanted; // present, and not as recorded
    const auto unchanged = [](const Entry& e, const struct stat& st, const stdfs::path& abs) {
        if ((st.st_mode & S_IFMT) != (e.mode & S_IFMT)) return false;
        if (S_ISDIR(st.st_mode)) return true; // its mode is put back below; its entries walked
        if (st.st_mode != e.mode || st.st_dev != e.dev || st.st_ino != e.ino ||
            static_cast<std::uint64_t>(st.st_size) != e.size || fs::mtime_ns(st) != e.mtime ||
            fs::ctime_ns(st) != e.ctime)
            return false;
        return !e.content || hash::hash_file(abs) == *e.content;
    };
    std::function<void(const std::string&, const stdfs::path&)> walk = [&](const std::string& rel,
                                                                           const stdfs::path& abs) {
        for (const auto& d : fs::list_dir(abs)) {
            std::string r = rel.empty() ? d.name : rel + "/" + d.name;
            stdfs::path a = abs / d.name;
            auto it = m_entries.find(r);
            auto st = fs::lstat_path(a);
            if (!st) continue;
            if (it == m_entries.end() || !unchanged(it->second, *st, a)) {
                unwanted.push_back(std::move(r)); // not walked into: it goes as a whole
                continue;
            }
            it->second.seen = true;
            if (S_ISDIR(st->st_mode)) walk(r, a);
        }
    };
    walk("", root);
    std::vector<std::string> missing;
    for (const auto& [rel, e] : m_entries)
        if (!e.seen) missing.push_back(rel);
    for (const auto& rel : unwanted)
        remove_or_fail(root / rel);

    // Parents sort before their children, so directories exist before what goes in them.
    std::vector<std::string> from_git;
    std::vector<const std::string*> from_cache;
    bool repo_changed = false;
    for (const auto& rel : missing) {
        const unsigned mode = m_entries.at(rel).mode;
        if (S_ISDIR(mode)) {
            fs::make_dirs(root / rel);
        } else if (in_git_dir(rel)) {
            // What the command did to the worktree's repository (a commit, a branch, `git
            // status` rewriting the index): its files put back, what it added removed above.
            std::error_code ec;
            if (!S_ISREG(mode) ||
                !stdfs::copy_file(git_copy() / rel, root / rel,
                                  stdfs::copy_options::overwrite_existing, ec) ||
                ::chmod((root / rel).c_str(), mode & 07777) != 0) {
                materialize();
                return;
            }
            repo_changed = true;
        } else if (m_objects.count(rel)) {
            from_cache.push_back(&rel);
        } else {
            from_git.push_back(rel);
        }
    }
    // libgit2 caches what it read of the repository's files.
    if (repo_changed) m_repo = std::make_unique<git::Repository>(git::Repository::open(root));
    m_repo->checkout_paths(m_source.snapshot->git_snapshot, from_git);
    const std::vector<fs::LinkType> links = {fs::LinkType::reflink, fs::LinkType::copy};
    util::parallel_for(from_cache.size(), [&](std::size_t i) {
        const auto& [digest, executable] = m_objects.at(*from_cache[i]);
        m_replica.cache().materialize(digest, root / *from_cache[i], links, executable);
    });
    // Directory modes: the command's chmod, or remove_or_fail making a parent writable.
    for (const auto& [rel, e] : m_entries) {
        if (!S_ISDIR(e.mode)) continue;
        auto st = fs::lstat_path(root / rel);
        if (st && (st->st_mode & 07777) != (e.mode & 07777) &&
            ::chmod((root / rel).c_str(), e.mode & 07777) != 0)
            fail(ErrorKind::io, "cannot restore the mode of {}", (root / rel).string());
    }
    for (const auto& rel : missing) {
        if (!fs::lstat_path(root / rel)) {
            // Not restorable (the checkout did not write it): the worktree is made again.
            materialize();
            return;
        }
        record(rel, root / rel);
    }
    // In case the checkout wrote into the worktree's repository.
    if (!from_git.empty()) {
        erase_at_or_under(m_entries, ".git");
        record(".git", root / ".git");
    }
    stamp();
}

} // namespace cairn::run
