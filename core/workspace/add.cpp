#include "core/workspace/add.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <fcntl.h>
#include <functional>
#include <memory>
#include <optional>
#include <unistd.h>

#include "core/cache/tree.hpp"
#include "core/fs/atomic_file.hpp"
#include "core/fs/file.hpp"
#include "core/fs/lock.hpp"
#include "core/fs/walk.hpp"
#include "core/util/error.hpp"
#include "core/util/interrupt.hpp"
#include "core/util/parallel.hpp"
#include "core/util/strings.hpp"

namespace cairn::workspace {
namespace {

constexpr std::size_t k_batch_objects = 8192;

struct FileJob {
    std::string key; // workspace-relative path (stat cache key)
    stdfs::path abs;
    hash::Digest digest;
    std::uint64_t size = 0;
    bool executable = false;
    bool added = false;
    bool linked = false;      // the workspace file is the cache object (hardlink adoption)
    bool via_symlink = false; // reached through a symlink: never adopt (or relink) its target
};

// A directory being added: entries refer to jobs (files) or child nodes.
struct DirNode {
    struct Entry {
        std::string name;
        std::size_t job = 0;            // files
        std::unique_ptr<DirNode> child; // directories
    };
    std::vector<Entry> entries; // sorted by name
};

// The tracked data `entry` (a `<name>.cairn` file among a directory's sorted `entries`) is the
// pointer of, when `<name>` is there too; nullopt otherwise.
std::optional<std::string> pointed_sibling(const std::vector<fs::DirEntry>& entries, const fs::DirEntry& entry) {
    if (entry.type != fs::EntryType::file || !util::ends_with(entry.name, k_pointer_suffix)) return std::nullopt;
    std::string stem = entry.name.substr(0, entry.name.size() - k_pointer_suffix.size());
    if (!std::binary_search(entries.begin(), entries.end(), fs::DirEntry{stem, fs::EntryType::other},
                            [](const auto& a, const auto& b) { return a.name < b.name; }))
        return std::nullopt;
    return stem;
}

// The first tracked data below the directory `rel`, if any.
std::optional<std::string> tracked_inside(const Workspace& ws, const std::string& rel) {
    std::vector<std::string> stack{rel};
    while (!stack.empty()) {
        std::string dir = std::move(stack.back());
        stack.pop_back();
        std::vector<fs::DirEntry> entries = fs::list_dir(ws.absolute(dir));
        for (const auto& e : entries) {
            if (e.type == fs::EntryType::directory) stack.push_back(dir + "/" + e.name);
            else if (auto stem = pointed_sibling(entries, e)) return dir + "/" + *stem;
        }
    }
    return std::nullopt;
}

// Refuses `rel` when a directory above it is tracked as a whole.
void check_not_inside_tracked(const Workspace& ws, const std::string& rel) {
    stdfs::path prefix;
    stdfs::path rel_path(rel);
    for (auto it = rel_path.begin(); it != rel_path.end(); ++it) {
        prefix /= *it;
        if (prefix == rel_path) break;
        if (fs::lstat_path(ws.absolute(prefix.string() + std::string(k_pointer_suffix))))
            fail(ErrorKind::input, "'{}' is inside '{}', which is already tracked; add '{}' instead", rel,
                 prefix.string(), prefix.string());
    }
}

// Refuses a path git tracks: it would be in git's history and in the cache at once, and the
// .gitignore entry cairn writes would not stop git from tracking it.
void check_not_in_git(Workspace& ws, const std::string& rel, bool is_dir) {
    std::vector<std::string> tracked = ws.repo().tracked_at_or_under(rel, 4);
    if (tracked.empty()) return;
    std::string hint = fmt::format("stop tracking it in git first (the files stay): git rm -r --cached '{}' && "
                                   "git commit -m 'stop tracking {}'; then cairn add it again",
                                   rel, rel);
    if (!is_dir || (tracked.size() == 1 && tracked[0] == rel))
        fail(ErrorKind::input, "'{}' is tracked by git; {}", rel, hint);
    std::string list;
    for (std::size_t i = 0; i < tracked.size() && i < 3; ++i) list += (i ? ", " : "") + tracked[i];
    if (tracked.size() > 3) list += ", ...";
    fail(ErrorKind::input, "'{}' contains files tracked by git ({}); {}", rel, list, hint);
}

class Adder {
public:
    Adder(Workspace& ws, util::Progress& progress, Track track)
        : m_ws(ws), m_progress(progress), m_track(track) {}

    AddResult run(const std::vector<std::string>& paths);

private:
    void check_target(const std::string& rel) const;
    // The directory `rel`, `depth` levels below the directory being added.
    std::unique_ptr<DirNode> scan(const std::string& rel, std::size_t depth);
    std::size_t add_job(const std::string& rel, const stdfs::path& abs, bool via_symlink);
    void hash_jobs();
    cache::TreeEntry build_tree(const std::string& name, const DirNode& node);

    Workspace& m_ws;
    util::Progress& m_progress;
    Track m_track;
    std::vector<FileJob> m_jobs;
    cache::ObjectBatch m_batch;
    std::atomic<std::uint64_t> m_new_objects{0};
};

void Adder::check_target(const std::string& rel) const {
    if (m_track != Track::pointers) {
        if (!fs::lstat_path(m_ws.absolute(rel))) fail(ErrorKind::input, "'{}' does not exist", rel);
        return;
    }
    if (util::ends_with(rel, k_pointer_suffix))
        fail(ErrorKind::input, "'{}' is a pointer file; add the data it describes instead", rel);
    check_not_inside_tracked(m_ws, rel);
    auto st = fs::lstat_path(m_ws.absolute(rel));
    if (!st) fail(ErrorKind::input, "'{}' does not exist", rel);
    check_not_in_git(m_ws, rel, S_ISDIR(st->st_mode));
    // The pointer's `path` (the last component) is read back with the rule for stored names, and
    // git refuses the pointer's own path when a directory above is a spelling of .git.
    for (const auto& part : stdfs::path(rel))
        if (auto why = cache::unsafe_component_reason(part.string()))
            fail(ErrorKind::input, "'{}' has a name cairn refuses to store ('{}': {})", rel, part.string(), *why);
}

std::size_t Adder::add_job(const std::string& rel, const stdfs::path& abs, bool via_symlink) {
    FileJob job;
    job.key = rel;
    job.abs = abs;
    job.via_symlink = via_symlink;
    m_jobs.push_back(std::move(job));
    return m_jobs.size() - 1;
}

std::unique_ptr<DirNode> Adder::scan(const std::string& rel, std::size_t depth) {
    util::check_interrupted();
    auto node = std::make_unique<DirNode>();
    stdfs::path abs = m_ws.absolute(rel);
    std::vector<fs::DirEntry> entries = fs::list_dir(abs);
    for (const auto& e : entries) {
        std::string child = rel + "/" + e.name;
        // Another cairn's temp file (or a killed one's): never data, as status and git see it.
        if (e.type != fs::EntryType::directory && fs::looks_like_temp(e.name)) continue;
        if (e.type == fs::EntryType::directory && e.name == ".git")
            fail(ErrorKind::input, "'{}' is a git repository; cairn does not track those", child);
        // Every reader refuses such a name in a tree, so it is never stored.
        if (auto why = cache::unsafe_component_reason(e.name))
            fail(ErrorKind::input, "'{}' has a name cairn refuses to store ({})", child, *why);
        switch (e.type) {
        case fs::EntryType::directory:
            if (depth == cache::k_max_tree_depth)
                fail(ErrorKind::input, "'{}' is nested more than {} directory levels deep; cairn's limit is {}",
                     child, cache::k_max_tree_depth, cache::k_max_tree_depth);
            node->entries.push_back({e.name, 0, scan(child, depth + 1)});
            break;
        case fs::EntryType::file:
            if (auto stem = pointed_sibling(entries, e))
                fail(ErrorKind::input, "'{}' contains tracked data '{}'; remove its pointer first", rel,
                     rel + "/" + *stem);
            node->entries.push_back({e.name, add_job(child, abs / e.name, false), nullptr});
            break;
        case fs::EntryType::symlink: {
            // Stored as the bytes it leads to, provided that stays inside the workspace.
            std::error_code ec;
            stdfs::path target = stdfs::canonical(abs / e.name, ec);
            auto target_rel = target.lexically_relative(m_ws.root());
            if (ec || target_rel.empty() || *target_rel.begin() == "..")
                fail(ErrorKind::input, "'{}' is a symlink leading outside the workspace; refusing to add it", child);
            if (!stdfs::is_regular_file(target, ec))
                fail(ErrorKind::input, "'{}' is a symlink to a directory; cairn stores files and directories only",
                     child);
            node->entries.push_back({e.name, add_job(child, abs / e.name, true), nullptr});
            break;
        }
        case fs::EntryType::other:
            fail(ErrorKind::input, "'{}' is not a regular file or directory (a socket, FIFO or device)", child);
        }
    }
    return node;
}

void Adder::hash_jobs() {
    m_progress.begin("Hashing", m_jobs.size());
    bool try_reflink = std::find(m_ws.config().link_types.begin(), m_ws.config().link_types.end(),
                                 fs::LinkType::reflink) != m_ws.config().link_types.end();
    // Only tracked data is adopted: run inputs and outputs stay ordinary, writable files.
    bool adopt = m_track == Track::pointers && m_ws.config().link_types.front() == fs::LinkType::hardlink;
    stdfs::path tmp = m_ws.cache().tmp_dir();
    util::parallel_for(m_jobs.size(), [&](std::size_t i) {
        util::check_interrupted();
        FileJob& job = m_jobs[i];
        if (m_track == Track::hash_only) {
            // Staleness checks of unchanged files: the stat data answers, no file is opened.
            struct stat st {};
            if (::stat(job.abs.c_str(), &st) == 0 && S_ISREG(st.st_mode))
                if (auto known = m_ws.stat_cache().lookup(job.key, st)) {
                    job.executable = (st.st_mode & S_IXUSR) != 0;
                    job.digest = *known;
                    job.size = static_cast<std::uint64_t>(st.st_size);
                    m_progress.advance(1, 0);
                    return;
                }
        }
        fs::Fd fd(::open(job.abs.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd.valid()) fail_errno("cannot open " + job.key, errno);
        struct stat before {};
        if (::fstat(fd.get(), &before) != 0) fail_errno("cannot stat " + job.key, errno);
        if (!S_ISREG(before.st_mode)) fail(ErrorKind::input, "'{}' is not a regular file", job.key);
        job.executable = (before.st_mode & S_IXUSR) != 0;
        auto known = m_ws.stat_cache().lookup(job.key, before);
        if (known && (m_track == Track::hash_only || m_ws.cache().has(*known))) {
            job.digest = *known;
            job.size = static_cast<std::uint64_t>(before.st_size);
            m_progress.advance(1, 0);
            return;
        }
        std::int64_t started = state::now_ns();
        cache::Cache::PutResult put;
        if (m_track == Track::hash_only) {
            put.digest = hash::hash_fd(fd.get(), job.key, &put.size);
        } else if (adopt && S_ISREG(before.st_mode) && before.st_nlink == 1 && !job.via_symlink) {
            // Link type hardlink: hash, then make the file itself the object (no copy).
            put.digest = hash::hash_fd(fd.get(), job.key, &put.size);
            if (!m_ws.cache().has(put.digest) &&
                m_ws.cache().adopt_by_link(job.abs, fd.get(), before, put.digest, &m_batch)) {
                put.added = true;
                job.linked = true;
            } else if (::lseek(fd.get(), 0, SEEK_SET) != 0) {
                fail_errno("cannot seek " + job.key, errno);
            } else if (!m_ws.cache().has(put.digest)) {
                put = m_ws.cache().put_fd(fd.get(), job.key, &m_batch, try_reflink);
            }
        } else {
            put = m_ws.cache().put_fd(fd.get(), job.key, &m_batch, try_reflink);
        }
        struct stat after {};
        if (::fstat(fd.get(), &after) != 0) fail_errno("cannot stat " + job.key, errno);
        if (after.st_size != before.st_size || fs::mtime_ns(after) != fs::mtime_ns(before))
            fail(ErrorKind::input, "'{}' changed while it was being added; try again", job.key);
        job.digest = put.digest;
        job.size = put.size;
        job.added = put.added;
        if (put.added) ++m_new_objects;
        // Adoption changed the mode, hence the ctime: record the stat data as it is now.
        m_ws.stat_cache().record(job.key, state::make_entry(job.linked ? after : before, put.digest, started));
        if (m_batch.size() >= k_batch_objects) m_batch.commit(tmp);
        m_progress.advance(1, put.size);
    });
    m_progress.end();
}

cache::TreeEntry Adder::build_tree(const std::string& name, const DirNode& node) {
    cache::Tree tree;
    tree.entries.reserve(node.entries.size());
    for (const auto& e : node.entries) {
        if (e.child) {
            tree.entries.push_back(build_tree(e.name, *e.child));
        } else {
            const FileJob& job = m_jobs[e.job];
            tree.entries.push_back({e.name, job.executable ? cache::EntryKind::executable : cache::EntryKind::file,
                                    job.size, 1, job.digest});
        }
    }
    hash::Digest digest;
    if (m_track == Track::hash_only) {
        digest = hash::hash_bytes(tree.serialize());
    } else {
        auto put = m_ws.cache().put_bytes(tree.serialize(), &m_batch);
        if (put.added) ++m_new_objects;
        digest = put.digest;
    }
    return {name, cache::EntryKind::directory, tree.total_size(), tree.total_files(), digest};
}

AddResult Adder::run(const std::vector<std::string>& paths) {
    // Reject duplicates and nesting among the arguments themselves.
    std::vector<std::string> targets = paths;
    std::sort(targets.begin(), targets.end());
    targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
    for (std::size_t i = 0; i + 1 < targets.size(); ++i)
        if (util::starts_with(targets[i + 1], targets[i] + "/"))
            fail(ErrorKind::input, "'{}' is inside '{}'; add one or the other", targets[i + 1], targets[i]);

    struct Target {
        std::string rel;
        std::unique_ptr<DirNode> dir; // null for a file
        std::size_t job = 0;
    };
    std::vector<Target> scanned;
    for (const auto& rel : targets) {
        check_target(rel);
        auto st = fs::lstat_path(m_ws.absolute(rel));
        Target t{rel, nullptr, 0};
        if (S_ISDIR(st->st_mode)) {
            t.dir = scan(rel, 0);
        } else if (S_ISREG(st->st_mode) || S_ISLNK(st->st_mode)) {
            struct stat followed {};
            if (::stat(m_ws.absolute(rel).c_str(), &followed) != 0 || !S_ISREG(followed.st_mode))
                fail(ErrorKind::input, "'{}' is a symlink that does not lead to a regular file", rel);
            t.job = add_job(rel, m_ws.absolute(rel), S_ISLNK(st->st_mode));
        } else {
            fail(ErrorKind::input, "'{}' is not a regular file or directory", rel);
        }
        scanned.push_back(std::move(t));
    }

    hash_jobs();

    AddResult result;
    for (auto& t : scanned) {
        AddedPath added;
        added.data_path = t.rel;
        added.pointer_path = t.rel + std::string(k_pointer_suffix);
        if (t.dir) {
            cache::TreeEntry top = build_tree("", *t.dir);
            added.digest = top.digest;
            added.size = top.size;
            added.files = top.files;
            added.is_directory = true;
        } else {
            added.digest = m_jobs[t.job].digest;
            added.size = m_jobs[t.job].size;
        }
        result.paths.push_back(std::move(added));
    }
    // Every object is durable before any pointer names it.
    m_batch.commit(m_ws.cache().tmp_dir());
    result.new_objects = m_new_objects.load();
    if (m_track != Track::pointers) {
        m_ws.stat_cache().save();
        return result;
    }

    {
        fs::FileLock lock(m_ws.workspace_lock_path(), fs::LockMode::exclusive);
        // Again, now that no other add can write a pointer: one running alongside may have
        // tracked a directory above a target, or data inside one, since the checks above.
        for (const auto& added : result.paths) {
            check_not_inside_tracked(m_ws, added.data_path);
            if (added.is_directory)
                if (auto inside = tracked_inside(m_ws, added.data_path))
                    fail(ErrorKind::input, "'{}' contains tracked data '{}'; remove its pointer first",
                         added.data_path, *inside);
        }
        for (auto& added : result.paths) {
            Pointer pointer;
            pointer.path = stdfs::path(added.data_path).filename().string();
            pointer.digest = added.digest;
            pointer.size = added.size;
            if (added.is_directory) pointer.files = added.files;
            std::string text = pointer.serialize();
            stdfs::path pointer_abs = m_ws.absolute(added.pointer_path);
            added.changed = fs::read_file_if_exists(pointer_abs) != text;
            if (added.changed) fs::write_file_atomic(pointer_abs, text);
            m_ws.ignore_in_git(added.data_path);
            std::string parent = stdfs::path(added.data_path).parent_path().string();
            result.gitignores.push_back(parent.empty() ? ".gitignore" : parent + "/.gitignore");
        }
    }
    std::sort(result.gitignores.begin(), result.gitignores.end());
    result.gitignores.erase(std::unique(result.gitignores.begin(), result.gitignores.end()), result.gitignores.end());

    // Link types that replace the user's file do so only now that the pointer is written.
    fs::LinkType first = m_ws.config().link_types.front();
    if (first == fs::LinkType::hardlink || first == fs::LinkType::symlink) {
        m_progress.begin("Linking", m_jobs.size());
        util::parallel_for(m_jobs.size(), [&](std::size_t i) {
            FileJob& job = m_jobs[i];
            if (job.linked || job.via_symlink) { // already the object, or the user's symlink
                m_progress.advance(1, 0);
                return;
            }
            m_ws.cache().materialize(job.digest, job.abs, m_ws.config().link_types, job.executable);
            struct stat st {};
            if (::stat(job.abs.c_str(), &st) == 0)
                m_ws.stat_cache().record(job.key, state::make_entry(st, job.digest, state::now_ns()));
            m_progress.advance(1, 0);
        });
        m_progress.end();
    }
    m_ws.stat_cache().save();
    return result;
}

} // namespace

AddResult add(Workspace& ws, const std::vector<std::string>& paths, util::Progress& progress, Track track) {
    fs::FileLock store_lock(ws.store_lock_path(), fs::LockMode::shared);
    Adder adder(ws, progress, track);
    return adder.run(paths);
}

} // namespace cairn::workspace
