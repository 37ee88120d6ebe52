#include "core/remote/sync.hpp"

#include <algorithm>
#include <atomic>
#include <map>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>
#include <unordered_set>

#include "core/cache/cache.hpp"
#include "core/cache/tree.hpp"
#include "core/fs/atomic_file.hpp"
#include "core/fs/file.hpp"
#include "core/fs/lock.hpp"
#include "core/hash/hash.hpp"
#include "core/git/refsync.hpp"
#include "core/pipeline/lock.hpp"
#include "core/remote/config.hpp"
#include "core/remote/directory.hpp"
#include "core/run/store.hpp"
#include "core/workspace/maintenance.hpp"
#include "core/workspace/pointer.hpp"
#include "core/util/error.hpp"
#include "core/util/interrupt.hpp"
#include "core/util/parallel.hpp"
#include "core/util/progress.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::remote {
namespace {

namespace stdfs = std::filesystem;
using hash::Digest;

void add_id(std::vector<Digest>& out, const std::string& id, const std::string& what) {
    auto digest = Digest::from_id(id);
    if (!digest) fail(ErrorKind::integrity, "{}: '{}' is not an object id", what, id);
    out.push_back(*digest);
}

// Every key the remote holds under sha256/, with its size, in one listing.
std::unordered_map<std::string, std::uint64_t> remote_keys_of(Backend& backend) {
    std::unordered_map<std::string, std::uint64_t> keys;
    with_retries([&] {
        keys.clear();
        backend.list("sha256/", [&](std::string_view key, std::uint64_t size) { keys.emplace(key, size); });
    });
    return keys;
}

// A batch of uploads (push) or downloads (pull) made durable at once: at most this many objects
// or bytes, so that an interrupted transfer keeps most of its work and temps stay bounded.
constexpr std::size_t k_batch_objects = 4096;
constexpr std::uint64_t k_batch_bytes = 512ull << 20;

class Problems {
public:
    void add(const Digest& digest, std::string detail) {
        std::lock_guard lock(m_mutex);
        m_list.push_back({digest.id(), std::move(detail)});
    }
    std::vector<TransferProblem> take() { return std::move(m_list); }

private:
    std::mutex m_mutex;
    std::vector<TransferProblem> m_list;
};

} // namespace

std::string object_key(const Digest& digest) {
    std::string hex = digest.hex();
    return "sha256/" + hex.substr(0, 2) + "/" + hex.substr(2);
}

void with_retries(const std::function<void()>& fn) {
    long base_ms = 200;
    if (const char* env = std::getenv("CAIRN_REMOTE_RETRY_BASE_MS")) base_ms = std::max(0L, std::atol(env));
    constexpr int k_tries = 4;
    for (int attempt = 1;; ++attempt) {
        try {
            fn();
            return;
        } catch (const Error& e) {
            if (e.kind() != ErrorKind::io || e.permanent() || attempt == k_tries) throw;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(base_ms << (attempt - 1)));
    }
}

Roots data_roots(workspace::Workspace& ws, const std::vector<std::string>& revs,
                               const std::vector<std::string>& runs, bool all_runs, bool include_head) {
    Roots out;
    std::vector<Digest>& roots = out.required;
    std::vector<Digest>& optional = out.optional;
    std::vector<std::string> commits;
    for (const auto& rev : revs) commits.push_back(ws.repo().resolve_commit(rev));
    if (revs.empty() && include_head && !ws.repo().head().empty()) commits.push_back(ws.repo().head());
    for (const auto& rev : commits) {
        for (const auto& data : workspace::tracked_data_in(ws.repo(), rev)) roots.push_back(data.pointer.digest);
        // The pipeline lock names the stages' outputs (and dependencies) by id too.
        if (auto text = ws.repo().read_blob(rev, "cairn.lock")) {
            pipeline::LockFile lock = pipeline::parse_lock(*text, "cairn.lock at " + rev.substr(0, 12));
            for (const auto& [stage, locked] : lock.stages) {
                for (const auto& dep : locked.deps) add_id(optional, dep.hash, "cairn.lock " + stage);
                for (const auto& output : locked.outs) add_id(optional, output.hash, "cairn.lock " + stage);
            }
        }
    }
    auto add_run = [&](const run::RunRecord& record) {
        for (const auto& [path, id] : record.inputs) add_id(optional, id, "run " + record.id + " input " + path);
        for (const auto& [path, id] : record.outputs) add_id(optional, id, "run " + record.id + " output " + path);
    };
    if (all_runs) {
        for (const auto& listed : run::list_runs(ws)) {
            try {
                add_run(run::load_run(ws, listed));
            } catch (const Error& e) {
                if (e.kind() != ErrorKind::busy) throw; // a run in progress has no outputs yet
            }
        }
    } else {
        for (const auto& name : runs) add_run(run::resolve(ws, name));
    }
    return out;
}

TransferReport push_objects(cache::Cache& cache, Backend& backend, const Roots& roots,
                            const TransferOptions& options) {
    TransferReport report;
    Problems problems;
    // The local closure: trees are read from the cache (verified), their entries followed.
    // A tree entry of a file kind is a leaf: only roots and directory entries are opened to see
    // whether they are trees (one open per directory, not per object).
    std::vector<Digest> closure;
    std::unordered_set<Digest> seen, walked, missing;
    std::vector<std::pair<Digest, bool>> queue; // the object, and whether it may be a tree
    for (const auto& d : roots.required) queue.emplace_back(d, true);
    for (const auto& d : roots.optional)
        if (cache.has(d)) queue.emplace_back(d, true);
    while (!queue.empty()) {
        auto [d, maybe_tree] = queue.back();
        queue.pop_back();
        if (seen.insert(d).second) {
            if (!cache.has(d)) {
                missing.insert(d);
                problems.add(d, "not in the local cache (cannot push it; 'cairn fsck' checks the cache)");
                continue;
            }
            closure.push_back(d);
        } else if (missing.count(d)) {
            continue;
        }
        if (!maybe_tree || !walked.insert(d).second) continue;
        try {
            if (auto tree = cache.tree_if_any(d))
                for (const auto& entry : tree->entries)
                    queue.emplace_back(entry.digest, entry.kind == cache::EntryKind::directory);
        } catch (const Error& e) {
            problems.add(d, e.what());
        }
    }
    auto present = remote_keys_of(backend);
    std::vector<Digest> to_send;
    for (const auto& d : closure) {
        if (present.count(object_key(d))) ++report.present;
        else to_send.push_back(d);
    }
    if (options.progress) options.progress->begin("pushing objects", to_send.size());
    std::atomic<std::uint64_t> sent{0}, bytes{0};
    unsigned jobs = std::max(1u, options.jobs);
    auto batch = backend.begin_puts();
    if (!batch) {
        util::parallel_for(
            to_send.size(),
            [&](std::size_t i) {
                const Digest& d = to_send[i];
                stdfs::path local = cache.object_path(d);
                try {
                    std::uint64_t size = stdfs::file_size(local);
                    with_retries([&] { backend.put(object_key(d), local); });
                    ++sent;
                    bytes += size;
                    if (options.progress) options.progress->advance(1, size);
                } catch (const Error& e) {
                    // A read-only or full remote refuses every object alike: one error, not one a key.
                    if (e.permanent() || e.kind() == ErrorKind::interrupted) throw;
                    problems.add(d, e.what());
                } catch (const stdfs::filesystem_error& e) {
                    problems.add(d, e.what());
                }
            },
            jobs);
    } else {
        // Staged in chunks (bounded in count and bytes, so that an interrupted push keeps what
        // it committed), each chunk made durable and renamed at once (PutBatch).
        std::size_t begin = 0;
        while (begin < to_send.size()) {
            std::size_t end = begin;
            std::uint64_t chunk_bytes = 0;
            std::vector<std::uint64_t> sizes;
            std::vector<Digest> chunk;
            while (end < to_send.size() && chunk.size() < k_batch_objects && chunk_bytes < k_batch_bytes) {
                const Digest& d = to_send[end++];
                std::error_code ec;
                std::uint64_t size = stdfs::file_size(cache.object_path(d), ec);
                if (ec) {
                    problems.add(d, fmt::format("cannot read the cache object: {}", ec.message()));
                    continue;
                }
                chunk.push_back(d);
                sizes.push_back(size);
                chunk_bytes += size;
            }
            begin = end;
            std::vector<char> staged(chunk.size(), 0);
            util::parallel_for(
                chunk.size(),
                [&](std::size_t i) {
                    const Digest& d = chunk[i];
                    try {
                        with_retries([&] { batch->stage(object_key(d), cache.object_path(d)); });
                        staged[i] = 1;
                        if (options.progress) options.progress->advance(1, sizes[i]);
                    } catch (const Error& e) {
                        if (e.permanent() || e.kind() == ErrorKind::interrupted) throw;
                        problems.add(d, e.what());
                    }
                },
                jobs);
            util::check_interrupted();
            std::vector<std::pair<std::string, std::string>> failed;
            try {
                failed = batch->commit();
            } catch (const Error& e) {
                for (std::size_t i = 0; i < chunk.size(); ++i)
                    if (staged[i]) problems.add(chunk[i], e.what());
                batch = backend.begin_puts();
                continue;
            }
            std::unordered_set<std::string> failed_keys;
            for (auto& [key, why] : failed) failed_keys.insert(key);
            for (std::size_t i = 0; i < chunk.size(); ++i) {
                if (!staged[i]) continue;
                std::string key = object_key(chunk[i]);
                if (failed_keys.count(key)) {
                    for (const auto& [k, why] : failed)
                        if (k == key) problems.add(chunk[i], why);
                    continue;
                }
                ++sent;
                bytes += sizes[i];
            }
            if (begin < to_send.size()) batch = backend.begin_puts();
        }
    }
    if (options.progress) options.progress->end();
    report.transferred = sent;
    report.bytes = bytes;
    report.problems = problems.take();
    return report;
}

TransferReport pull_objects(cache::Cache& cache, Backend& backend, const Roots& roots,
                            const TransferOptions& options) {
    TransferReport report;
    Problems problems;
    std::unordered_set<Digest> seen, walked;
    std::unordered_set<Digest> maybe_trees(roots.required.begin(), roots.required.end());
    maybe_trees.insert(roots.optional.begin(), roots.optional.end());
    std::vector<Digest> level;
    for (const auto& d : roots.required)
        if (seen.insert(d).second) level.push_back(d);
    std::optional<std::unordered_map<std::string, std::uint64_t>> listing;
    for (const auto& d : roots.optional) {
        if (cache.has(d)) {
            if (seen.insert(d).second) level.push_back(d);
            continue;
        }
        if (!listing) listing = remote_keys_of(backend);
        if (listing->count(object_key(d)) && seen.insert(d).second) level.push_back(d);
    }
    std::atomic<std::uint64_t> got{0}, bytes{0};
    if (options.progress) options.progress->begin("pulling objects", 0);
    // Level by level: an object's children are known only once a tree is here and verified.
    while (!level.empty()) {
        std::vector<Digest> wanted;
        for (const auto& d : level) {
            if (cache.has(d)) ++report.present;
            else wanted.push_back(d);
        }
        if (!wanted.empty() && !listing) listing = remote_keys_of(backend);
        // In chunks, each made durable in the cache at once (ObjectBatch: one syncfs before and
        // one after renaming the chunk's verified temps into place).
        std::size_t begin = 0;
        while (begin < wanted.size()) {
            std::size_t end = begin;
            std::uint64_t chunk_bytes = 0;
            while (end < wanted.size() && end - begin < k_batch_objects && chunk_bytes < k_batch_bytes) {
                auto it = listing->find(object_key(wanted[end++]));
                if (it != listing->end()) chunk_bytes += it->second;
            }
            cache::ObjectBatch batch;
            std::vector<std::uint64_t> sizes(end - begin, 0);
            std::vector<char> staged(end - begin, 0);
            util::parallel_for(
                end - begin,
                [&](std::size_t i) {
                    const Digest& d = wanted[begin + i];
                    std::string key = object_key(d);
                    if (!listing->count(key)) {
                        problems.add(d, fmt::format("{}: object {} is missing on the remote", backend.describe(), key));
                        return;
                    }
                    stdfs::path temp = fs::temp_name(cache.tmp_dir(), d.hex().substr(0, 16));
                    try {
                        std::uint64_t size = 0;
                        Digest actual;
                        with_retries([&] { actual = backend.get_hashed(key, temp, &size); });
                        if (actual != d) {
                            ::unlink(temp.c_str());
                            problems.add(d, fmt::format("{}: object {} is corrupt on the remote (its bytes hash to {}); not stored",
                                                        backend.describe(), key, actual.id()));
                            return;
                        }
                        if (::chmod(temp.c_str(), 0444) != 0) fail_errno("cannot make " + temp.string() + " read-only", errno);
                        // Only verified bytes are staged; the batch removes its temps if not committed.
                        batch.add(temp, cache.object_path(d));
                        sizes[i] = size;
                        staged[i] = 1;
                        if (options.progress) options.progress->advance(1, size);
                    } catch (const Error& e) {
                        ::unlink(temp.c_str());
                        // A full disk or an unreadable remote fails every object alike: say it once.
                        if (e.permanent() || e.kind() == ErrorKind::interrupted) throw;
                        problems.add(d, e.what());
                    }
                },
                std::max(1u, options.jobs));
            util::check_interrupted();
            std::string commit_error;
            try {
                batch.commit(cache.root());
            } catch (const Error& e) {
                commit_error = e.what();
            }
            for (std::size_t i = 0; i < sizes.size(); ++i) {
                if (!staged[i]) continue;
                if (!commit_error.empty() && !cache.has(wanted[begin + i])) {
                    problems.add(wanted[begin + i], commit_error);
                    continue;
                }
                ++got;
                bytes += sizes[i];
            }
            begin = end;
        }
        // Only roots and directory entries may be trees (file entries are leaves, never opened);
        // an object first met as a file and later as a directory is walked then.
        std::vector<Digest> next;
        std::vector<Digest> walk = level;
        for (std::size_t k = 0; k < walk.size(); ++k) {
            Digest d = walk[k];
            if (!maybe_trees.count(d) || walked.count(d) || !cache.has(d)) continue;
            walked.insert(d);
            try {
                if (auto tree = cache.tree_if_any(d)) {
                    for (const auto& entry : tree->entries) {
                        bool dir = entry.kind == cache::EntryKind::directory;
                        if (dir) maybe_trees.insert(entry.digest);
                        if (seen.insert(entry.digest).second) next.push_back(entry.digest);
                        else if (dir && !walked.count(entry.digest)) walk.push_back(entry.digest);
                    }
                }
            } catch (const Error& e) {
                problems.add(d, e.what());
            }
        }
        level = std::move(next);
    }
    if (options.progress) options.progress->end();
    report.transferred = got;
    report.bytes = bytes;
    report.problems = problems.take();
    return report;
}

RemoteStatus remote_status(workspace::Workspace& ws, Backend& backend, const std::string& git_remote) {
    RemoteStatus status;
    Roots roots = data_roots(ws, {}, {}, true, true);
    status.remote_exists = backend.root_exists();
    decltype(remote_keys_of(backend)) listing;
    if (status.remote_exists) listing = remote_keys_of(backend);
    std::unordered_set<Digest> seen;
    std::vector<Digest> queue = roots.required;
    for (const auto& d : roots.optional)
        if (ws.cache().has(d) || listing.count(object_key(d))) queue.push_back(d);
    while (!queue.empty()) {
        Digest d = queue.back();
        queue.pop_back();
        if (!seen.insert(d).second) continue;
        bool here = ws.cache().has(d), there = listing.count(object_key(d)) > 0;
        if (here && !there) status.objects_not_pushed.push_back(d.id());
        if (!here && there) status.objects_not_pulled.push_back(d.id());
        if (!here) continue;
        try {
            if (auto tree = ws.cache().tree_if_any(d))
                for (const auto& entry : tree->entries) queue.push_back(entry.digest);
        } catch (const Error&) {
            // fsck reports unreadable trees; status only compares.
        }
    }
    std::sort(status.objects_not_pushed.begin(), status.objects_not_pushed.end());
    std::sort(status.objects_not_pulled.begin(), status.objects_not_pulled.end());
    std::string ns = git::remote_namespace(git_remote);
    auto refs_at = [&](const std::string& prefix) {
        std::map<std::string, std::string> out;
        for (const auto& r : ws.repo().list_refs(prefix)) out[r.name.substr(prefix.size())] = r.target;
        return out;
    };
    auto ours = refs_at("refs/cairn/");
    auto synced = refs_at("refs/cairn-sync/" + ns + "/");
    auto incoming = refs_at("refs/cairn-incoming/" + ns + "/");
    for (const auto& [rest, target] : ours) {
        auto it = synced.find(rest);
        if (it == synced.end() || it->second != target) status.refs_not_pushed.push_back("refs/cairn/" + rest);
    }
    for (const auto& [rest, target] : incoming) {
        auto it = ours.find(rest);
        if (it == ours.end() || (it->second != target && (!synced.count(rest) || synced.at(rest) != target)))
            status.refs_not_pulled.push_back("refs/cairn/" + rest);
    }
    return status;
}

namespace {

// What gc knows of a referenced object before reading it: a pointer says whether it names a
// directory, a tree entry gives its kind, a run record or lock does not say.
enum class Known { file, tree, unknown };

struct GcWalk {
    workspace::Workspace& ws;
    Backend& backend;
    std::vector<std::pair<Digest, Known>> queue;
    std::unordered_set<std::string> live;  // keys of every referenced object
    std::unordered_set<Digest> expanded;   // trees already followed
    std::unordered_set<Digest> files;      // known to hold no ids
    std::vector<std::pair<Digest, Known>> not_in_cache;

    void add_text(std::string_view content) {
        for (const auto& id : workspace::find_object_ids(content)) queue.emplace_back(id, Known::unknown);
    }
    void add_pointer(const std::string& path, std::string_view content) {
        try {
            auto pointer = workspace::Pointer::parse(std::string(content), path);
            queue.emplace_back(pointer.digest, pointer.is_directory() ? Known::tree : Known::file);
        } catch (const Error&) {
            add_text(content); // as the local gc: a malformed pointer keeps every id in it
        }
    }
    void follow_tree_text(const Digest& d, const std::string& text) {
        try {
            for (const auto& e : cache::Tree::parse(text, "tree object " + d.id()).entries)
                queue.emplace_back(e.digest, e.kind == cache::EntryKind::directory ? Known::tree : Known::file);
        } catch (const Error&) {
            add_text(text); // an unreadable tree keeps every id in its text
        }
    }
    // Drains the queue: marks each object live and follows the trees the cache holds; the
    // referenced objects the cache lacks (and that may be trees) are set aside in not_in_cache.
    void drain() {
        while (!queue.empty()) {
            auto [d, known] = queue.back();
            queue.pop_back();
            live.insert(object_key(d));
            if (expanded.count(d) || (known != Known::tree && files.count(d))) continue;
            if (!ws.cache().has(d)) {
                if (known != Known::file) not_in_cache.emplace_back(d, known);
                continue;
            }
            if (known == Known::file || !ws.cache().starts_like_tree(d)) {
                files.insert(d);
                continue;
            }
            expanded.insert(d);
            follow_tree_text(d, fs::read_file(ws.cache().object_path(d)));
        }
    }
    // A referenced tree the cache lacks: downloaded (verified) into the cache, then followed.
    // Returns false, with `why`, when it cannot be.
    bool fetch_tree(const Digest& d, std::string& why) {
        stdfs::path temp = fs::temp_name(ws.cache().tmp_dir(), d.hex().substr(0, 16));
        try {
            std::uint64_t size = 0;
            Digest actual;
            with_retries([&] { actual = backend.get_hashed(object_key(d), temp, &size); });
            if (actual != d) {
                ::unlink(temp.c_str());
                why = "corrupt on the remote";
                return false;
            }
            std::string text = fs::read_file(temp);
            ::chmod(temp.c_str(), 0444);
            {
                fs::Fd fd = fs::open_read(temp);
                fs::fsync_fd(fd.get(), temp.string());
            }
            cache::rename_into_place(temp, ws.cache().object_path(d));
            expanded.insert(d);
            follow_tree_text(d, text);
            return true;
        } catch (const Error& e) {
            ::unlink(temp.c_str());
            why = e.what();
            return false;
        }
    }
};

} // namespace

RemoteGc gc_remote(workspace::Workspace& ws, Backend& backend, bool force) {
    RemoteGc result;
    GcWalk walk{ws, backend, {}, {}, {}, {}, {}};
    ws.repo().visit_reachable_blobs(
        workspace::k_pointer_suffix, [&](const std::string& path, std::string_view content) { walk.add_pointer(path, content); },
        [&](const std::string&, std::string_view content) { walk.add_text(content); });
    for (const auto& file : ws.find_pointers())
        walk.add_pointer(file.pointer_path, fs::read_file(ws.absolute(file.pointer_path)));
    (void)ws.take_warnings();
    walk.drain();

    std::unordered_map<std::string, std::uint64_t> on_remote;
    with_retries([&] {
        on_remote.clear();
        backend.list("sha256/", [&](std::string_view key, std::uint64_t size) { on_remote.emplace(key, size); });
    });
    // What the cache lacks but the remote has may be a tree naming other remote objects (data a
    // teammate pushed, runs fetched from the git remote): look at it there, and follow it.
    while (!walk.not_in_cache.empty()) {
        auto pending = std::move(walk.not_in_cache);
        walk.not_in_cache.clear();
        for (const auto& [d, known] : pending) {
            std::string key = object_key(d);
            if (walk.expanded.count(d) || walk.files.count(d) || !on_remote.count(key)) continue;
            std::string why;
            if (known == Known::unknown) {
                std::string head;
                try {
                    with_retries([&] { head = backend.read_head(key, cache::k_tree_magic.size()); });
                } catch (const Error& e) {
                    result.unknown.push_back(d.id() + ": " + e.what());
                    continue;
                }
                if (head != cache::k_tree_magic) {
                    walk.files.insert(d);
                    continue;
                }
            }
            if (!walk.fetch_tree(d, why)) result.unknown.push_back(d.id() + ": " + why);
        }
        walk.drain();
    }
    for (const auto& [key, size] : on_remote) {
        if (walk.live.count(key)) ++result.kept;
        else result.unreferenced.emplace_back(key, size);
    }
    std::sort(result.unreferenced.begin(), result.unreferenced.end());
    std::sort(result.unknown.begin(), result.unknown.end());
    if (force && result.unknown.empty()) {
        for (const auto& item : result.unreferenced) {
            const std::string& key = item.first;
            with_retries([&] { backend.remove(key); });
        }
        result.removed = true;
    }
    return result;
}

std::optional<TransferReport> fetch_missing(workspace::Workspace& ws, const Roots& roots, util::Progress* progress,
                                           std::string* remote_name) {
    RemotesConfig config = load_remotes(ws.store_dir());
    if (config.remotes.empty()) return std::nullopt;
    const RemoteConfig& r = config.select("");
    if (remote_name) *remote_name = r.name;
    bool any_missing = false;
    for (const auto& d : roots.required) any_missing = any_missing || !ws.cache().has(d);
    for (const auto& d : roots.optional) any_missing = any_missing || !ws.cache().has(d);
    // Sub-trees are checked by the walk; a present top object with missing children still
    // needs it, so walk whenever a root is a tree.
    if (!any_missing) {
        for (const auto& d : roots.required)
            if (ws.cache().starts_like_tree(d)) any_missing = true;
        for (const auto& d : roots.optional)
            if (ws.cache().starts_like_tree(d)) any_missing = true;
    }
    if (!any_missing) return TransferReport{};
    auto backend = open_backend(r, ws.root());
    fs::FileLock lock(ws.store_lock_path(), fs::LockMode::shared);
    return pull_objects(ws.cache(), *backend, roots, {r.jobs ? static_cast<unsigned>(r.jobs) : 8u, progress});
}

} // namespace cairn::remote
