#pragma once
// The run record: what `cairn run` writes into a run's commit (run.yaml, params.yaml,
// metrics.tsv, inputs.yaml, outputs.yaml, log.txt) and reads back. Formats in docs/format.md.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/metrics/metrics.hpp"
#include "core/params/params.hpp"

namespace cairn::run {

// What a stored copy holds in place of a secret value.
inline constexpr std::string_view k_redacted = "<redacted>";

// True for a variable or option name that may hold a secret: it contains TOKEN, SECRET,
// PASSWORD, PASSWD, KEY, CREDENTIAL or AUTH (but not AUTHOR, AUTHORS, AUTHORITY), in any case.
[[nodiscard]] bool looks_secret(std::string_view name);

// `text` with the password of every URL `scheme://user:password@host...` replaced by <redacted>.
[[nodiscard]] std::string redact_urls(std::string_view text);

// A command as the record stores it (run.yaml, the commit message, the run index): after the
// program name, the value of an option whose name looks secret (`--api-key=V`, `-password=V`,
// or `--token V` with the value as the next argument) and of an upper-case `NAME=V` whose name
// looks secret (`env API_TOKEN=V ...`) is <redacted>; the same inside an argument holding a
// shell script (`sh -c '... --api-key=V'`); URL passwords are redacted everywhere.
[[nodiscard]] std::vector<std::string> redact_command(const std::vector<std::string>& argv);

// The first argument of a stored command that holds <redacted> (with its option before it when
// it is a value on its own: `--token <redacted>`), or nullopt.
[[nodiscard]] std::optional<std::string> redacted_argument(const std::vector<std::string>& command);

struct RunRecord {
    std::string id;
    std::string name;
    std::string experiment;
    // Set by core for a run made by a pipeline or a sweep (no CLI option sets them); empty: none.
    std::string stage;    // the pipeline stage this run executed
    std::string pipeline; // the pipeline file that declares it (workspace-relative: dvc.yaml, cairn.yaml)
    std::string sweep;    // the id shared by every trial of one sweep
    std::string stage_key; // for a stage: its run-cache key (sha256 of its command, dependency ids, param values)
    std::vector<std::string> command;
    std::string cwd; // relative to the workspace root; "." for the root
    std::int64_t start_ms = 0, end_ms = 0;
    std::string status; // running, finished, failed, interrupted, crashed
    std::string reason; // why a run whose command exited 0 is failed (a declared output not written)
    int exit_code = 0;
    std::string host, user, os, cpu, cairn_version;
    std::string executable, executable_hash;
    std::string git_base, git_branch, git_snapshot;
    bool git_dirty = false;
    std::map<std::string, std::string> env;   // allow-listed, secrets redacted
    std::vector<std::string> env_names;       // every other variable, names only
    std::map<std::string, std::string> tags;
    std::vector<cairn::params::Param> params;
    std::vector<cairn::metrics::MetricPoint> metrics;
    std::map<std::string, std::string> inputs, outputs; // path -> object id
    std::map<std::string, std::string> large_files;     // untracked files kept out of the code snapshot
    std::string log_object; // the whole log in the cache, when it is too large for a git blob
    // Parameter files the command read (workspace-relative), whose recorded values a re-run writes back.
    std::vector<std::string> param_files;
    std::vector<std::string> metric_files; // `-m` files read after the command ended
    bool capture = true;                   // stdout scalars captured as metrics (off: --no-capture)
    std::string reproduces; // the run this one re-ran (`cairn rerun`), else empty
    // Where the run executed when not here (`cairn run --executor slurm`): `type` (slurm),
    // `job_id`, `array_job_id`, `array_index`, `node`, `partition`, and each requested sbatch
    // option as `request.<option>`. Empty for a local run.
    std::map<std::string, std::string> executor;
    std::string commit;                       // the run's commit (when read from a ref)
    // Set when the record comes from the run index: the summary of a series not loaded.
    std::optional<std::map<std::string, cairn::metrics::MetricSummary>> summary;

    // Per metric: last, min, max, count, step (from `summary` when the series is not loaded).
    [[nodiscard]] std::map<std::string, cairn::metrics::MetricSummary> metric_summary() const;
    // end - start in milliseconds; for a running run (end 0), the time it has run so far.
    [[nodiscard]] std::int64_t duration_ms() const;
};

// A path read from a run record (untrusted: refs come from other machines) that cairn will
// write to: relative, every component accepted by cache::unsafe_component_reason (so no `.`,
// `..` or empty components, nothing in .git/ or .cairn/ in any spelling). Throws Error(input)
// naming the run, `what` ("output", "input", ...) and the reason otherwise.
void check_record_path(const RunRecord& r, const std::string& path, const char* what);

[[nodiscard]] std::string to_run_yaml(const RunRecord& r);
[[nodiscard]] std::string to_params_yaml(const std::vector<params::Param>& params);
[[nodiscard]] std::string to_paths_yaml(const std::map<std::string, std::string>& paths);
[[nodiscard]] std::string to_metrics_tsv(const std::vector<metrics::MetricPoint>& points);

// Reads the files of a run's commit back. Throws Error(input) naming `where` when malformed.
void parse_run_yaml(const std::string& text, const std::string& where, RunRecord& out);
void parse_params_yaml(const std::string& text, const std::string& where, RunRecord& out);
void parse_paths_yaml(const std::string& text, const std::string& where, std::map<std::string, std::string>& out);
void parse_metrics_tsv(const std::string& text, const std::string& where, RunRecord& out);
// The one reader of metrics.tsv behind parse_metrics_tsv: fn(key, step, value, unix_ms) per
// line, in order, without building a record (charts read millions of points this way).
using MetricLineFn = std::function<void(std::string_view key, std::int64_t step, double value, std::int64_t unix_ms)>;
void scan_metrics_tsv(std::string_view text, const std::string& where, const MetricLineFn& fn);

// Why `text` cannot be a record's label (stage, pipeline, sweep): "is not UTF-8 text" or "holds a
// control character"; nullopt when it can.
[[nodiscard]] std::optional<std::string> label_problem(std::string_view text);

// ISO 8601 UTC with milliseconds ("2026-11-27T17:59:01.123Z") and back (nullopt if malformed).
[[nodiscard]] std::string format_time(std::int64_t unix_ms);
[[nodiscard]] std::optional<std::int64_t> parse_time(const std::string& text);

} // namespace cairn::run
