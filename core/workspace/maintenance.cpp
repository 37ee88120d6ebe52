#include "core/workspace/maintenance.hpp"

#include <cerrno>
#include <fcntl.h>
#include <mutex>
#include <unistd.h>
#include <sys/stat.h>
#include <unordered_set>

#include "core/fs/atomic_file.hpp"
#include "core/fs/file.hpp"
#include "core/fs/lock.hpp"
#include "core/fs/walk.hpp"
#include "core/util/error.hpp"
#include "core/util/interrupt.hpp"
#include "core/util/parallel.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/leftovers.hpp"
#include "core/workspace/compare.hpp"

namespace cairn::workspace {
namespace {

constexpr std::string_view k_tree_header = "cairn-tree 1\n";

struct ObjectFile {
    hash::Digest digest;
    stdfs::path path;
};

std::vector<ObjectFile> list_objects(cache::Cache& cache, std::vector<std::string>* strays) {
    std::vector<ObjectFile> objects;
    cache.for_each_object([&](const hash::Digest& d, const stdfs::path& p) { objects.push_back({d, p}); },
                          [&](const stdfs::path& p) {
                              if (strays) strays->push_back(p.string());
                          });
    return objects;
}

// True when the object's bytes start like a tree object.
bool looks_like_tree(const stdfs::path& path) {
    fs::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return false;
    char head[k_tree_header.size()];
    ssize_t n = ::read(fd.get(), head, sizeof head);
    return n == static_cast<ssize_t>(sizeof head) && std::string_view(head, sizeof head) == k_tree_header;
}

} // namespace

std::vector<hash::Digest> find_object_ids(std::string_view text) {
    std::vector<hash::Digest> out;
    std::size_t pos = 0;
    while ((pos = text.find(hash::k_id_prefix, pos)) != std::string_view::npos) {
        pos += hash::k_id_prefix.size();
        if (auto d = hash::Digest::from_hex(text.substr(pos, 64))) {
            out.push_back(*d);
            pos += 64;
        }
    }
    return out;
}

FsckResult fsck(Workspace& ws, util::Progress& progress) {
    fs::FileLock store_lock(ws.store_lock_path(), fs::LockMode::shared);
    FsckResult result;
    std::vector<std::string> strays;
    std::vector<ObjectFile> objects = list_objects(ws.cache(), &strays);
    for (const auto& s : strays) result.problems.push_back({"stray", "", s});

    std::mutex mutex;
    std::atomic<std::uint64_t> bytes{0};
    progress.begin("Verifying", objects.size());
    util::parallel_for(objects.size(), [&](std::size_t i) {
        util::check_interrupted();
        const ObjectFile& obj = objects[i];
        std::uint64_t size = 0;
        try {
            hash::Digest got = hash::hash_file(obj.path, &size);
            if (got != obj.digest) {
                std::lock_guard lock(mutex);
                result.problems.push_back({"corrupt", obj.digest.id(), obj.path.string()});
            }
        } catch (const Error& e) {
            std::lock_guard lock(mutex);
            result.problems.push_back({"unreadable", obj.digest.id(), e.what()});
        }
        bytes += size;
        progress.advance(1, size);
    });
    progress.end();
    result.objects = objects.size();
    result.bytes = bytes.load();

    // Objects the workspace's pointers need, recursively through trees.
    std::unordered_set<hash::Digest> checked;
    std::function<void(const hash::Digest&, bool, const std::string&)> need =
        [&](const hash::Digest& d, bool is_tree, const std::string& who) {
            if (!checked.insert(d).second) return;
            if (!ws.cache().has(d)) {
                result.problems.push_back({"missing", d.id(), who});
                return;
            }
            if (!is_tree) return;
            try {
                cache::Tree tree = ws.cache().read_tree(d);
                for (const auto& e : tree.entries)
                    need(e.digest, e.kind == cache::EntryKind::directory, who + "/" + e.name);
            } catch (const Error&) {
                // Already reported as corrupt by the re-hash above (or unparseable).
            }
        };
    for (const auto& file : ws.find_pointers()) {
        try {
            Pointer p = ws.read_pointer(file);
            need(p.digest, p.is_directory(), file.data_path);
            check_pointer_object(ws.cache(), p, file.pointer_path);
        } catch (const Error& e) {
            result.problems.push_back({"bad pointer", "", e.what()});
        }
    }
    std::sort(result.problems.begin(), result.problems.end(),
              [](const auto& a, const auto& b) { return std::tie(a.kind, a.detail) < std::tie(b.kind, b.detail); });
    return result;
}

GcResult gc(Workspace& ws, GcMode mode, util::Progress& progress) {
    fs::FileLock store_lock(ws.store_lock_path(), fs::LockMode::exclusive);
    GcResult result;

    std::vector<hash::Digest> roots;
    auto collect = [&](const std::string&, std::string_view content) {
        auto ids = find_object_ids(content);
        roots.insert(roots.end(), ids.begin(), ids.end());
    };
    std::vector<std::string> places; // where the work tree may hold temp files (see leftovers.hpp)
    ws.repo().visit_reachable_blobs(k_pointer_suffix, collect, [&](const std::string& path, std::string_view content) {
        collect(path, content);
        add_record_places(path, content, places);
    });
    for (const auto& file : ws.find_pointers()) {
        collect(file.pointer_path, fs::read_file(ws.absolute(file.pointer_path)));
        places.push_back(file.data_path);
    }

    // Expand trees. Ids found in text do not say whether they name a tree, so a root is treated
    // as one when its bytes start like one: a data file that happens to look like a tree can
    // only make gc keep more, never less.
    std::unordered_set<hash::Digest> live;
    std::vector<std::pair<hash::Digest, bool>> stack; // (object, known to be a tree)
    for (const auto& d : roots) stack.emplace_back(d, false);
    while (!stack.empty()) {
        util::check_interrupted();
        auto [d, is_tree] = stack.back();
        stack.pop_back();
        if (!live.insert(d).second) continue;
        stdfs::path path = ws.cache().object_path(d);
        if (!is_tree && !looks_like_tree(path)) continue;
        try {
            cache::Tree tree = cache::Tree::parse(fs::read_file(path), d.id());
            for (const auto& e : tree.entries)
                stack.emplace_back(e.digest, e.kind == cache::EntryKind::directory);
        } catch (const Error&) {
            // Missing, corrupt or not a tree after all: keep it, follow nothing.
        }
    }

    std::vector<ObjectFile> objects = list_objects(ws.cache(), nullptr);
    progress.begin("Collecting", objects.size());
    for (const auto& obj : objects) {
        util::check_interrupted();
        progress.advance(1, 0);
        if (live.count(obj.digest)) {
            ++result.kept;
            continue;
        }
        auto st = fs::lstat_path(obj.path);
        std::uint64_t size = st ? static_cast<std::uint64_t>(st->st_size) : 0;
        if (mode == GcMode::remove) ws.cache().remove(obj.digest);
        result.removed.push_back({obj.digest, size});
        result.freed += size;
    }
    progress.end();

    // Nobody else holds the store lock, so every temp file left in tmp/ is a leftover.
    for (const auto& e : fs::list_dir(ws.cache().tmp_dir())) {
        if (e.type == fs::EntryType::directory) {
            // A `cairn rerun` worktree: in use while its lock is held, kept on request (--keep),
            // otherwise left by a rerun that was killed.
            stdfs::path dir = ws.cache().tmp_dir() / e.name;
            if (!util::starts_with(e.name, "rerun-") || fs::lstat_path(dir / "kept")) continue;
            if (!fs::FileLock::try_lock(dir / "lock", fs::LockMode::exclusive)) continue;
            if (mode == GcMode::remove) {
                std::error_code ec;
                stdfs::remove_all(dir, ec);
            }
            ++result.temp_files;
            continue;
        }
        // A temp whose creator still runs on this host belongs to a writer that does not take
        // the store lock: its rename is about to happen.
        if (auto temp = fs::parse_temp_name(e.name); temp && temp->host_tag == fs::host_tag() && !fs::temp_creator_dead(*temp))
            continue;
        if (mode == GcMode::remove) fs::remove_file(ws.cache().tmp_dir() / e.name);
        ++result.temp_files;
    }
    // Leftovers beside and inside the data cairn writes in the work tree (only where it writes,
    // see leftovers.hpp), of processes that are certainly dead.
    // The stat cache and config are replaced atomically too.
    for (const auto& dir : {ws.store_dir(), ws.store_dir() / "state"})
        result.temp_files += fs::sweep_dead_temps(dir, mode == GcMode::remove ? fs::SweepMode::remove : fs::SweepMode::dry_run);
    result.temp_files +=
        sweep_work_tree_temps(ws, places, mode == GcMode::remove ? fs::SweepMode::remove : fs::SweepMode::dry_run);
    // Leftovers of runs whose cairn died while preparing them (.<id>/ whose lock is free) or
    // while snapshotting their code (.<id>.index older than an hour). Runs do not take the store
    // lock, so each is checked on its own.
    stdfs::path runs = ws.store_dir() / "runs";
    if (fs::lstat_path(runs)) {
        for (const auto& e : fs::list_dir(runs)) {
            if (e.name.empty() || e.name[0] != '.') continue;
            stdfs::path path = runs / e.name;
            if (e.type == fs::EntryType::directory) {
                if (!fs::FileLock::try_lock(path / "lock", fs::LockMode::exclusive)) continue;
                if (mode == GcMode::remove) {
                    std::error_code ec;
                    stdfs::remove_all(path, ec);
                }
                ++result.temp_files;
            } else if (auto st = fs::lstat_path(path); st && fs::mtime_ns(*st) < state::now_ns() - 3600ll * 1000000000) {
                if (mode == GcMode::remove) fs::remove_file(path);
                ++result.temp_files;
            }
        }
    }
    if (mode == GcMode::remove)
        result.state_entries = ws.stat_cache().prune(
            [&](std::string_view path) { return fs::lstat_path(ws.absolute(std::string(path))).has_value(); });
    std::sort(result.removed.begin(), result.removed.end(),
              [](const auto& a, const auto& b) { return a.digest < b.digest; });
    return result;
}

} // namespace cairn::workspace
