#pragma once
// The run record: what `cairn run` writes into a run's commit (run.yaml, params.yaml,
// metrics.tsv, inputs.yaml, outputs.yaml, log.txt) and reads back. Formats in docs/format.md.

#include <cstdint>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/run/params.hpp"
namespace re2 {
class RE2;
}

namespace cairn::run {

struct MetricPoint {
    std::string key;
    std::int64_t step = 0;
    double value = 0;
    std::int64_t unix_ms = 0;
};

// Parses a line of the live metrics file or of `cairn log metric` input:
// `KEY VALUE [STEP|- [UNIX_MS]]`, separated by spaces or tabs. A missing step continues the key's
// own count (0, 1, 2, ...), tracked in `*next_step`; with next_step null it is left as -1 (for
// the recorder to number later). A missing time is `default_ms`. nan and inf are values like any
// other. Returns nullopt for a blank line; throws Error(input) naming `where` for a malformed one.
[[nodiscard]] std::optional<MetricPoint> parse_metric_line(std::string_view line, std::map<std::string, std::int64_t>* next_step,
                                                           std::int64_t default_ms, const std::string& where);

// Guild-style scalars captured from a command's stdout: a line that starts with `KEY: NUMBER` is
// a point, with `(step N)` after it or the step set by an earlier `step: N` line; otherwise each
// key counts its own steps. Indented lines (a printed config) are not. Feed it output as it
// arrives; it splits lines itself.
class ScalarCapture {
public:
    // The built-in pattern: `KEY: NUMBER` at the start of the line with an optional `(step N)`.
    static const std::string k_default_pattern;
    // Lines longer than this are not matched (they are still in the log).
    static constexpr std::size_t k_line_limit = 64u << 10;

    // `patterns` are RE2 regular expressions (linear time, whatever the input) matched against
    // whole lines: group 1 is the key, group 2 the value, an optional group 3 the step. Throws
    // Error(input) naming `where` for an invalid expression or one with fewer than two groups.
    explicit ScalarCapture(const std::vector<std::string>& patterns = {k_default_pattern},
                           const std::string& where = "run.capture");
    ~ScalarCapture();
    ScalarCapture(const ScalarCapture&) = delete;
    ScalarCapture& operator=(const ScalarCapture&) = delete;

    void feed(std::string_view chunk);
    // The points captured since the last take() or finish(), in order.
    [[nodiscard]] std::vector<MetricPoint> take();
    // take(), after matching a final line that has no newline.
    [[nodiscard]] std::vector<MetricPoint> finish();

private:
    void line(std::string_view text);
    void compile();
    std::vector<std::string> m_sources;
    std::string m_where;
    bool m_compiled = false;
    std::vector<std::unique_ptr<re2::RE2>> m_patterns;
    std::string m_partial;
    bool m_overlong = false; // the current line passed k_line_limit
    std::int64_t m_step = -1;
    std::map<std::string, std::int64_t> m_next;
    std::vector<MetricPoint> m_points;
};

// Reads a metrics file written by the command (`cairn run -m FILE`): `.csv`/`.tsv` with a header
// row (a `step` column gives the step; every other numeric column is a metric, one point per
// row), anything else as YAML or JSON: nested mappings flattened with dots, a number is a point,
// a list of numbers a series (steps 0..n-1), a list of mappings rows (with an optional `step`).
// Throws Error(input) naming `where` for malformed content.
// Points without a step continue from `next_steps` (key -> next step), so that a file's summary
// values follow the points the run logged live.
[[nodiscard]] std::vector<MetricPoint> read_metric_file(const std::string& text, const std::string& where,
                                                        std::int64_t unix_ms,
                                                        std::map<std::string, std::int64_t> next_steps = {});

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

// Replaces `{key}` in each argument by the parameter's value; other braces are left alone.
[[nodiscard]] std::vector<std::string> substitute_params(const std::vector<std::string>& argv,
                                                         const std::vector<Param>& params);

// `nan`, `inf`, `-inf`, or the shortest text that reads back as the same double.
[[nodiscard]] std::string format_value(double value);

struct MetricSummary {
    double last = 0, min = 0, max = 0;
    std::int64_t step = 0; // step of the last point
    std::uint64_t count = 0;
};

struct RunRecord {
    std::string id;
    std::string name;
    std::string experiment;
    std::string sweep; // the sweep this run is a trial of (`cairn run` with several values), else empty
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
    std::vector<Param> params;
    std::vector<MetricPoint> metrics;
    std::map<std::string, std::string> inputs, outputs; // path -> object id
    std::map<std::string, std::string> large_files;     // untracked files kept out of the code snapshot
    std::string log_object; // the whole log in the cache, when it is too large for a git blob
    // Parameter files the command read (workspace-relative), whose recorded values a re-run writes back.
    std::vector<std::string> param_files;
    std::vector<std::string> metric_files; // `-m` files read after the command ended
    bool capture = true;                   // stdout scalars captured as metrics (off: --no-capture)
    std::string reproduces; // the run this one re-ran (`cairn rerun`), else empty
    std::string commit;                       // the run's commit (when read from a ref)
    // Set when the record comes from the run index: the summary of a series not loaded.
    std::optional<std::map<std::string, MetricSummary>> summary;

    // Per metric: last, min, max, count, step (from `summary` when the series is not loaded).
    [[nodiscard]] std::map<std::string, MetricSummary> metric_summary() const;
    // end - start in milliseconds; for a running run (end 0), the time it has run so far.
    [[nodiscard]] std::int64_t duration_ms() const;
};

// A path read from a run record (untrusted: refs come from other machines) that cairn will
// write to: relative, every component accepted by cache::unsafe_component_reason (so no `.`,
// `..` or empty components, nothing in .git/ or .cairn/ in any spelling). Throws Error(input)
// naming the run, `what` ("output", "input", ...) and the reason otherwise.
void check_record_path(const RunRecord& r, const std::string& path, const char* what);

[[nodiscard]] std::string to_run_yaml(const RunRecord& r);
[[nodiscard]] std::string to_params_yaml(const std::vector<Param>& params);
[[nodiscard]] std::string to_paths_yaml(const std::map<std::string, std::string>& paths);
[[nodiscard]] std::string to_metrics_tsv(const std::vector<MetricPoint>& points);

// Reads the files of a run's commit back. Throws Error(input) naming `where` when malformed.
void parse_run_yaml(const std::string& text, const std::string& where, RunRecord& out);
void parse_params_yaml(const std::string& text, const std::string& where, RunRecord& out);
void parse_paths_yaml(const std::string& text, const std::string& where, std::map<std::string, std::string>& out);
void parse_metrics_tsv(const std::string& text, const std::string& where, RunRecord& out);

// ISO 8601 UTC with milliseconds ("2026-11-27T17:59:01.123Z") and back (nullopt if malformed).
[[nodiscard]] std::string format_time(std::int64_t unix_ms);
[[nodiscard]] std::optional<std::int64_t> parse_time(const std::string& text);

} // namespace cairn::run
