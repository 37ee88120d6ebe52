#include "core/metrics/metrics.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <functional>

#include <fmt/format.h>
#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include "core/fs/file.hpp"
#include "core/util/error.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/yaml_util.hpp"

namespace cairn::metrics {
namespace {

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Steps stay far from the integer limits, so that "the next step" can always be computed.
constexpr std::int64_t k_max_step = std::int64_t{1} << 62;

void check_step(std::int64_t step, const std::string& where, const std::string& key) {
    if (step > k_max_step || step < -k_max_step)
        fail(ErrorKind::input, "{}: step {} of metric '{}' is out of range (at most 2^62 in size)", where, step, key);
}

} // namespace

std::optional<double> parse_value(std::string_view text) {
    std::string s(text);
    if (s == "nan" || s == "NaN" || s == "-nan") return std::nan("");
    if (s == "inf" || s == "+inf" || s == "Inf" || s == "infinity") return HUGE_VAL;
    if (s == "-inf" || s == "-Inf" || s == "-infinity") return -HUGE_VAL;
    if (s.empty()) return std::nullopt;
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (end != s.c_str() + s.size()) return std::nullopt;
    return v;
}

// A metric key is stored as the first field of a metrics.tsv line: no tab, newline or other
// control character may be in it.
void check_metric_key(const std::string& key, const std::string& where) {
    if (key.empty()) fail(ErrorKind::input, "{}: a metric needs a name", where);
    for (unsigned char c : key)
        if (c < 0x20 || c == 0x7f)
            fail(ErrorKind::input, "{}: metric name '{}' holds a control character", where, key);
}

std::string format_value(double value) {
    if (std::isnan(value)) return "nan";
    if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
    return fmt::format("{}", value);
}

std::optional<MetricPoint> parse_metric_line(std::string_view line, std::map<std::string, std::int64_t>* next_step,
                                             std::int64_t default_ms, const std::string& where) {
    std::vector<std::string> fields;
    std::string current;
    for (char c : line) {
        if (c == ' ' || c == '\t' || c == '\r') {
            if (!current.empty()) fields.push_back(std::move(current));
            current.clear();
        } else {
            current += c;
        }
    }
    if (!current.empty()) fields.push_back(std::move(current));
    if (fields.empty()) return std::nullopt;
    if (fields.size() < 2 || fields.size() > 4)
        fail(ErrorKind::input, "{}: expected 'KEY VALUE [STEP [UNIX_MS]]', got '{}'", where, std::string(line));
    MetricPoint p;
    p.key = fields[0];
    check_metric_key(p.key, where);
    auto value = parse_value(fields[1]);
    if (!value) fail(ErrorKind::input, "{}: metric '{}' has a value that is not a number: '{}'", where, p.key, fields[1]);
    p.value = *value;
    if (fields.size() >= 3 && fields[2] != "-") {
        auto step = util::parse_integer<std::int64_t>(fields[2]);
        if (!step) fail(ErrorKind::input, "{}: step '{}' of metric '{}' is not an integer", where, fields[2], p.key);
        p.step = *step;
        check_step(p.step, where, p.key);
    } else {
        p.step = next_step ? (*next_step)[p.key] : -1;
    }
    if (next_step) (*next_step)[p.key] = p.step + 1;
    p.unix_ms = default_ms;
    if (fields.size() == 4) {
        auto ms = util::parse_integer<std::int64_t>(fields[3]);
        if (!ms) fail(ErrorKind::input, "{}: time '{}' is not milliseconds since the epoch", where, fields[3]);
        p.unix_ms = *ms;
    }
    return p;
}

void ScalarCapture::feed(std::string_view chunk) {
    while (!chunk.empty()) {
        std::size_t nl = chunk.find('\n');
        std::string_view piece = chunk.substr(0, nl);
        // An overlong line is skipped whole: matching its first part could invent a metric.
        if (!m_overlong && m_partial.size() + piece.size() <= k_line_limit)
            m_partial.append(piece);
        else
            m_overlong = true;
        if (nl == std::string_view::npos) return;
        if (!m_overlong) line(m_partial);
        m_partial.clear();
        m_overlong = false;
        chunk.remove_prefix(nl + 1);
    }
}

std::vector<MetricPoint> ScalarCapture::take() {
    std::vector<MetricPoint> out = std::move(m_points);
    m_points.clear();
    return out;
}

std::vector<MetricPoint> ScalarCapture::finish() {
    if (!m_partial.empty() && !m_overlong) line(m_partial);
    m_partial.clear();
    m_overlong = false;
    return take();
}

// The key starts the line, as in Guild's default patterns: an indented `  lr: 0.3` (a printed
// config, a nested YAML dump) is not a metric.
const std::string ScalarCapture::k_default_pattern =
    R"(([A-Za-z_][A-Za-z0-9_./-]*)\s*:\s*([-+]?(?:[0-9]+\.?[0-9]*(?:[eE][-+]?[0-9]+)?|\.[0-9]+(?:[eE][-+]?[0-9]+)?|nan|inf))\s*(?:\(step\s*(-?[0-9]+)\))?\s*\r?)";

ScalarCapture::ScalarCapture(const std::vector<std::string>& patterns, const std::string& where)
    : m_sources(patterns), m_where(where) {
    // The built-in pattern (known to be valid) is compiled on the first line of output, so that
    // `cairn run -- true` does not pay for it; the user's are checked now.
    if (patterns != std::vector<std::string>{k_default_pattern}) compile();
}

ScalarCapture::~ScalarCapture() = default;

void ScalarCapture::compile() {
    m_compiled = true;
    re2::RE2::Options options;
    options.set_log_errors(false);
    for (const auto& p : m_sources) {
        auto re = std::make_unique<re2::RE2>(p, options);
        if (!re->ok()) fail(ErrorKind::input, "{}: invalid pattern '{}': {}", m_where, p, re->error());
        if (re->NumberOfCapturingGroups() < 2)
            fail(ErrorKind::input, "{}: pattern '{}' needs two groups: (key) and (value)", m_where, p);
        m_patterns.push_back(std::move(re));
    }
}

void ScalarCapture::line(std::string_view text) {
    if (!m_compiled) compile();
    static const re2::RE2 k_step(R"(step\s*:\s*(-?[0-9]+)\s*\r?)");
    re2::StringPiece input(text.data(), text.size());
    re2::StringPiece step_text;
    if (re2::RE2::FullMatch(input, k_step, &step_text)) {
        if (auto step = util::parse_integer<std::int64_t>(std::string_view(step_text.data(), step_text.size()))) m_step = *step;
        return;
    }
    // m[0] is the whole line, m[1] the key, m[2] the value, m[3] the step (null when absent).
    re2::StringPiece m[4];
    bool matched = false;
    for (const auto& re : m_patterns) {
        int groups = std::min(re->NumberOfCapturingGroups(), 3);
        for (auto& g : m) g = re2::StringPiece();
        if ((matched = re->Match(input, 0, input.size(), re2::RE2::ANCHOR_BOTH, m, groups + 1))) break;
    }
    if (!matched) return;
    auto str = [](const re2::StringPiece& p) { return std::string(p.data() ? p.data() : "", p.size()); };
    std::string step = m[3].data() ? str(m[3]) : m_step >= 0 ? std::to_string(m_step) : "-";
    try {
        if (auto p = parse_metric_line(str(m[1]) + " " + str(m[2]) + " " + step, &m_next,
                                       now_ms(),
                                       "stdout"))
            m_points.push_back(*p);
    } catch (const Error&) {
    }
}

std::vector<MetricPoint> read_metric_file(const std::string& text, const std::string& where, std::int64_t unix_ms,
                                          std::map<std::string, std::int64_t> next) {
    std::vector<MetricPoint> out;
    auto add = [&](const std::string& key, double value, std::optional<std::int64_t> step) {
        check_metric_key(key, where);
        std::int64_t& n = next[key];
        std::int64_t s = step.value_or(n);
        check_step(s, where, key);
        n = s + 1;
        out.push_back({key, s, value, unix_ms});
    };
    if (util::ends_with(where, ".csv") || util::ends_with(where, ".tsv")) {
        char sep = util::ends_with(where, ".csv") ? ',' : '\t';
        auto lines = util::split(text, '\n');
        if (lines.empty() || util::trim(lines[0]).empty()) return out;
        std::vector<std::string> header;
        for (const auto& h : util::split(std::string(util::trim(lines[0])), sep)) header.emplace_back(util::trim(h));
        for (std::size_t i = 1; i < lines.size(); ++i) {
            std::string line(util::trim(lines[i]));
            if (line.empty()) continue;
            auto cells = util::split(line, sep);
            if (cells.size() != header.size())
                fail(ErrorKind::input, "{}:{}: {} fields where the header has {}", where, i + 1, cells.size(), header.size());
            std::optional<std::int64_t> step;
            for (std::size_t c = 0; c < cells.size(); ++c)
                if (header[c] == "step") step = util::parse_integer<std::int64_t>(util::trim(cells[c]));
            for (std::size_t c = 0; c < cells.size(); ++c) {
                if (header[c] == "step") continue;
                if (auto v = parse_value(util::trim(cells[c]))) add(header[c], *v, step);
            }
        }
        return out;
    }
    YAML::Node root = workspace::parse_yaml(text, where);
    std::function<void(const YAML::Node&, const std::string&)> walk = [&](const YAML::Node& node, const std::string& prefix) {
        if (node.IsScalar()) {
            if (auto v = parse_value(node.as<std::string>()); v && !prefix.empty()) add(prefix, *v, std::nullopt);
        } else if (node.IsMap()) {
            for (const auto& kv : node) {
                if (!kv.first.IsScalar())
                    fail(ErrorKind::input, "{}: a metric name must be a plain name", workspace::where(where, kv.first));
                std::string key = kv.first.Scalar();
                walk(kv.second, prefix.empty() ? key : prefix + "." + key);
            }
        } else if (node.IsSequence()) {
            for (const auto& item : node) {
                if (item.IsMap()) {
                    std::optional<std::int64_t> step;
                    if (item["step"] && item["step"].IsScalar()) step = util::parse_integer<std::int64_t>(item["step"].as<std::string>());
                    for (const auto& kv : item) {
                        if (!kv.first.IsScalar())
                            fail(ErrorKind::input, "{}: a metric name must be a plain name", workspace::where(where, kv.first));
                        std::string key = kv.first.Scalar();
                        if (key == "step" || !kv.second.IsScalar()) continue;
                        if (auto v = parse_value(kv.second.as<std::string>()))
                            add(prefix.empty() ? key : prefix + "." + key, *v, step);
                    }
                } else {
                    walk(item, prefix);
                }
            }
        }
    };
    try {
        walk(root, "");
    } catch (const YAML::Exception& e) {
        fail(ErrorKind::input, "{}:{}: {}", where, e.mark.line + 1, e.msg);
    }
    return out;
}

std::vector<MetricPoint> parse_live_metrics(std::string_view text, BadMetricLines* bad) {
    std::vector<MetricPoint> out;
    std::map<std::string, std::int64_t> next;
    std::size_t line_no = 0;
    std::int64_t fallback = now_ms();
    std::vector<std::string> lines = util::split(text, '\n');
    for (std::size_t i = 0; i < lines.size(); ++i) {
        ++line_no;
        try {
            if (auto p = parse_metric_line(lines[i], &next, fallback, fmt::format("line {}", line_no))) out.push_back(*p);
        } catch (const Error& e) {
            // A program may die mid-line: an unfinished last line is dropped without a word.
            bool unfinished = i + 1 == lines.size();
            if (bad && !unfinished && bad->count++ == 0) bad->first = e.what();
        }
    }
    return out;
}

std::vector<MetricPoint> read_live_metrics(const std::filesystem::path& file, BadMetricLines* bad) {
    auto text = fs::read_file_if_exists(file);
    return text ? parse_live_metrics(*text, bad) : std::vector<MetricPoint>{};
}

} // namespace cairn::metrics
