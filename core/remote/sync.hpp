#pragma once
// Moving cache objects between the cache and a data remote. What to send is the closure (trees
// and the objects under them) of some root objects, minus what the remote already holds, learnt
// from one listing of the remote's `sha256/` prefix (never one request per object). Downloads go
// to a temp file in the cache's tmp/, are hashed, and enter the cache only when the bytes match
// the id: a corrupt, truncated or missing remote object is reported by key and never stored.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/hash/hash.hpp"
#include "core/remote/backend.hpp"

namespace cairn::cache {
class Cache;
}
namespace cairn::util {
class Progress;
}
namespace cairn::workspace {
class Workspace;
}

namespace cairn::remote {

// `sha256/ab/<62 hex>`: an object's key on a remote, as its path in the cache.
[[nodiscard]] std::string object_key(const hash::Digest& digest);

struct TransferOptions {
    unsigned jobs = 8;
    util::Progress* progress = nullptr;
};

struct TransferProblem {
    std::string object; // "sha256:..."
    std::string detail; // one line, naming the remote key
};

struct TransferReport {
    std::uint64_t transferred = 0; // objects sent or received
    std::uint64_t bytes = 0;       // their bytes
    std::uint64_t present = 0;     // objects the other side had already
    std::vector<TransferProblem> problems;
};

// The objects of the data HEAD's pointer files name (or, with `revs`, the pointer files at each
// of those commits) plus the inputs and outputs of the named runs (every recorded run with
// `all_runs`). Throws Error(input) for an unknown run or revision.
//
// Pointer objects are required (one missing is a problem); objects named by runs and cairn.lock
// are optional: a run's input may be a file git tracks, never cached, so one that is in neither
// the cache (push) nor the remote (pull) is skipped.
struct Roots {
    std::vector<hash::Digest> required, optional;
};
[[nodiscard]] Roots data_roots(workspace::Workspace& ws, const std::vector<std::string>& revs,
                                                   const std::vector<std::string>& runs, bool all_runs,
                                                   bool include_head);

// Uploads the closure of `roots` that the remote lacks. An object missing from the local cache
// is a problem (reported, the rest still sent).
[[nodiscard]] TransferReport push_objects(cache::Cache& cache, Backend& backend, const Roots& roots,
                                          const TransferOptions& options);

// Downloads the closure of `roots` that the cache lacks, tree by tree, verifying each object.
[[nodiscard]] TransferReport pull_objects(cache::Cache& cache, Backend& backend, const Roots& roots,
                                          const TransferOptions& options);

// On-demand fetch (checkout, rerun, apply): pull_objects() of `roots` from the default remote
// (or the only one), under the shared store lock. Returns nullopt, doing nothing, when no remote
// is configured; costs no request when the cache already has every object.
[[nodiscard]] std::optional<TransferReport> fetch_missing(workspace::Workspace& ws, const Roots& roots,
                                                          util::Progress* progress, std::string* remote_name);

struct RemoteStatus {
    std::vector<std::string> objects_not_pushed; // ids the cache has and the data remote lacks
    std::vector<std::string> objects_not_pulled; // ids the remote has and the cache lacks
    std::vector<std::string> refs_not_pushed;    // refs/cairn/* not (or differently) on the git remote at the last sync
    std::vector<std::string> refs_not_pulled;    // the git remote's refs/cairn/* (as last fetched) not here
    bool remote_exists = true;                   // false: a directory remote not created yet
};

// What HEAD's pointers and lock need (and every recorded run's inputs and outputs) compared with
// one listing of the data remote; run refs compared with what the last push or pull recorded
// for `git_remote` (no network for git).
[[nodiscard]] RemoteStatus remote_status(workspace::Workspace& ws, Backend& backend, const std::string& git_remote);

struct RemoteGc {
    std::vector<std::pair<std::string, std::uint64_t>> unreferenced; // keys and sizes
    std::uint64_t kept = 0;
    bool removed = false;
    // Referenced objects that may be trees and could not be read (neither in the cache nor
    // readable on the remote), "sha256:...: why": what they reference is unknown, so nothing
    // is removed.
    std::vector<std::string> unknown;
};

// Lists the remote's objects that no branch, tag, remote-tracking branch, git-remote mirror
// (refs/cairn-gc/), HEAD, index, workspace pointer, or run record (refs/cairn/*,
// refs/cairn-incoming/*, with code snapshots) references, through trees. A referenced object the
// cache lacks is looked at on the remote: a tree there is downloaded (verified, into the cache)
// and followed, so data pushed from other clones counts as referenced. With `force`, removes the
// unreferenced objects, unless a referenced object that may be a tree could not be read.
[[nodiscard]] RemoteGc gc_remote(workspace::Workspace& ws, Backend& backend, bool force);

// Runs `fn`, retrying it with exponential backoff (CAIRN_REMOTE_RETRY_BASE_MS, default 200 ms,
// doubled each time, 4 tries) while it throws Error(io).
void with_retries(const std::function<void()>& fn);

} // namespace cairn::remote
