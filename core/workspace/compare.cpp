#include "core/workspace/compare.hpp"

#include <algorithm>
#include <cerrno>
#include <functional>
#include <fcntl.h>
#include <mutex>
#include <unordered_set>
#include <unistd.h>

#include "core/fs/atomic_file.hpp"
#include "core/fs/file.hpp"
#include "core/fs/walk.hpp"
#include "core/util/error.hpp"
#include "core/util/interrupt.hpp"
#include "core/util/parallel.hpp"

namespace cairn::workspace {

std::string join_rel(const std::string& data_path, const std::string& rel) {
    return rel.empty() ? data_path : data_path + "/" + rel;
}

Pointer pointer_to_object(const cache::Cache& cache, const std::string& name, const hash::Digest& digest) {
    Pointer p;
    p.path = name;
    p.digest = digest;
    if (auto tree = cache.tree_if_any(digest)) {
        p.files = tree->total_files();
        p.size = tree->total_size();
    } else if (auto st = fs::lstat_path(cache.object_path(digest))) {
        p.size = static_cast<std::uint64_t>(st->st_size);
    }
    return p;
}

void check_pointer_object(const cache::Cache& cache, const Pointer& pointer, const std::string& pointer_path) {
    if (!cache.has(pointer.digest)) return;
    std::string id = pointer.digest.id();
    // A pointer says whether it names a directory: without `files:` its object is a file, even one
    // whose bytes merely start like a tree (docs/format.md, "Tree or file"); one that is a whole
    // valid tree object is a pointer that lost its `files:` field.
    std::optional<cache::Tree> tree;
    if (pointer.is_directory()) {
        try {
            tree = cache.read_tree(pointer.digest);
        } catch (const Error& e) {
            // The tree parser says why (a file object, or a tree with an unsafe entry name).
            throw Error(e.kind(), fmt::format("{}: 'hash' {} does not name a directory tree, but the pointer has a files: "
                                              "field: {}", pointer_path, id, e.what()));
        }
    } else if (cache.starts_like_tree(pointer.digest)) {
        try {
            tree = cache.read_tree(pointer.digest);
        } catch (const Error&) {
        }
        if (tree) fail(ErrorKind::input, "{}: 'hash' {} names a directory tree but has no files: field", pointer_path, id);
    }
    std::uint64_t size = 0;
    if (tree) {
        size = tree->total_size();
    } else if (auto st = fs::lstat_path(cache.object_path(pointer.digest))) {
        size = static_cast<std::uint64_t>(st->st_size);
    }
    if (size != pointer.size)
        fail(ErrorKind::input, "{}: 'size' is {} but the {} {} holds {} bytes", pointer_path, pointer.size,
             tree ? "tree" : "object", id, size);
    if (tree && tree->total_files() != *pointer.files)
        fail(ErrorKind::input, "{}: 'files' is {} but the tree {} lists {} files", pointer_path, *pointer.files, id,
             tree->total_files());
}

Expected flatten(cache::Cache& cache, const Pointer& pointer) {
    Expected out;
    if (!pointer.is_directory()) {
        out.files.emplace("", ExpectedFile{pointer.digest, pointer.size, false});
        return out;
    }
    // A hint only, and from an untrusted file: capped.
    out.files.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(*pointer.files, 1u << 20)));
    // Recursion bounded by k_max_tree_depth, checked before the child is read.
    std::function<void(const hash::Digest&, const std::string&, std::size_t)> walk =
        [&](const hash::Digest& id, const std::string& prefix, std::size_t depth) {
            out.dirs.insert(prefix);
            if (!cache.has(id)) {
                out.missing_trees.push_back(id.id());
                return;
            }
            cache::Tree tree = cache.read_tree(id);
            for (const auto& e : tree.entries) {
                std::string rel = prefix.empty() ? e.name : prefix + "/" + e.name;
                if (e.kind != cache::EntryKind::directory) {
                    out.files.emplace(rel, ExpectedFile{e.digest, e.size, e.kind == cache::EntryKind::executable});
                } else if (depth == cache::k_max_tree_depth) {
                    fail(ErrorKind::integrity,
                         "tree object {} nests directories more than {} levels deep (cairn's limit), at tree object {}",
                         pointer.digest.id(), cache::k_max_tree_depth, e.digest.id());
                } else {
                    walk(e.digest, rel, depth + 1);
                }
            }
        };
    walk(pointer.digest, "", 0);
    return out;
}

namespace {

ObservedKind kind_of(mode_t mode) {
    if (S_ISREG(mode)) return ObservedKind::file;
    if (S_ISLNK(mode)) return ObservedKind::symlink;
    return ObservedKind::other;
}

// Lists one directory and lstats its entries relative to the open directory (no path walk
// from the root per file). Returns the sub-directories found. Temp files (of this or another
// cairn, possibly killed) are never data: they go to `temps`, not `files`.
std::vector<std::string> scan_one(const std::string& abs, const std::string& rel, std::vector<ObservedFile>& files,
                                  std::vector<std::string>& temps) {
    std::string dir_path = rel.empty() ? abs : abs + "/" + rel;
    int dfd = ::open(dir_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) fail_errno("cannot open directory " + dir_path, errno);
    fs::Fd guard(dfd);
    std::vector<std::string> subdirs;
    for (const auto& e : fs::list_dir(dir_path)) {
        std::string child = rel.empty() ? e.name : rel + "/" + e.name;
        if (e.type == fs::EntryType::directory) {
            subdirs.push_back(std::move(child));
            continue;
        }
        if (fs::looks_like_temp(e.name)) {
            temps.push_back(std::move(child));
            continue;
        }
        ObservedFile f;
        f.rel = std::move(child);
        if (::fstatat(dfd, e.name.c_str(), &f.st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno != ENOENT) fail_errno("cannot stat " + dir_path + "/" + e.name, errno);
            f.kind = ObservedKind::other; // vanished while we looked
        } else if (S_ISDIR(f.st.st_mode)) {
            subdirs.push_back(std::move(f.rel)); // replaced by a directory meanwhile
            continue;
        } else {
            f.kind = kind_of(f.st.st_mode);
        }
        files.push_back(std::move(f));
    }
    return subdirs;
}

} // namespace

Observed observe(const stdfs::path& abs_path) {
    Observed out;
    auto st = fs::lstat_path(abs_path);
    if (!st) return out;
    out.exists = true;
    if (!S_ISDIR(st->st_mode)) {
        out.files.push_back({"", kind_of(st->st_mode), *st});
        return out;
    }
    out.is_dir = true;
    // Level by level, each level's directories in parallel: on a large tree the stats are most
    // of what a status costs.
    std::string abs = abs_path.string();
    std::vector<std::string> level{""};
    while (!level.empty()) {
        util::check_interrupted();
        std::vector<std::vector<ObservedFile>> files(level.size());
        std::vector<std::vector<std::string>> subdirs(level.size());
        std::vector<std::vector<std::string>> temps(level.size());
        util::parallel_for(level.size(),
                           [&](std::size_t i) { subdirs[i] = scan_one(abs, level[i], files[i], temps[i]); });
        std::vector<std::string> next;
        std::size_t total = out.files.size();
        for (const auto& f : files) total += f.size();
        out.files.reserve(total);
        for (std::size_t i = 0; i < level.size(); ++i) {
            out.dirs.push_back(std::move(level[i]));
            for (auto& f : files[i]) out.files.push_back(std::move(f));
            for (auto& d : subdirs[i]) next.push_back(std::move(d));
            for (auto& t : temps[i]) out.temps.push_back(std::move(t));
        }
        level = std::move(next);
    }
    return out;
}

hash::Digest workspace_digest(Workspace& ws, const std::string& key, const stdfs::path& abs,
                              const struct stat& lst) {
    struct stat st = lst;
    if (S_ISLNK(lst.st_mode) && ::stat(abs.c_str(), &st) != 0)
        fail_errno("cannot follow the symlink " + key, errno);
    if (auto known = ws.stat_cache().lookup(key, st)) return *known;
    std::int64_t started = state::now_ns();
    fs::Fd fd = fs::open_read(abs);
    struct stat before {};
    if (::fstat(fd.get(), &before) != 0) fail_errno("cannot stat " + key, errno);
    hash::Digest digest = hash::hash_fd(fd.get(), key);
    ws.stat_cache().record(key, state::make_entry(before, digest, started));
    return digest;
}

Comparison compare(Workspace& ws, const std::string& data_path, const Expected& expected,
                   HashAdded hash_added, util::Progress& progress) {
    Comparison out;
    stdfs::path abs = ws.absolute(data_path);
    Observed observed = observe(abs);

    struct Slot {
        const ObservedFile* file;
        const ExpectedFile* want; // null when added
        enum { unchanged, modified, added } verdict = unchanged;
        std::optional<hash::Digest> current;
    };
    std::vector<Slot> slots;
    slots.reserve(observed.files.size());
    std::size_t found = 0;
    for (const auto& f : observed.files) {
        auto it = expected.files.find(f.rel);
        slots.push_back({&f, it == expected.files.end() ? nullptr : &it->second, Slot::unchanged, std::nullopt});
        if (it != expected.files.end()) ++found;
    }
    std::string abs_prefix = abs.string() + "/";

    progress.begin("Checking", slots.size());
    util::parallel_for(slots.size(), [&](std::size_t i) {
        Slot& s = slots[i];
        const ObservedFile& f = *s.file;
        stdfs::path file_abs = f.rel.empty() ? abs : stdfs::path(abs_prefix + f.rel);
        std::string key = join_rel(data_path, f.rel);
        if (!s.want) {
            s.verdict = Slot::added;
            struct stat target {};
            bool readable = f.kind == ObservedKind::file ||
                            (f.kind == ObservedKind::symlink && ::stat(file_abs.c_str(), &target) == 0 &&
                             S_ISREG(target.st_mode));
            if (hash_added == HashAdded::yes && readable) s.current = workspace_digest(ws, key, file_abs, f.st);
        } else if (f.kind == ObservedKind::other) {
            s.verdict = Slot::modified;
        } else if (f.kind == ObservedKind::symlink) {
            // A symlink into the cache (link type "symlink") is unchanged when it names the
            // expected object; anything else is judged by the bytes it leads to.
            std::error_code ec;
            stdfs::path target = stdfs::read_symlink(file_abs, ec);
            if (!ec && target == ws.cache().object_path(s.want->digest)) {
                s.verdict = Slot::unchanged;
            } else {
                struct stat st {};
                if (::stat(file_abs.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
                    s.verdict = Slot::modified;
                } else {
                    s.current = workspace_digest(ws, key, file_abs, f.st);
                    s.verdict = *s.current == s.want->digest ? Slot::unchanged : Slot::modified;
                }
            }
        } else if (static_cast<std::uint64_t>(f.st.st_size) != s.want->size) {
            s.verdict = Slot::modified; // no need to read it
            if (hash_added == HashAdded::yes) s.current = workspace_digest(ws, key, file_abs, f.st);
        } else {
            s.current = workspace_digest(ws, key, file_abs, f.st);
            s.verdict = *s.current == s.want->digest ? Slot::unchanged : Slot::modified;
        }
        progress.advance(1, 0);
    });
    progress.end();

    for (auto& s : slots) {
        switch (s.verdict) {
        case Slot::unchanged: out.unchanged.push_back(s.file->rel); break;
        case Slot::modified: out.modified.push_back({s.file->rel, s.current}); break;
        case Slot::added: out.added.push_back({s.file->rel, s.current}); break;
        }
    }
    if (found < expected.files.size()) {
        std::unordered_set<std::string_view> present;
        present.reserve(observed.files.size());
        for (const auto& f : observed.files) present.insert(f.rel);
        for (const auto& [rel, file] : expected.files)
            if (!present.count(rel)) out.deleted.push_back(rel);
        std::sort(out.deleted.begin(), out.deleted.end());
    }
    for (const auto& dir : observed.dirs)
        if (!expected.dirs.count(dir)) out.extra_dirs.push_back(dir);
    out.temps = std::move(observed.temps);
    return out;
}

} // namespace cairn::workspace
