#pragma once
// Metrics: points and their summaries, the line format of the live metrics file and of
// `cairn log metric`, scalars captured from a command's stdout, and the metric files a command
// writes (JSON, YAML, CSV, TSV). How a run record stores them (metrics.tsv) is core/run/record.hpp.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace re2 {
class RE2;
}

namespace cairn::metrics {

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

// `nan`, `inf`, `-inf`, or the shortest text that reads back as the same double.
[[nodiscard]] std::string format_value(double value);

struct MetricSummary {
    double last = 0, min = 0, max = 0;
    std::int64_t step = 0; // step of the last point
    std::uint64_t count = 0;
};

// A metric value from its whole text: a number as strtod reads it, or nan, inf, -inf as
// format_value() writes them (also `NaN`, `Inf`, `infinity`); nullopt for anything else.
[[nodiscard]] std::optional<double> parse_value(std::string_view text);

// Throws Error(input) naming `where` for a metric name a metrics.tsv line cannot hold: empty, or
// with a tab, newline or other control character.
void check_metric_key(const std::string& key, const std::string& where);

// Lines of the staging metrics file that are not metric points.
struct BadMetricLines {
    std::size_t count = 0;
    std::string first; // "line N: <error>"
};

// The points of a staging metrics.tsv, numbered as the recorder numbers them. Malformed lines
// are left out and counted in *bad; an unfinished last line (the writer died mid-line) is
// dropped without a word.
[[nodiscard]] std::vector<MetricPoint> parse_live_metrics(std::string_view text, BadMetricLines* bad = nullptr);
// parse_live_metrics() of `file`; no points when it does not exist.
[[nodiscard]] std::vector<MetricPoint> read_live_metrics(const std::filesystem::path& file, BadMetricLines* bad = nullptr);

} // namespace cairn::metrics
