#include "core/run/record.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <ctime>
#include <functional>
#include <regex>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "core/cache/tree.hpp"
#include "core/util/error.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/yaml_util.hpp"

namespace cairn::run {
namespace {

std::optional<double> parse_double(std::string_view text) {
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

template <typename T> std::optional<T> parse_int(std::string_view text) {
    T v{};
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
    return v;
}

} // namespace

Param parse_param(const std::string& key, const std::string& value) {
    static const std::regex k_int("[-+]?[0-9]+");
    static const std::regex k_float("[-+]?([0-9]+\\.[0-9]*|\\.[0-9]+|[0-9]+)([eE][-+]?[0-9]+)?|[-+]?(nan|inf)");
    if (std::regex_match(value, k_int) && parse_int<std::int64_t>(value.front() == '+' ? value.substr(1) : value))
        return {key, "int", std::to_string(*parse_int<std::int64_t>(value.front() == '+' ? value.substr(1) : value))};
    if (std::regex_match(value, k_float)) return {key, "float", format_value(*parse_double(value))};
    if (value == "true" || value == "false") return {key, "bool", value};
    return {key, "string", value};
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
    auto value = parse_double(fields[1]);
    if (!value) fail(ErrorKind::input, "{}: metric '{}' has a value that is not a number: '{}'", where, p.key, fields[1]);
    p.value = *value;
    if (fields.size() >= 3 && fields[2] != "-") {
        auto step = parse_int<std::int64_t>(fields[2]);
        if (!step) fail(ErrorKind::input, "{}: step '{}' of metric '{}' is not an integer", where, fields[2], p.key);
        p.step = *step;
    } else {
        p.step = next_step ? (*next_step)[p.key] : -1;
    }
    if (next_step) (*next_step)[p.key] = p.step + 1;
    p.unix_ms = default_ms;
    if (fields.size() == 4) {
        auto ms = parse_int<std::int64_t>(fields[3]);
        if (!ms) fail(ErrorKind::input, "{}: time '{}' is not milliseconds since the epoch", where, fields[3]);
        p.unix_ms = *ms;
    }
    return p;
}

void ScalarCapture::feed(std::string_view chunk) {
    for (char c : chunk) {
        if (c == '\n') {
            line(m_partial);
            m_partial.clear();
        } else if (m_partial.size() < 4096) {
            m_partial += c;
        }
    }
}

std::vector<MetricPoint> ScalarCapture::finish() {
    if (!m_partial.empty()) line(m_partial);
    m_partial.clear();
    return std::move(m_points);
}

const std::string ScalarCapture::k_default_pattern =
    R"(\s*([A-Za-z_][A-Za-z0-9_./-]*)\s*:\s*([-+]?(?:[0-9]+\.?[0-9]*(?:[eE][-+]?[0-9]+)?|\.[0-9]+(?:[eE][-+]?[0-9]+)?|nan|inf))\s*(?:\(step\s*(-?[0-9]+)\))?\s*\r?)";

ScalarCapture::ScalarCapture(const std::vector<std::string>& patterns, const std::string& where)
    : m_sources(patterns), m_where(where) {
    // Compiling a std::regex costs ~0.3 ms, a tenth of a `cairn run -- true`: the built-in
    // pattern (known to be valid) waits for the first line of output; the user's are checked now.
    if (patterns != std::vector<std::string>{k_default_pattern}) compile();
}

void ScalarCapture::compile() {
    m_compiled = true;
    const std::string& where = m_where;
    for (const auto& p : m_sources) {
        try {
            std::regex re(p);
            if (re.mark_count() < 2)
                fail(ErrorKind::input, "{}: pattern '{}' needs two groups: (key) and (value)", where, p);
            m_patterns.push_back(std::move(re));
        } catch (const std::regex_error& e) {
            fail(ErrorKind::input, "{}: invalid pattern '{}': {}", where, p, e.what());
        }
    }
}

void ScalarCapture::line(std::string_view text) {
    if (!m_compiled) compile();
    static const std::regex k_step(R"(\s*step\s*:\s*(-?[0-9]+)\s*\r?)");
    std::string s(text);
    std::smatch m;
    if (std::regex_match(s, m, k_step)) {
        m_step = std::stoll(m[1].str());
        return;
    }
    bool matched = false;
    for (const auto& re : m_patterns)
        if ((matched = std::regex_match(s, m, re))) break;
    if (!matched) return;
    std::string step = m.size() > 3 && m[3].matched ? m[3].str() : m_step >= 0 ? std::to_string(m_step) : "-";
    try {
        if (auto p = parse_metric_line(m[1].str() + " " + m[2].str() + " " + step, &m_next,
                                       std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count(),
                                       "stdout"))
            m_points.push_back(*p);
    } catch (const Error&) {
    }
}

std::vector<Param> flatten_params_yaml(const std::string& text, const std::string& where) {
    YAML::Node root = workspace::parse_yaml(text, where);
    std::vector<Param> out;
    if (!root || root.IsNull()) return out;
    if (!root.IsMap()) fail(ErrorKind::input, "{}: a parameters file must be a mapping", workspace::where(where, root));
    std::function<void(const YAML::Node&, const std::string&)> walk = [&](const YAML::Node& node, const std::string& prefix) {
        for (const auto& kv : node) {
            std::string key = prefix.empty() ? kv.first.as<std::string>() : prefix + "." + kv.first.as<std::string>();
            const YAML::Node& v = kv.second;
            if (v.IsMap()) {
                walk(v, key);
            } else if (v.IsScalar()) {
                out.push_back(v.Tag() == "!" ? Param{key, "string", v.as<std::string>()} : parse_param(key, v.as<std::string>()));
            } else if (v.IsSequence()) {
                YAML::Emitter e;
                e << YAML::Flow << v;
                out.push_back({key, "string", e.c_str()});
            } else {
                out.push_back({key, "string", ""});
            }
        }
    };
    try {
        walk(root, "");
    } catch (const YAML::Exception& e) {
        fail(ErrorKind::input, "{}:{}: {}", where, e.mark.line + 1, e.msg);
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
    return out;
}

std::string override_params_yaml(const std::string& text, const std::string& key, const Param& value,
                                 const std::string& where) {
    YAML::Node root = workspace::parse_yaml(text, where);
    std::vector<std::string> parts = util::split(key, '.');
    // yaml-cpp's operator[] on a non-const node inserts; walk with copies that share the tree.
    YAML::Node node = root;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (!node.IsMap() || !node[parts[i]]) fail(ErrorKind::input, "{}: no parameter '{}' to override", where, key);
        YAML::Node child = node[parts[i]];
        node.reset(child);
    }
    if (!node.IsScalar()) fail(ErrorKind::input, "{}: '{}' is not a single value and cannot be overridden", where, key);
    node = value.text;
    if (value.type == "string") node.SetStyle(YAML::EmitterStyle::Default);
    YAML::Emitter out;
    out << root;
    return std::string(out.c_str()) + "\n";
}

std::vector<MetricPoint> read_metric_file(const std::string& text, const std::string& where, std::int64_t unix_ms,
                                          std::map<std::string, std::int64_t> next) {
    std::vector<MetricPoint> out;
    auto add = [&](const std::string& key, double value, std::optional<std::int64_t> step) {
        std::int64_t& n = next[key];
        std::int64_t s = step.value_or(n);
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
                if (header[c] == "step") step = parse_int<std::int64_t>(util::trim(cells[c]));
            for (std::size_t c = 0; c < cells.size(); ++c) {
                if (header[c] == "step") continue;
                if (auto v = parse_double(util::trim(cells[c]))) add(header[c], *v, step);
            }
        }
        return out;
    }
    YAML::Node root = workspace::parse_yaml(text, where);
    std::function<void(const YAML::Node&, const std::string&)> walk = [&](const YAML::Node& node, const std::string& prefix) {
        if (node.IsScalar()) {
            if (auto v = parse_double(node.as<std::string>()); v && !prefix.empty()) add(prefix, *v, std::nullopt);
        } else if (node.IsMap()) {
            for (const auto& kv : node) {
                std::string key = kv.first.as<std::string>();
                walk(kv.second, prefix.empty() ? key : prefix + "." + key);
            }
        } else if (node.IsSequence()) {
            for (const auto& item : node) {
                if (item.IsMap()) {
                    std::optional<std::int64_t> step;
                    if (item["step"] && item["step"].IsScalar()) step = parse_int<std::int64_t>(item["step"].as<std::string>());
                    for (const auto& kv : item) {
                        std::string key = kv.first.as<std::string>();
                        if (key == "step" || !kv.second.IsScalar()) continue;
                        if (auto v = parse_double(kv.second.as<std::string>()))
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

std::vector<std::string> substitute_params(const std::vector<std::string>& argv, const std::vector<Param>& params) {
    std::vector<std::string> out;
    for (std::string arg : argv) {
        for (const auto& p : params) {
            std::string placeholder = "{" + p.key + "}";
            for (std::size_t pos = 0; (pos = arg.find(placeholder, pos)) != std::string::npos; pos += p.text.size())
                arg.replace(pos, placeholder.size(), p.text);
        }
        out.push_back(std::move(arg));
    }
    return out;
}

std::map<std::string, MetricSummary> RunRecord::metric_summary() const {
    if (summary && metrics.empty()) return *summary;
    std::map<std::string, MetricSummary> out;
    for (const auto& p : metrics) {
        auto [it, fresh] = out.try_emplace(p.key);
        MetricSummary& s = it->second;
        if (fresh) {
            s.min = s.max = p.value;
        } else {
            // fmin/fmax ignore NaN, so one nan point does not hide the real extremes.
            s.min = std::fmin(s.min, p.value);
            s.max = std::fmax(s.max, p.value);
        }
        s.last = p.value;
        s.step = p.step;
        ++s.count;
    }
    return out;
}

std::int64_t RunRecord::duration_ms() const {
    if (end_ms) return end_ms - start_ms;
    std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
    return std::max<std::int64_t>(now - start_ms, 0);
}

std::string format_time(std::int64_t unix_ms) {
    std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
    std::tm tm{};
    ::gmtime_r(&secs, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    return fmt::format("{}.{:03d}Z", buf, static_cast<int>(unix_ms % 1000));
}

std::optional<std::int64_t> parse_time(const std::string& text) {
    std::tm tm{};
    int ms = 0;
    if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                    &tm.tm_min, &tm.tm_sec, &ms) != 7)
        return std::nullopt;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return static_cast<std::int64_t>(::timegm(&tm)) * 1000 + ms;
}

void check_record_path(const RunRecord& r, const std::string& path, const char* what) {
    // Every component as safe as a tree entry's name (which also rules out absolute paths and
    // empty components), and nothing inside .git/ or .cairn/.
    auto parts = util::split(path, '/');
    bool ok = std::all_of(parts.begin(), parts.end(), [](const std::string& c) { return cache::is_safe_component(c); });
    if (ok && (parts.front() == ".git" || parts.front() == ".cairn")) ok = false;
    if (!ok) fail(ErrorKind::input, "run {}: refusing the unsafe {} path '{}' in its record", r.id.substr(0, 8), what, path);
}

std::string to_run_yaml(const RunRecord& r) {
    YAML::Emitter out;
    out << YAML::BeginMap;
    out << YAML::Key << "version" << YAML::Value << 1;
    out << YAML::Key << "id" << YAML::Value << r.id;
    out << YAML::Key << "name" << YAML::Value << r.name;
    out << YAML::Key << "experiment" << YAML::Value << r.experiment;
    out << YAML::Key << "command" << YAML::Value << YAML::Flow << r.command;
    out << YAML::Key << "cwd" << YAML::Value << r.cwd;
    out << YAML::Key << "start" << YAML::Value << format_time(r.start_ms);
    if (r.end_ms) {
        out << YAML::Key << "end" << YAML::Value << format_time(r.end_ms);
        out << YAML::Key << "duration_s" << YAML::Value << static_cast<double>(r.end_ms - r.start_ms) / 1000.0;
    }
    out << YAML::Key << "status" << YAML::Value << r.status;
    out << YAML::Key << "exit_code" << YAML::Value << r.exit_code;
    out << YAML::Key << "host" << YAML::Value << r.host;
    out << YAML::Key << "user" << YAML::Value << r.user;
    out << YAML::Key << "os" << YAML::Value << r.os;
    if (!r.cpu.empty()) out << YAML::Key << "cpu" << YAML::Value << r.cpu;
    out << YAML::Key << "cairn_version" << YAML::Value << r.cairn_version;
    out << YAML::Key << "executable" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "path" << YAML::Value << r.executable;
    out << YAML::Key << "sha256" << YAML::Value << r.executable_hash;
    out << YAML::EndMap;
    out << YAML::Key << "git" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "base" << YAML::Value << r.git_base;
    out << YAML::Key << "branch" << YAML::Value << r.git_branch;
    out << YAML::Key << "dirty" << YAML::Value << r.git_dirty;
    out << YAML::Key << "snapshot" << YAML::Value << r.git_snapshot;
    out << YAML::EndMap;
    out << YAML::Key << "env" << YAML::Value << YAML::BeginMap;
    for (const auto& [k, v] : r.env) out << YAML::Key << k << YAML::Value << v;
    out << YAML::EndMap;
    out << YAML::Key << "env_names" << YAML::Value << YAML::Flow << r.env_names;
    if (!r.log_object.empty()) out << YAML::Key << "log" << YAML::Value << r.log_object;
    if (!r.param_files.empty()) out << YAML::Key << "param_files" << YAML::Value << YAML::Flow << r.param_files;
    if (!r.metric_files.empty()) out << YAML::Key << "metric_files" << YAML::Value << YAML::Flow << r.metric_files;
    if (!r.capture) out << YAML::Key << "capture" << YAML::Value << false;
    if (!r.reproduces.empty()) out << YAML::Key << "reproduces" << YAML::Value << r.reproduces;
    out << YAML::Key << "tags" << YAML::Value << YAML::BeginMap;
    for (const auto& [k, v] : r.tags) out << YAML::Key << k << YAML::Value << v;
    out << YAML::EndMap;
    out << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

std::string to_params_yaml(const std::vector<Param>& params) {
    std::string out;
    for (const auto& p : params) {
        YAML::Emitter e;
        e << YAML::BeginMap << YAML::Key << p.key << YAML::Value;
        if (p.type == "string")
            e << YAML::DoubleQuoted << p.text;
        else
            e << p.text;
        e << YAML::EndMap;
        out += e.c_str();
        out += "\n";
    }
    return out;
}

std::string to_paths_yaml(const std::map<std::string, std::string>& paths) {
    if (paths.empty()) return "{}\n";
    YAML::Emitter out;
    out << YAML::BeginMap;
    for (const auto& [path, id] : paths) out << YAML::Key << path << YAML::Value << id;
    out << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

std::string to_metrics_tsv(const std::vector<MetricPoint>& points) {
    std::string out;
    for (const auto& p : points) out += fmt::format("{}\t{}\t{}\t{}\n", p.key, p.step, format_value(p.value), p.unix_ms);
    return out;
}

void parse_run_yaml(const std::string& text, const std::string& where, RunRecord& r) {
    YAML::Node root = workspace::parse_yaml(text, where);
    if (!root.IsMap()) fail(ErrorKind::input, "{}: not a run record", where);
    try {
        auto str = [&](const char* key) { return root[key] ? root[key].as<std::string>() : std::string(); };
        r.id = str("id");
        r.name = str("name");
        r.experiment = str("experiment");
        if (root["command"]) r.command = root["command"].as<std::vector<std::string>>();
        r.cwd = str("cwd");
        r.start_ms = parse_time(str("start")).value_or(0);
        r.end_ms = parse_time(str("end")).value_or(0);
        r.status = str("status");
        r.exit_code = root["exit_code"] ? root["exit_code"].as<int>() : 0;
        r.host = str("host");
        r.user = str("user");
        r.os = str("os");
        r.cpu = str("cpu");
        r.cairn_version = str("cairn_version");
        if (auto exe = root["executable"]; exe && exe.IsMap()) {
            r.executable = exe["path"] ? exe["path"].as<std::string>() : "";
            r.executable_hash = exe["sha256"] ? exe["sha256"].as<std::string>() : "";
        }
        if (auto g = root["git"]; g && g.IsMap()) {
            r.git_base = g["base"] ? g["base"].as<std::string>() : "";
            r.git_branch = g["branch"] ? g["branch"].as<std::string>() : "";
            r.git_dirty = g["dirty"] && g["dirty"].as<bool>();
            r.git_snapshot = g["snapshot"] ? g["snapshot"].as<std::string>() : "";
        }
        if (auto env = root["env"]; env && env.IsMap())
            for (const auto& kv : env) r.env[kv.first.as<std::string>()] = kv.second.as<std::string>();
        if (root["env_names"]) r.env_names = root["env_names"].as<std::vector<std::string>>();
        r.log_object = str("log");
        if (root["param_files"]) r.param_files = root["param_files"].as<std::vector<std::string>>();
        r.reproduces = str("reproduces");
        if (root["metric_files"]) r.metric_files = root["metric_files"].as<std::vector<std::string>>();
        r.capture = !root["capture"] || root["capture"].as<bool>();
        if (auto tags = root["tags"]; tags && tags.IsMap())
            for (const auto& kv : tags) r.tags[kv.first.as<std::string>()] = kv.second.as<std::string>();
    } catch (const YAML::Exception& e) {
        fail(ErrorKind::input, "{}:{}: {}", where, e.mark.line + 1, e.msg);
    }
    if (r.id.empty()) fail(ErrorKind::input, "{}: missing 'id'", where);
}

void parse_params_yaml(const std::string& text, const std::string& where, RunRecord& r) {
    YAML::Node root = workspace::parse_yaml(text, where);
    if (!root || root.IsNull()) return;
    if (!root.IsMap()) fail(ErrorKind::input, "{}: expected a mapping", where);
    for (const auto& kv : root) {
        std::string key = kv.first.as<std::string>();
        std::string value = kv.second.as<std::string>();
        // Strings were written double-quoted; everything else re-types itself.
        bool quoted = kv.second.Tag() == "!";
        r.params.push_back(quoted ? Param{key, "string", value} : parse_param(key, value));
    }
}

void parse_paths_yaml(const std::string& text, const std::string& where, std::map<std::string, std::string>& out) {
    YAML::Node root = workspace::parse_yaml(text, where);
    if (!root || root.IsNull()) return;
    if (!root.IsMap()) fail(ErrorKind::input, "{}: expected a mapping", where);
    for (const auto& kv : root) out[kv.first.as<std::string>()] = kv.second.as<std::string>();
}

void parse_metrics_tsv(const std::string& text, const std::string& where, RunRecord& r) {
    std::size_t line_no = 0;
    for (const auto& line : util::split(text, '\n')) {
        ++line_no;
        if (line.empty()) continue;
        auto fields = util::split(line, '\t');
        auto step = fields.size() == 4 ? parse_int<std::int64_t>(fields[1]) : std::nullopt;
        auto value = fields.size() == 4 ? parse_double(fields[2]) : std::nullopt;
        auto ms = fields.size() == 4 ? parse_int<std::int64_t>(fields[3]) : std::nullopt;
        if (!step || !value || !ms) fail(ErrorKind::input, "{}:{}: malformed metric line", where, line_no);
        r.metrics.push_back({fields[0], *step, *value, *ms});
    }
}

} // namespace cairn::run
