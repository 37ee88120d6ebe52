// cairn hooks install | uninstall | run
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/app.hpp"
#include "cli/output.hpp"
#include "core/util/error.hpp"
#include "core/workspace/checkout.hpp"
#include "core/workspace/hooks.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::cli {
namespace {

void print_changes(const std::vector<workspace::HookChange>& changes, bool json) {
    if (json) {
        nlohmann::json hooks = nlohmann::json::array();
        for (const auto& c : changes) hooks.push_back({{"hook", c.name}, {"path", c.path.string()}, {"action", c.action}});
        print_json({{"hooks", hooks}});
        return;
    }
    for (const auto& c : changes) {
        std::string line = fmt::format("{:<14} {}", c.name, c.action);
        if (c.action == "chained")
            line += fmt::format(" (the existing hook is kept as {}.pre-cairn and runs first)", c.name);
        else if (c.action == "kept")
            line += " (cairn's hook was edited by hand; --force rewrites it)";
        else if (c.action == "not cairn's")
            line += " (left alone)";
        std::cout << printable(line) << "\n";
    }
}

void register_install(CLI::App& hooks, Context& ctx) {
    struct Options {
        bool force = false;
        bool json = false;
    };
    auto opts = std::make_shared<Options>();
    auto* cmd = hooks.add_subcommand("install", "Install cairn's pre-commit, post-checkout and pre-push git hooks");
    cmd->add_flag("-f,--force", opts->force,
                  "Rewrite cairn hooks edited by hand, and replace a hook that cannot be chained");
    cmd->add_flag("--json", opts->json, "Print what was done to each hook as JSON");
    cmd->footer("Hooks go to core.hooksPath when it is set, else .git/hooks. A hook that is already there is\n"
                "kept as <name>.pre-cairn and run before cairn's (same arguments and input).\n"
                "  pre-commit     cairn status --check --staged\n"
                "  post-checkout  restores the data of the pointer files the checkout changed\n"
                "  pre-push       cairn push --data-only for the commits being pushed");
    cmd->callback([opts, &ctx] {
        auto ws = workspace::Workspace::discover(ctx.cwd);
        print_changes(workspace::install_hooks(ws.repo(), opts->force), opts->json);
    });
}

void register_uninstall(CLI::App& hooks, Context& ctx) {
    auto json = std::make_shared<bool>(false);
    auto* cmd = hooks.add_subcommand("uninstall", "Remove the hooks cairn installed, restoring the ones it chained");
    cmd->add_flag("--json", *json, "Print what was done to each hook as JSON");
    cmd->callback([json, &ctx] {
        auto ws = workspace::Workspace::discover(ctx.cwd);
        print_changes(workspace::uninstall_hooks(ws.repo()), *json);
    });
}

// What the installed post-checkout hook calls: git passes the previous HEAD, the new HEAD and 1
// for a branch checkout (0 when files were checked out from the index or a commit).
void register_run(CLI::App& hooks, Context& ctx) {
    struct Options {
        std::string hook;
        std::vector<std::string> args;
    };
    auto opts = std::make_shared<Options>();
    auto* cmd = hooks.add_subcommand("run", "Run the work of a cairn hook (what the installed hook scripts call)");
    cmd->add_option("hook", opts->hook, "post-checkout")->required()->check(CLI::IsMember({"post-checkout"}));
    cmd->add_option("args", opts->args, "The arguments git passed to the hook");
    cmd->callback([opts, &ctx] {
        if (opts->args.size() != 3)
            fail(ErrorKind::usage, "post-checkout takes git's three arguments: PREVIOUS-HEAD NEW-HEAD BRANCH-FLAG");
        std::optional<workspace::Workspace> ws;
        try {
            ws.emplace(workspace::Workspace::discover(ctx.cwd));
        } catch (const Error& e) {
            // A commit from before `cairn init` has no .cairn/config.yaml: nothing to restore.
            if (e.kind() == ErrorKind::environment) return;
            throw;
        }
        std::vector<std::string> paths;
        if (opts->args[2] == "1") {
            auto changed = workspace::changed_data_paths(ws->repo(), opts->args[0], opts->args[1]);
            if (changed) {
                if (changed->empty()) return;
                paths = std::move(*changed);
            }
        }
        StderrProgress progress;
        auto done = workspace::checkout(*ws, paths, workspace::Overwrite::refuse_unsaved, progress);
        for (const auto& w : ws->take_warnings()) print_warning(w);
        std::uint64_t written = 0, removed = 0, touched = 0;
        for (const auto& d : done) {
            written += d.written;
            removed += d.removed;
            if (d.written || d.removed) ++touched;
        }
        if (touched)
            std::cerr << fmt::format("cairn: post-checkout: restored {} tracked path{} ({} file{} written, {} removed)\n",
                                     touched, touched == 1 ? "" : "s", written, written == 1 ? "" : "s", removed);
    });
}

} // namespace

void register_hooks(CLI::App& app, Context& ctx) {
    auto* hooks = app.add_subcommand("hooks", "Install or remove cairn's git hooks");
    hooks->require_subcommand(1);
    hooks->footer("Examples:\n"
                  "  cairn hooks install      # pre-commit, post-checkout, pre-push\n"
                  "  cairn hooks uninstall    # removes them; hooks cairn chained are put back");
    register_install(*hooks, ctx);
    register_uninstall(*hooks, ctx);
    register_run(*hooks, ctx);
}

} // namespace cairn::cli
