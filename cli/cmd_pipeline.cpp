// `cairn repro` and `cairn dag`: the stages of the pipeline file (cairn.yaml, or dvc.yaml as written) and how they
// depend on each other.

#include <filesystem>
#include <iostream>
#include <optional>
#include <random>
#include <set>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/app.hpp"
#include "cli/output.hpp"
#include "core/pipeline/pipeline.hpp"
#include "core/pipeline/repro.hpp"
#include "core/sweep/expand.hpp"
#include "core/sweep/sweep.hpp"
#include "core/util/strings.hpp"
#include "core/util/interrupt.hpp"
#include "core/util/error.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::cli {
namespace {

struct Selection {
    const pipeline::Pipeline* p;
    const pipeline::Graph* g;
    std::vector<std::size_t> stages; // in topological order
    std::vector<bool> in;
};

// Edges upstream -> downstream (the way data flows), both ends selected.
std::vector<std::pair<std::size_t, std::size_t>> edges(const Selection& s) {
    std::vector<std::pair<std::size_t, std::size_t>> out;
    for (std::size_t i : s.stages)
        for (std::size_t up : s.g->upstream[i])
            if (s.in[up]) out.emplace_back(up, i);
    return out;
}

std::string dag_dot(const Selection& s) {
    std::string out = "digraph pipeline {\n  rankdir=TB;\n  node [shape=box, style=rounded, "
                      "fontname=\"Helvetica\", fontsize=10];\n";
    for (std::size_t i : s.stages)
        out += fmt::format("  \"{}\";\n", dot_escape(s.p->stages[i].name));
    for (const auto& [from, to] : edges(s))
        out += fmt::format("  \"{}\" -> \"{}\";\n", dot_escape(s.p->stages[from].name),
                           dot_escape(s.p->stages[to].name));
    return out + "}\n";
}

std::string dag_mermaid(const Selection& s) {
    std::string out = "flowchart TD\n";
    for (std::size_t i : s.stages)
        out += fmt::format("  s{}[\"{}\"]\n", i, mermaid_text(s.p->stages[i].name));
    for (const auto& [from, to] : edges(s))
        out += fmt::format("  s{} --> s{}\n", from, to);
    return out;
}

nlohmann::json dag_json(const Selection& s) {
    nlohmann::json stages = nlohmann::json::array();
    for (std::size_t i : s.stages) {
        const auto& st = s.p->stages[i];
        nlohmann::json deps = nlohmann::json::array(), outs = nlohmann::json::array(),
                       upstream = nlohmann::json::array();
        for (const auto& d : st.deps)
            deps.push_back(d.path);
        for (const auto& o : st.outs)
            outs.push_back(o.path);
        for (std::size_t up : s.g->upstream[i])
            upstream.push_back(s.p->stages[up].name);
        stages.push_back({{"name", st.name},
                          {"cmd", st.cmd},
                          {"wdir", st.wdir},
                          {"deps", deps},
                          {"outs", outs},
                          {"upstream", upstream},
                          {"frozen", st.frozen},
                          {"line", st.mark.line}});
    }
    nlohmann::json list = nlohmann::json::array();
    for (const auto& [from, to] : edges(s))
        list.push_back({s.p->stages[from].name, s.p->stages[to].name});
    return {{"file", s.p->file}, {"stages", stages}, {"edges", list}};
}

// Each final stage (nothing selected depends on it), with what it depends on below it.
void print_tree(const Selection& s) {
    std::vector<bool> has_downstream(s.in.size(), false);
    for (const auto& [from, to] : edges(s))
        has_downstream[from] = true;
    std::vector<bool> printed(s.in.size(), false);
    struct Frame {
        std::size_t stage;
        std::string prefix; // for this line
        std::string child_prefix;
        bool root;
        bool last;
    };
    for (std::size_t root : s.stages) {
        if (has_downstream[root]) continue;
        std::vector<Frame> todo = {{root, "", "", true, true}};
        while (!todo.empty()) {
            Frame f = std::move(todo.back());
            todo.pop_back();
            const auto& st = s.p->stages[f.stage];
            std::string label = st.name + (st.frozen ? " (frozen)" : "");
            const auto& ups = s.g->upstream[f.stage];
            bool again = printed[f.stage] && !ups.empty();
            if (again) label += " (see above)";
            std::cout << printable(f.prefix +
                                   (f.root   ? ""
                                    : f.last ? "└── "
                                             : "├── ") +
                                   label)
                      << "\n";
            if (again) continue;
            printed[f.stage] = true;
            std::string child_prefix = f.child_prefix + (f.root ? "" : f.last ? "    " : "│   ");
            // Pushed in reverse so that the first upstream stage prints first.
            for (std::size_t k = ups.size(); k > 0; --k)
                todo.push_back({ups[k - 1], child_prefix, child_prefix, false, k == ups.size()});
        }
    }
}

void register_dag(CLI::App& app, Context& ctx) {
    struct Options {
        std::string stage, format = "tree", file;
        bool json = false;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand(
        "dag", "Show the stages of the pipeline file and how they depend on each other");
    cmd->add_option("stage", o->stage,
                    "Only this stage (or foreach/matrix group) and the stages it depends on");
    auto* format =
        cmd->add_option("--format", o->format, "tree (default), dot (Graphviz), mermaid or json")
            ->check(CLI::IsMember({"tree", "dot", "mermaid", "json"}));
    cmd->add_flag("--json", o->json, "Same as --format json")->excludes(format);
    cmd->add_option(
        "-f,--file", o->file,
        "The pipeline file (default: cairn.yaml, else dvc.yaml, at the workspace root)");
    cmd->footer("Examples:\n  cairn dag\n  cairn dag train\n  cairn dag --format dot | dot -Tsvg > "
                "dag.svg\n"
                "  cairn dag -f other/dvc.yaml --json");
    cmd->callback([o, &ctx] {
        auto ws = workspace::Workspace::discover(ctx.cwd);
        auto file = pipeline::pipeline_file(ws, ctx.cwd, o->file);
        if (!file)
            throw Error(ErrorKind::input,
                        "no cairn.yaml or dvc.yaml at the workspace root (name one with -f FILE)");
        pipeline::Pipeline p = pipeline::load(ws, *file);
        for (const auto& w : ws.take_warnings())
            print_warning(w);
        pipeline::Graph g = pipeline::build_graph(p);
        Selection s{&p, &g, g.order,
                    std::vector<bool>(p.stages.size(), !o->stage.empty() ? false : true)};
        if (!o->stage.empty()) {
            for (std::size_t chosen : pipeline::select_stages(p, o->stage))
                for (std::size_t i : pipeline::with_upstream(g, chosen))
                    s.in[i] = true;
            s.stages.clear();
            for (std::size_t i : g.order)
                if (s.in[i]) s.stages.push_back(i);
        }
        std::string fmt_name = o->json ? "json" : o->format;
        if (fmt_name == "json") {
            print_json(dag_json(s));
        } else if (fmt_name == "dot") {
            std::cout << printable(dag_dot(s), Lines::multi);
        } else if (fmt_name == "mermaid") {
            std::cout << printable(dag_mermaid(s), Lines::multi);
        } else if (s.stages.empty()) {
            std::cout << fmt::format("no stages in {}\n", printable(p.file));
        } else {
            print_tree(s);
        }
    });
}

struct ReproCliOptions {
        std::vector<std::string> stages;
        std::string file;
        bool force = false, dry_run = false, downstream = false, single_item = false, keep_going = false;
        bool no_run_cache = false, json = false;
        unsigned jobs = 1;
        std::vector<std::string> set_params;
        std::size_t random = 0;
        std::optional<std::uint64_t> seed;
};

// `cairn repro -S KEY=VALUES STAGE`: a sweep whose trials each run the stage (and what it needs)
// in a worktree of their own.
void repro_sweep(workspace::Workspace& ws, const pipeline::Pipeline& p, const ReproCliOptions& o, Context& ctx) {
    if (o.stages.size() != 1) throw Error(ErrorKind::usage, "cairn repro -S: name the one stage to sweep");
    if (o.seed && !o.random) throw Error(ErrorKind::usage, "cairn repro: --seed goes with --random K");
    std::vector<std::size_t> chosen = pipeline::select_stages(p, o.stages.front());
    if (chosen.size() != 1)
        throw Error(ErrorKind::usage, fmt::format("cairn repro -S: '{}' names {} stages; sweep one of them", o.stages.front(), chosen.size()));
    std::vector<sweep::Axis> axes;
    for (const auto& a : o.set_params) {
        auto [key, values] = split_assignment(a, "cairn repro: -S");
        axes.push_back(sweep::parse_axis(key, values));
    }
    sweep::SweepOptions so;
    if (o.random) {
        so.seed = o.seed ? *o.seed : std::random_device{}();
        so.trials = sweep::expand_random(axes, o.random, *so.seed);
    } else {
        so.trials = sweep::expand_grid(axes);
    }
    // The pipeline's outputs stay out of the code snapshot (trials make them again, or the run
    // cache restores them); its other dependencies that exist are stored and restored as inputs.
    std::set<std::string> outs;
    for (const auto& st : p.stages)
        for (const auto& out : st.outs) outs.insert(out.path);
    std::set<std::string> inputs;
    for (const auto& st : p.stages)
        for (const auto& d : st.deps) {
            bool made = false;
            for (const auto& out : outs) made |= d.path == out || util::starts_with(d.path, out + "/") || util::starts_with(out, d.path + "/");
            if (!made && std::filesystem::exists(ws.absolute(d.path))) inputs.insert(d.path);
        }
    // Nested paths would be stored twice: keep the outermost.
    for (auto it = inputs.begin(); it != inputs.end();) {
        bool inside = false;
        for (const auto& other : inputs) inside |= other != *it && util::starts_with(*it, other + "/");
        it = inside ? inputs.erase(it) : std::next(it);
    }
    so.run.inputs.assign(inputs.begin(), inputs.end());
    so.run.outputs.assign(outs.begin(), outs.end());
    so.run.command = {"cairn", "repro", p.stages[chosen.front()].name};
    so.run.stdout_to_stderr = o.json;
    so.jobs = o.jobs;
    pipeline::ReproOptions base;
    base.targets = {p.stages[chosen.front()].name};
    base.run_cache = !o.no_run_cache;
    base.notice = [](const std::string& line) { std::cerr << printable(line) << "\n"; };
    std::string file = p.file;
    so.body = [file, base](workspace::Workspace& replica, const run::RunOptions& trial) {
        return pipeline::run_trial(replica, file, base, trial);
    };
    run_sweep_command(ws, so, o.dry_run, o.json, ctx);
}

void register_repro(CLI::App& app, Context& ctx) {
    using Options = ReproCliOptions;
    auto opts = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("repro", "Run the pipeline stages whose command, dependencies, params or outputs changed");
    cmd->add_option("stages", opts->stages, "Stages to bring up to date (with the stages they depend on); default: all");
    cmd->add_option("-f,--file", opts->file, "Pipeline file (default: cairn.yaml, else dvc.yaml)");
    cmd->add_flag("--force", opts->force, "Run the selected stages even when they are up to date");
    cmd->add_flag("--dry-run", opts->dry_run, "Print what would run and why; change nothing");
    cmd->add_flag("--downstream", opts->downstream, "The given stages and the stages after them (instead of before)");
    cmd->add_flag("-s,--single-item", opts->single_item, "Only the given stages, not the stages they depend on");
    cmd->add_flag("-k,--keep-going", opts->keep_going, "After a failure, go on with the stages that do not depend on it");
    cmd->add_option("-j,--jobs", opts->jobs, "Stages run at once (default 1)")->check(CLI::Range(1u, 256u));
    cmd->add_flag("--no-run-cache", opts->no_run_cache, "Run stages even when an earlier run with the same inputs can be restored");
    cmd->add_flag("--json", opts->json, "Print the stages and what happened to each as JSON");
    cmd->add_option("-S,--set-param", opts->set_params,
                    "Sweep STAGE over KEY=VALUES (as cairn run -p: a,b,c, range(), linspace(), ...): one trial per "
                    "combination, each in its own worktree; your work tree and lock are not touched")
        ->allow_extra_args(false);
    cmd->add_option("--random", opts->random, "With -S: K trials drawn at random instead of the grid")->check(CLI::Range(1, 100000));
    cmd->add_option("--seed", opts->seed, "With --random: the seed (recorded as the tag sweep.seed)");
    cmd->footer("Examples:\n"
                "  cairn repro                 # every stale stage, in dependency order\n"
                "  cairn repro train --dry-run # what training needs to run, and why\n"
                "  cairn repro -j 4 -k         # independent stages at once; a failure stops only its dependents\n"
                "Exit status: 0 all selected stages are up to date, 1 a stage failed, 130 interrupted.");
    cmd->callback([opts, &ctx] {
        auto ws = workspace::Workspace::discover(ctx.cwd);
        auto file = pipeline::pipeline_file(ws, ctx.cwd, opts->file);
        if (!file)
            throw Error(ErrorKind::input,
                        "no cairn.yaml or dvc.yaml at the workspace root (name one with -f FILE)");
        // A trial's or rerun's worktree (under another workspace's .cairn/tmp/) carries a copy of
        // .cairn/config.yaml: a repro there would record into a store that is thrown away.
        if (ws.root().string().find("/.cairn/tmp/") != std::string::npos)
            throw Error(ErrorKind::usage,
                        "cairn repro inside a sweep trial or rerun worktree would record into a throwaway store; "
                        "to sweep a stage, run 'cairn repro STAGE -S KEY=VALUES' in the workspace itself");
        pipeline::Pipeline p = pipeline::load(ws, *file);
        if (!opts->set_params.empty()) {
            repro_sweep(ws, p, *opts, ctx);
            return;
        }
        if (opts->random || opts->seed) throw Error(ErrorKind::usage, "cairn repro: --random and --seed go with -S KEY=VALUES");
        pipeline::ReproOptions ro;
        ro.targets = opts->stages;
        ro.force = opts->force;
        ro.dry_run = opts->dry_run;
        ro.downstream = opts->downstream;
        ro.single_item = opts->single_item;
        ro.keep_going = opts->keep_going;
        ro.run_cache = !opts->no_run_cache;
        ro.jobs = opts->jobs;
        ro.stdout_to_stderr = opts->json;
        ro.self_exe = std::filesystem::read_symlink("/proc/self/exe");
        ro.notice = [](const std::string& line) { std::cerr << printable(line) << "\n"; };
        StderrProgress progress;
        pipeline::ReproReport report = pipeline::repro(ws, p, ro, progress);
        for (const auto& w : ws.take_warnings()) print_warning(w);
        int signal = util::received_signal();
        ctx.exit_code = report.interrupted ? (signal > 0 ? 128 + signal : 130) : report.failed ? 1 : 0;
        if (opts->json) {
            nlohmann::json j = pipeline::to_json(report);
            j["pipeline"] = p.file;
            j["dry_run"] = opts->dry_run;
            print_json(j);
            return;
        }
        using Outcome = pipeline::StageResult::Outcome;
        std::size_t ran = 0, restored = 0, fresh = 0, failed = 0, would = 0, skipped = 0, stopped = 0, frozen = 0;
        for (const auto& s : report.stages) {
            switch (s.outcome) {
            case Outcome::ran: ++ran; break;
            case Outcome::restored: ++restored; break;
            case Outcome::frozen: s.frozen_with_changes() ? ++frozen : ++fresh; break;
            case Outcome::up_to_date: ++fresh; break;
            case Outcome::failed: ++failed; break;
            case Outcome::would_run: ++would; break;
            case Outcome::skipped: ++skipped; break;
            case Outcome::interrupted: ++stopped; break;
            }
        }
        // A frozen stage that changed is not up to date: it is said so, stage by stage.
        auto print_frozen = [&] {
            for (const auto& s : report.stages)
                if (s.frozen_with_changes())
                    std::cout << printable(fmt::format("  {}: frozen (changed: {})", s.stage, pipeline::describe(s.reasons)))
                              << "\n";
        };
        if (opts->dry_run) {
            for (const auto& s : report.stages) {
                if (s.outcome == Outcome::would_run)
                    std::cout << fmt::format("would run {}: {}\n", printable(s.stage), printable(pipeline::describe(s.reasons)));
                else if (s.frozen_with_changes())
                    std::cout << fmt::format("frozen {} (not run): changed: {}\n", printable(s.stage),
                                             printable(pipeline::describe(s.reasons)));
            }
            if (would == 0 && frozen == 0) std::cout << fmt::format("Pipeline {} is up to date; nothing to run.\n", p.file);
            else if (would == 0) std::cout << fmt::format("Nothing to run in {}.\n", p.file);
            return;
        }
        if (ran + restored + failed == 0 && !report.interrupted) {
            if (frozen == 0) {
                std::cout << fmt::format("Pipeline {} is up to date ({} stage{}).\n", p.file, fresh, fresh == 1 ? "" : "s");
            } else {
                std::cout << fmt::format("Nothing ran in {}: {} stage{} up to date, {} frozen with changes:\n", p.file,
                                         fresh, fresh == 1 ? "" : "s", frozen);
                print_frozen();
            }
        } else {
            std::cout << fmt::format("{} stage{} ran, {} restored from the run cache, {} up to date{}{}{}{}.\n", ran,
                                     ran == 1 ? "" : "s", restored, fresh,
                                     frozen ? fmt::format(", {} frozen with changes", frozen) : "",
                                     failed ? fmt::format(", {} failed", failed) : "",
                                     stopped ? fmt::format(", {} interrupted", stopped) : "",
                                     skipped ? fmt::format(", {} not run", skipped) : "");
            print_frozen();
        }
        if (!report.removed_from_lock.empty())
            std::cout << printable(fmt::format("Removed from {} the entries of stages no longer in {}: {}.", p.lock_file,
                                               p.file, fmt::join(report.removed_from_lock, ", ")))
                      << "\n";
        // The lock and the .gitignore files changed: they belong in the next commit.
        if (ran + restored > 0)
            std::cout << fmt::format("Commit the new state: git add {} and the .gitignore files that list its outputs\n",
                                     p.lock_file);
        else if (!report.removed_from_lock.empty())
            std::cout << fmt::format("Commit the new state: git add {}\n", p.lock_file);
    });
}

} // namespace

void register_pipeline(CLI::App& app, Context& ctx) {
    register_repro(app, ctx);
    register_dag(app, ctx);
}

} // namespace cairn::cli
