// cairn model register | alias | ls | show | get | deprecate
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/app.hpp"
#include "cli/output.hpp"
#include "core/cache/cache.hpp"
#include "core/fs/file.hpp"
#include "core/metrics/metrics.hpp"
#include "core/pipeline/pipeline.hpp"
#include "core/registry/registry.hpp"
#include "core/run/lineage.hpp"
#include "core/run/store.hpp"
#include "core/util/error.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/checkout.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::cli {

std::string run_name_arg(workspace::Workspace& ws, const std::string& name) {
    if (auto id = registry::run_of(ws, name)) return *id;
    return name;
}

namespace {

nlohmann::json version_json(const registry::Version& v) {
    nlohmann::json trained = nlohmann::json::array();
    for (const auto& t : v.trained_on) {
        nlohmann::json item{{"path", t.path}, {"object", t.object}};
        item["producer"] = t.producer.empty() ? nlohmann::json(nullptr) : nlohmann::json(t.producer);
        trained.push_back(item);
    }
    nlohmann::json metrics = nlohmann::json::object();
    for (const auto& [k, value] : v.metrics) metrics[k] = number_json(value);
    nlohmann::json j{{"name", v.name},
                     {"version", fmt::format("v{}", v.number)},
                     {"run", v.run},
                     {"run_name", v.run_name},
                     {"path", v.path},
                     {"object", v.object},
                     {"size", v.size},
                     {"description", v.description},
                     {"registered_by", v.registered_by},
                     {"registered_at", run::format_time(v.registered_ms)},
                     {"metrics", metrics},
                     {"trained_on", trained},
                     {"aliases", v.aliases},
                     {"deprecated", v.deprecated}};
    if (v.deprecated)
        j["deprecation"] = {{"by", v.deprecated_by}, {"at", run::format_time(v.deprecated_ms)}, {"reason", v.deprecation_reason}};
    return j;
}

nlohmann::json event_json(const registry::AliasEvent& e) {
    auto version = [](int n) { return n == 0 ? nlohmann::json(nullptr) : nlohmann::json(fmt::format("v{}", n)); };
    return {{"alias", e.alias}, {"version", version(e.version)}, {"previous", version(e.previous)},
            {"by", e.by}, {"at", run::format_time(e.at_ms)}};
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
    std::string out;
    for (const auto& i : items) out += (out.empty() ? "" : std::string(sep)) + i;
    return out;
}

std::string version_text(int n) { return n == 0 ? "-" : fmt::format("v{}", n); }

// RUN or RUN:PATH; a run name that itself holds ':' (model:NAME@prod) is tried whole first.
std::pair<run::RunRecord, std::string> run_and_path(workspace::Workspace& ws, const std::string& text) {
    auto resolve = [&](const std::string& name) {
        std::string note;
        run::RunRecord r = run::resolve(ws, run_name_arg(ws, name), &note);
        if (!note.empty()) print_warning(note);
        return r;
    };
    std::size_t colon = text.rfind(':');
    if (colon == std::string::npos || (util::starts_with(text, "model:") && text.find(':', 6) == std::string::npos))
        return {resolve(text), ""};
    try {
        return {resolve(text.substr(0, colon)), text.substr(colon + 1)};
    } catch (const Error&) {
        return {resolve(text), ""};
    }
}

void register_register(CLI::App& group, Context& ctx) {
    struct Options {
        std::string name, run, description;
        std::vector<std::string> aliases;
        bool json = false;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = group.add_subcommand("register", "Make an immutable version (v1, v2, ...) of one output of a run");
    cmd->add_option("name", o->name, "Model name")->required();
    cmd->add_option("run", o->run,
                    "RUN or RUN:PATH (PATH may be left out when the run has one output); without it, the latest "
                    "run that wrote the pipeline's `artifacts:` entry of that name");
    cmd->add_option("-m,--description", o->description, "What this version is");
    cmd->add_option("--alias", o->aliases, "Also point this alias at the new version (repeatable)");
    cmd->add_flag("--json", o->json, "Print the version as JSON");
    cmd->footer("Examples:\n"
                "  cairn model register churn train:model.pkl -m 'retrained on March data' --alias staging\n"
                "  cairn model register churn            # from dvc.yaml's artifacts: churn: {path: model.pkl}");
    cmd->callback([o, &ctx] {
        auto ws = workspace::Workspace::discover(ctx.cwd);
        run::RunRecord r;
        std::string path;
        if (!o->run.empty()) {
            std::tie(r, path) = run_and_path(ws, o->run);
            if (!path.empty() && !r.outputs.count(path)) {
                // A path as the user typed it, relative to where they are.
                try {
                    std::string rel = ws.relative_path(ctx.cwd, path);
                    if (r.outputs.count(rel)) path = rel;
                } catch (const Error&) {
                }
            }
        } else {
            auto file = pipeline::pipeline_file(ws, ctx.cwd, "");
            if (!file)
                throw Error(ErrorKind::usage, fmt::format("cairn model register {}: give RUN[:PATH] (there is no pipeline "
                                                          "file whose artifacts: could name it)", o->name));
            auto p = pipeline::load(ws, *file);
            auto it = p.artifacts.find(o->name);
            if (it == p.artifacts.end())
                throw Error(ErrorKind::input, fmt::format("{} has no artifact '{}': give RUN[:PATH]", *file, o->name));
            path = it->second;
            run::LineageIndex lineage(run::list_runs(ws));
            const run::RunRecord* latest = nullptr;
            for (const auto* w : lineage.writers_of_path(path))
                if (w->status == "finished") {
                    latest = w;
                    break;
                }
            if (!latest)
                throw Error(ErrorKind::input, fmt::format("no finished run wrote {} (artifact '{}' of {})", path, o->name, *file));
            r = run::load_run(ws, *latest);
        }
        auto v = registry::register_version(ws, o->name, r, path, o->description, o->aliases);
        if (o->json) {
            print_json(version_json(v));
            return;
        }
        std::cout << fmt::format("registered {}@v{}: {} of run {} ({})\n", printable(v.name), v.number, printable(v.path),
                                 v.run.substr(0, 8), short_id(*hash::Digest::from_id(v.object)));
        for (const auto& a : v.aliases) std::cout << fmt::format("  {}@{} -> v{}\n", printable(v.name), printable(a), v.number);
    });
}

void register_alias(CLI::App& group, Context& ctx) {
    struct Options {
        std::string target, version;
        bool remove = false, json = false;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = group.add_subcommand("alias", "Point an alias (prod, staging, ...) at a version, or delete it");
    cmd->add_option("alias", o->target, "NAME@ALIAS")->required();
    cmd->add_option("version", o->version, "The version: vN, or NAME@vN / NAME@OTHER-ALIAS");
    cmd->add_flag("--delete", o->remove, "Delete the alias (its history stays)");
    cmd->add_flag("--json", o->json, "Print the recorded move as JSON");
    cmd->footer("Examples:\n  cairn model alias churn@prod v3\n  cairn model alias churn@prod churn@staging\n"
                "  cairn model alias --delete churn@staging\n"
                "Two moves of one alias at once: the second fails (exit 7) instead of overwriting the first.");
    cmd->callback([o, &ctx] {
        auto sel = registry::parse_selector(o->target);
        if (sel.alias.empty())
            throw Error(ErrorKind::usage,
                        fmt::format("cairn model alias: '{}' is not NAME@ALIAS{}", o->target,
                                    sel.version || o->target.find('@') != std::string::npos
                                        ? " (vN and latest are reserved for versions)"
                                        : ""));
        if (o->remove == !o->version.empty())
            throw Error(ErrorKind::usage, "cairn model alias: give a version, or --delete");
        auto ws = workspace::Workspace::discover(ctx.cwd);
        std::optional<int> number;
        if (!o->remove) {
            std::string text = o->version.find('@') == std::string::npos ? sel.name + "@" + o->version : o->version;
            auto vsel = registry::parse_selector(text);
            if (vsel.name != sel.name)
                throw Error(ErrorKind::usage, fmt::format("cairn model alias: {} is not a version of {}", o->version, sel.name));
            number = registry::select(registry::load_model(ws, sel.name), vsel).number;
        }
        auto e = registry::set_alias(ws, sel.name, sel.alias, number);
        if (o->json) {
            print_json(event_json(e));
            return;
        }
        if (number)
            std::cout << fmt::format("{}@{}: {} -> v{}\n", printable(sel.name), printable(sel.alias), version_text(e.previous), *number);
        else
            std::cout << fmt::format("{}@{}: deleted (was v{})\n", printable(sel.name), printable(sel.alias), e.previous);
    });
}

void register_ls(CLI::App& group, Context& ctx) {
    struct Options {
        std::string name;
        bool json = false;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = group.add_subcommand("ls", "List models, or the versions of one");
    cmd->add_option("name", o->name, "A model: list its versions");
    cmd->add_flag("--json", o->json, "Print JSON");
    cmd->callback([o, &ctx] {
        auto ws = workspace::Workspace::discover(ctx.cwd);
        if (o->name.empty()) {
            nlohmann::json out = nlohmann::json::array();
            std::vector<registry::ModelSummary> models = registry::model_summaries(ws);
            if (o->json) {
                for (const auto& m : models) {
                    nlohmann::json aliases = nlohmann::json::object();
                    for (const auto& [a, n] : m.aliases) aliases[a] = fmt::format("v{}", n);
                    out.push_back({{"name", m.name},
                                   {"versions", m.versions},
                                   {"latest", m.latest ? nlohmann::json(fmt::format("v{}", *m.latest)) : nlohmann::json(nullptr)},
                                   {"aliases", aliases}});
                }
                print_json(out);
                return;
            }
            if (models.empty()) {
                std::cout << "no models registered (cairn model register NAME RUN)\n";
                return;
            }
            std::cout << paint(fmt::format("{:<24} {:>8} {:>7}  {}", "NAME", "VERSIONS", "LATEST", "ALIASES"), Color::bold) << "\n";
            for (const auto& m : models) {
                std::string aliases;
                for (const auto& [a, n] : m.aliases) aliases += fmt::format("{}{}=v{}", aliases.empty() ? "" : " ", a, n);
                std::cout << fmt::format("{:<24} {:>8} {:>7}  {}\n", printable(m.name), m.versions,
                                         m.latest ? fmt::format("v{}", *m.latest) : "-", printable(aliases));
            }
            return;
        }
        auto m = registry::load_model(ws, o->name);
        if (o->json) {
            nlohmann::json out = nlohmann::json::array();
            for (const auto& v : m.versions) out.push_back(version_json(v));
            print_json(out);
            return;
        }
        std::cout << paint(fmt::format("{:<8} {:<8} {:<24} {:<19} {:<16} {}", "VERSION", "RUN", "PATH", "REGISTERED",
                                       "ALIASES", "METRICS"),
                           Color::bold)
                  << "\n";
        for (const auto& v : m.versions) {
            std::string metrics;
            for (const auto& [k, value] : v.metrics)
                metrics += fmt::format("{}{}={}", metrics.empty() ? "" : " ", k, metrics::format_value(value));
            std::string aliases = join(v.aliases, ",");
            if (v.deprecated) aliases = aliases.empty() ? "(deprecated)" : aliases + " (deprecated)";
            std::cout << fmt::format("{:<8} {:<8} {:<24} {:<19} {:<16} {}\n", fmt::format("v{}", v.number), v.run.substr(0, 8),
                                     printable(v.path), run::format_time(v.registered_ms).substr(0, 19), printable(aliases),
                                     printable(metrics));
        }
    });
}

void register_show(CLI::App& group, Context& ctx) {
    struct Options {
        std::string target;
        bool history = false, json = false;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = group.add_subcommand("show", "Show one version: its run, object, metrics and training data");
    cmd->add_option("model", o->target, "NAME, NAME@vN or NAME@ALIAS")->required();
    cmd->add_flag("--history", o->history, "Also list every alias move (who, when, from, to)");
    cmd->add_flag("--json", o->json, "Print JSON");
    cmd->callback([o, &ctx] {
        auto ws = workspace::Workspace::discover(ctx.cwd);
        auto sel = registry::parse_selector(o->target);
        auto m = registry::load_model(ws, sel.name);
        const auto& v = registry::select(m, sel);
        std::vector<registry::AliasEvent> history;
        if (o->history) history = registry::alias_history(ws, sel.name);
        if (o->json) {
            nlohmann::json j = version_json(v);
            if (o->history) {
                j["history"] = nlohmann::json::array();
                for (const auto& e : history) j["history"].push_back(event_json(e));
            }
            print_json(j);
            return;
        }
        std::cout << fmt::format("{}@v{}{}\n", printable(v.name), v.number, v.deprecated ? "  (deprecated)" : "");
        if (!v.description.empty()) std::cout << fmt::format("  description  {}\n", printable(v.description));
        std::cout << fmt::format("  run          {} ({})\n", v.run, printable(v.run_name));
        std::cout << fmt::format("  output       {}  {}  {} bytes\n", printable(v.path), v.object, v.size);
        std::cout << fmt::format("  registered   {} by {}\n", run::format_time(v.registered_ms), printable(v.registered_by));
        if (!v.aliases.empty()) std::cout << fmt::format("  aliases      {}\n", printable(join(v.aliases, ", ")));
        if (v.deprecated)
            std::cout << fmt::format("  deprecated   {} by {}{}\n", run::format_time(v.deprecated_ms), printable(v.deprecated_by),
                                     v.deprecation_reason.empty() ? "" : ": " + printable(v.deprecation_reason));
        for (const auto& [k, value] : v.metrics)
            std::cout << fmt::format("  metric       {} = {}\n", printable(k), metrics::format_value(value));
        for (const auto& t : v.trained_on)
            std::cout << fmt::format("  trained on   {}  {}{}\n", printable(t.path), short_id(*hash::Digest::from_id(t.object)),
                                     t.producer.empty() ? "" : fmt::format("  (from run {})", t.producer.substr(0, 8)));
        if (o->history) {
            std::cout << "history:\n";
            for (const auto& e : history)
                std::cout << fmt::format("  {}  {:<12} {} -> {}  by {}\n", run::format_time(e.at_ms).substr(0, 19),
                                         printable(e.alias), version_text(e.previous),
                                         e.version == 0 ? "(deleted)" : version_text(e.version), printable(e.by));
        }
    });
}

void register_get(CLI::App& group, Context& ctx) {
    struct Options {
        std::string target, output;
        bool force = false;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = group.add_subcommand("get", "Write a version's bytes (verified against its id) to a file");
    cmd->add_option("model", o->target, "NAME, NAME@vN or NAME@ALIAS")->required();
    cmd->add_option("-o,--output", o->output, "Where to write it (default: the output's file name, here)");
    cmd->add_flag("-f,--force", o->force, "Replace an existing file");
    cmd->footer("Examples:\n  cairn model get churn@prod -o /srv/model.pkl");
    cmd->callback([o, &ctx] {
        auto ws = workspace::Workspace::discover(ctx.cwd);
        auto sel = registry::parse_selector(o->target);
        const auto m = registry::load_model(ws, sel.name);
        const auto& v = registry::select(m, sel);
        auto digest = *hash::Digest::from_id(v.object);
        std::filesystem::path dst = o->output.empty() ? std::filesystem::path(v.path).filename() : std::filesystem::path(o->output);
        if (dst.is_relative()) dst = ctx.cwd / dst;
        if (std::filesystem::is_directory(dst)) dst /= std::filesystem::path(v.path).filename();
        if (fs::lstat_path(dst) && !o->force)
            throw Error(ErrorKind::input, fmt::format("{} exists: give -f to replace it", dst.string()));
        if (ws.cache().tree_if_any(digest))
            throw Error(ErrorKind::input, fmt::format("{}@v{} is a directory ({}): check it out with cairn apply {} instead",
                                                      v.name, v.number, v.path, v.run.substr(0, 8)));
        if (!ws.cache().has(digest))
            throw Error(ErrorKind::integrity, fmt::format("{}@v{}: object {} is not in the cache", v.name, v.number, v.object));
        (void)ws.cache().materialize(digest, dst, {fs::LinkType::reflink, fs::LinkType::copy}, false);
        std::cout << fmt::format("{}@v{} -> {} ({} bytes)\n", printable(v.name), v.number, printable(dst.string()), v.size);
    });
}

void register_deprecate(CLI::App& group, Context& ctx) {
    struct Options {
        std::string target, reason;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = group.add_subcommand("deprecate", "Mark a version deprecated (kept, but no longer 'latest')");
    cmd->add_option("version", o->target, "NAME@vN")->required();
    cmd->add_option("-m,--reason", o->reason, "Why");
    cmd->callback([o, &ctx] {
        auto sel = registry::parse_selector(o->target);
        if (!sel.version) throw Error(ErrorKind::usage, fmt::format("cairn model deprecate: '{}' is not NAME@vN", o->target));
        auto ws = workspace::Workspace::discover(ctx.cwd);
        registry::deprecate(ws, sel.name, *sel.version, o->reason);
        std::cout << fmt::format("{}@v{} deprecated\n", printable(sel.name), *sel.version);
    });
}

} // namespace

void register_model(CLI::App& app, Context& ctx) {
    auto* group = app.add_subcommand("model", "The model registry: versions of run outputs, aliases such as prod");
    group->require_subcommand(1);
    group->footer("Everything a run name is accepted for also accepts model:NAME@ALIAS or model:NAME@vN.");
    register_register(*group, ctx);
    register_alias(*group, ctx);
    register_ls(*group, ctx);
    register_show(*group, ctx);
    register_get(*group, ctx);
    register_deprecate(*group, ctx);
}

} // namespace cairn::cli
