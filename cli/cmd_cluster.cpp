// cairn cancel | executor-task, and `cairn run --executor slurm` (docs/guide-cluster.md)
#include <cstdlib>
#include <iostream>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/app.hpp"
#include "cli/output.hpp"
#include "core/executor/slurm.hpp"
#include "core/run/store.hpp"
#include "core/sweep/submit.hpp"
#include "core/sweep/sweep.hpp"
#include "core/util/error.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::cli {

namespace {

// This cairn's absolute path: what the jobs run on the compute nodes.
std::filesystem::path own_executable() {
    std::error_code ec;
    auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) throw Error(ErrorKind::environment, "cannot find cairn's own path (/proc/self/exe): " + ec.message());
    return p;
}

void register_cancel(CLI::App& app, Context& ctx) {
    struct Options {
        std::string run, sweep;
        bool json = false;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("cancel", "Cancel a run or a sweep submitted to Slurm (scancel); recorded as cancelled");
    cmd->add_option("run", o->run, "The run (id prefix, name, last)");
    cmd->add_option("--sweep", o->sweep, "Cancel every trial of this sweep (its id, or a prefix of it)");
    cmd->add_flag("--json", o->json, "Print what was cancelled as JSON");
    cmd->footer("Examples:\n"
                "  cairn cancel last\n"
                "  cairn cancel --sweep 3f2a9c1e\n"
                "Runs that had not started are recorded cancelled at once; running ones are stopped by\n"
                "Slurm and record themselves cancelled as they end.");
    cmd->callback([o, &ctx] {
        if (o->run.empty() == o->sweep.empty())
            throw Error(ErrorKind::usage, "cairn cancel: give a run or --sweep ID (one of them)");
        auto ws = workspace::Workspace::discover(ctx.cwd);
        sweep::CancelResult r = sweep::cancel(ws, o->sweep.empty() ? run_name_arg(ws, o->run) : o->sweep, !o->sweep.empty());
        if (o->json) {
            print_json({{"submission", r.submission}, {"job", r.job_id}, {"cancelled", r.cancelled}, {"stopping", r.stopping}});
            return;
        }
        std::cerr << fmt::format("cairn: cancelled Slurm job {}: {} run(s) recorded cancelled, {} stopping\n", r.job_id,
                                 r.cancelled.size(), r.stopping.size());
    });
}

void register_executor_task(CLI::App& app, Context& ctx) {
    struct Options {
        std::string submission;
        std::size_t index = 0;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("executor-task", "Run one task of a submission (what a Slurm job runs)");
    cmd->group(""); // hidden: jobs call it
    cmd->add_option("submission", o->submission, "The submission id")->required();
    cmd->add_option("index", o->index, "The task (array index)")->required();
    cmd->callback([o, &ctx] {
        auto ws = workspace::Workspace::discover(ctx.cwd);
        auto result = sweep::run_task(ws, o->submission, o->index);
        if (!result) {
            std::cerr << "cairn: task cancelled before it started\n";
            return;
        }
        for (const auto& w : result->warnings) print_warning(w);
        std::cerr << fmt::format("cairn: run {} {} (exit {})\n", result->record.id.substr(0, 8),
                                 printable(result->record.status), result->exit_code);
        ctx.exit_code = result->exit_code;
    });
}

} // namespace

void run_slurm_command(workspace::Workspace& ws, const sweep::SweepOptions& sweep,
                       const std::vector<std::string>& slurm_options, std::optional<std::size_t> max_parallel,
                       bool wait, bool json, Context& ctx) {
    sweep::SubmitOptions so;
    so.run = sweep.run;
    so.trials = sweep.trials;
    so.name_template = sweep.name_template;
    so.seed = sweep.seed;
    so.max_parallel = max_parallel ? *max_parallel : ws.config().executor_max_parallel;
    so.slurm = ws.config().slurm_options;
    for (const auto& text : slurm_options) so.slurm.push_back(executor::parse_option(text));
    so.cairn = own_executable();
    sweep::Submission sub = sweep::submit(ws, so);
    for (const auto& w : sub.warnings) print_warning(w);
    std::cerr << fmt::format("cairn: submitted {} as Slurm job {}{} (cairn ls shows it queued, then running)\n",
                             sub.array ? fmt::format("sweep {} ({} trials)", sub.id, sub.runs.size())
                                       : "run " + sub.runs.front().substr(0, 8),
                             sub.job_id, sub.array ? " (an array)" : "");
    if (!wait) {
        if (json) {
            nlohmann::json runs = nlohmann::json::array();
            for (const auto& r : sub.runs) runs.push_back(r);
            print_json({{"submission", sub.id},
                        {"sweep", sub.array ? nlohmann::json(sub.id) : nlohmann::json()},
                        {"job", sub.job_id},
                        {"snapshot", sub.snapshot},
                        {"runs", runs}});
        }
        return;
    }
    const std::size_t total = sub.runs.size();
    auto records = sweep::wait(ws, sub, [&](std::size_t i, const run::RunRecord& r) {
        std::cerr << "cairn: "
                  << printable(fmt::format("{}{} run {} {} (exit {}){}", sub.array ? fmt::format("trial {}/{}", i + 1, total) : "",
                                           sub.array ? ":" : "", r.id.substr(0, 8), r.status, r.exit_code,
                                           r.reason.empty() ? "" : ": " + r.reason))
                  << "\n";
    });
    if (!sub.array) {
        const run::RunRecord& r = records.front();
        if (json) print_json({{"run", r.id}, {"status", r.status}, {"exit_code", r.exit_code}, {"job", sub.job_id}});
        ctx.exit_code = r.status == "finished" ? 0 : (r.exit_code != 0 ? r.exit_code : 1);
        return;
    }
    sweep::SweepResult result;
    result.id = sub.id;
    result.snapshot = sub.snapshot;
    for (std::size_t i = 0; i < records.size(); ++i) {
        sweep::TrialResult t;
        t.number = i + 1;
        t.params = sub.trials[i];
        t.name = sub.names[i];
        t.record = records[i];
        t.status = records[i].status;
        t.exit_code = records[i].exit_code;
        t.error = records[i].reason;
        result.trials.push_back(std::move(t));
    }
    print_sweep_result(sweep, result, json, ctx);
}

void register_cluster(CLI::App& app, Context& ctx) {
    register_cancel(app, ctx);
    register_executor_task(app, ctx);
}

} // namespace cairn::cli
