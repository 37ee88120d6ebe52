// `cairn rerun`, `cairn apply`, `cairn lineage`: reproducing experiments and tracing results.

#include <cmath>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/app.hpp"
#include "cli/output.hpp"
#include "core/run/rerun.hpp"
#include "core/run/runs.hpp"
#include "core/util/error.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::cli {
namespace {

nlohmann::json opt_json(const std::optional<std::string>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); }

nlohmann::json changes_json(const std::vector<run::ValueChange>& list) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& c : list)
        arr.push_back({{"key", c.key}, {"old", opt_json(c.old_value)}, {"new", opt_json(c.new_value)}, {"change", c.change()}});
    return arr;
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
            {"causes", changes_json(s.causes)},
            {"nondeterministic", s.nondeterministic},
            {"worktree", s.worktree.empty() ? nlohmann::json() : nlohmann::json(s.worktree)}};
}

// Long values (PATH) cut in the middle to fit a line.
std::string shorten_middle(const std::string& s, std::size_t n = 40) {
    if (s.size() <= n) return s;
    return s.substr(0, n / 2 - 2) + "..." + s.substr(s.size() - (n / 2 - 1));
}

Color verdict_color(const std::string& v) {
    return v == "diverged" || v == "differs" || v == "different" ? Color::red
           : v == "interrupted" || v == "within tolerance" || v == "reproduced within tolerance" ? Color::yellow
                                                                                                 : Color::green;
}

void print_step(const run::StepReport& s) {
    std::cout << "\n"
              << paint(fmt::format("run {}{} -> re-run {}", s.original.id.substr(0, 8),
                                   s.original.name.empty() ? "" : " (" + s.original.name + ")", s.rerun.id.substr(0, 8)),
                       Color::bold)
              << ": " << paint(s.verdict, verdict_color(s.verdict)) << "\n";
    for (const auto& f : s.fed_inputs)
        std::cout << fmt::format("  input {} taken from the re-run upstream ({} -> {})\n", f.key,
                                 f.old_value->substr(0, 19), f.new_value->substr(0, 19));
    if (!s.outputs.empty()) std::cout << "  outputs\n";
    for (const auto& o : s.outputs) {
        std::string sizes = o.identical ? util::human_size(o.old_size)
                                        : fmt::format("{} -> {}", util::human_size(o.old_size),
                                                      o.new_id.empty() ? "-" : util::human_size(o.new_size));
        std::string verdict = o.identical ? "identical" : "differs";
        std::cout << fmt::format("    {:<28} {} {:<20}{}\n", o.path, paint(fmt::format("{:<10}", verdict), verdict_color(verdict)),
                                 sizes, o.detail.empty() ? "" : "  " + o.detail);
    }
    if (!s.metrics.empty()) std::cout << fmt::format("  {:<30} {:>12} {:>12} {:>10}\n", "metrics (last value)", "old", "new", "delta");
    for (const auto& m : s.metrics) {
        std::string delta = m.rel_delta && *m.rel_delta != 0 ? fmt::format("{:+.3g}%", *m.rel_delta * 100) : "";
        std::cout << fmt::format("    {:<28} {:>12} {:>12} {:>10}  {}\n", m.key, m.old_value ? number_text(*m.old_value) : "-",
                                 m.new_value ? number_text(*m.new_value) : "-", delta, paint(m.verdict, verdict_color(m.verdict)));
    }
    std::string exit_verdict = s.exit_same ? "same" : "different";
    std::cout << fmt::format("  {:<30} {:>12} {:>12} {:>10}  {}\n", "exit code", s.original.exit_code, s.rerun.exit_code, "",
                             paint(exit_verdict, verdict_color(exit_verdict)));
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
                std::cout << fmt::format("    {:<26} {} -> {}\n", c.key, shorten_middle(old_v), shorten_middle(new_v));
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
    };
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("rerun", "Re-run a recorded run from its record and say whether it reproduced");
    cmd->add_option("run", o->run, "Run id prefix (4+ hex digits), name, last or last~N")->required();
    cmd->add_option("--rtol", o->rtol, "Relative tolerance for metrics: |new-old| <= atol + rtol*|old| (default 0)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--atol", o->atol, "Absolute tolerance for metrics (default 0)")->check(CLI::NonNegativeNumber);
    cmd->add_flag("--upstream", o->upstream, "First re-run the runs that produced this run's inputs, feeding their outputs forward");
    cmd->add_flag("--keep", o->keep, "Keep the worktree(s) under .cairn/tmp/ and print where");
    cmd->add_flag("--dry-run", o->dry_run, "Print what would be materialised and run, and stop");
    cmd->add_flag("--json", o->json, "Print the report as JSON");
    cmd->footer("Exit status: 0 reproduced (or within tolerance), 1 diverged, 130 interrupted, 3 or more when it\n"
                "could not run (missing objects, unknown run).\n\n"
                "Examples:\n  cairn rerun last\n  cairn rerun baseline --rtol 1e-6\n  cairn rerun 1a2b --upstream --json");
    cmd->callback([o, &ctx] {
        auto ws = workspace::Workspace::discover(ctx.cwd);
        auto plan = run::plan_rerun(ws, o->run, o->upstream);
        if (o->dry_run) {
            nlohmann::json steps = nlohmann::json::array();
            for (const auto& s : plan) {
                const auto& r = s.original;
                nlohmann::json inputs = nlohmann::json::object();
                for (const auto& [p, id] : s.inputs) inputs[p] = id;
                steps.push_back({{"run", r.id},
                                 {"name", r.name},
                                 {"snapshot", r.git_snapshot},
                                 {"cwd", r.cwd},
                                 {"command", r.command},
                                 {"inputs", inputs},
                                 {"pointers", s.pointers},
                                 {"param_files", r.param_files},
                                 {"missing", s.missing}});
            }
            if (o->json) {
                print_json({{"dry_run", true}, {"steps", steps}});
                return;
            }
            for (std::size_t n = 0; n < plan.size(); ++n) {
                const auto& s = plan[n];
                const auto& r = s.original;
                std::cout << paint(fmt::format("step {}/{}: run {}{}", n + 1, plan.size(), r.id.substr(0, 8),
                                               r.name.empty() ? "" : " (" + r.name + ")"),
                                   Color::bold)
                          << "\n";
                std::cout << fmt::format("  check out code snapshot {} into .cairn/tmp/rerun-{}-*/work\n",
                                         r.git_snapshot.substr(0, 12), r.id.substr(0, 8));
                for (const auto& p : s.pointers) std::cout << "  restore tracked data of " << p << "\n";
                for (const auto& [p, id] : s.inputs) std::cout << fmt::format("  restore input {} ({})\n", p, id.substr(0, 19));
                for (const auto& [p, id] : r.large_files) std::cout << fmt::format("  restore large file {} ({})\n", p, id.substr(0, 19));
                if (!r.params.empty()) std::cout << fmt::format("  params: {} recorded value(s){}\n", r.params.size(),
                                                                r.param_files.empty() ? "" : fmt::format(", written into {}", fmt::join(r.param_files, ", ")));
                std::cout << fmt::format("  run in {}: {}\n", r.cwd, fmt::join(r.command, " "));
                for (const auto& m : s.missing) std::cout << "  " << paint("missing: ", Color::red) << m << "\n";
            }
            return;
        }
        run::RerunOptions ro;
        ro.rtol = o->rtol;
        ro.atol = o->atol;
        ro.upstream = o->upstream;
        ro.keep = o->keep;
        ro.stdout_to_stderr = o->json;
        ro.notice = [](const std::string& message) { std::cerr << "cairn: " << message << "\n"; };
        StderrProgress progress;
        auto report = run::rerun(ws, std::move(plan), ro, progress);
        if (o->json) {
            nlohmann::json steps = nlohmann::json::array();
            for (const auto& s : report.steps) steps.push_back(step_json(s));
            print_json({{"verdict", report.verdict}, {"steps", steps}});
        } else {
            for (const auto& s : report.steps) print_step(s);
            std::cout << "\nverdict: " << paint(report.verdict, verdict_color(report.verdict)) << "\n";
        }
        ctx.exit_code = report.interrupted ? 130 : report.verdict == "diverged" ? 1 : 0;
    });
}

} // namespace

void register_reproduce(CLI::App& app, Context& ctx) {
    register_rerun(app, ctx);
}

} // namespace cairn::cli
