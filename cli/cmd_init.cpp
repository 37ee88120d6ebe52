// cairn init
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/app.hpp"
#include "cli/output.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::cli {

void register_init(CLI::App& app, Context& ctx) {
    struct Options {
        bool git = false;
        bool json = false;
    };
    auto opts = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("init", "Create the cairn store (.cairn/) in this git repository");
    cmd->add_flag("--git", opts->git, "Create a git repository here first if there is none");
    cmd->add_flag("--json", opts->json, "Print the result as JSON");
    cmd->footer("Examples:\n"
                "  cairn init            # inside an existing git repository\n"
                "  cairn init --git      # in a plain directory: git init, then cairn init\n"
                "Running it again is harmless: an existing store is left as it is.");
    cmd->callback([opts, &ctx] {
        workspace::InitResult r = workspace::init(ctx.cwd, opts->git);
        if (opts->json) {
            print_json({{"root", r.root.string()},
                        {"created_git", r.created_git},
                        {"created_store", r.created_store}});
            return;
        }
        if (r.created_git) std::cout << "Initialized empty git repository in " << r.root.string() << "\n";
        if (!r.created_store) {
            std::cout << "cairn store already present in " << (r.root / ".cairn").string() << "\n";
            return;
        }
        std::cout << "Initialized cairn store in " << (r.root / ".cairn").string() << "\n"
                  << "Commit its settings with:\n"
                  << "  git add .cairn/config.yaml .cairn/.gitignore\n";
    });
}

} // namespace cairn::cli
