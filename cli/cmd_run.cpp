// cairn run | log | ls | show
#include <algorithm>
#include <cstdlib>
#include <optional>
#include <random>
#include <iostream>
#include <set>
#include <tuple>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/app.hpp"
#include "cli/json_writer.hpp"
#include "cli/output.hpp"
#include "core/query/filter.hpp"
#include "core/registry/registry.hpp"
#include "core/run/diff.hpp"
#include "core/run/execute.hpp"
#include "core/run/store.hpp"
#include "core/sweep/sweep.hpp"
#include "core/util/interrupt.hpp"
#include "core/util/error.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::cli {

namespace {

// One run as `ls --json` prints it; `full` (show --json) adds the environment. Written by a
// streaming writer: on 10,000 runs building a JSON tree first cost more than the listing.
void write_run_json(JsonWriter& w, const run::RunRecord& r, bool full) {
    auto string_map = [&](const char* name, const std::map<std::string, std::string>& m) {
        w.key(name);
        w.begin_object();
        for (const auto& [k, v] : m) {
            w.key(k);
            w.string(v);
        }
        w.end_object();
    };
    w.begin_object();
    w.key("id"), w.string(r.id);
    w.key("name"), w.string(r.name);
    w.key("experiment"), w.string(r.experiment);
    for (const auto& [key, value] : {std::pair{"stage", &r.stage}, {"pipeline", &r.pipeline}, {"sweep", &r.sweep}}) {
        w.key(key);
        if (value->empty()) w.null();
        else w.string(*value);
    }
    w.key("status"), w.string(r.status);
    w.key("reason");
    if (r.reason.empty()) w.null();
    else w.string(r.reason);
    w.key("exit_code");
    if (r.commit.empty() && (r.status == "running" || r.status == "queued")) w.null();
    else w.integer(r.exit_code);
    w.key("start"), w.string(run::format_time(r.start_ms));
    w.key("end");
    if (r.end_ms) w.string(run::format_time(r.end_ms));
    else w.null();
    w.key("duration_s"), w.number(static_cast<double>(r.duration_ms()) / 1000.0);
    w.key("command");
    w.begin_array();
    for (const auto& a : r.command) w.string(a);
    w.end_array();
    w.key("cwd"), w.string(r.cwd);
    w.key("git");
    w.begin_object();
    w.key("commit"), w.string(r.git_base);
    w.key("branch"), w.string(r.git_branch);
    w.key("dirty"), w.boolean(r.git_dirty);
    w.key("snapshot"), w.string(r.git_snapshot);
    w.end_object();
    w.key("params");
    w.begin_object();
    for (const auto& p : r.params) {
        w.key(p.key);
        if (auto i = params::param_integer(p)) w.integer(*i);
        else if (auto d = params::param_number(p)) w.number(*d);
        else if (auto b = params::param_bool(p)) w.boolean(*b);
        else w.string(p.text);
    }
    w.end_object();
    w.key("metrics");
    w.begin_object();
    for (const auto& [k, s] : r.metric_summary()) {
        w.key(k);
        w.begin_object();
        w.key("last"), w.number(s.last);
        w.key("min"), w.number(s.min);
        w.key("max"), w.number(s.max);
        w.key("count"), w.integer(static_cast<std::int64_t>(s.count));
        w.key("step"), w.integer(s.step);
        w.end_object();
    }
    w.end_object();
    string_map("tags", r.tags);
    string_map("inputs", r.inputs);
    string_map("outputs", r.outputs);
    w.key("host"), w.string(r.host);
    w.key("user"), w.string(r.user);
    w.key("executable");
    w.begin_object();
    w.key("path"), w.string(r.executable);
    w.key("sha256"), w.string(r.executable_hash);
    w.end_object();
    w.key("cairn_version"), w.string(r.cairn_version);
    w.key("reproduces");
    if (r.reproduces.empty()) w.null();
    else w.string(r.reproduces);
    if (r.executor.empty()) w.key("executor"), w.null();
    else string_map("executor", r.executor);
    if (full) {
        w.key("os"), w.string(r.os);
        w.key("cpu"), w.string(r.cpu);
        string_map("env", r.env);
        w.key("env_names");
        w.begin_array();
        for (const auto& n : r.env_names) w.string(n);
        w.end_array();
    }
    w.end_object();
}

// run::find_run, with its note on a shared name shown on stderr (stdout may be --json).
const run::RunRecord& find_noted(workspace::Workspace& ws, const std::vector<run::RunRecord>& runs,
                                 const std::string& name, const std::vector<run::SkippedRun>& skipped) {
    std::string note;
    const run::RunRecord& found = run::find_run(runs, run_name_arg(ws, name), skipped, &note);
    if (!note.empty()) print_warning(note);
    return found;
}

run::RunRecord resolve_noted(workspace::Workspace& ws, const std::string& name) {
    std::string note;
    run::RunRecord found = run::resolve(ws, run_name_arg(ws, name), &note);
    if (!note.empty()) print_warning(note);
    return found;
}

// A `-p` value for JSON: typed as the run records it.
nlohmann::json param_json(const std::string& key, const std::string& value) {
    params::Param p = params::parse_param(key, value);
    if (auto i = params::param_integer(p)) return *i;
    if (auto d = params::param_number(p)) return number_json(*d);
    if (auto b = params::param_bool(p)) return *b;
    return p.text;
}

std::string trial_params_text(const sweep::Trial& trial) {
    std::string out;
    for (const auto& [k, v] : trial) out += (out.empty() ? "" : " ") + k + "=" + v;
    return out;
}

// A trial as JSON: its number, name (null when unnamed) and typed params.
nlohmann::json trial_json(std::size_t number, const std::string& name, const sweep::Trial& trial) {
    nlohmann::json params = nlohmann::json::object();
    for (const auto& [k, v] : trial) params[k] = param_json(k, v);
    return nlohmann::json{{"trial", number}, {"name", name.empty() ? nlohmann::json() : nlohmann::json(name)},
                          {"params", params}};
}

} // namespace

// `cairn run` (and `cairn repro -S`) with several values: the trials, as a table or JSON
// (--dry-run), or run.
void run_sweep_command(workspace::Workspace& ws, const sweep::SweepOptions& sweep, bool dry_run, bool json, Context& ctx) {
    if (dry_run) {
        if (json) {
            nlohmann::json trials = nlohmann::json::array();
            for (std::size_t i = 0; i < sweep.trials.size(); ++i)
                trials.push_back(trial_json(i + 1, sweep::trial_name(sweep.name_template, sweep.trials[i], i + 1),
                                            sweep.trials[i]));
            print_json({{"seed", sweep.seed ? nlohmann::json(*sweep.seed) : nlohmann::json()}, {"trials", trials}});
            return;
        }
        std::cout << fmt::format("{} trial(s){}:\n", sweep.trials.size(),
                                 sweep.seed ? fmt::format(" (random, seed {})", *sweep.seed) : "");
        for (std::size_t i = 0; i < sweep.trials.size(); ++i) {
            std::string name = sweep::trial_name(sweep.name_template, sweep.trials[i], i + 1);
            std::cout << fmt::format("  {:>3}  {}{}\n", i + 1, printable(trial_params_text(sweep.trials[i])),
                                     name.empty() ? "" : "  (" + printable(name) + ")");
        }
        return;
    }
    sweep::SweepOptions opts = sweep;
    const std::size_t total = sweep.trials.size();
    opts.on_end = [total](const sweep::TrialResult& t) {
        std::string what = t.record.id.empty()
                               ? fmt::format("{}{}", t.status, t.error.empty() ? "" : ": " + t.error)
                               : fmt::format("run {} {} (exit {}, {:.1f}s){}", t.record.id.substr(0, 8), t.status,
                                             t.exit_code, static_cast<double>(t.record.duration_ms()) / 1000.0,
                                             t.error.empty() ? "" : ": " + t.error);
        for (const auto& w : t.warnings) print_warning(fmt::format("trial {}: {}", t.number, w));
        std::cerr << "cairn: " << printable(fmt::format("trial {}/{} {}{}: {}", t.number, total, trial_params_text(t.params),
                                                        t.name.empty() ? "" : " (" + t.name + ")", what))
                  << "\n";
    };
    sweep::SweepResult result = sweep::run_sweep(ws, opts);
    for (const auto& w : result.warnings) print_warning(w);
    print_sweep_result(sweep, result, json, ctx);
}

void print_sweep_result(const sweep::SweepOptions& sweep, const sweep::SweepResult& result, bool json, Context& ctx) {
    std::vector<std::string> keys;
    if (!sweep.trials.empty())
        for (const auto& [k, v] : sweep.trials.front()) keys.push_back(k);
    const std::size_t total = sweep.trials.size();
    std::size_t finished = 0;
    for (const auto& t : result.trials) finished += t.status == "finished";
    std::cerr << fmt::format("cairn: sweep {}: {} of {} trial(s) finished{}\n", result.id, finished, total,
                             result.interrupted ? " (interrupted)" : "");
    std::set<std::string> metric_keys;
    for (const auto& t : result.trials)
        for (const auto& [k, s] : t.record.metric_summary()) metric_keys.insert(k);
    if (json) {
        nlohmann::json trials = nlohmann::json::array();
        for (const auto& t : result.trials) {
            nlohmann::json item = trial_json(t.number, t.name, t.params);
            item["run"] = t.record.id.empty() ? nlohmann::json() : nlohmann::json(t.record.id);
            item["status"] = t.status;
            item["exit_code"] = t.record.id.empty() ? nlohmann::json() : nlohmann::json(t.exit_code);
            item["error"] = t.error.empty() ? nlohmann::json() : nlohmann::json(t.error);
            nlohmann::json metrics = nlohmann::json::object();
            for (const auto& [k, s] : t.record.metric_summary()) metrics[k] = number_json(s.last);
            item["metrics"] = metrics;
            trials.push_back(item);
        }
        print_json({{"sweep", result.id},
                    {"snapshot", result.snapshot},
                    {"seed", sweep.seed ? nlohmann::json(*sweep.seed) : nlohmann::json()},
                    {"interrupted", result.interrupted},
                    {"trials", trials}});
    } else {
        std::vector<std::vector<std::string>> rows;
        std::vector<std::string> header = {"trial", "run", "status"};
        // A param and a metric of one name (a sweep over `loss` that reports `loss`) get the
        // prefixes `cairn ls --filter` uses, so that the two columns can be told apart.
        auto shared = [&](const std::string& k) {
            return metric_keys.count(k) && std::find(keys.begin(), keys.end(), k) != keys.end();
        };
        for (const auto& k : keys) header.push_back(shared(k) ? "params." + k : k);
        for (const auto& k : metric_keys) header.push_back(shared(k) ? "metrics." + k : k);
        rows.push_back(header);
        for (const auto& t : result.trials) {
            std::vector<std::string> row = {std::to_string(t.number), t.record.id.substr(0, 8), t.status};
            for (const auto& [k, v] : t.params) row.push_back(printable(v));
            auto summary = t.record.metric_summary();
            for (const auto& k : metric_keys) {
                auto it = summary.find(k);
                row.push_back(it == summary.end() ? "-" : number_text(it->second.last));
            }
            rows.push_back(std::move(row));
        }
        std::vector<std::string> lines = aligned_lines(rows);
        for (std::size_t r = 0; r < lines.size(); ++r) std::cout << (r == 0 ? paint(lines[r], Color::bold) : lines[r]) << "\n";
    }
    int code = result.exit_code();
    if (result.interrupted && util::received_signal() > 0) code = 128 + util::received_signal();
    ctx.exit_code = code;
}

namespace {

// --executor, or executor.type in .cairn/config.yaml.
bool use_slurm(const std::string& executor, const workspace::Workspace& ws) {
    return executor.empty() ? ws.config().executor_type == "slurm" : executor == "slurm";
}

void register_run(CLI::App& app, Context& ctx) {
    struct Options {
        std::string name, experiment;
        std::vector<std::string> params, tags, inputs, outputs, command, param_files, metric_files;
        bool no_capture = false, dry_run = false, json = false;
        std::size_t jobs = 1, random = 0;
        std::optional<std::uint64_t> seed;
        std::string executor;
        std::vector<std::string> slurm;
        bool wait = false;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("run", "Run a command and record it: params, metrics, data, code, log");
    cmd->add_option("-n,--name", o->name, "A name for the run (unique names can be used to refer to it)");
    cmd->add_option("-e,--experiment", o->experiment, "The experiment this run belongs to");
    cmd->add_option("-p,--param", o->params, "A parameter KEY=VALUE (typed: int, float, bool, string)")->allow_extra_args(false);
    cmd->add_option("-t,--tag", o->tags, "A tag KEY=VALUE")->allow_extra_args(false);
    cmd->add_option("-d,--dep", o->inputs, "An input path, hashed before the command starts")->allow_extra_args(false);
    cmd->add_option("-o,--out", o->outputs, "An output path, hashed after the command ends")->allow_extra_args(false);
    cmd->add_option("-m,--metrics", o->metric_files, "A metrics file (JSON, YAML, CSV, TSV) to read when the command ends")
        ->allow_extra_args(false);
    cmd->add_option("--params", o->param_files, "A parameters file: YAML, JSON or TOML (default: params.yaml at the root)")
        ->allow_extra_args(false);
    cmd->add_flag("--no-capture", o->no_capture, "Do not read 'key: value' metrics from the command's stdout");
    cmd->add_option("-j,--jobs", o->jobs, "Sweeps: run N trials at a time (default 1)")->check(positive_number());
    cmd->add_option("--random", o->random, "Sweeps: draw K random trials from the -p values instead of the whole grid")
        ->check(positive_number());
    cmd->add_option("--seed", o->seed, "With --random: the seed (default: a random one, printed and recorded)");
    cmd->add_flag("--dry-run", o->dry_run, "Print the trials (or the one run) and run nothing");
    auto* jobs_option = cmd->get_option("--jobs");
    cmd->add_option("--executor", o->executor, "Where to run: local (default) or slurm (one sbatch job; a sweep as one job array)")
        ->check(CLI::IsMember({"local", "slurm"}));
    cmd->add_option("--slurm", o->slurm, "With --executor slurm: an sbatch long option OPT=VALUE (time=10:00, partition=gpu)")
        ->allow_extra_args(false);
    cmd->add_flag("--wait", o->wait, "With --executor slurm: wait until every job ends and report as a local run does");
    cmd->add_flag("--json", o->json, "Print the run, or the sweep's id and trials, as JSON on stdout");
    // Everything from the first positional (or after --) is the user's command, untouched.
    cmd->prefix_command(true);
    cmd->footer("Examples:\n"
                "  cairn run -n baseline -p lr=0.1 -d data -o model -- python train.py\n"
                "  cairn run -- sh -c 'echo \"loss 0.3 1\" >> \"$CAIRN_METRICS_FILE\"'\n"
                "  cairn run -p lr=0.1 -p epochs=5 -- python train.py --lr {lr} --epochs {epochs}\n"
                "  cairn run -p lr=0.1,0.01,0.001 -p batch=32,64 -j 2 -n 'lr{lr}-b{batch}' -- python train.py\n"
                "  cairn run --random 20 --seed 1 -p 'lr=loguniform(1e-4,1e-1)' -p layers=2,3,4 -- python train.py\n"
                "A -p value with an unquoted comma, range(a,b[,step]), linspace(a,b,n), logspace(a,b,n),\n"
                "uniform(a,b), loguniform(a,b) or randint(a,b) makes a sweep: one run per trial, each in its\n"
                "own worktree of the current code (see docs/guide-sweeps.md). Quote a value holding a\n"
                "comma: -p 'k=\"a,b\"'.\n"
                "Lines like 'loss: 0.42', 'loss: 0.42 (step 5)' or 'step: 5' on stdout are metrics\n"
                "(off with --no-capture). Exits with the command's exit code; the run is recorded\n"
                "whatever the outcome.");
    cmd->callback([o, cmd, jobs_option, &ctx] {
        auto ws = workspace::Workspace::discover(ctx.cwd);
        if (!use_slurm(o->executor, ws) && (!o->slurm.empty() || o->wait))
            throw Error(ErrorKind::usage, fmt::format("cairn run: {} goes with --executor slurm",
                                                      o->wait ? "--wait" : "--slurm"));
        run::RunOptions opts;
        opts.name = o->name;
        opts.experiment = o->experiment;
        opts.capture_stdout = !o->no_capture;
        opts.param_files = ws.relative_paths(ctx.cwd, o->param_files);
        opts.metric_files = ws.relative_paths(ctx.cwd, o->metric_files);
        opts.notice = [](const std::string& message) { std::cerr << "cairn: " << printable(message, Lines::multi) << "\n"; };
        std::vector<sweep::Axis> axes;
        bool varies = o->random > 0;
        for (const auto& p : o->params) {
            auto [key, value] = split_assignment(p, "parameter");
            axes.push_back(sweep::parse_axis(key, value));
            varies |= axes.back().varies();
        }
        if (o->seed && !o->random) throw Error(ErrorKind::usage, "cairn run: --seed goes with --random K");
        // One value each (`range(1,2)` included): a plain run with those values.
        if (!varies)
            for (const auto& a : axes) opts.params.emplace_back(a.key, a.values.front());
        for (const auto& t : o->tags) opts.tags.insert(split_assignment(t, "tag"));
        opts.inputs = ws.relative_paths(ctx.cwd, o->inputs);
        opts.outputs = ws.relative_paths(ctx.cwd, o->outputs);
        // prefix_command() hands over everything from the first word CLI11 does not know: an
        // unknown option (`--parm`) or, before `--`, a stray word would otherwise be dropped.
        std::vector<std::string> rest = cmd->remaining();
        if (!rest.empty() && util::starts_with(rest.front(), "-"))
            throw Error(ErrorKind::usage, "cairn run: " + unknown_option_message(*cmd, rest.front()));
        if (ctx.passthrough && !rest.empty())
            throw Error(ErrorKind::usage,
                        fmt::format("cairn run: unexpected argument '{}' before '--' (the command goes after '--': "
                                    "cairn run [options] -- COMMAND...)",
                                    rest.front()));
        opts.command = ctx.passthrough ? *ctx.passthrough : rest;
        if (opts.command.empty()) throw Error(ErrorKind::usage, "cairn run: no command given (write it after --)");
        auto rel = ctx.cwd.lexically_relative(ws.root());
        opts.cwd = rel == "." ? "" : rel.string();
        opts.stdout_to_stderr = o->json;
        if (varies) {
            sweep::SweepOptions so;
            // Values that do not vary are the same -p for every trial.
            std::vector<sweep::Axis> varying;
            for (auto& a : axes) {
                if (a.varies()) varying.push_back(std::move(a));
                else opts.params.emplace_back(a.key, a.values.front());
            }
            if (o->random) {
                so.seed = o->seed ? *o->seed : std::random_device{}();
                so.trials = sweep::expand_random(varying, o->random, *so.seed);
            } else {
                so.trials = sweep::expand_grid(varying);
            }
            so.name_template = opts.name;
            opts.name.clear();
            so.run = std::move(opts);
            so.jobs = o->jobs;
            if (use_slurm(o->executor, ws) && !o->dry_run) {
                std::optional<std::size_t> throttle;
                if (jobs_option->count() > 0) throttle = o->jobs;
                run_slurm_command(ws, so, o->slurm, throttle, o->wait, o->json, ctx);
                return;
            }
            run_sweep_command(ws, so, o->dry_run, o->json, ctx);
            return;
        }
        if (o->dry_run) {
            std::string params;
            for (const auto& [k, v] : opts.params) params += " " + k + "=" + v;
            if (o->json) {
                nlohmann::json p = nlohmann::json::object();
                for (const auto& [k, v] : opts.params) p[k] = param_json(k, v);
                print_json({{"seed", nullptr}, {"trials", {{{"trial", 1}, {"name", opts.name.empty() ? nlohmann::json() : nlohmann::json(opts.name)}, {"params", p}}}}});
            } else {
                std::cout << fmt::format("1 run (no sweep):{}{}\n", printable(params),
                                         opts.name.empty() ? "" : "  (" + printable(opts.name) + ")");
            }
            return;
        }
        if (!opts.name.empty()) {
            // Names are not unique (a name is a label, as in MLflow): say which run it took over from.
            auto runs = run::list_runs(ws);
            std::vector<const run::RunRecord*> same;
            for (const auto& r : runs)
                if (r.name == opts.name) same.push_back(&r);
            if (!same.empty()) print_warning(fmt::format(
                "the name '{}' is already used by {}{} (started {}); '{}' now names this new run, '{}~1' {}", opts.name,
                same.size() == 1 ? "run " : fmt::format("{} runs, the latest ", same.size()), same[0]->id.substr(0, 8),
                run::format_time(same[0]->start_ms), opts.name, opts.name,
                same.size() == 1 ? "the earlier one" : fmt::format("to '{}~{}' the earlier ones", opts.name, same.size())));
        }
        if (use_slurm(o->executor, ws)) {
            sweep::SweepOptions so;
            so.run = std::move(opts);
            run_slurm_command(ws, so, o->slurm, std::nullopt, o->wait, o->json, ctx);
            return;
        }
        StderrProgress progress;
        auto result = run::execute(ws, opts, progress);
        for (const auto& w : result.warnings) print_warning(w);
        std::cerr << fmt::format("cairn: run {} {} (exit {}, {:.1f}s)\n", result.record.id.substr(0, 8),
                                 printable(result.record.status), result.exit_code,
                                 static_cast<double>(result.record.end_ms - result.record.start_ms) / 1000.0);
        if (o->json) {
            std::string out;
            JsonWriter w(out);
            write_run_json(w, result.record, false);
            std::cout << out << "\n";
        }
        ctx.exit_code = result.exit_code;
    });
}

std::string run_dir_from_env() {
    const char* dir = std::getenv("CAIRN_RUN_DIR");
    if (!dir || !*dir) throw Error(ErrorKind::usage, "'cairn log' works inside 'cairn run' (CAIRN_RUN_DIR is not set)");
    return dir;
}

void register_log(CLI::App& app, Context& ctx) {
    auto* log = app.add_subcommand("log", "Log to the run in progress (from inside 'cairn run')");
    log->require_subcommand(1);
    for (auto [name, kind, help] : {std::tuple{"param", run::LogKind::param, "Log a parameter KEY VALUE (immutable once logged)"},
                                    std::tuple{"tag", run::LogKind::tag, "Set a tag KEY VALUE"}}) {
        auto kv = std::make_shared<std::pair<std::string, std::string>>();
        auto* sub = log->add_subcommand(name, help);
        sub->add_option("key", kv->first, "Name")->required();
        sub->add_option("value", kv->second, "Value")->required();
        sub->callback([kv, k = kind] { run::log_to_run(run_dir_from_env(), k, kv->first, kv->second); });
    }
    auto artifact = std::make_shared<std::vector<std::string>>();
    auto* art = log->add_subcommand("artifact", "Declare output paths, stored in the cache when the run ends");
    art->add_option("paths", *artifact, "Files or directories")->required();
    art->callback([artifact, &ctx] {
        std::string dir = run_dir_from_env();
        auto ws = workspace::Workspace::discover(ctx.cwd);
        for (const auto& p : ws.relative_paths(ctx.cwd, *artifact)) run::log_to_run(dir, run::LogKind::artifact, p, "");
    });
    struct Options {
        std::string key, value;
        std::int64_t step = -1;
    };
    auto o = std::make_shared<Options>();
    auto* metric = log->add_subcommand("metric", "Log a metric point: KEY VALUE [--step N], or lines on stdin");
    metric->add_option("key", o->key, "Metric name, or - to read 'KEY VALUE [STEP]' lines from stdin");
    metric->add_option("value", o->value, "The value (a number; nan and inf allowed)");
    metric->add_option("--step", o->step, "The step (default: one more than the key's last)");
    metric->footer("Examples:\n"
                   "  cairn log metric loss 0.25 --step 10\n"
                   "  printf 'loss 0.3 1\\nacc 0.9 1\\n' | cairn log metric -");
    metric->callback([o] {
        std::string dir = run_dir_from_env();
        std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
        // Validate each point now (a bad line is an error here, not a silent loss later); a step
        // not given is written as '-' and numbered by the recorder in order.
        std::vector<metrics::MetricPoint> points;
        auto take = [&](const std::string& line, const std::string& where) {
            if (auto p = metrics::parse_metric_line(line, nullptr, now, where)) points.push_back(*p);
        };
        if (o->key.empty() || o->key == "-") {
            std::string line;
            std::size_t n = 0;
            while (std::getline(std::cin, line)) take(line, fmt::format("stdin line {}", ++n));
        } else {
            if (o->value.empty()) throw Error(ErrorKind::usage, "cairn log metric: missing VALUE");
            take(o->key + " " + o->value + (o->step >= 0 ? " " + std::to_string(o->step) : ""), "cairn log metric");
        }
        run::append_metrics(dir, points);
    });
}

// Stored text (names, values, commands, log lines) on its way to a person: the one place where
// it is made safe to print.
std::string shown(const std::string& text) { return printable(text); }

// Column headers for the listed fields: a param or metric is named by its key unless another
// column has the same header, then by its qualified name (params.lr, metrics.lr), so that every
// header is unique (`base` holds the fixed columns' headers).
std::vector<std::string> column_headers(const std::vector<std::string>& base, const std::vector<query::FieldRef>& fields) {
    std::vector<std::string> headers = base;
    std::vector<bool> qualified(fields.size(), false);
    for (const auto& f : fields) headers.push_back(f.scope == "attributes" || !f.aggregate.empty() ? f.text() : f.name);
    // Qualified names differ from each other and from the bare fixed ones; qualifying one may
    // make it collide with another's key, which is then qualified in turn.
    for (bool again = true; again;) {
        again = false;
        std::map<std::string, std::size_t> count;
        for (const auto& h : headers) ++count[h];
        for (std::size_t i = 0; i < fields.size(); ++i) {
            std::string& h = headers[base.size() + i];
            if (count[h] > 1 && !qualified[i]) h = fields[i].text(), qualified[i] = true, again = true;
        }
    }
    return headers;
}

void register_ls(CLI::App& app, Context& ctx) {
    struct Options {
        bool json = false, csv = false;
        std::optional<std::int64_t> limit;
        std::string filter, columns;
        std::vector<std::string> sort, runs;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("ls", "List runs, newest first, running ones included");
    cmd->add_option("runs", o->runs, "Only these runs (id prefix, name, last, last~N)");
    auto* json = cmd->add_flag("--json", o->json, "Print every run as JSON");
    cmd->add_flag("--csv", o->csv, "Print the table as CSV")->excludes(json);
    cmd->add_option("--columns", o->columns, "Comma-separated fields to show instead of the params and metrics that differ");
    cmd->add_option("-n,--limit", o->limit, "Show at most N runs (0: none)");
    cmd->add_option("--filter", o->filter, "Only runs matching EXPR, e.g. \"metrics.acc > 0.9 and params.model = 'resnet'\"");
    cmd->add_option("--sort", o->sort, "Sort by KEY (metrics.acc, params.lr, start, ...); -KEY for descending")
        ->allow_extra_args(false);
    cmd->footer("Examples:\n  cairn ls\n  cairn ls -n 5 --json\n"
                "  cairn ls --filter \"metrics.acc > 0.5 and (params.model = 'resnet' or tags.stage like 'prod%')\" \\\n"
                "           --sort -metrics.acc -n 20\n"
                "  cairn ls --filter 'min(metrics.loss) < 0.1 and exists(params.lr)'\n"
                "  cairn ls --filter \"status = 'running'\"\n"
                "Operators: = != < <= > >= like ilike, and, or, not, parentheses; aggregates min() max() count().\n"
                "On a terminal the table fits its width ($COLUMNS, else the terminal's); columns that do not\n"
                "fit are left out and named below it.");
    cmd->callback([o, &ctx] {
        if (o->limit && *o->limit < 0)
            throw Error(ErrorKind::usage, fmt::format("-n/--limit: expected a number of runs (0 or more), got {}", *o->limit));
        auto ws = workspace::Workspace::discover(ctx.cwd);
        std::vector<run::SkippedRun> skipped;
        // Parse before reading anything: a typo in the filter fails fast.
        std::optional<query::Filter> filter;
        if (!o->filter.empty()) filter = query::Filter::parse(o->filter);
        std::vector<query::SortKey> keys;
        for (const auto& k : o->sort) keys.push_back(query::parse_sort_key(k));
        const std::vector<std::string> base = {"id", "name", "status", "start", "duration"};
        std::vector<query::FieldRef> chosen;
        if (!o->columns.empty()) {
            std::set<std::string> seen(base.begin(), base.end()); // the fixed columns are always there
            for (const auto& c : util::split(o->columns, ',')) {
                query::FieldRef f = query::parse_field(std::string(util::trim(c)));
                if (seen.insert(f.text()).second) chosen.push_back(f);
            }
        }
        auto runs = run::list_runs(ws, &skipped);
        for (const auto& s : skipped) print_warning("skipping " + s.reason);
        const std::size_t total = runs.size();
        if (!o->runs.empty()) {
            std::set<std::string> wanted;
            for (const auto& name : o->runs) wanted.insert(find_noted(ws, runs, name, skipped).id);
            runs.erase(std::remove_if(runs.begin(), runs.end(), [&](const auto& r) { return !wanted.count(r.id); }),
                       runs.end());
        }
        if (filter)
            runs.erase(std::remove_if(runs.begin(), runs.end(), [&](const auto& r) { return !filter->matches(r); }),
                       runs.end());
        query::sort_runs(runs, keys);
        if (o->limit && runs.size() > static_cast<std::size_t>(*o->limit)) runs.resize(static_cast<std::size_t>(*o->limit));
        if (o->json) {
            std::string out;
            JsonWriter w(out);
            w.begin_array();
            for (const auto& r : runs) write_run_json(w, r, false);
            w.end_array();
            std::cout << out << "\n";
            return;
        }
        if (runs.empty() && !o->csv) {
            if (total == 0)
                std::cout << "No runs recorded yet (use 'cairn run -- <command>').\n";
            else if (!o->limit || *o->limit > 0)
                std::cout << fmt::format("No run matches the filter ({} run{} in all).\n", total, total == 1 ? "" : "s");
            return;
        }
        if (chosen.empty()) {
            // Columns for the params and last metric values that differ between the listed runs.
            // A run without the key counts as one more distinct value ("-").
            std::map<std::string, std::set<std::string>> param_values, metric_values;
            std::map<std::string, std::size_t> param_count, metric_count;
            for (const auto& r : runs) {
                for (const auto& p : r.params) param_values[p.key].insert(p.text), ++param_count[p.key];
                for (const auto& [k, s] : r.metric_summary()) metric_values[k].insert(number_text(s.last)), ++metric_count[k];
            }
            for (auto& [k, v] : param_values)
                if (param_count[k] < runs.size() || v.size() > 1 || runs.size() == 1) chosen.push_back({"params", k, ""});
            for (auto& [k, v] : metric_values)
                if (metric_count[k] < runs.size() || v.size() > 1 || runs.size() == 1) chosen.push_back({"metrics", k, ""});
        }
        auto cell = [&](const run::RunRecord& r, const query::FieldRef& f) -> std::string {
            query::Value v = f.eval(r);
            if (std::holds_alternative<double>(v)) return o->csv ? metrics::format_value(std::get<double>(v)) : number_text(std::get<double>(v));
            if (std::holds_alternative<std::string>(v)) return shown(std::get<std::string>(v));
            if (std::holds_alternative<bool>(v)) return std::get<bool>(v) ? "true" : "false";
            return o->csv ? "" : "-";
        };
        std::vector<std::vector<std::string>> rows;
        rows.push_back(column_headers(base, chosen));
        for (const auto& r : runs) {
            double seconds = static_cast<double>(r.duration_ms()) / 1000.0;
            std::vector<std::string> row = {o->csv ? r.id : r.id.substr(0, 8), r.name.empty() && !o->csv ? "-" : shown(r.name), shown(r.status),
                                            o->csv ? run::format_time(r.start_ms) : relative_time(r.start_ms),
                                            o->csv ? metrics::format_value(seconds) : fmt::format("{:.1f}s", seconds)};
            for (const auto& f : chosen) row.push_back(shown(cell(r, f)));
            rows.push_back(row);
        }
        if (o->csv) {
            auto quote = [](const std::string& v) {
                if (v.find_first_of(",\"\n\r") == std::string::npos) return v;
                std::string out = "\"";
                for (char c : v) out += c == '"' ? std::string("\"\"") : std::string(1, c);
                return out + "\"";
            };
            for (const auto& row : rows) {
                std::string line;
                for (std::size_t i = 0; i < row.size(); ++i) line += (i ? "," : "") + quote(row[i]);
                std::cout << line << "\n";
            }
            return;
        }
        std::size_t ncols = rows[0].size();
        std::vector<std::size_t> width(ncols, 0);
        for (const auto& row : rows)
            for (std::size_t i = 0; i < ncols; ++i) width[i] = std::max(width[i], display_width(row[i]));
        std::vector<std::string> left_out;
        if (auto term = terminal_width()) {
            // Long values are cut first (never below their header), then columns are left out
            // from the right; the fixed columns stay.
            constexpr std::size_t k_value_width = 20;
            auto total_width = [&] {
                std::size_t w = 0;
                for (std::size_t i = 0; i < ncols; ++i) w += width[i] + (i ? 2 : 0);
                return w;
            };
            if (total_width() > *term)
                for (std::size_t i = 1; i < ncols; ++i)
                    if (i == 1 || i >= base.size())
                        width[i] = std::min(width[i], std::max(k_value_width, display_width(rows[0][i])));
            while (total_width() > *term && ncols > base.size()) {
                left_out.push_back(rows[0][--ncols]);
                width.pop_back();
            }
            std::reverse(left_out.begin(), left_out.end());
        }
        for (std::size_t r = 0; r < rows.size(); ++r) {
            std::string line;
            for (std::size_t i = 0; i < ncols; ++i) {
                std::string text = fit(rows[r][i], width[i]);
                line += text;
                if (i + 1 < ncols) line += std::string(width[i] - display_width(text) + 2, ' ');
            }
            std::cout << (r == 0 ? paint(line, Color::bold) : line) << "\n";
        }
        if (!left_out.empty()) {
            // Wrapped to the terminal's width, as the table is.
            std::size_t term = *terminal_width();
            std::string line = fmt::format("{} column{} left out to fit (see --columns, --csv):", left_out.size(),
                                           left_out.size() == 1 ? "" : "s");
            for (std::size_t i = 0; i < left_out.size(); ++i) {
                std::string word = left_out[i] + (i + 1 < left_out.size() ? "," : "");
                if (display_width(line) + 1 + display_width(word) > term) {
                    std::cout << paint(fit(line, term), Color::dim) << "\n";
                    line = " ";
                }
                line += " " + word;
            }
            std::cout << paint(fit(line, term), Color::dim) << "\n";
        }
    });
}

void register_show(CLI::App& app, Context& ctx) {
    struct Options {
        std::string run;
        bool json = false;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("show", "Show everything recorded about one run (so far, for a running one)");
    cmd->add_option("run", o->run, "Run id prefix (4+ hex digits), name, last or last~N")->required();
    cmd->add_flag("--json", o->json, "Print the run as JSON");
    cmd->footer("Examples:\n  cairn show last\n  cairn show 1a2b --json");
    cmd->callback([o, &ctx] {
        auto ws = workspace::Workspace::discover(ctx.cwd);
        std::vector<run::SkippedRun> skipped;
        auto runs = run::list_runs(ws, &skipped);
        auto r = run::view_run(ws, find_noted(ws, runs, o->run, skipped));
        if (o->json) {
            std::string out;
            JsonWriter w(out);
            write_run_json(w, r, true);
            std::cout << out << "\n";
            return;
        }
        const bool running = r.commit.empty();
        std::cout << paint("run " + r.id, Color::bold) << (r.name.empty() ? "" : "  (" + shown(r.name) + ")") << "\n";
        if (running)
            std::cout << "status:     running (recorded when it ends; metrics and log so far)\n";
        else
            std::cout << fmt::format("status:     {} (exit {}){}\n", shown(r.status), r.exit_code,
                                     r.reason.empty() ? "" : ": " + shown(r.reason));
        // Quoted for a shell, so a tab or newline inside single quotes is pasted as it is.
        std::cout << fmt::format("command:    {}\n", printable(shell_command(r.command), Lines::multi));
        std::cout << fmt::format("started:    {} ({}), {:.1f}s{}\n", run::format_time(r.start_ms), relative_time(r.start_ms),
                                 static_cast<double>(r.duration_ms()) / 1000.0, running ? " so far" : "");
        std::cout << fmt::format("code:       {} on {}{}\n", shown(r.git_snapshot.substr(0, 12)),
                                 r.git_branch.empty() ? "(detached)" : shown(r.git_branch), r.git_dirty ? " (dirty work tree)" : "");
        if (!r.experiment.empty()) std::cout << "experiment: " << shown(r.experiment) << "\n";
        if (!r.stage.empty()) std::cout << "stage:      " << shown(r.stage) << "\n";
        if (!r.pipeline.empty()) std::cout << "pipeline:   " << shown(r.pipeline) << "\n";
        if (!r.sweep.empty()) std::cout << "sweep:      " << shown(r.sweep) << "\n";
        if (!r.params.empty()) std::cout << "params:\n";
        for (const auto& p : r.params) std::cout << fmt::format("  {} = {} ({})\n", shown(p.key), shown(p.text), p.type);
        auto summary = r.metric_summary();
        if (!summary.empty()) std::cout << "metrics:                 last        min        max  points\n";
        for (const auto& [k, s] : summary)
            std::cout << fmt::format("  {:<20} {:>10} {:>10} {:>10} {:>7}\n", shown(k), number_text(s.last), number_text(s.min),
                                     number_text(s.max), s.count);
        for (const auto& [p, id] : r.inputs) std::cout << fmt::format("input:      {} {}\n", shown(p), id.substr(0, 19));
        for (const auto& [p, id] : r.outputs) std::cout << fmt::format("output:     {} {}\n", shown(p), id.substr(0, 19));
        std::string log = run::read_log(ws, r);
        auto lines = util::split(log, '\n');
        if (!lines.empty() && lines.back().empty()) lines.pop_back();
        if (!lines.empty()) std::cout << "log (last lines):\n";
        for (std::size_t i = lines.size() > 10 ? lines.size() - 10 : 0; i < lines.size(); ++i)
            std::cout << "  " << shown(lines[i]) << "\n";
    });
}

void register_diff(CLI::App& app, Context& ctx) {
    struct Options {
        std::string a, b;
        bool json = false, patch = false;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("diff", "Compare two runs: params, metrics, data, environment and code");
    cmd->add_option("run_a", o->a, "The older run")->required();
    cmd->add_option("run_b", o->b, "The newer run")->required();
    cmd->add_flag("--json", o->json, "As JSON");
    cmd->add_flag("--patch", o->patch, "Also print the full diff of the code snapshots");
    cmd->footer("Examples:\n  cairn diff last~1 last\n  cairn diff baseline tuned --patch");
    cmd->callback([o, &ctx] {
        auto ws = workspace::Workspace::discover(ctx.cwd);
        std::vector<run::SkippedRun> skipped;
        auto runs = run::list_runs(ws, &skipped);
        auto d = run::diff_runs(ws, run::view_run(ws, find_noted(ws, runs, o->a, skipped)),
                                run::view_run(ws, find_noted(ws, runs, o->b, skipped)), o->patch);
        if (o->json) {
            nlohmann::json metrics = nlohmann::json::array();
            for (const auto& m : d.metrics) {
                nlohmann::json item = {{"key", m.key},
                                       {"old", m.old_value ? number_json(*m.old_value) : nlohmann::json()},
                                       {"new", m.new_value ? number_json(*m.new_value) : nlohmann::json()}};
                item["delta"] = m.old_value && m.new_value ? number_json(*m.new_value - *m.old_value) : nlohmann::json();
                metrics.push_back(item);
            }
            nlohmann::json code = nlohmann::json::array();
            for (const auto& f : d.code) code.push_back({{"path", f.path}, {"status", std::string(1, f.status)}});
            nlohmann::json out = {{"a", d.a.id},
                                  {"b", d.b.id},
                                  {"params", changes_json(d.params)},
                                  {"metrics", metrics},
                                  {"inputs", changes_json(d.inputs)},
                                  {"outputs", changes_json(d.outputs)},
                                  {"environment", changes_json(d.environment)},
                                  {"code", code}};
            if (o->patch) out["patch"] = d.patch;
            print_json(out);
            return;
        }
        auto show = [](const std::optional<std::string>& v) { return v ? printable(*v) : std::string("-"); };
        std::cout << fmt::format("{} {} -> {} {}\n", d.a.id.substr(0, 8), printable(d.a.name), d.b.id.substr(0, 8),
                                 printable(d.b.name));
        auto section = [](const char* title) { std::cout << "\n" << paint(title, Color::bold) << "\n"; };
        section("params");
        if (d.params.empty()) std::cout << "  (same)\n";
        for (const auto& c : d.params)
            std::cout << fmt::format("  {:<24} {:>12} -> {:<12} {}\n", printable(c.key), show(c.old_value), show(c.new_value),
                                     c.change());
        section("metrics (last value)");
        if (d.metrics.empty()) std::cout << "  (none)\n";
        for (const auto& m : d.metrics) {
            std::string delta = m.old_value && m.new_value ? number_text(*m.new_value - *m.old_value) : "";
            if (!delta.empty() && delta[0] != '-') delta = "+" + delta;
            std::cout << fmt::format("  {:<24} {:>12} -> {:<12} {}\n", printable(m.key), m.old_value ? number_text(*m.old_value) : "-",
                                     m.new_value ? number_text(*m.new_value) : "-", delta);
        }
        for (auto [title, list] : {std::pair{"inputs", &d.inputs}, std::pair{"outputs", &d.outputs}}) {
            if (list->empty()) continue;
            section(title);
            for (const auto& c : *list) std::cout << fmt::format("  {:<40} {}\n", printable(c.key), c.change());
        }
        section("environment");
        if (d.environment.empty()) std::cout << "  (same)\n";
        for (const auto& c : d.environment)
            std::cout << fmt::format("  {:<24} {} -> {}\n", printable(c.key), show(c.old_value), show(c.new_value));
        section("code");
        if (d.code.empty()) std::cout << "  (same snapshot)\n";
        for (const auto& f : d.code) std::cout << fmt::format("  {} {}\n", f.status, printable(f.path));
        if (o->patch && !d.patch.empty()) std::cout << "\n" << printable(d.patch, Lines::multi);
    });
}

void register_tag(CLI::App& app, Context& ctx) {
    struct Options {
        std::string run;
        std::vector<std::string> set, remove;
        bool json = false;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("tag", "Set or remove tags of a recorded run");
    cmd->add_option("run", o->run, "The run")->required();
    cmd->add_option("tags", o->set, "KEY=VALUE tags to set");
    cmd->add_option("--remove", o->remove, "A tag KEY to remove")->allow_extra_args(false);
    cmd->add_flag("--json", o->json, "Print the run's tags as JSON");
    cmd->footer("Examples:\n  cairn tag last reviewed=yes\n  cairn tag baseline --remove reviewed");
    cmd->callback([o, &ctx] {
        if (o->set.empty() && o->remove.empty()) throw Error(ErrorKind::usage, "cairn tag: give KEY=VALUE or --remove KEY");
        auto ws = workspace::Workspace::discover(ctx.cwd);
        auto r = resolve_noted(ws, o->run);
        std::map<std::string, std::optional<std::string>> changes;
        for (const auto& t : o->set) {
            auto [key, value] = split_assignment(t, "tag");
            changes.insert_or_assign(key, value);
        }
        for (const auto& k : o->remove) changes.insert_or_assign(k, std::nullopt);
        auto updated = run::set_tags(ws, r, changes);
        if (o->json) {
            print_json({{"id", updated.id}, {"tags", updated.tags}});
            return;
        }
        std::cout << fmt::format("run {} tags: {}\n", updated.id.substr(0, 8), updated.tags.empty() ? "(none)" : "");
        for (const auto& [k, v] : updated.tags) std::cout << fmt::format("  {}={}\n", printable(k), printable(v));
    });
}

void register_rm(CLI::App& app, Context& ctx) {
    auto runs = std::make_shared<std::vector<std::string>>();
    auto* cmd = app.add_subcommand("rm", "Delete recorded runs (their refs); 'cairn gc' then reclaims their data");
    cmd->add_option("runs", *runs, "Runs to delete")->required();
    cmd->footer("Examples:\n  cairn rm last\n  cairn rm 1a2b 3c4d && cairn gc");
    cmd->callback([runs, &ctx] {
        auto ws = workspace::Workspace::discover(ctx.cwd);
        // Resolve every name first, so that a typo deletes nothing.
        std::vector<run::SkippedRun> skipped;
        auto listed = run::list_runs(ws, &skipped);
        std::vector<run::RunRecord> records;
        for (const auto& name : *runs) {
            // A run whose record cannot be read is removed by its whole id (find_run says so).
            auto broken = std::find_if(skipped.begin(), skipped.end(), [&](const auto& s) { return s.id == name; });
            if (broken != skipped.end()) {
                run::RunRecord r;
                r.id = broken->id;
                records.push_back(std::move(r));
                continue;
            }
            records.push_back(find_noted(ws, listed, name, skipped));
        }
        // A registered model version keeps its bytes (gc keeps what the registry names), but
        // model:NAME@vN then names no run, and the version's lineage ends there.
        std::vector<std::string> ids;
        for (const auto& r : records) ids.push_back(r.id);
        std::vector<std::string> registered;
        try {
            registered = registry::versions_of_runs(ws, ids);
        } catch (const Error& e) {
            print_warning(fmt::format("cannot read the model registry: {}", e.what()));
        }
        if (!registered.empty())
            print_warning(fmt::format("{} registered from {}: the model's bytes stay, but its run record goes (model:{} will name no run)",
                                      fmt::join(registered, ", "), registered.size() == 1 ? "this run" : "these runs",
                                      registered.front()));
        for (const auto& r : records) {
            run::remove_run(ws, r);
            std::cout << fmt::format("removed run {}{}\n", r.id.substr(0, 8), r.name.empty() ? "" : " (" + printable(r.name) + ")");
        }
    });
}

void register_metrics(CLI::App& app, Context& ctx) {
    struct Options {
        std::string run, key;
        bool json = false, csv = false;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("metrics", "Print the full series of one metric of a run");
    cmd->add_option("run", o->run, "The run")->required();
    cmd->add_option("key", o->key, "The metric")->required();
    auto* json = cmd->add_flag("--json", o->json, "As JSON");
    cmd->add_flag("--csv", o->csv, "As CSV (step,value,time)")->excludes(json);
    cmd->footer("Examples:\n  cairn metrics last loss\n  cairn metrics baseline acc --csv > acc.csv");
    cmd->callback([o, &ctx] {
        auto ws = workspace::Workspace::discover(ctx.cwd);
        std::vector<run::SkippedRun> skipped;
        auto runs = run::list_runs(ws, &skipped);
        auto r = run::view_run(ws, find_noted(ws, runs, o->run, skipped));
        std::vector<const metrics::MetricPoint*> points;
        for (const auto& p : r.metrics)
            if (p.key == o->key) points.push_back(&p);
        if (points.empty()) {
            std::set<std::string> keys;
            for (const auto& p : r.metrics) keys.insert(p.key);
            throw Error(ErrorKind::input, fmt::format("run {} has no metric '{}'{}", r.id.substr(0, 8), o->key,
                                                      keys.empty() ? std::string(" (it has no metrics)")
                                                                   : fmt::format(" (it has: {})", fmt::join(keys, ", "))));
        }
        if (o->json) {
            nlohmann::json arr = nlohmann::json::array();
            for (const auto* p : points)
                arr.push_back({{"step", p->step}, {"value", number_json(p->value)}, {"time", run::format_time(p->unix_ms)}});
            print_json({{"run", r.id}, {"key", o->key}, {"points", arr}});
            return;
        }
        if (o->csv) {
            std::cout << "step,value,time\n";
            for (const auto* p : points) std::cout << fmt::format("{},{},{}\n", p->step, metrics::format_value(p->value), run::format_time(p->unix_ms));
            return;
        }
        std::cout << paint(fmt::format("{:>8}  {:>12}  {}", "step", printable(o->key), "time"), Color::bold) << "\n";
        for (const auto* p : points)
            std::cout << fmt::format("{:>8}  {:>12}  {}\n", p->step, number_text(p->value), run::format_time(p->unix_ms));
    });
}

} // namespace

void register_runs(CLI::App& app, Context& ctx) {
    register_run(app, ctx);
    register_log(app, ctx);
    register_ls(app, ctx);
    register_show(app, ctx);
    register_metrics(app, ctx);
    register_diff(app, ctx);
    register_tag(app, ctx);
    register_rm(app, ctx);
}

} // namespace cairn::cli
