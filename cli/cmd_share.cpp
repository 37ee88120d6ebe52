// cairn remote add | list | remove | modify, push, pull
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/app.hpp"
#include "cli/output.hpp"
#include "core/fs/lock.hpp"
#include "core/git/refsync.hpp"
#include "core/remote/config.hpp"
#include "core/remote/directory.hpp"
#include "core/remote/sync.hpp"
#include "core/util/strings.hpp"
#include "core/util/error.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::cli {
namespace {

remote::ConfigScope scope_of(bool local) {
    return local ? remote::ConfigScope::local : remote::ConfigScope::committed;
}

void register_remote_add(CLI::App& remote_cmd, Context& ctx) {
    struct Options {
        std::string name;
        std::string url;
        bool make_default = false;
        bool local = false;
    };
    auto opts = std::make_shared<Options>();
    auto* cmd = remote_cmd.add_subcommand("add", "Add a data remote (a directory, file:// URL or s3://BUCKET[/PREFIX])");
    cmd->add_option("name", opts->name, "Name of the remote")->required();
    cmd->add_option("url", opts->url, "Directory (absolute, or relative to the workspace root), file:///DIR or s3://BUCKET[/PREFIX]")->required();
    cmd->add_flag("-d,--default", opts->make_default, "Make it the default remote");
    cmd->add_flag("--local", opts->local, "Write .cairn/config.local.yaml (this machine only) instead of .cairn/config.yaml");
    cmd->callback([opts, &ctx] {
        auto ws = workspace::Workspace::discover(ctx.cwd);
        remote::check_remote_name(opts->name);
        // A name taken in either file is taken: a local entry would silently override it.
        if (remote::load_remotes(ws.store_dir()).find(opts->name))
            fail(ErrorKind::input, "a remote named '{}' already exists (see 'cairn remote modify')", opts->name);
        remote::edit_remotes(ws.store_dir(), scope_of(opts->local), [&](remote::RemotesConfig& config) {
            remote::RemoteConfig r;
            r.name = opts->name;
            remote::set_remote_key(r, "url", opts->url);
            config.remotes.push_back(r);
            if (opts->make_default) config.default_remote = opts->name;
        });
        std::cout << fmt::format("added remote '{}' ({}){}\n", printable(opts->name), printable(opts->url),
                                 opts->make_default ? ", the default" : "");
    });
}

void register_remote_list(CLI::App& remote_cmd, Context& ctx) {
    auto json = std::make_shared<bool>(false);
    auto* cmd = remote_cmd.add_subcommand("list", "List the configured remotes");
    cmd->add_flag("--json", *json, "Print the remotes as JSON");
    cmd->callback([json, &ctx] {
        auto ws = workspace::Workspace::discover(ctx.cwd);
        remote::RemotesConfig config = remote::load_remotes(ws.store_dir());
        if (*json) {
            nlohmann::json list = nlohmann::json::array();
            for (const auto& r : config.remotes) {
                nlohmann::json item{{"name", r.name},
                                    {"url", r.url},
                                    {"kind", remote::remote_kind(r.url) == remote::RemoteKind::s3 ? "s3" : "directory"},
                                    {"default", r.name == config.default_remote}};
                if (!r.endpoint.empty()) item["endpoint"] = r.endpoint;
                if (!r.region.empty()) item["region"] = r.region;
                if (r.path_style) item["path_style"] = *r.path_style;
                if (r.jobs) item["jobs"] = r.jobs;
                list.push_back(item);
            }
            print_json({{"default", config.default_remote.empty() ? nlohmann::json() : nlohmann::json(config.default_remote)},
                        {"remotes", list}});
            return;
        }
        if (config.remotes.empty()) {
            std::cout << "no remotes; add one with 'cairn remote add NAME URL --default'\n";
            return;
        }
        for (const auto& r : config.remotes) {
            std::string extra;
            if (!r.endpoint.empty()) extra += " endpoint=" + r.endpoint;
            if (!r.region.empty()) extra += " region=" + r.region;
            if (r.path_style) extra += std::string(" path_style=") + (*r.path_style ? "true" : "false");
            if (r.jobs) extra += " jobs=" + std::to_string(r.jobs);
            std::cout << (r.name == config.default_remote ? "* " : "  ") << printable(r.name) << "\t" << printable(r.url)
                      << printable(extra) << "\n";
        }
    });
}

void register_remote_remove(CLI::App& remote_cmd, Context& ctx) {
    auto name = std::make_shared<std::string>();
    auto* cmd = remote_cmd.add_subcommand("remove", "Remove a remote from the configuration (its data stays where it is)");
    cmd->add_option("name", *name, "Name of the remote")->required();
    cmd->callback([name, &ctx] {
        auto ws = workspace::Workspace::discover(ctx.cwd);
        bool found = false;
        for (auto scope : {remote::ConfigScope::committed, remote::ConfigScope::local}) {
            if (scope == remote::ConfigScope::local && !std::filesystem::exists(remote::config_path(ws.store_dir(), scope))) continue;
            remote::edit_remotes(ws.store_dir(), scope, [&](remote::RemotesConfig& config) {
                auto& list = config.remotes;
                auto before = list.size();
                std::erase_if(list, [&](const remote::RemoteConfig& r) { return r.name == *name; });
                if (list.size() != before) found = true;
                if (config.default_remote == *name) config.default_remote.clear(), found = true;
            });
        }
        if (!found) fail(ErrorKind::input, "no remote named '{}' (see 'cairn remote list')", *name);
        std::cout << fmt::format("removed remote '{}'\n", printable(*name));
    });
}

void register_remote_modify(CLI::App& remote_cmd, Context& ctx) {
    struct Options {
        std::string name, key, value;
        bool local = false;
    };
    auto opts = std::make_shared<Options>();
    auto* cmd = remote_cmd.add_subcommand("modify", "Set one setting of a remote (url, endpoint, region, path_style, jobs)");
    cmd->add_option("name", opts->name, "Name of the remote")->required();
    cmd->add_option("key", opts->key, "url, endpoint, region, path_style or jobs")->required();
    cmd->add_option("value", opts->value, "The new value")->required();
    cmd->add_flag("--local", opts->local, "Write the override to .cairn/config.local.yaml (this machine only)");
    cmd->callback([opts, &ctx] {
        auto ws = workspace::Workspace::discover(ctx.cwd);
        if (!remote::load_remotes(ws.store_dir()).find(opts->name))
            fail(ErrorKind::input, "no remote named '{}' (see 'cairn remote list')", opts->name);
        remote::edit_remotes(ws.store_dir(), scope_of(opts->local), [&](remote::RemotesConfig& config) {
            remote::RemoteConfig* target = nullptr;
            for (auto& r : config.remotes)
                if (r.name == opts->name) target = &r;
            if (!target) {
                config.remotes.push_back({});
                target = &config.remotes.back();
                target->name = opts->name;
            }
            remote::set_remote_key(*target, opts->key, opts->value);
        });
        std::cout << fmt::format("remote '{}': {} = {}\n", printable(opts->name), printable(opts->key), printable(opts->value));
    });
}

struct TransferCommand {
    std::string remote;
    std::string git_remote;
    std::vector<std::string> args; // runs (push), runs or paths (pull)
    std::vector<std::string> revs;
    bool all = false;
    bool data_only = false;
    bool runs_only = false;
    unsigned jobs = 0;
    bool json = false;
};

unsigned jobs_for(const TransferCommand& opts, const remote::RemoteConfig& r) {
    if (opts.jobs) return opts.jobs;
    if (r.jobs) return static_cast<unsigned>(r.jobs);
    return 8;
}

nlohmann::json refs_json(const git::RefSyncReport& r) {
    return {{"created", r.created}, {"updated", r.updated}, {"up_to_date", r.up_to_date.size()}, {"conflicts", r.conflicts}};
}

// The git half of push and pull: nullopt when skipped (--data-only, or no `origin` when no
// --git-remote was given: a repository without one shares data only).
std::optional<git::RefSyncReport> sync_refs(workspace::Workspace& ws, const TransferCommand& opts, bool push) {
    if (opts.data_only) return std::nullopt;
    std::string name = opts.git_remote.empty() ? "origin" : opts.git_remote;
    if (opts.git_remote.empty() && !git::has_remote(ws.repo(), name)) {
        if (opts.runs_only) fail(ErrorKind::input, "no git remote named 'origin'; name one with --git-remote");
        print_warning(fmt::format("no git remote 'origin': run records not {} (use --git-remote NAME)", push ? "pushed" : "pulled"));
        return std::nullopt;
    }
    return push ? git::push_cairn_refs(ws.repo(), name) : git::pull_cairn_refs(ws.repo(), name);
}

// Prints the problems (one line each, on stderr) and the summary; Error(integrity) after doing
// the rest when an object could not be moved; exit 1 for a ref conflict.
void report_transfer(const std::optional<remote::TransferReport>& report, const std::optional<git::RefSyncReport>& refs,
                     const std::string& verb, const std::string& preposition, const remote::RemoteConfig* r,
                     const TransferCommand& opts, Context& ctx) {
    if (report)
        for (const auto& p : report->problems) print_error(fmt::format("{}: {}", p.object, p.detail));
    if (refs)
        for (const auto& c : refs->conflicts) print_error("conflict: " + c);
    std::string git_name = opts.git_remote.empty() ? "origin" : opts.git_remote;
    if (opts.json) {
        nlohmann::json out = nlohmann::json::object();
        if (report && r) {
            nlohmann::json problems = nlohmann::json::array();
            for (const auto& p : report->problems) problems.push_back({{"object", p.object}, {"detail", p.detail}});
            out["remote"] = r->name;
            out["url"] = r->url;
            out["objects"] = report->transferred;
            out["bytes"] = report->bytes;
            out["present"] = report->present;
            out["problems"] = problems;
        }
        if (refs) {
            out["git_remote"] = git_name;
            out["refs"] = refs_json(*refs);
        }
        print_json(out);
    } else {
        if (report && r)
            std::cout << fmt::format("{} {} objects ({}) {} {}, {} already there\n", verb, report->transferred,
                                     util::human_size(report->bytes), preposition, printable(r->name), report->present);
        if (refs)
            std::cout << fmt::format("{} {} new and {} updated run refs {} git remote {}, {} up to date{}\n", verb,
                                     refs->created.size(), refs->updated.size(), preposition, printable(git_name),
                                     refs->up_to_date.size(),
                                     refs->conflicts.empty() ? "" : fmt::format(", {} in conflict", refs->conflicts.size()));
    }
    if (refs && !refs->conflicts.empty()) ctx.exit_code = 1;
    if (report && !report->problems.empty())
        fail(ErrorKind::integrity, "{} object(s) could not be {}; the rest were (run it again once the remote is repaired)",
             report->problems.size(), verb);
}

void add_transfer_options(CLI::App* cmd, TransferCommand& opts) {
    cmd->add_option("-r,--remote", opts.remote, "Data remote (default: the default remote)");
    cmd->add_option("--git-remote", opts.git_remote, "Git remote for run records (default: origin)");
    cmd->add_flag("--data-only", opts.data_only, "Only data objects, not run records");
    cmd->add_flag("--runs-only", opts.runs_only, "Only run records, not data objects");
    cmd->add_option("-j,--jobs", opts.jobs, "Parallel transfers (default 8, or the remote's 'jobs')")->check(CLI::Range(1, 256));
    cmd->add_flag("--json", opts.json, "Print the result as JSON");
}

void register_push_pull(CLI::App& app, Context& ctx) {
    auto push = std::make_shared<TransferCommand>();
    auto* push_cmd = app.add_subcommand("push", "Upload the data of HEAD's pointers, their lock file and runs to a data remote");
    push_cmd->add_option("runs", push->args, "Runs whose inputs and outputs to upload too");
    push_cmd->add_flag("--all", push->all, "Every recorded run's inputs and outputs");
    push_cmd->add_option("--rev", push->revs, "Upload the data of the pointer files at this commit instead of HEAD (repeatable; the pre-push hook uses it)")
        ->allow_extra_args(false);
    add_transfer_options(push_cmd, *push);
    push_cmd->footer("Examples:\n"
                     "  cairn push                 # HEAD's data to the default remote\n"
                     "  cairn push -r team --all   # and every run's inputs and outputs\n"
                     "  cairn push --rev main --rev v1.0\n"
                     "Objects the remote already has are not sent (one listing, not one request per object).");
    push_cmd->callback([push, &ctx] {
        auto ws = workspace::Workspace::discover(ctx.cwd);
        if (push->data_only && push->runs_only) throw Error(ErrorKind::usage, "--data-only and --runs-only exclude each other");
        std::optional<remote::TransferReport> report;
        remote::RemotesConfig config = remote::load_remotes(ws.store_dir());
        const remote::RemoteConfig* r = nullptr;
        // A misspelt --git-remote is an error before any upload, not after.
        if (!push->data_only && !push->git_remote.empty()) git::check_remote(ws.repo(), push->git_remote);
        if (!push->runs_only) {
            r = &config.select(push->remote);
            auto backend = remote::open_backend(*r, ws.root());
            backend->create_root();
            fs::FileLock lock(ws.store_lock_path(), fs::LockMode::shared);
            auto roots = remote::data_roots(ws, push->revs, push->args, push->all, true);
            StderrProgress progress;
            report = remote::push_objects(ws.cache(), *backend, roots, {jobs_for(*push, *r), &progress});
        }
        // Data first: a run that reaches the git remote has its objects on the data remote.
        std::optional<git::RefSyncReport> refs;
        if (!report || report->problems.empty()) refs = sync_refs(ws, *push, true);
        report_transfer(report, refs, "pushed", "to", r, *push, ctx);
    });

    auto pull = std::make_shared<TransferCommand>();
    auto* pull_cmd = app.add_subcommand("pull", "Download the data HEAD's pointers (or the named runs or paths) need from a data remote");
    pull_cmd->add_option("targets", pull->args, "Runs (their inputs and outputs) or tracked paths");
    add_transfer_options(pull_cmd, *pull);
    pull_cmd->footer("Examples:\n"
                     "  cairn pull && cairn checkout\n"
                     "  cairn pull data/images      # only what one pointer needs\n"
                     "  cairn pull my-run            # a run's inputs and outputs\n"
                     "Every object is verified against its id before it enters the cache.");
    pull_cmd->callback([pull, &ctx] {
        auto ws = workspace::Workspace::discover(ctx.cwd);
        if (pull->data_only && pull->runs_only) throw Error(ErrorKind::usage, "--data-only and --runs-only exclude each other");
        // Records first: the named runs may be ones that only the remote has.
        std::optional<git::RefSyncReport> refs = sync_refs(ws, *pull, false);
        if (pull->runs_only) {
            report_transfer(std::nullopt, refs, "pulled", "from", nullptr, *pull, ctx);
            return;
        }
        remote::RemotesConfig config = remote::load_remotes(ws.store_dir());
        const remote::RemoteConfig& r = config.select(pull->remote);
        auto backend = remote::open_backend(r, ws.root());
        fs::FileLock lock(ws.store_lock_path(), fs::LockMode::shared);
        std::vector<std::string> paths, runs;
        for (const auto& arg : pull->args) {
            std::filesystem::path p = std::filesystem::path(arg).is_absolute() ? std::filesystem::path(arg) : ctx.cwd / arg;
            bool is_path = std::filesystem::exists(p) || std::filesystem::exists(p.string() + ".cairn") ||
                           arg.find('/') != std::string::npos;
            (is_path ? paths : runs).push_back(arg);
        }
        remote::Roots roots;
        if (!paths.empty()) {
            std::vector<std::string> under;
            for (const auto& p : paths) {
                std::string rel = ws.relative_path(ctx.cwd, util::ends_with(p, ".cairn") ? p.substr(0, p.size() - 6) : p);
                under.push_back(rel);
            }
            std::vector<std::string> pointer_paths;
            for (auto& rel : under) {
                if (std::filesystem::exists(ws.absolute(rel + ".cairn"))) pointer_paths.push_back(rel + ".cairn");
                else pointer_paths.push_back(rel);
            }
            auto files = ws.find_pointers(pointer_paths);
            if (files.empty()) fail(ErrorKind::input, "no pointer file at or under {}", printable(paths.front()));
            for (const auto& file : files) roots.required.push_back(ws.read_pointer(file).digest);
        }
        if (!runs.empty() || paths.empty()) {
            auto more = remote::data_roots(ws, {}, runs, false, paths.empty() && runs.empty());
            roots.required.insert(roots.required.end(), more.required.begin(), more.required.end());
            roots.optional.insert(roots.optional.end(), more.optional.begin(), more.optional.end());
        }
        StderrProgress progress;
        auto report = remote::pull_objects(ws.cache(), *backend, roots, {jobs_for(*pull, r), &progress});
        report_transfer(report, refs, "pulled", "from", &r, *pull, ctx);
    });
}

} // namespace

void fetch_on_demand(workspace::Workspace& ws, const remote::Roots& roots) {
    StderrProgress progress;
    std::string name;
    std::optional<remote::TransferReport> report;
    try {
        report = remote::fetch_missing(ws, roots, &progress, &name);
    } catch (const Error& e) {
        // The command goes on with what the cache has, and names what is missing itself.
        print_warning(fmt::format("cannot fetch missing objects from the data remote: {}", e.what()));
        return;
    }
    if (!report) return;
    for (const auto& p : report->problems) print_warning(fmt::format("{}: {}", p.object, p.detail));
    if (report->transferred)
        std::cerr << fmt::format("cairn: fetched {} missing objects ({}) from remote '{}'\n", report->transferred,
                                 util::human_size(report->bytes), printable(name));
}

remote::Roots pointer_roots(workspace::Workspace& ws, const std::vector<std::string>& rel_paths) {
    remote::Roots roots;
    for (const auto& file : ws.find_pointers(rel_paths)) roots.required.push_back(ws.read_pointer(file).digest);
    (void)ws.take_warnings(); // the command reads the pointers again and reports them itself
    return roots;
}

void hint_remote_on_missing(workspace::Workspace& ws, const std::function<void()>& fn) {
    try {
        fn();
    } catch (const Error& e) {
        // Only the missing-object error gets the hint; a corrupt or unparseable object is not
        // something a remote would fix.
        if (e.kind() != ErrorKind::integrity || std::string_view(e.what()).find("missing from the cache") == std::string_view::npos ||
            !remote::load_remotes(ws.store_dir()).remotes.empty())
            throw;
        throw Error(ErrorKind::integrity, std::string(e.what()) +
                                              "\n(no data remote is configured to fetch them from: add one with "
                                              "'cairn remote add NAME URL --default')");
    }
}

void print_remote_status(workspace::Workspace& ws, const std::string& remote_name, bool json, Context& ctx) {
    remote::RemotesConfig config = remote::load_remotes(ws.store_dir());
    const remote::RemoteConfig& r = config.select(remote_name);
    auto backend = remote::open_backend(r, ws.root());
    remote::RemoteStatus st = remote::remote_status(ws, *backend, "origin");
    if (!st.remote_exists)
        print_warning(fmt::format("remote '{}': {} does not exist yet (nothing pushed there, or the share is not mounted)",
                                  printable(r.name), backend->describe()));
    if (json) {
        print_json({{"remote", r.name},
                    {"remote_exists", st.remote_exists},
                    {"git_remote", "origin"},
                    {"objects_not_pushed", st.objects_not_pushed},
                    {"objects_not_pulled", st.objects_not_pulled},
                    {"refs_not_pushed", st.refs_not_pushed},
                    {"refs_not_pulled", st.refs_not_pulled}});
    } else {
        std::cout << fmt::format("remote '{}': {} objects not pushed, {} not pulled\n", printable(r.name),
                                 st.objects_not_pushed.size(), st.objects_not_pulled.size());
        std::cout << fmt::format("git remote 'origin' (as of the last push or pull): {} run refs not pushed, {} not pulled\n",
                                 st.refs_not_pushed.size(), st.refs_not_pulled.size());
        for (const auto& ref : st.refs_not_pushed) std::cout << "  not pushed: " << printable(ref) << "\n";
        for (const auto& ref : st.refs_not_pulled) std::cout << "  not pulled: " << printable(ref) << "\n";
    }
    (void)ctx;
}

void gc_remote_command(workspace::Workspace& ws, const GcRemoteOptions& options, Context& ctx) {
    remote::RemotesConfig config = remote::load_remotes(ws.store_dir());
    const remote::RemoteConfig& r = config.select(options.remote);
    auto backend = remote::open_backend(r, ws.root());
    // Teammates push data with branches, tags and runs this clone may never have fetched: what
    // those reference must count as referenced, or gc would delete their data. Each git remote's
    // refs are mirrored under refs/cairn-gc/ first; one that cannot be read blocks --force.
    std::vector<std::string> git_remotes = options.git_remotes;
    if (git_remotes.empty() && !options.offline) git_remotes = git::remote_names(ws.repo());
    std::vector<std::string> unread;
    for (const auto& name : git_remotes) {
        try {
            git::fetch_gc_roots(ws.repo(), name);
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::input) throw;
            unread.push_back(name);
            print_warning(e.what());
        }
    }
    remote::RemoteGc result;
    {
        fs::FileLock lock(ws.store_lock_path(), fs::LockMode::shared); // trees it fetches enter the cache
        result = remote::gc_remote(ws, *backend, options.force && unread.empty());
    }
    std::uint64_t bytes = 0;
    for (const auto& item : result.unreferenced) bytes += item.second;
    if (options.json) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& item : result.unreferenced) list.push_back({{"key", item.first}, {"size", item.second}});
        print_json({{"remote", r.name}, {"git_remotes_checked", git_remotes}, {"git_remotes_unreachable", unread},
                    {"unreferenced", list}, {"bytes", bytes}, {"kept", result.kept}, {"removed", result.removed},
                    {"not_readable", result.unknown}});
    } else {
        for (const auto& item : result.unreferenced)
            std::cout << fmt::format("{} {} ({})\n", result.removed ? "removed" : "unreferenced", item.first,
                                     util::human_size(item.second));
        std::cout << fmt::format("{} {} object(s) ({}) on remote '{}'; kept {}\n", result.removed ? "removed" : "would remove",
                                 result.unreferenced.size(), util::human_size(bytes), printable(r.name), result.kept);
        if (git_remotes.empty() && !options.offline)
            std::cout << "no git remote is configured: only this clone's branches, tags and runs were counted\n";
    }
    if (options.force && !unread.empty()) {
        fail(ErrorKind::io,
             "nothing removed: cannot read git remote{} '{}', so data pushed there by others could be deleted (fix the "
             "remote, name the ones to check with --git-remote, or accept the risk with --offline)",
             unread.size() == 1 ? "" : "s", fmt::join(unread, "', '"));
    }
    if (options.force && !result.removed) {
        fail(ErrorKind::integrity,
             "nothing removed: {} referenced object(s) that may be directory trees could not be read ({}), so what "
             "they reference is unknown",
             result.unknown.size(), result.unknown.front());
    }
    (void)ctx;
}

void register_share(CLI::App& app, Context& ctx) {
    auto* remote_cmd = app.add_subcommand("remote", "Configure data remotes (shared directories, S3)");
    remote_cmd->require_subcommand(1);
    remote_cmd->footer("Examples:\n"
                       "  cairn remote add team /mnt/share/cairn --default\n"
                       "  cairn remote add s3 s3://bucket/project && cairn remote modify s3 endpoint http://127.0.0.1:9000\n"
                       "  cairn remote list --json\n"
                       "Credentials are never stored: S3 reads them from the environment or ~/.aws.");
    register_remote_add(*remote_cmd, ctx);
    register_remote_list(*remote_cmd, ctx);
    register_remote_remove(*remote_cmd, ctx);
    register_remote_modify(*remote_cmd, ctx);
    register_push_pull(app, ctx);
}

} // namespace cairn::cli
