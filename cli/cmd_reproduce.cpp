// `cairn rerun`, `cairn apply`, `cairn lineage`: reproducing experiments and tracing results.

#include <algorithm>
#include <cmath>
#include <sys/stat.h>
#include <functional>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/app.hpp"
#include "cli/output.hpp"
#include "core/remote/sync.hpp"
#include "core/fs/file.hpp"
#include "core/metrics/metrics.hpp"
#include "core/run/apply.hpp"
#include "core/run/lineage.hpp"
#include "core/run/rerun.hpp"
#include "core/run/store.hpp"
#include "core/util/error.hpp"
#include "core/util/interrupt.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/add.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::cli {
namespace {

nlohmann::json judged_json(const std::vector<run::ThresholdVerdict>& judged) {
    nlohmann::json out = nlohmann::json::array();
    auto value = [](const std::optional<double>& v) { return v ? number_json(*v) : nlohmann::json(nullptr); };
    for (const auto& j : judged)
        out.push_back({{"key", j.key}, {"old", value(j.old_value)}, {"new", value(j.new_value)},
                       {"higher_is_better", j.higher_is_better}, {"threshold", j.threshold},
                       {"verdict", j.held ? "held" : "degraded"}, {"detail", j.detail}});
    return out;
}

// The object id of NEW for --with: a workspace path is stored as a run input is; a file elsewhere
// is copied into the cache.
std::string store_for_rerun(workspace::Workspace& ws, const std::filesystem::path& cwd, const std::string& path) {
    std::filesystem::path abs = std::filesystem::path(path).is_absolute() ? std::filesystem::path(path) : cwd / path;
    auto st = fs::lstat_path(abs);
    if (!st) throw Error(ErrorKind::input, fmt::format("--with: {} does not exist", path));
    std::string rel;
    try {
        rel = ws.relative_path(cwd, path);
    } catch (const Error&) {
    }
    if (!rel.empty()) {
        util::NoProgress progress;
        auto added = workspace::add(ws, {rel}, progress, workspace::Track::store_only);
        if (added.paths.size() == 1) return added.paths.front().digest.id();
    }
    if (!S_ISREG(st->st_mode)) throw Error(ErrorKind::input, fmt::format("--with: {} is not a regular file in the workspace", path));
    fs::Fd fd = fs::open_read(abs);
    return ws.cache().put_fd(fd.get(), path, nullptr, false).digest.id();
}

nlohmann::json step_json(const run::StepReport& s) {
    nlohmann::json outputs = nlohmann::json::array();
    for (const auto& o : s.outputs)
        outputs.push_back({{"path", o.path},
                           {"old", o.old_id},
                           {"new", o.new_id.empty() ? nlohmann::json() : nlohmann::json(o.new_id)},
                           {"old_size", o.old_size},
                           {"new_size", o.new_size},
                           {"verdict", o.identical ? "identical" : "differs"},
                           {"detail", o.detail}});
    nlohmann::json metrics = nlohmann::json::array();
    for (const auto& m : s.metrics)
        metrics.push_back({{"key", m.key},
                           {"old", m.old_value ? number_json(*m.old_value) : nlohmann::json()},
                           {"new", m.new_value ? number_json(*m.new_value) : nlohmann::json()},
                           {"rel_delta", m.rel_delta ? nlohmann::json(*m.rel_delta) : nlohmann::json()},
                           {"verdict", m.verdict}});
    return {{"run", s.original.id},
            {"name", s.original.name},
            {"command", s.original.command},
            {"rerun", s.rerun.id},
            {"verdict", s.verdict},
            {"outputs", outputs},
            {"metrics", metrics},
            {"exit_code", {{"old", s.original.exit_code}, {"new", s.rerun.exit_code}, {"verdict", s.exit_same ? "same" : "different"}}},
            {"fed_inputs", changes_json(s.fed_inputs)},
            {"substituted", changes_json(s.substituted)},
            {"judged", judged_json(s.judged)},
            {"causes", changes_json(s.causes)},
            {"nondeterministic", s.nondeterministic},
            {"log_tail", s.log_tail},
            {"worktree", s.worktree.empty() ? nlohmann::json() : nlohmann::json(s.worktree)}};
}

// Long values (PATH) cut in the middle to fit a line.
std::string shorten_middle(const std::string& s, std::size_t n = 40) {
    if (s.size() <= n) return s;
    return s.substr(0, n / 2 - 2) + "..." + s.substr(s.size() - (n / 2 - 1));
}

Color verdict_color(const std::string& v) {
    return v == "diverged" || v == "degraded" || v == "differs" || v == "different" ? Color::red
           : v == "interrupted" || v == "within tolerance" || v == "reproduced within tolerance" ? Color::yellow
                                                                                                 : Color::green;
}

void print_step(const run::StepReport& s) {
    std::cout << "\n"
              << paint(fmt::format("run {}{} -> re-run {}", s.original.id.substr(0, 8),
                                   s.original.name.empty() ? "" : " (" + printable(s.original.name) + ")", s.rerun.id.substr(0, 8)),
                       Color::bold)
              << ": " << paint(s.verdict, verdict_color(s.verdict)) << "\n";
    for (const auto& f : s.fed_inputs)
        std::cout << fmt::format("  input {} taken from the re-run upstream ({} -> {})\n", printable(f.key),
                                 f.old_value->substr(0, 19), f.new_value->substr(0, 19));
    for (const auto& f : s.substituted)
        std::cout << fmt::format("  input {} replaced (--with): {} -> {}\n", printable(f.key), f.old_value->substr(0, 19),
                                 f.new_value->substr(0, 19));
    if (!s.judged.empty())
        std::cout << fmt::format("  {:<30} {:>12} {:>12}  {:<28} {}\n", "judged metrics", "old", "new", "threshold", "verdict");
    for (const auto& j : s.judged) {
        std::string verdict = j.held ? "held" : "degraded";
        std::cout << fmt::format("    {:<28} {:>12} {:>12}  {:<28} {}{}\n", printable(j.key), j.old_value ? number_text(*j.old_value) : "-",
                                 j.new_value ? number_text(*j.new_value) : "-", j.threshold,
                                 paint(verdict, j.held ? Color::green : Color::red), j.detail.empty() ? "" : ": " + j.detail);
    }
    if (!s.outputs.empty()) std::cout << "  outputs\n";
    for (const auto& o : s.outputs) {
        std::string sizes = o.identical ? util::human_size(o.old_size)
                                        : fmt::format("{} -> {}", util::human_size(o.old_size),
                                                      o.new_id.empty() ? "-" : util::human_size(o.new_size));
        std::string verdict = o.identical ? "identical" : "differs";
        std::cout << fmt::format("    {:<28} {} {:<20}{}\n", printable(o.path), paint(fmt::format("{:<10}", verdict), verdict_color(verdict)),
                                 sizes, o.detail.empty() ? "" : "  " + printable(o.detail));
    }
    if (!s.metrics.empty()) std::cout << fmt::format("  {:<30} {:>12} {:>12} {:>10}\n", "metrics (last value)", "old", "new", "delta");
    for (const auto& m : s.metrics) {
        std::string delta = m.rel_delta && *m.rel_delta != 0 ? fmt::format("{:+.3g}%", *m.rel_delta * 100) : "";
        std::cout << fmt::format("    {:<28} {:>12} {:>12} {:>10}  {}\n", printable(m.key), m.old_value ? number_text(*m.old_value) : "-",
                                 m.new_value ? number_text(*m.new_value) : "-", delta, paint(m.verdict, verdict_color(m.verdict)));
    }
    std::string exit_verdict = s.exit_same ? "same" : "different";
    std::cout << fmt::format("  {:<30} {:>12} {:>12} {:>10}  {}\n", "exit code", s.original.exit_code, s.rerun.exit_code, "",
                             paint(exit_verdict, verdict_color(exit_verdict)));
    if (!s.exit_same) {
        std::cout << fmt::format("  the re-run exited {} where the run exited {}; the end of its log:\n", s.rerun.exit_code,
                                 s.original.exit_code);
        for (const auto& line : s.log_tail) std::cout << "    | " << printable(line) << "\n";
    }
    if (s.verdict == "diverged") {
        if (s.nondeterministic) {
            std::cout << "  nothing recorded differs between the two runs (same code, inputs, params, executable,\n"
                         "  environment, host): the command looks non-deterministic (time, randomness without a\n"
                         "  fixed seed, thread scheduling)\n";
        } else {
            std::cout << "  differences in the records that could explain it:\n";
            std::size_t shown = 0;
            for (const auto& c : s.causes) {
                if (++shown > 12) {
                    std::cout << fmt::format("    ... and {} more (cairn diff {} {})\n", s.causes.size() - 12,
                                             s.original.id.substr(0, 8), s.rerun.id.substr(0, 8));
                    break;
                }
                std::string old_v = c.old_value.value_or("(not set)"), new_v = c.new_value.value_or("(not set)");
                std::cout << fmt::format("    {:<26} {} -> {}\n", printable(c.key), printable(shorten_middle(old_v)),
                                         printable(shorten_middle(new_v)));
            }
        }
    }
    if (!s.worktree.empty()) std::cout << "  worktree kept at " << s.worktree << "\n";
}

void register_rerun(CLI::App& app, Context& ctx) {
    struct Options {
        std::string run;
        double rtol = 0, atol = 0;
        bool upstream = false, keep = false, dry_run = false, json = false;
        std::vector<std::string> with, max_drop, max_rel_drop, higher, lower;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("rerun", "Re-run a recorded run from its record and say whether it reproduced");
    cmd->add_option("run", o->run, "Run id prefix (4+ hex digits), name, last or last~N")->required();
    cmd->add_option("--rtol", o->rtol, "Relative tolerance for metrics: |new-old| <= atol + rtol*|old| (default 0)")
        ->check(non_negative_number());
    cmd->add_option("--atol", o->atol, "Absolute tolerance for metrics (default 0)")->check(non_negative_number());
    cmd->add_flag("--upstream", o->upstream, "First re-run the runs that produced this run's inputs, feeding their outputs forward");
    cmd->add_flag("--keep", o->keep, "Keep the worktree(s) under .cairn/tmp/ and print where");
    cmd->add_flag("--dry-run", o->dry_run,
                  "Print what would be materialised and run, and stop (exiting as the re-run would if it cannot run)");
    cmd->add_flag("--json", o->json, "Print the report as JSON");
    cmd->add_option("--with", o->with, "OLD=NEW: the re-run reads NEW's bytes at the input path OLD (repeatable)")
        ->allow_extra_args(false);
    cmd->add_option("--max-drop", o->max_drop, "KEY=X: with --with, degraded when KEY gets worse by more than X")
        ->allow_extra_args(false);
    cmd->add_option("--max-rel-drop", o->max_rel_drop,
                    "KEY=X: with --with, degraded when KEY gets worse by more than X relative to its old value (0.05 = 5%)")
        ->allow_extra_args(false);
    cmd->add_option("--higher-is-better", o->higher, "KEY: a higher value of KEY is better (default except for loss/error/mse/mae/rmse)")
        ->allow_extra_args(false);
    cmd->add_option("--lower-is-better", o->lower, "KEY: a lower value of KEY is better")->allow_extra_args(false);
    cmd->footer("Exit status: 0 reproduced (or within tolerance), 1 diverged, 130/143 interrupted (SIGINT/SIGTERM),\n"
                "3 or more when it could not run (missing objects, unknown run). With --with: 0 held, 1 degraded.\n\n"
                "  cairn rerun model:churn@prod --with data/test.csv=new/test.csv --max-rel-drop accuracy=0.05\n"
                "3 or more when it could not run (missing objects, unknown run).\n\n"
                "Examples:\n  cairn rerun last\n  cairn rerun baseline --rtol 1e-6\n  cairn rerun 1a2b --upstream --json");
    cmd->callback([o, &ctx] {
        auto ws = workspace::Workspace::discover(ctx.cwd);
        std::string note;
        auto plan = run::plan_rerun(ws, run_name_arg(ws, o->run), o->upstream, &note);
        if (!note.empty()) print_warning(note);
        {
            remote::Roots roots;
            for (const auto& step : plan)
                for (const auto* files : {&step.original.inputs, &step.original.outputs})
                    for (const auto& entry : *files)
                        if (auto d = hash::Digest::from_id(entry.second)) roots.optional.push_back(*d);
            fetch_on_demand(ws, roots);
            // The plan listed what the cache lacked before the fetch: plan again with what came.
            if (std::any_of(plan.begin(), plan.end(), [](const run::RerunStep& s) { return !s.missing.empty(); })) {
                std::string again;
                plan = run::plan_rerun(ws, run_name_arg(ws, o->run), o->upstream, &again);
            }
        }
        run::RerunOptions ro;
        if (o->with.empty() && !(o->max_drop.empty() && o->max_rel_drop.empty()))
            throw Error(ErrorKind::usage, "cairn rerun: --max-drop and --max-rel-drop judge a re-run --with new data");
        for (const auto& w : o->with) {
            auto [old_path, new_path] = split_assignment(w, "--with");
            if (!plan.empty() && !plan.back().original.inputs.count(old_path)) {
                try {
                    std::string rel = ws.relative_path(ctx.cwd, old_path);
                    if (std::any_of(plan.begin(), plan.end(), [&](const run::RerunStep& s) { return s.original.inputs.count(rel); }))
                        old_path = rel;
                } catch (const Error&) {
                }
            }
            ro.substitute[old_path] = store_for_rerun(ws, ctx.cwd, new_path);
        }
        run::check_substitutions(plan, ro.substitute);
        std::map<std::string, run::MetricThreshold> thresholds;
        auto threshold_value = [](const std::string& text, const char* option) {
            auto [key, value] = split_assignment(text, option);
            auto v = metrics::parse_value(value);
            if (!v || !std::isfinite(*v) || *v < 0)
                throw Error(ErrorKind::usage, fmt::format("cairn rerun: {} {}: '{}' is not a non-negative number", option, key, value));
            return std::pair<std::string, double>{key, *v};
        };
        for (const auto& t : o->max_drop) {
            auto [key, v] = threshold_value(t, "--max-drop");
            thresholds[key].key = key;
            thresholds[key].max_drop = v;
        }
        for (const auto& t : o->max_rel_drop) {
            auto [key, v] = threshold_value(t, "--max-rel-drop");
            thresholds[key].key = key;
            thresholds[key].max_rel_drop = v;
        }
        for (const auto& k : o->higher)
            if (auto it = thresholds.find(k); it != thresholds.end()) it->second.higher_is_better = true;
        for (const auto& k : o->lower)
            if (auto it = thresholds.find(k); it != thresholds.end()) it->second.higher_is_better = false;
        for (const auto& k : o->higher) if (!thresholds.count(k)) throw Error(ErrorKind::usage, fmt::format("cairn rerun: --higher-is-better {}: give --max-drop or --max-rel-drop for it", k));
        for (const auto& k : o->lower) if (!thresholds.count(k)) throw Error(ErrorKind::usage, fmt::format("cairn rerun: --lower-is-better {}: give --max-drop or --max-rel-drop for it", k));
        for (auto& [k, t] : thresholds) ro.thresholds.push_back(t);
        if (!ro.substitute.empty() && ro.thresholds.empty())
            print_warning("no --max-drop or --max-rel-drop: the metrics are shown but not judged");
        if (o->dry_run) {
            nlohmann::json steps = nlohmann::json::array();
            for (const auto& s : plan) {
                const auto& r = s.original;
                nlohmann::json inputs = nlohmann::json::object();
                for (const auto& [p, id] : s.inputs) inputs[p] = id;
                nlohmann::json pointers = nlohmann::json::array();
                for (const auto& t : s.tracked) pointers.push_back(t.pointer_path);
                steps.push_back({{"run", r.id},
                                 {"name", r.name},
                                 {"snapshot", r.git_snapshot},
                                 {"cwd", r.cwd},
                                 {"command", r.command},
                                 {"inputs", inputs},
                                 {"pointers", pointers},
                                 {"param_files", r.param_files},
                                 {"missing", s.missing}});
            }
            if (o->json) {
                print_json({{"dry_run", true}, {"steps", steps}});
                run::check_plan(ws, plan);
                return;
            }
            for (std::size_t n = 0; n < plan.size(); ++n) {
                const auto& s = plan[n];
                const auto& r = s.original;
                std::cout << paint(fmt::format("step {}/{}: run {}{}", n + 1, plan.size(), r.id.substr(0, 8),
                                               r.name.empty() ? "" : " (" + printable(r.name) + ")"),
                                   Color::bold)
                          << "\n";
                std::cout << fmt::format("  check out code snapshot {} into .cairn/tmp/rerun-{}-*/work\n",
                                         printable(r.git_snapshot.substr(0, 12)), r.id.substr(0, 8));
                for (const auto& t : s.tracked) std::cout << "  restore tracked data of " << printable(t.pointer_path) << "\n";
                for (const auto& [p, id] : s.inputs) std::cout << fmt::format("  restore input {} ({})\n", printable(p), id.substr(0, 19));
                for (const auto& [p, id] : r.large_files) std::cout << fmt::format("  restore large file {} ({})\n", printable(p), id.substr(0, 19));
                if (!r.params.empty()) std::cout << fmt::format("  params: {} recorded value(s){}\n", r.params.size(),
                                                                r.param_files.empty() ? "" : printable(fmt::format(", written into {}", fmt::join(r.param_files, ", "))));
                std::cout << fmt::format("  run in {}: {}\n", printable(r.cwd), printable(fmt::format("{}", fmt::join(r.command, " "))));
                for (const auto& m : s.missing) std::cout << "  " << paint("missing: ", Color::red) << printable(m) << "\n";
            }
            // The plan is printed either way; the exit status is the one the re-run would have.
            run::check_plan(ws, plan);
            return;
        }
        ro.rtol = o->rtol;
        ro.atol = o->atol;
        ro.keep = o->keep;
        ro.stdout_to_stderr = o->json;
        ro.notice = [](const std::string& message) { std::cerr << "cairn: " << printable(message, Lines::multi) << "\n"; };
        StderrProgress progress;
        auto report = run::rerun(ws, std::move(plan), ro, progress);
        if (o->json) {
            nlohmann::json steps = nlohmann::json::array();
            for (const auto& s : report.steps) {
                nlohmann::json step = step_json(s);
                // As under the text output: the substituted inputs' drift, the likely cause.
                if (report.verdict == "degraded") {
                    nlohmann::json inputs = nlohmann::json::array();
                    for (const auto& f : s.substituted)
                        if (f.old_value && f.new_value) inputs.push_back(nlohmann::json::parse(input_drift_json(ws, f.key, *f.old_value, *f.new_value)));
                    step["input_drift"] = std::move(inputs);
                }
                steps.push_back(std::move(step));
            }
            print_json({{"verdict", report.verdict}, {"steps", steps}});
        } else {
            for (const auto& s : report.steps) {
                print_step(s);
                if (report.verdict == "degraded")
                    for (const auto& f : s.substituted)
                        if (f.old_value && f.new_value) print_input_drift(ws, f.key, *f.old_value, *f.new_value);
            }
            std::cout << "\nverdict: " << paint(report.verdict, verdict_color(report.verdict)) << "\n";
        }
        int signal = util::received_signal();
        ctx.exit_code = report.interrupted                                            ? (signal > 0 ? 128 + signal : 130)
                        : report.verdict == "diverged" || report.verdict == "degraded" ? 1
                                                                                        : 0;
    });
}

std::string short_object(const std::string& id) { return id.substr(0, 19); }

std::string run_label(const run::RunRecord& r) {
    std::string when = run::format_time(r.start_ms).substr(0, 16);
    when[10] = ' ';
    std::string out = fmt::format("run {}{}{} {} {}", r.id.substr(0, 8), r.name.empty() ? "" : " (" + r.name + ")",
                                  r.reproduces.empty() ? "" : " (rerun of " + r.reproduces.substr(0, 8) + ")", r.status, when);
    std::size_t shown = 0;
    for (const auto& [k, m] : r.metric_summary()) {
        if (++shown > 3) break;
        out += fmt::format(" {}={}", k, number_text(m.last));
    }
    return out;
}

std::string data_label(const run::LineageNode& n) {
    std::string paths = n.paths.empty() ? "(object)" : fmt::format("{}", fmt::join(n.paths, ", "));
    return paths + " " + short_object(n.object);
}

std::string node_key(const run::LineageNode& n) { return n.is_run ? "run:" + n.run->id : "data:" + n.object; }

nlohmann::json lineage_json(const run::LineageGraph& g, const std::vector<const run::RunRecord*>& earlier) {
    nlohmann::json nodes = nlohmann::json::array();
    for (const auto& n : g.nodes) {
        nlohmann::json j = {{"key", node_key(n)}, {"type", n.is_run ? "run" : "data"}};
        if (n.is_run) {
            const auto& r = *n.run;
            nlohmann::json metrics = nlohmann::json::object();
            for (const auto& [k, m] : r.metric_summary()) metrics[k] = number_json(m.last);
            j.update({{"id", r.id},
                      {"name", r.name},
                      {"status", r.status},
                      {"start", run::format_time(r.start_ms)},
                      {"reproduces", r.reproduces.empty() ? nlohmann::json() : nlohmann::json(r.reproduces)},
                      {"metrics", metrics}});
        } else {
            j.update({{"object", n.object}, {"paths", n.paths}, {"other_producers", n.other_producers}});
            if (n.source)
                j["source"] = {{"pointer", n.source->pointer},
                               {"commit", n.source->commit.empty() ? nlohmann::json() : nlohmann::json(n.source->commit)},
                               {"summary", n.source->summary}};
        }
        j["truncated"] = n.truncated;
        nodes.push_back(std::move(j));
    }
    nlohmann::json edges = nlohmann::json::array();
    for (const auto& [from, to] : g.flow_edges())
        edges.push_back({{"from", node_key(g.nodes[from])}, {"to", node_key(g.nodes[to])}});
    nlohmann::json writers = nlohmann::json::array();
    for (const auto* r : earlier) writers.push_back({{"run", r->id}, {"name", r->name}, {"start", run::format_time(r->start_ms)}});
    return {{"direction", g.direction == run::Direction::upstream ? "upstream" : "downstream"},
            {"target", node_key(g.nodes[0])},
            {"nodes", nodes},
            {"edges", edges},
            {"earlier_producers", writers}};
}

std::string lineage_dot(const run::LineageGraph& g) {
    std::string out = "digraph lineage {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n";
    for (const auto& n : g.nodes) {
        if (n.is_run) {
            const auto& r = *n.run;
            out += fmt::format("  \"{}\" [shape=box, style=rounded, label=\"run {}{}\\n{}\"];\n", dot_escape(node_key(n)),
                               r.id.substr(0, 8), dot_escape(r.name.empty() ? "" : " " + r.name), dot_escape(r.status));
        } else {
            out += fmt::format("  \"{}\" [shape=note, label=\"{}\\n{}\"];\n", dot_escape(node_key(n)),
                               dot_escape(n.paths.empty() ? "(object)" : fmt::format("{}", fmt::join(n.paths, ", "))),
                               dot_escape(short_object(n.object)));
        }
    }
    for (const auto& [from, to] : g.flow_edges())
        out += fmt::format("  \"{}\" -> \"{}\";\n", dot_escape(node_key(g.nodes[from])), dot_escape(node_key(g.nodes[to])));
    return out + "}\n";
}

std::string lineage_mermaid(const run::LineageGraph& g) {
    std::string out = "flowchart LR\n";
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
        const auto& n = g.nodes[i];
        if (n.is_run)
            out += fmt::format("  n{}([\"run {}{}<br/>{}\"])\n", i, n.run->id.substr(0, 8),
                               mermaid_text(n.run->name.empty() ? "" : " " + n.run->name), n.run->status);
        else
            out += fmt::format("  n{}[\"{}<br/>{}\"]\n", i, mermaid_text(n.paths.empty() ? "(object)" : fmt::format("{}", fmt::join(n.paths, ", "))),
                               short_object(n.object));
    }
    for (const auto& [from, to] : g.flow_edges()) out += fmt::format("  n{} --> n{}\n", from, to);
    return out;
}

void print_lineage_tree(const run::LineageGraph& g) {
    constexpr std::size_t k_width = 80;
    std::vector<bool> printed(g.nodes.size(), false);
    std::function<void(std::size_t, const std::string&, bool, bool)> print = [&](std::size_t i, const std::string& prefix,
                                                                                 bool last, bool root) {
        const auto& n = g.nodes[i];
        std::string branch = root ? "" : last ? "└── " : "├── ";
        std::string label = n.is_run ? run_label(*n.run) : data_label(n);
        if (!n.is_run && n.other_producers > 0) label += fmt::format(" (also made by {} other run(s))", n.other_producers);
        bool again = printed[i] && (!n.children.empty() || n.truncated || n.source);
        if (again) label += " (see above)";
        std::string line = prefix + branch + label;
        std::cout << fit(printable(line), k_width) << "\n";
        if (again) return;
        printed[i] = true;
        std::string child_prefix = prefix + (root ? "" : last ? "    " : "│   ");
        std::vector<std::string> notes;
        if (n.truncated) notes.push_back("... (--depth reached)");
        if (n.source)
            notes.push_back(fmt::format("source: {}{}", n.source->pointer,
                                        n.source->commit.empty()
                                            ? std::string(" (not committed)")
                                            : fmt::format(", commit {} \"{}\" {}", n.source->commit.substr(0, 8), n.source->summary,
                                                          run::format_time(n.source->time * 1000).substr(0, 10))));
        else if (!n.is_run && n.children.empty() && g.direction == run::Direction::upstream && !root && !n.truncated)
            notes.push_back("source: no run produced these bytes");
        for (std::size_t c = 0; c < n.children.size(); ++c)
            print(n.children[c], child_prefix, c + 1 == n.children.size() && notes.empty(), false);
        for (std::size_t k = 0; k < notes.size(); ++k)
            std::cout << fit(child_prefix + (k + 1 == notes.size() ? "└── " : "├── ") + printable(notes[k]), k_width) << "\n";
    };
    print(0, "", true, true);
}

void register_lineage(CLI::App& app, Context& ctx) {
    struct Options {
        std::string target, format = "tree";
        bool upstream = false, downstream = false, json = false;
        int depth = 0;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("lineage", "Show which runs produced a result and what it was made from, or what was made from it");
    cmd->add_option("target", o->target, "A workspace path, an object id (sha256:<prefix>) or a run")->required();
    auto* up = cmd->add_flag("--upstream", o->upstream, "What produced the target, and on up (the default)");
    cmd->add_flag("--downstream", o->downstream, "What was made from the target, and on down")->excludes(up);
    cmd->add_option("--depth", o->depth, "At most N runs deep (default: no limit)")->check(positive_number());
    cmd->add_option("--format", o->format, "tree, dot (Graphviz), mermaid or json")
        ->check(CLI::IsMember({"tree", "dot", "mermaid", "json"}));
    cmd->add_flag("--json", o->json, "The same as --format json");
    cmd->footer("Examples:\n  cairn lineage model.bin\n  cairn lineage data/raw --downstream\n"
                "  cairn lineage last --format dot | dot -Tsvg > lineage.svg");
    cmd->callback([o, &ctx] {
        auto ws = workspace::Workspace::discover(ctx.cwd);
        std::vector<run::SkippedRun> skipped;
        run::LineageIndex index(run::list_runs(ws, &skipped));
        for (const auto& s : skipped) print_warning("skipping " + s.reason);
        if (o->json) o->format = "json";
        auto target = run::resolve_lineage_target(ws, index, ctx.cwd, run_name_arg(ws, o->target));
        if (!target.note.empty()) print_warning(target.note);
        auto direction = o->downstream ? run::Direction::downstream : run::Direction::upstream;
        auto graph = run::walk_lineage(index, ws.repo(), target, direction, o->depth);
        // A path whose bytes no run produced: runs that wrote earlier versions of it.
        std::vector<const run::RunRecord*> earlier;
        if (!target.run && !target.path.empty() && index.producers(target.object).empty())
            earlier = index.writers_of_path(target.path);
        if (o->format == "json") {
            print_json(lineage_json(graph, earlier));
            return;
        }
        if (o->format == "dot") {
            std::cout << printable(lineage_dot(graph), Lines::multi);
            return;
        }
        if (o->format == "mermaid") {
            std::cout << printable(lineage_mermaid(graph), Lines::multi);
            return;
        }
        print_lineage_tree(graph);
        if (direction == run::Direction::upstream && !target.run && index.producers(target.object).empty()) {
            std::cout << (target.path.empty() ? std::string("no run produced these bytes\n")
                                              : fmt::format("no run produced the current bytes of {}\n", printable(target.path)));
            if (!earlier.empty()) std::cout << "earlier versions were produced by:\n";
            for (const auto* r : earlier)
                std::cout << fit(printable(fmt::format("  {}  {}", short_object(r->outputs.at(target.path)), run_label(*r))), 80)
                          << "\n";
        }
    });
}

void register_apply(CLI::App& app, Context& ctx) {
    struct Options {
        std::string run;
        bool outputs_only = false, force = false, undo = false, json = false;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("apply", "Bring a run's outputs, code and parameter values into the work tree, to continue from it");
    auto* run_opt = cmd->add_option("run", o->run, "Run id prefix (4+ hex digits), name, last or last~N");
    auto* outputs_only = cmd->add_flag("--outputs-only", o->outputs_only, "Restore the run's outputs only, not its code or parameter values");
    cmd->add_flag("--force", o->force,
                  "Overwrite uncommitted changes, after saving them to refs/cairn/apply/stash (and output bytes to the cache);\n"
                  "with --undo, discard changes made since the apply");
    cmd->add_flag("--undo", o->undo, "Put back the code and data the last 'apply --force' saved, and drop that stash")
        ->excludes(run_opt)
        ->excludes(outputs_only);
    cmd->add_flag("--json", o->json, "Print what was done as JSON");
    cmd->footer("HEAD and the index do not move: the applied files show up in 'git status' as changes.\n"
                "Tracked data whose pointer file the code changes is checked out as well. The run's parameter values\n"
                "(-p overrides, sweep values) are written into its parameter files, one printed line per value.\n\n"
                "Examples:\n  cairn apply best-run\n  cairn apply 1a2b --outputs-only\n  cairn apply last --force\n"
                "  cairn apply --undo");
    cmd->callback([o, &ctx] {
        if (!o->undo && o->run.empty()) throw Error(ErrorKind::usage, "cairn apply: give a run, or --undo");
        auto ws = workspace::Workspace::discover(ctx.cwd);
        if (o->undo) {
            StderrProgress progress;
            auto res = run::undo_apply(ws, o->force ? workspace::Overwrite::force : workspace::Overwrite::refuse_unsaved,
                                       progress);
            if (o->json) {
                print_json({{"undone", res.run},
                            {"stash", {{"ref", run::k_apply_stash_ref}, {"commit", res.stash_commit}}},
                            {"code_files", res.code_files},
                            {"data", res.data},
                            {"removed", res.removed},
                            {"param_files", res.param_files}});
                return;
            }
            std::cout << fmt::format("undid the apply of run {}: {} code file(s), {} parameter file(s), {} data path(s) "
                                     "restored, {} removed\n",
                                     res.run.substr(0, 8), res.code_files.size(), res.param_files.size(), res.data.size(),
                                     res.removed.size());
            std::cout << fmt::format("dropped {} (commit {})\n", run::k_apply_stash_ref, res.stash_commit.substr(0, 12));
            return;
        }
        std::string note;
        auto r = run::resolve(ws, run_name_arg(ws, o->run), &note);
        if (!note.empty()) print_warning(note);
        {
            remote::Roots roots;
            for (const auto* files : {&r.inputs, &r.outputs})
                for (const auto& entry : *files)
                    if (auto d = hash::Digest::from_id(entry.second)) roots.optional.push_back(*d);
            fetch_on_demand(ws, roots);
        }
        run::ApplyOptions ao;
        ao.outputs_only = o->outputs_only;
        ao.force = o->force;
        StderrProgress progress;
        auto res = run::apply(ws, r, ao, progress);
        for (const auto& w : res.warnings) print_warning(w);
        if (o->json) {
            nlohmann::json saved = nlohmann::json::object();
            for (const auto& [p, id] : res.saved_outputs) saved[p] = id;
            auto value = [](const std::optional<params::Param>& p) {
                return p ? nlohmann::json({{"value", p->text}, {"type", p->type}}) : nlohmann::json();
            };
            nlohmann::json params = nlohmann::json::array();
            for (const auto& c : res.params)
                params.push_back({{"file", c.file}, {"key", c.key}, {"from", value(c.from)}, {"to", value(c.to)}});
            print_json({{"run", r.id},
                        {"code_files", res.code_files},
                        {"outputs", res.outputs},
                        {"pointers_changed", res.pointers_changed},
                        {"data", res.data},
                        {"stash", res.stash_commit.empty() ? nlohmann::json() : nlohmann::json({{"ref", res.stash_ref}, {"commit", res.stash_commit}})},
                        {"saved_outputs", saved},
                        {"param_files", res.param_files},
                        {"params", params}});
            return;
        }
        if (!res.stash_commit.empty()) {
            std::cout << fmt::format("saved your uncommitted work as {} (commit {})\n", res.stash_ref, res.stash_commit.substr(0, 12));
            std::cout << "  get it back, code and data, with: cairn apply --undo\n";
        }
        for (const auto& [p, id] : res.saved_outputs)
            std::cout << fmt::format("saved the previous {} in the cache as {} (cairn checkout --object {} -o {})\n",
                                     printable(p), id, id.substr(7, 12), printable(p));
        auto value = [](const std::optional<params::Param>& p) {
            if (!p) return std::string("(absent)");
            return printable(p->type == "string" ? "\"" + p->text + "\"" : p->text);
        };
        for (const auto& c : res.params)
            std::cout << fmt::format("{}: {} {} -> {}\n", printable(c.file), printable(c.key), value(c.from), value(c.to));
        std::cout << fmt::format("applied run {}{}: {} code file(s), {} parameter value(s), {} output(s), {} tracked data "
                                 "path(s)\n",
                                 r.id.substr(0, 8), r.name.empty() ? "" : " (" + printable(r.name) + ")", res.code_files.size(),
                                 res.params.size(), res.outputs.size(), res.data.size());
    });
}

} // namespace

void register_reproduce(CLI::App& app, Context& ctx) {
    register_rerun(app, ctx);
    register_apply(app, ctx);
    register_lineage(app, ctx);
}

} // namespace cairn::cli
