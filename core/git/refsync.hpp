#pragma once
// Run records (refs/cairn/*: runs, model registry) to and from a git remote with libgit2, never
// forcing. The remote's refs are first fetched into a staging namespace,
// `refs/cairn-incoming/<remote>/...`, and compared with ours there: a ref that differs on both
// sides (neither is an ancestor of the other) is a conflict, reported by name and left alone.
// What was last synced is remembered in `refs/cairn-sync/<remote>/...`.

#include <string>
#include <vector>

#include "core/git/git.hpp"

namespace cairn::git {

struct RefSyncReport {
    std::vector<std::string> created;    // refs new on the receiving side
    std::vector<std::string> updated;    // fast-forwarded
    std::vector<std::string> up_to_date;
    std::vector<std::string> conflicts;  // "<ref>: ..." one line each
};

// Sends every ref under refs/cairn/ the remote lacks or that fast-forwards the remote's, with
// the commits they reach (code snapshots included). `remote` is a configured git remote name
// or a URL / path. Credentials: ssh-agent, then none (git's credential helpers are not asked).
// Throws Error(io) naming the remote when it cannot be reached, Error(input) for an unknown one.
[[nodiscard]] RefSyncReport push_cairn_refs(Repository& repo, const std::string& remote);

// Fetches the remote's refs/cairn/* into the staging namespace, then creates missing local refs
// and fast-forwards those behind. Throws as push_cairn_refs.
[[nodiscard]] RefSyncReport pull_cairn_refs(Repository& repo, const std::string& remote);

// Fetches what a git remote's branches, tags and runs point to into namespaces of cairn's own
// (`refs/cairn-gc/<remote>/heads/*` and `tags/*`, runs into `refs/cairn-incoming/<remote>/`),
// replacing what an earlier fetch left there, so that `gc --remote` counts as referenced what
// teammates pushed and this clone never fetched. Throws as push_cairn_refs.
void fetch_gc_roots(Repository& repo, const std::string& remote);

// The git remotes configured in the repository, sorted.
[[nodiscard]] std::vector<std::string> remote_names(Repository& repo);

// Throws Error(input), with no network, unless `remote` is a configured git remote or a URL.
void check_remote(Repository& repo, const std::string& remote);

// True when `remote` is a git remote configured in the repository.
[[nodiscard]] bool has_remote(Repository& repo, const std::string& remote);

// The staging and sync namespace part for a remote: its name, or a URL made safe
// ("[^A-Za-z0-9._-]" become '_').
[[nodiscard]] std::string remote_namespace(const std::string& remote);

} // namespace cairn::git
