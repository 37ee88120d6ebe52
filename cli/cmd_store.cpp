// cairn fsck | gc
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/app.hpp"
#include "cli/output.hpp"
#include "core/fs/lock.hpp"
#include "core/remote/config.hpp"
#include "core/remote/directory.hpp"
#include "core/remote/verify.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/maintenance.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::cli {
namespace {

// `cairn fsck --remote NAME [--repair]`: every object on the data remote read back and hashed.
void fsck_remote_command(workspace::Workspace& ws, const std::string& name, bool repair, unsigned jobs, bool json,
                         Context& ctx) {
    remote::RemotesConfig config = remote::load_remotes(ws.store_dir());
    const remote::RemoteConfig& r = config.select(name);
    auto backend = remote::open_backend(r, ws.root());
    if (jobs == 0) jobs = r.jobs ? static_cast<unsigned>(r.jobs) : 8;
    StderrProgress progress;
    remote::RemoteCheck result;
    {
        fs::FileLock lock(ws.store_lock_path(), fs::LockMode::shared); // reads the cache, temp files in its tmp/
        result = remote::check_remote(ws.cache(), *backend, repair, jobs, &progress);
    }
    bool damaged = !result.problems.empty() && !result.all_repaired;
    if (damaged) ctx.exit_code = 1;
    if (json) {
        nlohmann::json problems = nlohmann::json::array();
        for (const auto& p : result.problems) {
            nlohmann::json item = {{"key", p.key}, {"kind", p.kind}, {"detail", p.detail}};
            if (repair) item["repair"] = p.repair;
            problems.push_back(item);
        }
        print_json({{"remote", r.name}, {"objects", result.objects}, {"bytes", result.bytes},
                    {"ok", result.problems.empty()}, {"repaired", repair && result.all_repaired && !result.problems.empty()},
                    {"problems", problems}, {"stray", result.stray}});
        return;
    }
    for (const auto& p : result.problems) {
        std::cout << paint(fmt::format("{:<16}", p.kind), Color::red) << ' ' << printable(p.key) << "  " << printable(p.detail)
                  << "\n";
        if (repair) std::cout << "                 " << printable(p.repair) << "\n";
    }
    for (const auto& key : result.stray) std::cout << fmt::format("{:<16} {}  not an object key (left alone)\n", "stray", printable(key));
    std::cout << fmt::format("checked {} objects ({}) on remote '{}': {}\n", result.objects, util::human_size(result.bytes),
                             printable(r.name),
                             result.problems.empty() ? "no problems"
                             : repair && result.all_repaired ? fmt::format("{} problem(s), all repaired", result.problems.size())
                                                             : fmt::format("{} problem(s)", result.problems.size()));
    if (!repair && !result.problems.empty())
        std::cout << fmt::format("'cairn fsck --remote {} --repair' uploads good copies from this cache again (or removes "
                                 "objects no good copy of is here)\n",
                                 printable(r.name));
}

void register_fsck(CLI::App& app, Context& ctx) {
    auto json = std::make_shared<bool>(false);
    auto remote_name = std::make_shared<std::string>();
    auto repair = std::make_shared<bool>(false);
    auto jobs = std::make_shared<unsigned>(0);
    auto* cmd = app.add_subcommand("fsck", "Verify every object in the cache; report corrupt and missing ones");
    cmd->add_flag("--json", *json, "Print the report as JSON");
    auto* remote_opt = cmd->add_option("--remote", *remote_name, "Instead: read back and verify every object on a data remote");
    cmd->add_flag("--repair", *repair, "With --remote: upload good copies of corrupt objects again, or remove them")
        ->needs(remote_opt);
    cmd->add_option("-j,--jobs", *jobs, "With --remote: parallel downloads (default: the remote's jobs, or 8)")
        ->check(CLI::Range(1u, 256u))
        ->needs(remote_opt);
    cmd->footer("Examples:\n"
                "  cairn fsck\n"
                "  cairn fsck --json | jq '.problems[]'\n"
                "  cairn fsck --remote team --repair\n"
                "Exits 1 when anything is wrong. fsck never deletes anything (--remote --repair removes\n"
                "corrupt remote objects it has no good copy of).");
    cmd->callback([json, remote_name, repair, jobs, &ctx] {
        auto ws = workspace::Workspace::discover(ctx.cwd);
        if (!remote_name->empty()) {
            fsck_remote_command(ws, *remote_name, *repair, *jobs, *json, ctx);
            return;
        }
        StderrProgress progress;
        auto result = workspace::fsck(ws, progress);
        for (const auto& w : ws.take_warnings()) print_warning(w);
        if (!result.problems.empty()) ctx.exit_code = 1;
        if (*json) {
            nlohmann::json problems = nlohmann::json::array();
            for (const auto& p : result.problems)
                problems.push_back({{"kind", p.kind}, {"object", p.object}, {"detail", p.detail}});
            print_json({{"objects", result.objects}, {"bytes", result.bytes}, {"ok", result.problems.empty()},
                        {"problems", problems}});
            return;
        }
        for (const auto& p : result.problems)
            // The separator is outside the padding: a kind as long as the column still gets one.
            std::cout << paint(fmt::format("{:<16}", p.kind), Color::red) << ' ' << (p.object.empty() ? "" : p.object + "  ")
                      << printable(p.detail, Lines::multi) << "\n";
        std::cout << fmt::format("checked {} objects ({}): {}\n", result.objects, util::human_size(result.bytes),
                                 result.problems.empty() ? "no problems"
                                                         : fmt::format("{} problem(s)", result.problems.size()));
    });
}

void register_gc(CLI::App& app, Context& ctx) {
    struct Options {
        bool dry_run = false;
        bool json = false;
    };
    auto opts = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("gc", "Remove cache objects that nothing references any more");
    cmd->add_flag("-n,--dry-run", opts->dry_run, "Only list what would be removed");
    cmd->add_flag("--json", opts->json, "Print the result as JSON");
    auto remote = std::make_shared<GcRemoteOptions>();
    auto* remote_opt = cmd->add_option("--remote", remote->remote, "Instead: list a data remote's unreferenced objects");
    cmd->add_flag("--force", remote->force, "With --remote: delete them")->needs(remote_opt);
    cmd->add_option("--git-remote", remote->git_remotes,
                    "With --remote: the git remote(s) whose branches, tags and runs count as references (default: all)")
        ->needs(remote_opt);
    cmd->add_flag("--offline", remote->offline, "With --remote: count only this clone's refs (unsafe for shared remotes)")
        ->needs(remote_opt);
    cmd->footer("Examples:\n"
                "  cairn gc --dry-run\n"
                "  cairn gc\n"
                "Kept: objects named by a pointer in the workspace or the index, at the tip of any branch,\n"
                "tag or remote-tracking branch, and by anything under refs/cairn/ (runs).\n"
                "With --remote, every git remote's branches, tags and runs are fetched first (into\n"
                "refs/cairn-gc/ and refs/cairn-incoming/) so data others pushed is kept.");
    cmd->callback([opts, remote, &ctx] {
        auto ws = workspace::Workspace::discover(ctx.cwd);
        if (!remote->remote.empty()) {
            remote->json = opts->json;
            gc_remote_command(ws, *remote, ctx);
            return;
        }
        StderrProgress progress;
        auto result = workspace::gc(ws, opts->dry_run ? workspace::GcMode::dry_run : workspace::GcMode::remove, progress);
        for (const auto& w : ws.take_warnings()) print_warning(w);
        if (opts->json) {
            nlohmann::json removed = nlohmann::json::array();
            for (const auto& r : result.removed) removed.push_back({{"object", r.digest.id()}, {"size", r.size}});
            nlohmann::json unparseable = nlohmann::json::array();
            for (const auto& u : result.unparseable)
                unparseable.push_back({{"object", u.digest.id()}, {"reason", u.reason}});
            print_json({{"dry_run", opts->dry_run},
                        {"removed", removed},
                        {"freed", result.freed},
                        {"kept", result.kept},
                        {"temp_files", result.temp_files},
                        {"state_entries", result.state_entries},
                        {"unparseable_trees", unparseable}});
            return;
        }
        for (const auto& u : result.unparseable)
            print_warning(u.reason + "; kept it and every object it names (run 'cairn fsck')");
        const char* verb = opts->dry_run ? "would remove" : "removed";
        for (const auto& r : result.removed)
            std::cout << fmt::format("{} {} ({})\n", verb, r.digest.id(), util::human_size(r.size));
        std::cout << fmt::format("{} {} object(s), {} {}; kept {}", verb, result.removed.size(),
                                 opts->dry_run ? "would free" : "freed", util::human_size(result.freed), result.kept);
        if (result.temp_files) std::cout << fmt::format("; {} leftover temp file(s)", result.temp_files);
        std::cout << "\n";
    });
}

} // namespace

void register_store(CLI::App& app, Context& ctx) {
    register_fsck(app, ctx);
    register_gc(app, ctx);
}

} // namespace cairn::cli
