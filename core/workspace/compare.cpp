#include "core/workspace/compare.hpp"

#include <algorithm>
#include <cerrno>
#include <functional>
#include <mutex>
#include <unistd.h>

#include "core/fs/file.hpp"
#include "core/fs/walk.hpp"
#include "core/util/error.hpp"
#include "core/util/interrupt.hpp"
#include "core/util/parallel.hpp"

namespace cairn::workspace {

std::string join_rel(const std::string& data_path, const std::string& rel) {
    return rel.empty() ? data_path : data_path + "/" + rel;
}

Expected flatten(cache::Cache& cache, const Pointer& pointer) {
    Expected out;
    if (!pointer.is_directory()) {
        out.files.emplace("", ExpectedFile{pointer.digest, pointer.size, false});
        return out;
    }
    std::function<void(const hash::Digest&, const std::string&)> walk = [&](const hash::Digest& id,
                                                                            const std::string& prefix) {
        out.dirs.insert(prefix);
        cache::Tree tree = cache.read_tree(id);
        for (const auto& e : tree.entries) {
            std::string rel = prefix.empty() ? e.name : prefix + "/" + e.name;
            if (e.kind == cache::EntryKind::directory)
                walk(e.digest, rel);
            else
                out.files.emplace(rel, ExpectedFile{e.digest, e.size, e.kind == cache::EntryKind::executable});
        }
    };
    walk(pointer.digest, "");
    return out;
}

Observed observe(const stdfs::path& abs) {
    Observed out;
    auto st = fs::lstat_path(abs);
    if (!st) return out;
    out.exists = true;
    if (!S_ISDIR(st->st_mode)) {
        ObservedKind kind = S_ISREG(st->st_mode)   ? ObservedKind::file
                            : S_ISLNK(st->st_mode) ? ObservedKind::symlink
                                                   : ObservedKind::other;
        out.files.push_back({"", kind, *st});
        return out;
    }
    out.is_dir = true;
    std::function<void(const std::string&)> walk = [&](const std::string& rel) {
        util::check_interrupted();
        out.dirs.push_back(rel);
        for (const auto& e : fs::list_dir(rel.empty() ? abs : abs / rel)) {
            std::string child = rel.empty() ? e.name : rel + "/" + e.name;
            if (e.type == fs::EntryType::directory) {
                walk(child);
            } else {
                ObservedKind kind = e.type == fs::EntryType::file      ? ObservedKind::file
                                    : e.type == fs::EntryType::symlink ? ObservedKind::symlink
                                                                       : ObservedKind::other;
                out.files.push_back({child, kind, {}});
            }
        }
    };
    walk("");
    // Stat in parallel: on a large tree this is most of the time a status takes.
    util::parallel_for(out.files.size(), [&](std::size_t i) {
        ObservedFile& f = out.files[i];
        if (::lstat((abs / f.rel).c_str(), &f.st) != 0) {
            if (errno != ENOENT) fail_errno("cannot stat " + (abs / f.rel).string(), errno);
            f.kind = ObservedKind::other; // vanished while we looked
        }
    });
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
    std::set<std::string> seen;
    for (const auto& f : observed.files) {
        auto it = expected.files.find(f.rel);
        slots.push_back({&f, it == expected.files.end() ? nullptr : &it->second, Slot::unchanged, std::nullopt});
        if (it != expected.files.end()) seen.insert(f.rel);
    }

    progress.begin("Checking", slots.size());
    util::parallel_for(slots.size(), [&](std::size_t i) {
        Slot& s = slots[i];
        const ObservedFile& f = *s.file;
        stdfs::path file_abs = f.rel.empty() ? abs : abs / f.rel;
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
    for (const auto& [rel, file] : expected.files)
        if (!seen.count(rel)) out.deleted.push_back(rel);
    std::sort(out.deleted.begin(), out.deleted.end());
    for (const auto& dir : observed.dirs)
        if (!expected.dirs.count(dir)) out.extra_dirs.push_back(dir);
    return out;
}

} // namespace cairn::workspace
