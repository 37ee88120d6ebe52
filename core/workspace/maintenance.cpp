#include "core/workspace/maintenance.hpp"

#include <algorithm>
#include <set>
#include <cctype>
#include <cerrno>
#include <fcntl.h>
#include <mutex>
#include <unistd.h>
#include <sys/stat.h>
#include <unordered_map>
#include <unordered_set>

#include "core/fs/atomic_file.hpp"
#include "core/fs/file.hpp"
#include "core/fs/lock.hpp"
#include "core/fs/walk.hpp"
#include "core/process/process.hpp"
#include "core/util/error.hpp"
#include "core/util/interrupt.hpp"
#include "core/util/parallel.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/leftovers.hpp"
#include "core/workspace/compare.hpp"

namespace cairn::workspace {
namespace {

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

// Every run of exactly 64 hex digits in `text`: the ids a tree object of any version may name.
std::vector<hash::Digest> find_bare_ids(std::string_view text) {
    std::vector<hash::Digest> out;
    std::size_t i = 0;
    while (i < text.size()) {
        if (!std::isxdigit(static_cast<unsigned char>(text[i]))) {
            ++i;
            continue;
        }
        std::size_t start = i;
        while (i < text.size() && std::isxdigit(static_cast<unsigned char>(text[i]))) ++i;
        if (i - start == 64)
            if (auto d = hash::Digest::from_hex(text.substr(start, 64))) out.push_back(*d);
    }
    return out;
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
    cache::Cache& cache = ws.cache();
    FsckResult result;
    std::vector<std::string> strays;
    std::vector<ObjectFile> objects = list_objects(cache, &strays);
    for (const auto& s : strays) result.problems.push_back({"stray", "", s});

    // Every object is re-hashed; every one that starts like a tree object is parsed by the one
    // parser every reader uses, so fsck refuses what status, checkout and gc refuse.
    std::mutex mutex;
    std::atomic<std::uint64_t> bytes{0};
    std::unordered_set<hash::Digest> damaged;                 // corrupt or unreadable
    std::unordered_map<hash::Digest, std::string> unparseable; // tree-like objects that do not parse
    progress.begin("Verifying", objects.size());
    util::parallel_for(objects.size(), [&](std::size_t i) {
        util::check_interrupted();
        const ObjectFile& obj = objects[i];
        std::uint64_t size = 0;
        try {
            std::optional<std::string> text;
            hash::Digest got;
            if (cache.starts_like_tree(obj.digest)) {
                text = fs::read_file(obj.path);
                size = text->size();
                got = hash::hash_bytes(*text);
            } else {
                got = hash::hash_file(obj.path, &size);
            }
            if (got != obj.digest) {
                std::lock_guard lock(mutex);
                damaged.insert(obj.digest);
                result.problems.push_back({"corrupt", obj.digest.id(), obj.path.string()});
            } else if (text) {
                try {
                    (void)cache::Tree::parse(*text, "tree object " + obj.digest.id());
                } catch (const Error& e) {
                    std::lock_guard lock(mutex);
                    unparseable.emplace(obj.digest, e.what());
                }
            }
        } catch (const Error& e) {
            std::lock_guard lock(mutex);
            damaged.insert(obj.digest);
            result.problems.push_back({"unreadable", obj.digest.id(), e.what()});
        }
        bytes += size;
        progress.advance(1, size);
    });
    progress.end();
    result.objects = objects.size();
    result.bytes = bytes.load();

    // What the workspace's pointers need, and the trees run records name (what checkout, apply
    // and rerun will read). Iterative, and bounded in depth as every reader is.
    enum class Expect { file, tree, either };
    struct Root {
        std::string who;
        hash::Digest digest;
        bool missing_is_a_problem; // data of runs pulled without it is fetched on demand
    };
    struct Need {
        hash::Digest digest;
        Expect expect;
        std::string who;
        std::size_t depth;
        std::size_t root;
    };
    std::vector<Root> roots;
    std::vector<Need> stack;
    auto add_root = [&](std::string who, const hash::Digest& d, Expect expect, bool missing_is_a_problem) {
        stack.push_back({d, expect, who, 0, roots.size()});
        roots.push_back({std::move(who), d, missing_is_a_problem});
    };
    for (const auto& file : ws.find_pointers()) {
        try {
            Pointer p = ws.read_pointer(file);
            add_root(file.data_path, p.digest, p.is_directory() ? Expect::tree : Expect::file, true);
            check_pointer_object(ws.cache(), p, file.pointer_path);
        } catch (const Error& e) {
            result.problems.push_back({"bad pointer", "", e.what()});
        }
    }
    try {
        ws.repo().visit_reachable_blobs(
            k_pointer_suffix, [](const std::string&, std::string_view) {},
            [&](const std::string& path, std::string_view content) {
                for (const auto& d : find_object_ids(content)) add_root("run record " + path, d, Expect::either, false);
            });
    } catch (const Error& e) {
        result.problems.push_back({"unreadable", "", std::string("run records: ") + e.what()});
    }
    std::reverse(stack.begin(), stack.end()); // pointers first, in path order

    std::unordered_set<hash::Digest> missing_reported, walked, unparseable_reported;
    std::unordered_set<std::size_t> too_deep_reported;
    std::unordered_set<hash::Digest> data_files; // named as a file by a pointer or a tree entry
    while (!stack.empty()) {
        util::check_interrupted();
        Need n = std::move(stack.back());
        stack.pop_back();
        const Root& root = roots[n.root];
        if (!cache.has(n.digest)) {
            if (root.missing_is_a_problem && missing_reported.insert(n.digest).second)
                result.problems.push_back({"missing", n.digest.id(), n.who});
            continue;
        }
        if (n.expect == Expect::file) {
            data_files.insert(n.digest);
            continue;
        }
        if (damaged.count(n.digest) || !walked.insert(n.digest).second) continue;
        if (n.expect == Expect::either && !cache.starts_like_tree(n.digest)) continue; // a file
        if (auto it = unparseable.find(n.digest); it != unparseable.end()) {
            if (unparseable_reported.insert(n.digest).second)
                result.problems.push_back({"unparseable tree", n.digest.id(), n.who + ": " + it->second});
            continue;
        }
        cache::Tree tree;
        try {
            tree = cache.read_tree(n.digest);
        } catch (const Error& e) {
            // Named as a directory, but not a tree object at all.
            result.problems.push_back({"unparseable tree", n.digest.id(), n.who + ": " + e.what()});
            continue;
        }
        for (const auto& e : tree.entries) {
            bool dir = e.kind == cache::EntryKind::directory;
            if (dir && n.depth == cache::k_max_tree_depth) {
                if (!too_deep_reported.insert(n.root).second) continue;
                result.problems.push_back(
                    {"too deep", root.digest.id(),
                     fmt::format("{}: directories nest more than {} levels deep (cairn's limit), at tree object {}",
                                 root.who, cache::k_max_tree_depth, e.digest.id())});
                continue;
            }
            stack.push_back({e.digest, dir ? Expect::tree : Expect::file, n.who + "/" + e.name, n.depth + 1, n.root});
        }
    }
    // The rest, unless known to be a data file that merely starts like a tree.
    for (const auto& [digest, reason] : unparseable)
        if (!unparseable_reported.count(digest) && !data_files.count(digest))
            result.problems.push_back({"unparseable tree", digest.id(), reason});
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
    // Runs in progress (and crashed ones not yet recorded): what their staging directories name
    // (inputs, large files) is live. A run holds the store lock, shared, from storing those
    // objects until its staging names them, and from storing its outputs until its commit.
    if (stdfs::path runs_dir = ws.store_dir() / "runs"; fs::lstat_path(runs_dir))
        for (const auto& e : fs::list_dir(runs_dir)) {
            if (e.type != fs::EntryType::directory) continue;
            for (const auto& f : fs::list_dir(runs_dir / e.name))
                if (f.type == fs::EntryType::file && util::ends_with(f.name, ".yaml"))
                    if (auto text = fs::read_file_if_exists(runs_dir / e.name / f.name)) collect(f.name, *text);
        }

    // Expand trees. Ids found in text do not say whether they name a tree, so a root is treated
    // as one when its bytes start like one: a data file that happens to look like a tree can
    // only make gc keep more, never less. An object that starts like a tree but does not parse
    // (a newer version, a damaged or hostile one) is reported, and every id in its text is kept
    // and expanded in turn: gc never deletes what it could not read.
    std::unordered_set<hash::Digest> live;
    struct Item {
        hash::Digest digest;
        bool is_tree; // named by a tree's directory entry
        std::size_t depth;
    };
    std::vector<Item> stack;
    for (const auto& d : roots) stack.push_back({d, false, 0});
    auto report = [&](const hash::Digest& d, std::string reason) {
        result.unparseable.push_back({d, std::move(reason)});
    };
    while (!stack.empty()) {
        util::check_interrupted();
        Item item = stack.back();
        stack.pop_back();
        const hash::Digest& d = item.digest;
        if (!live.insert(d).second) continue;
        bool tree_like = ws.cache().starts_like_tree(d);
        if (!tree_like) {
            if (item.is_tree && ws.cache().has(d))
                report(d, fmt::format("tree object {}: named as a directory but not a tree object", d.id()));
            continue;
        }
        if (item.depth == cache::k_max_tree_depth + 1)
            report(d, fmt::format("tree object {}: directories nest more than {} levels deep (cairn's limit)",
                                  d.id(), cache::k_max_tree_depth));
        std::string text;
        try {
            text = fs::read_file(ws.cache().object_path(d));
        } catch (const Error&) {
            continue; // unreadable: kept, nothing to follow
        }
        try {
            cache::Tree tree = cache::Tree::parse(text, "tree object " + d.id());
            for (const auto& e : tree.entries)
                stack.push_back({e.digest, e.kind == cache::EntryKind::directory, item.depth + 1});
        } catch (const Error& e) {
            report(d, e.what());
            for (const auto& id : find_bare_ids(text)) stack.push_back({id, false, item.depth + 1});
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

    // A directory a dead process left (a rerun worktree, a run being prepared) is one whose lock
    // gc can take; it is removed while gc holds that lock, so that a creator locking it a moment
    // later sees the removal and makes its directory again (FileLock checks the file it locked).
    // Everything but the lock file first: when something stops the removal (a killed rerun's
    // command still writing in its worktree, say), the lock file stays and the next gc goes on.
    auto remove_lock_last = [](const stdfs::path& dir) {
        std::error_code ec;
        for (const auto& e : fs::list_dir(dir)) {
            if (e.name == "lock") continue;
            stdfs::path p = dir / e.name;
            // Files a worktree checked out read-only must not stop the removal.
            for (auto it = stdfs::recursive_directory_iterator(p, ec); !ec && it != stdfs::recursive_directory_iterator();
                 it.increment(ec))
                if (it->is_directory(ec)) stdfs::permissions(it->path(), stdfs::perms::owner_all, stdfs::perm_options::add, ec);
            ec.clear();
            stdfs::remove_all(p, ec);
            if (ec) return;
        }
        stdfs::remove(dir / "lock", ec);
        stdfs::remove(dir, ec);
    };
    auto abandoned = [](const stdfs::path& dir, std::optional<fs::FileLock>& held) {
        held = fs::FileLock::try_lock_held(dir / "lock", fs::LockMode::exclusive);
        return held.has_value();
    };
    // A run whose cairn died (its staging lock is free) may have left its command running in a
    // sweep or rerun worktree that is removed below: that command is stopped first, as crash
    // recovery stops it (the process group recorded in the staging directory's `command`).
    if (stdfs::path runs_dir = ws.store_dir() / "runs"; mode == GcMode::remove && fs::lstat_path(runs_dir))
        for (const auto& e : fs::list_dir(runs_dir)) {
            stdfs::path staging = runs_dir / e.name;
            if (e.type != fs::EntryType::directory || fs::FileLock::is_held(staging / "lock")) continue;
            std::optional<std::string> text;
            try {
                text = fs::read_file_if_exists(staging / "command");
            } catch (const Error&) {
            }
            if (auto group = text ? process::parse_group(*text) : std::nullopt) (void)process::kill_group(*group);
        }
    // Nobody else holds the store lock, so every temp file left in tmp/ is a leftover.
    for (const auto& e : fs::list_dir(ws.cache().tmp_dir())) {
        if (e.type == fs::EntryType::directory) {
            // A `cairn rerun` or sweep trial worktree: in use while its lock is held, kept on request (--keep),
            // otherwise left by a rerun that was killed.
            stdfs::path dir = ws.cache().tmp_dir() / e.name;
            if (!(util::starts_with(e.name, "rerun-") || util::starts_with(e.name, "sweep-")) || fs::lstat_path(dir / "kept")) continue;
            std::optional<fs::FileLock> held;
            if (!abandoned(dir, held)) continue;
            if (mode == GcMode::remove) remove_lock_last(dir);
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
    for (const auto& dir : {ws.store_dir(), ws.store_dir() / "state", ws.store_dir() / "state" / "profiles",
                            ws.store_dir() / "state" / "series"})
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
                std::optional<fs::FileLock> held;
                if (!abandoned(path, held)) continue;
                if (mode == GcMode::remove) remove_lock_last(path);
                ++result.temp_files;
            } else if (auto st = fs::lstat_path(path); st && fs::mtime_ns(*st) < state::now_ns() - 3600ll * 1000000000) {
                if (mode == GcMode::remove) fs::remove_file(path);
                ++result.temp_files;
            }
        }
    }
    if (mode == GcMode::remove) {
        result.state_entries = ws.stat_cache().prune(
            [&](std::string_view path) { return fs::lstat_path(ws.absolute(std::string(path))).has_value(); });
        result.state_entries += ws.cache().prune_verified();
        // Stored profiles (`state/profiles/<64 hex>.<format>.json`) of objects no longer here.
        stdfs::path profiles = ws.store_dir() / "state" / "profiles";
        if (fs::lstat_path(profiles))
            for (const auto& e : fs::list_dir(profiles)) {
                auto digest = hash::Digest::from_hex(std::string_view(e.name).substr(0, 64));
                if (!digest || e.name.size() < 65 || e.name[64] != '.' || fs::looks_like_temp(e.name) || ws.cache().has(*digest))
                    continue;
                fs::remove_file(profiles / e.name);
                ++result.state_entries;
            }
        // Chart series cut by `cairn report` (`state/series/<commit>.<columns>`) of commits no
        // run ref points at any more (a removed run, a run whose tags were rewritten).
        stdfs::path series = ws.store_dir() / "state" / "series";
        if (fs::lstat_path(series)) {
            std::set<std::string> commits;
            for (const auto& ref : ws.repo().list_refs("refs/cairn/runs/")) commits.insert(ref.target);
            for (const auto& e : fs::list_dir(series)) {
                if (e.name.size() < 42 || e.name[40] != '.' || fs::looks_like_temp(e.name) || commits.count(e.name.substr(0, 40)))
                    continue;
                fs::remove_file(series / e.name);
                ++result.state_entries;
            }
        }
    }
    std::sort(result.removed.begin(), result.removed.end(),
              [](const auto& a, const auto& b) { return a.digest < b.digest; });
    std::sort(result.unparseable.begin(), result.unparseable.end(),
              [](const auto& a, const auto& b) { return a.digest < b.digest; });
    return result;
}

} // namespace cairn::workspace
