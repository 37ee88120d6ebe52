#pragma once
#include <cstdint>
// The cairn command line: one entry point, one command table, one catch point.

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace CLI {
class App;
class Validator;
} // namespace CLI

namespace cairn::workspace {
class Workspace;
}
namespace cairn::remote {
struct Roots;
}
namespace cairn::sweep {
struct SweepOptions;
struct SweepResult;
}
namespace cairn::drift {
struct Report;
}

namespace cairn::cli {

// Runs cairn with the given arguments and returns the process exit code. Never throws.
int main(int argc, char** argv);

// State shared by the command callbacks of one invocation.
struct Context {
    std::filesystem::path cwd;
    int exit_code = 0;
    // For `cairn run ... -- COMMAND...`: the words after the first `--`, taken out of argv before
    // CLI11 parses it so that the user's command reaches us untouched.
    std::optional<std::vector<std::string>> passthrough;
};

// "unknown option '--parm' (did you mean '--param'?)" for an option `command` does not have.
[[nodiscard]] std::string unknown_option_message(const CLI::App& command, const std::string& word);

// `KEY=VALUE` split at its first '=' (-p, -t, repro -S). Throws Error(usage), "`what` 'TEXT' must
// be KEY=VALUE", when there is no '=' or nothing before it.
[[nodiscard]] std::pair<std::string, std::string> split_assignment(const std::string& text, const char* what);

// Checks for numeric options whose errors read "must be >= 0" / "must be > 0" (CLI11's own
// print a range up to the largest double).
[[nodiscard]] CLI::Validator non_negative_number();
[[nodiscard]] CLI::Validator positive_number();
// For whole-number options (counts, sizes): "'1.5' is not a whole number", "must be from 1 to
// 10000" instead of CLI11's "Could not convert: --width = 1.5" (or a silent wrap-around).
[[nodiscard]] CLI::Validator whole_number(std::int64_t min, std::int64_t max);

// Runs a sweep (or prints its trials with dry_run) and reports it as `cairn run` does: a line
// per trial on stderr, a table or JSON on stdout; sets ctx.exit_code (cli/cmd_run.cpp).
void run_sweep_command(workspace::Workspace& ws, const sweep::SweepOptions& sweep, bool dry_run, bool json, Context& ctx);

// On-demand fetch (cli/cmd_share.cpp): pulls from the default data remote what `roots` need and
// the cache lacks, with a line on stderr; does nothing without a remote or when nothing is
// missing. Problems are warnings: the command then reports what is still missing.
void fetch_on_demand(workspace::Workspace& ws, const remote::Roots& roots);
// The roots of the pointer files at or under the workspace-relative paths (all without any).
[[nodiscard]] remote::Roots pointer_roots(workspace::Workspace& ws, const std::vector<std::string>& rel_paths);
// Runs fn; an Error(integrity) gets a line saying how to add a remote appended when none is configured.
void hint_remote_on_missing(workspace::Workspace& ws, const std::function<void()>& fn);

// `cairn status --remote [REMOTE]` (cli/cmd_share.cpp).
void print_remote_status(workspace::Workspace& ws, const std::string& remote, bool json, Context& ctx);

// `cairn gc --remote REMOTE [--force]` (cli/cmd_share.cpp).
struct GcRemoteOptions {
    std::string remote;
    std::vector<std::string> git_remotes; // empty: every configured git remote
    bool offline = false;                 // count only this clone's refs
    bool force = false;
    bool json = false;
};
void gc_remote_command(workspace::Workspace& ws, const GcRemoteOptions& options, Context& ctx);

// The summary of a sweep that ran (run_sweep_command's, and `--executor slurm --wait`'s): a
// line on stderr, a table or JSON on stdout; sets ctx.exit_code (cli/cmd_run.cpp).
void print_sweep_result(const sweep::SweepOptions& sweep, const sweep::SweepResult& result, bool json, Context& ctx);

// `cairn run --executor slurm`: submits the run (no trials) or the sweep, and with `wait` blocks
// until every task is recorded and reports as a local run or sweep does (cli/cmd_cluster.cpp).
void run_slurm_command(workspace::Workspace& ws, const sweep::SweepOptions& sweep,
                       const std::vector<std::string>& slurm_options, std::optional<std::size_t> max_parallel,
                       bool wait, bool json, Context& ctx);

// Each command group registers its subcommands (cli/cmd_<group>.cpp).
void register_init(CLI::App& app, Context& ctx);
void register_hooks(CLI::App& app, Context& ctx);
void register_data(CLI::App& app, Context& ctx);
void register_store(CLI::App& app, Context& ctx);
void register_runs(CLI::App& app, Context& ctx);
void register_reproduce(CLI::App& app, Context& ctx);
void register_pipeline(CLI::App& app, Context& ctx);
void register_model(CLI::App& app, Context& ctx);
void register_cluster(CLI::App& app, Context& ctx);

// A run name as the user gave it, with `model:NAME@ALIAS` / `model:NAME@vN` replaced by the id
// of the run that produced that version (cli/cmd_model.cpp). Other names are returned as given.
[[nodiscard]] std::string run_name_arg(workspace::Workspace& ws, const std::string& name);
void register_drift(CLI::App& app, Context& ctx);
void register_report(CLI::App& app, Context& ctx);
void register_share(CLI::App& app, Context& ctx);

// The drift table of a report on stdout (column, kind, test, score, threshold, PSI, reference ->
// current, status), and its one-line verdict (cli/cmd_drift.cpp).
void print_drift_table(const drift::Report& report);
[[nodiscard]] std::string drift_verdict(const drift::Report& report);
// For a degraded re-evaluation: the drift table of input `path`'s substituted bytes `new_id`
// against the recorded `old_id`, or a line saying why there is none (not a table, not cached).
void print_input_drift(workspace::Workspace& ws, const std::string& path, const std::string& old_id, const std::string& new_id);
// The same for `rerun --json`: a JSON object {"path", "recorded", "substituted", "drift": the
// drift report as `cairn drift --json` prints it (or null), "error": why there is none (or null)}.
[[nodiscard]] std::string input_drift_json(workspace::Workspace& ws, const std::string& path, const std::string& old_id,
                                           const std::string& new_id);

} // namespace cairn::cli
