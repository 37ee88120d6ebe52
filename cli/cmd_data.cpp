// cairn add | status | checkout
#include <iostream>
#include <optional>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/app.hpp"
#include "cli/output.hpp"
#include "core/pipeline/pipeline.hpp"
#include "core/pipeline/repro.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/add.hpp"
#include "core/remote/sync.hpp"
#include "core/workspace/checkout.hpp"
#include "core/workspace/status.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::cli {
namespace {

// `path` quoted for a POSIX shell when it holds anything but safe characters.
std::string shell_quote(const std::string& path) {
    if (!path.empty() && path.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/+@%,=:") ==
                             std::string::npos)
        return path;
    std::string out = "'";
    for (char c : path) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

void register_add(CLI::App& app, Context& ctx) {
    struct Options {
        std::vector<std::string> paths;
        bool json = false;
    };
    auto opts = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("add", "Store files or directories in the cache and track them with pointer files");
    cmd->add_option("paths", opts->paths, "Files or directories to track")->required();
    cmd->add_flag("--json", opts->json, "Print the result as JSON");
    cmd->footer("Examples:\n"
                "  cairn add data/train.csv        # writes data/train.csv.cairn, ignores data/train.csv in git\n"
                "  cairn add data/images models/   # directories are stored as per-directory trees\n"
                "  git add data/*.cairn data/.gitignore && git commit -m 'track data'\n"
                "Unchanged files are not hashed again (stat cache in .cairn/state).");
    cmd->callback([opts, &ctx] {
        auto ws = workspace::Workspace::discover(ctx.cwd);
        StderrProgress progress;
        auto result = workspace::add(ws, ws.relative_paths(ctx.cwd, opts->paths), progress);
        if (opts->json) {
            nlohmann::json paths = nlohmann::json::array();
            for (const auto& p : result.paths) {
                nlohmann::json item = {{"path", p.data_path},      {"pointer", p.pointer_path},
                                       {"hash", p.digest.id()},    {"size", p.size},
                                       {"type", p.is_directory ? "directory" : "file"},
                                       {"changed", p.changed}};
                if (p.is_directory) item["files"] = p.files;
                paths.push_back(item);
            }
            print_json({{"paths", paths}, {"new_objects", result.new_objects}, {"gitignore", result.gitignores}});
            return;
        }
        std::string to_stage;
        for (const auto& p : result.paths) {
            std::string what = p.is_directory ? fmt::format("{} file{}, {}", p.files, p.files == 1 ? "" : "s", util::human_size(p.size))
                                              : util::human_size(p.size);
            std::cout << fmt::format("{} {} ({}) {}\n", p.changed ? "added    " : "unchanged", printable(p.data_path), what,
                                     paint(short_id(p.digest), Color::dim));
            to_stage += " " + shell_quote(p.pointer_path);
        }
        for (const auto& g : result.gitignores) to_stage += " " + shell_quote(g);
        std::cout << "To track the change with git, run:\n  git add" << printable(to_stage) << "\n";
    });
}

// What `status --check` (the pre-commit hook) says on stderr when it refuses: that the commit
// is refused, and the commands that save the data, ready to paste.
void print_check_refusal(const std::vector<workspace::PathStatus>& statuses, bool staged) {
    std::string add, stage, restore;
    for (const auto& s : statuses) {
        switch (s.state) {
        case workspace::DataState::modified:
            add += " " + shell_quote(s.data_path);
            stage += " " + shell_quote(s.pointer_path);
            break;
        case workspace::DataState::not_staged: stage += " " + shell_quote(s.pointer_path); break;
        case workspace::DataState::deleted:
        case workspace::DataState::not_in_cache: restore += " " + shell_quote(s.data_path); break;
        default: break;
        }
    }
    print_error(staged ? "commit refused: tracked data differs from the pointer files being committed"
                       : "tracked data differs from its pointer files");
    if (!add.empty()) std::cerr << "  save the data:       cairn add" << add << "\n";
    if (!stage.empty()) std::cerr << "  stage the pointers:  git add" << stage << "\n";
    if (!restore.empty())
        std::cerr << "  missing data:        cairn checkout" << restore << "   (or cairn pull first; or git rm the pointer)\n";
}

void register_status(CLI::App& app, Context& ctx) {
    struct Options {
        std::vector<std::string> paths;
        bool json = false;
        bool check = false;
        bool staged = false;
    };
    auto opts = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("status", "Show how tracked data in the workspace differs from its pointer files");
    cmd->add_option("paths", opts->paths, "Limit to these tracked paths or directories");
    cmd->add_flag("--json", opts->json, "Print the status of every tracked path as JSON");
    auto remote_name = std::make_shared<std::string>();
    auto* remote_opt = cmd->add_option("--remote", *remote_name, "Instead: what is not yet pushed to / pulled from a remote (default: the default remote)")
                           ->expected(0, 1);
    cmd->add_flag("--check", opts->check,
                  "Print only differences and exit 1 if there are any (for pre-commit hooks)");
    cmd->add_flag("--staged", opts->staged,
                  "Compare the data with the pointer files staged in git's index (what the next commit records)");
    cmd->footer("Examples:\n"
                "  cairn status\n"
                "  cairn status data/images --json\n"
                "  cairn status --check --staged    # the pre-commit hook\n"
                "States: unchanged, modified, deleted, not in cache, not staged (--staged: the pointer in the\n"
                "work tree is not the one staged; 'git add' it).");
    cmd->callback([opts, remote_name, remote_opt, &ctx] {
        auto ws = workspace::Workspace::discover(ctx.cwd);
        if (remote_opt->count() > 0) {
            print_remote_status(ws, *remote_name, opts->json, ctx);
            return;
        }
        StderrProgress progress;
        auto statuses = workspace::status(ws, ws.relative_paths(ctx.cwd, opts->paths), progress,
                                          opts->staged ? workspace::Against::index : workspace::Against::worktree);
        for (const auto& w : ws.take_warnings()) print_warning(w);
        bool dirty = false;
        for (const auto& s : statuses) dirty |= s.state != workspace::DataState::unchanged;
        if (opts->check && dirty) ctx.exit_code = 1;
        // The pipeline's stages too, when there is one and no paths narrow the question.
        std::optional<pipeline::Pipeline> pipe;
        std::vector<pipeline::StageResult> stages;
        std::vector<std::string> removed_stages;
        if (opts->paths.empty() && !opts->staged)
            if (auto file = pipeline::pipeline_file(ws, ctx.cwd, "")) {
                pipe = pipeline::load(ws, *file);
                stages = pipeline::stage_status(ws, *pipe, progress);
                removed_stages = pipeline::removed_stages(ws, *pipe);
            }
        std::size_t stale = 0, frozen_changed = 0;
        for (const auto& st : stages) {
            stale += st.outcome == pipeline::StageResult::Outcome::would_run;
            frozen_changed += st.frozen_with_changes();
        }
        if (opts->json) {
            nlohmann::json paths = nlohmann::json::array();
            for (const auto& s : statuses) {
                nlohmann::json item = {{"path", s.data_path},
                                       {"pointer", s.pointer_path},
                                       {"status", workspace::to_string(s.state)},
                                       {"type", s.is_directory ? "directory" : "file"}};
                if (s.is_directory)
                    item.update({{"added", s.added}, {"modified", s.modified}, {"deleted", s.deleted}});
                paths.push_back(item);
            }
            nlohmann::json out = {{"clean", !dirty}, {"paths", paths}};
            if (pipe) {
                nlohmann::json js = nlohmann::json::array();
                for (const auto& st : stages) js.push_back(pipeline::to_json(st));
                out["pipeline"] = pipe->file;
                out["stages"] = js;
                out["removed_stages"] = removed_stages;
            }
            print_json(out);
            return;
        }
        auto color = [](workspace::DataState st) {
            switch (st) {
            case workspace::DataState::modified: return Color::yellow;
            case workspace::DataState::deleted: return Color::red;
            case workspace::DataState::not_in_cache: return Color::red;
            case workspace::DataState::not_staged: return Color::yellow;
            default: return Color::none;
            }
        };
        for (const auto& s : statuses) {
            if (s.state == workspace::DataState::unchanged) continue;
            std::string label = fmt::format("{:<14}", std::string(workspace::to_string(s.state)) + ":");
            std::cout << paint(label, color(s.state)) << printable(s.data_path) << "\n";
            for (const auto& p : s.added) std::cout << "    " << paint("added:    ", Color::green) << printable(p) << "\n";
            for (const auto& p : s.modified) std::cout << "    " << paint("modified: ", Color::yellow) << printable(p) << "\n";
            for (const auto& p : s.deleted) std::cout << "    " << paint("deleted:  ", Color::red) << printable(p) << "\n";
        }
        std::string to_stage;
        for (const auto& s : statuses)
            if (s.state == workspace::DataState::not_staged) to_stage += " " + shell_quote(s.pointer_path);
        if (!to_stage.empty())
            std::cout << "The pointer files in the work tree are not the staged ones; stage them with:\n  git add"
                      << to_stage << "\n";
        if (pipe && stale) {
            std::cout << fmt::format("Stale stages in {}:\n", printable(pipe->file));
            for (const auto& st : stages) {
                if (st.outcome != pipeline::StageResult::Outcome::would_run) continue;
                std::cout << "  " << paint(printable(st.stage) + ":", Color::yellow) << " "
                          << printable(pipeline::describe(st.reasons)) << "\n";
            }
        }
        if (pipe && frozen_changed) {
            std::cout << fmt::format("Frozen stages in {} that changed (they do not run while frozen):\n",
                                     printable(pipe->file));
            for (const auto& st : stages)
                if (st.frozen_with_changes())
                    std::cout << "  " << paint(printable(st.stage) + ":", Color::yellow) << " "
                              << printable(fmt::format("frozen (changed: {})", pipeline::describe(st.reasons))) << "\n";
        }
        if (pipe && !removed_stages.empty())
            std::cout << printable(fmt::format("{} has entries of stages no longer in {}: {} (a full 'cairn repro' "
                                               "removes them)",
                                               pipe->lock_file, pipe->file, fmt::join(removed_stages, ", ")))
                      << "\n";
        if (opts->check) {
            if (dirty) print_check_refusal(statuses, opts->staged);
            return;
        }
        if (pipe) {
            if (stale)
                std::cout << "Use 'cairn repro' to bring the stages up to date.\n";
            else if (frozen_changed)
                std::cout << fmt::format("Pipeline {} has no stale stages; {} frozen stage{} changed.\n",
                                         printable(pipe->file), frozen_changed, frozen_changed == 1 ? "" : "s");
            else
                std::cout << fmt::format("Pipeline {} is up to date ({} stage{}).\n", printable(pipe->file), stages.size(),
                                         stages.size() == 1 ? "" : "s");
        }
        if (statuses.empty() && pipe) return;
        if (statuses.empty())
            std::cout << "No data tracked here yet (use 'cairn add <path>').\n";
        else if (!dirty)
            std::cout << fmt::format("Data is up to date ({} tracked path{}).\n", statuses.size(),
                                     statuses.size() == 1 ? "" : "s");
        else
            std::cout << "Use 'cairn add <path>' to record changes or 'cairn checkout <path>' to discard them.\n";
    });
}

void register_checkout(CLI::App& app, Context& ctx) {
    struct Options {
        std::vector<std::string> paths;
        std::string object, output;
        bool force = false;
        bool json = false;
    };
    auto opts = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("checkout", "Make tracked data in the workspace match its pointer files");
    auto* paths_opt = cmd->add_option("paths", opts->paths, "Limit to these tracked paths or directories");
    auto* object = cmd->add_option("--object", opts->object,
                                   "Write this cache object instead (sha256:<hex>, 8+ digits of a unique prefix) to -o PATH");
    auto* output = cmd->add_option("-o,--output", opts->output, "Where --object goes: a file, or a directory for a tree object");
    object->excludes(paths_opt)->needs(output);
    output->needs(object);
    cmd->add_flag("-f,--force", opts->force, "Overwrite or remove data that is not in the cache");
    cmd->add_flag("--json", opts->json, "Print what was restored as JSON");
    cmd->footer("Examples:\n"
                "  git checkout v1 && cairn checkout    # data as it was at v1\n"
                "  cairn checkout data/images           # undo local edits to one directory\n"
                "  cairn checkout --object sha256:1a2b3c4d -o model.bin   # bytes by id (e.g. saved by apply)\n"
                "Data that is not in the cache is never overwritten without --force.");
    cmd->callback([opts, &ctx] {
        auto ws = workspace::Workspace::discover(ctx.cwd);
        StderrProgress progress;
        auto overwrite = opts->force ? workspace::Overwrite::force : workspace::Overwrite::refuse_unsaved;
        if (!opts->object.empty()) {
            auto digest = workspace::find_object(ws, opts->object);
            auto d = workspace::checkout_object(ws, digest, ws.relative_path(ctx.cwd, opts->output), overwrite, progress);
            if (opts->json) {
                print_json({{"object", digest.id()},
                            {"paths",
                             {{{"path", d.data_path}, {"written", d.written}, {"removed", d.removed}, {"dirs_created", d.dirs_created}}}}});
                return;
            }
            std::cout << fmt::format("wrote {} to {} ({} written, {} removed)\n", digest.id(), printable(d.data_path), d.written,
                                     d.removed);
            return;
        }
        auto rel_paths = ws.relative_paths(ctx.cwd, opts->paths);
        fetch_on_demand(ws, pointer_roots(ws, rel_paths));
        std::vector<workspace::CheckedOut> done;
        hint_remote_on_missing(ws, [&] { done = workspace::checkout(ws, rel_paths, overwrite, progress); });
        for (const auto& w : ws.take_warnings()) print_warning(w);
        if (opts->json) {
            nlohmann::json paths = nlohmann::json::array();
            for (const auto& d : done)
                paths.push_back({{"path", d.data_path},
                                 {"written", d.written},
                                 {"removed", d.removed},
                                 {"dirs_created", d.dirs_created}});
            print_json({{"paths", paths}});
            return;
        }
        bool any = false;
        for (const auto& d : done) {
            if (d.written == 0 && d.removed == 0 && d.dirs_created == 0) continue;
            any = true;
            std::cout << fmt::format("restored {} ({} written, {} removed{})\n", printable(d.data_path), d.written, d.removed,
                                     d.dirs_created ? fmt::format(", {} directories created", d.dirs_created) : "");
        }
        if (!any) std::cout << "Workspace already matches the pointers.\n";
    });
}

} // namespace

void register_data(CLI::App& app, Context& ctx) {
    register_add(app, ctx);
    register_status(app, ctx);
    register_checkout(app, ctx);
}

} // namespace cairn::cli
