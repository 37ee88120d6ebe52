#include "core/git/refsync.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>

#include <git2.h>

#include "core/util/error.hpp"

namespace cairn::git {
namespace {

constexpr std::string_view k_prefix = "refs/cairn/";
constexpr std::string_view k_gc_prefix = "refs/cairn-gc/";

struct RemoteFree {
    void operator()(git_remote* r) const { git_remote_free(r); }
};
using RemoteHandle = std::unique_ptr<git_remote, RemoteFree>;

std::string last_error() {
    const git_error* e = git_error_last();
    return e && e->message ? e->message : "unknown error";
}

RemoteHandle open_remote(git_repository* repo, const std::string& name) {
    git_remote* r = nullptr;
    if (git_remote_lookup(&r, repo, name.c_str()) == 0) return RemoteHandle(r);
    git_error_clear();
    bool looks_like_url = name.find('/') != std::string::npos || name.find(':') != std::string::npos;
    if (!looks_like_url)
        fail(ErrorKind::input, "no git remote named '{}' (see 'git remote -v'; --git-remote takes a name or URL)", name);
    if (git_remote_create_anonymous(&r, repo, name.c_str()) < 0)
        fail(ErrorKind::input, "'{}' is not a git remote URL: {}", name, last_error());
    return RemoteHandle(r);
}

struct CallbackState {
    int credential_tries = 0;
    std::vector<std::string> rejected;
};

int credentials(git_credential** out, const char* /*url*/, const char* username_from_url, unsigned int allowed,
                void* payload) {
    auto* state = static_cast<CallbackState*>(payload);
    if (++state->credential_tries > 1) return GIT_PASSTHROUGH; // the agent had no key that works
    if (allowed & GIT_CREDENTIAL_SSH_KEY)
        return git_credential_ssh_key_from_agent(out, username_from_url ? username_from_url : "git");
    return GIT_PASSTHROUGH;
}

int push_update(const char* refname, const char* status, void* payload) {
    if (status) static_cast<CallbackState*>(payload)->rejected.push_back(std::string(refname) + ": " + status);
    return 0;
}

git_oid to_oid(const std::string& hex) {
    git_oid oid;
    check(git_oid_fromstr(&oid, hex.c_str()), "bad object id " + hex);
    return oid;
}

void set_ref(git_repository* repo, const std::string& name, const std::string& target, const char* why) {
    git_oid oid = to_oid(target);
    git_reference* ref = nullptr;
    check(git_reference_create(&ref, repo, name.c_str(), &oid, 1, why), "cannot write ref " + name);
    git_reference_free(ref);
}

bool is_ancestor(git_repository* repo, const std::string& ancestor, const std::string& of) {
    git_oid a = to_oid(ancestor), b = to_oid(of);
    int rc = git_graph_descendant_of(repo, &b, &a);
    if (rc < 0) {
        git_error_clear();
        return false;
    }
    return rc == 1;
}

std::map<std::string, std::string> refs_under(Repository& repo, const std::string& prefix) {
    std::map<std::string, std::string> out;
    for (const auto& r : repo.list_refs(prefix))
        if (!r.target.empty()) out[r.name.substr(prefix.size())] = r.target;
    return out;
}

// A forced fetch of `sources` (e.g. "refs/cairn/*") into the namespaces `targets` (e.g.
// "refs/cairn-incoming/origin/"), which mirror the remote and are ours alone: what they held is
// deleted first, so refs deleted on the remote do not look like the remote's any more.
void mirror_fetch(Repository& repo, git_remote* remote, const std::vector<std::pair<std::string, std::string>>& mirrors,
                  const char* reflog, const std::string& what, const std::string& remote_display) {
    std::vector<std::string> specs;
    for (const auto& [source, target] : mirrors) {
        for (const auto& r : repo.list_refs(target)) (void)repo.delete_ref(r.name);
        specs.push_back("+" + source + ":" + target + "*");
    }
    std::vector<char*> ptrs;
    for (auto& spec : specs) ptrs.push_back(spec.data());
    git_strarray refspecs{ptrs.data(), ptrs.size()};
    CallbackState state;
    git_fetch_options opts = GIT_FETCH_OPTIONS_INIT;
    opts.callbacks.credentials = credentials;
    opts.callbacks.payload = &state;
    opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
    opts.prune = GIT_FETCH_NO_PRUNE;
    if (git_remote_fetch(remote, &refspecs, &opts, reflog) < 0)
        fail(ErrorKind::io, "cannot fetch {} from git remote '{}': {}", what, remote_display, last_error());
}

// Fetches the remote's refs/cairn/* into the staging namespace. Returns the staging prefix.
std::string fetch_incoming(Repository& repo, git_remote* remote, const std::string& ns) {
    std::string incoming = "refs/cairn-incoming/" + ns + "/";
    mirror_fetch(repo, remote, {{"refs/cairn/*", incoming}}, "cairn: fetch runs", "run records",
                 git_remote_url(remote) ? git_remote_url(remote) : "?");
    return incoming;
}

} // namespace

void check_remote(Repository& repo, const std::string& remote) { (void)open_remote(repo.raw(), remote); }

bool has_remote(Repository& repo, const std::string& remote) {
    git_remote* r = nullptr;
    if (git_remote_lookup(&r, repo.raw(), remote.c_str()) < 0) {
        git_error_clear();
        return false;
    }
    git_remote_free(r);
    return true;
}

std::string remote_namespace(const std::string& remote) {
    std::string out;
    for (char c : remote)
        out += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_') ? c : '_';
    while (!out.empty() && out[0] == '.') out[0] = '_';
    return out.empty() ? "_" : out;
}

namespace {
// Where the value a ref had at the last push or pull to `ns` is remembered.
std::string sync_ref(const std::string& ns, const std::string& rest) { return "refs/cairn-sync/" + ns + "/" + rest; }
} // namespace

RefSyncReport push_cairn_refs(Repository& repo, const std::string& remote_name) {
    Library::ensure_tls();
    git_repository* raw = repo.raw();
    RemoteHandle remote = open_remote(raw, remote_name);
    std::string ns = remote_namespace(remote_name);
    std::string incoming = fetch_incoming(repo, remote.get(), ns);
    auto theirs = refs_under(repo, incoming);
    auto ours = refs_under(repo, std::string(k_prefix));
    RefSyncReport report;
    std::vector<std::string> specs;
    std::vector<std::pair<std::string, std::string>> sent;
    for (const auto& [rest, target] : ours) {
        std::string name = std::string(k_prefix) + rest;
        auto it = theirs.find(rest);
        if (it == theirs.end()) {
            report.created.push_back(name);
        } else if (it->second == target) {
            report.up_to_date.push_back(name);
            set_ref(raw, sync_ref(ns, rest), target, "cairn: synced");
            continue;
        } else if (is_ancestor(raw, it->second, target)) {
            report.updated.push_back(name);
        } else {
            report.conflicts.push_back(name + ": differs on the remote (" + it->second.substr(0, 12) + ", ours " +
                                       target.substr(0, 12) + "); not overwritten");
            continue;
        }
        specs.push_back(name + ":" + name);
        sent.emplace_back(rest, target);
    }
    if (!specs.empty()) {
        std::vector<char*> ptrs;
        for (auto& s : specs) ptrs.push_back(s.data());
        git_strarray refspecs{ptrs.data(), ptrs.size()};
        CallbackState state;
        git_push_options opts = GIT_PUSH_OPTIONS_INIT;
        opts.callbacks.credentials = credentials;
        opts.callbacks.push_update_reference = push_update;
        opts.callbacks.payload = &state;
        if (git_remote_push(remote.get(), &refspecs, &opts) < 0)
            fail(ErrorKind::io, "cannot push run records to git remote '{}': {}", remote_name, last_error());
        for (const auto& r : state.rejected) report.conflicts.push_back(r + " (rejected by the remote)");
        for (const auto& [rest, target] : sent) {
            bool rejected = false;
            for (const auto& r : state.rejected) rejected = rejected || r.rfind(std::string(k_prefix) + rest + ":", 0) == 0;
            if (!rejected) set_ref(raw, sync_ref(ns, rest), target, "cairn: pushed");
        }
    }
    return report;
}

RefSyncReport pull_cairn_refs(Repository& repo, const std::string& remote_name) {
    Library::ensure_tls();
    git_repository* raw = repo.raw();
    RemoteHandle remote = open_remote(raw, remote_name);
    std::string ns = remote_namespace(remote_name);
    std::string incoming = fetch_incoming(repo, remote.get(), ns);
    auto theirs = refs_under(repo, incoming);
    auto ours = refs_under(repo, std::string(k_prefix));
    RefSyncReport report;
    for (const auto& [rest, target] : theirs) {
        std::string name = std::string(k_prefix) + rest;
        std::string sync = sync_ref(ns, rest);
        auto it = ours.find(rest);
        if (it == ours.end()) {
            set_ref(raw, name, target, "cairn: pulled");
            report.created.push_back(name);
        } else if (it->second == target) {
            report.up_to_date.push_back(name);
        } else if (is_ancestor(raw, it->second, target)) {
            set_ref(raw, name, target, "cairn: pulled (fast-forward)");
            report.updated.push_back(name);
        } else if (is_ancestor(raw, target, it->second)) {
            report.up_to_date.push_back(name); // ours is ahead: push sends it
            continue;
        } else {
            report.conflicts.push_back(name + ": differs here (" + it->second.substr(0, 12) + ") and on the remote (" +
                                       target.substr(0, 12) + "); not overwritten");
            continue;
        }
        set_ref(raw, sync, target, "cairn: synced");
    }
    return report;
}

std::vector<std::string> remote_names(Repository& repo) {
    git_strarray names{};
    check(git_remote_list(&names, repo.raw()), "cannot list git remotes");
    std::vector<std::string> out(names.strings, names.strings + names.count);
    git_strarray_dispose(&names);
    std::sort(out.begin(), out.end());
    return out;
}

void fetch_gc_roots(Repository& repo, const std::string& remote_name) {
    Library::ensure_tls();
    RemoteHandle remote = open_remote(repo.raw(), remote_name);
    std::string ns = remote_namespace(remote_name);
    std::string mirror = std::string(k_gc_prefix) + ns + "/";
    mirror_fetch(repo, remote.get(),
                 {{"refs/heads/*", mirror + "heads/"}, {"refs/tags/*", mirror + "tags/"}, {"refs/cairn/*", "refs/cairn-incoming/" + ns + "/"}},
                 "cairn: fetch for gc --remote", "branches, tags and runs", remote_name);
}

} // namespace cairn::git
