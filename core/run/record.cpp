#include "core/run/record.hpp"

#include <charconv>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <ctime>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "core/cache/tree.hpp"
#include "core/hash/hash.hpp"
#include "core/util/error.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/yaml_util.hpp"

namespace cairn::run {

bool looks_secret(std::string_view name) {
    std::string upper(name);
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (const char* word : {"TOKEN", "SECRET", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL"})
        if (upper.find(word) != std::string::npos) return true;
    // AUTH, AUTH_TOKEN, OAUTH, AUTHORIZATION, but not the author of a commit or an authority.
    for (std::size_t at = upper.find("AUTH"); at != std::string::npos; at = upper.find("AUTH", at + 1)) {
        std::string_view rest = std::string_view(upper).substr(at + 4);
        if (!util::starts_with(rest, "OR") || util::starts_with(rest, "ORIZ") || util::starts_with(rest, "ORIS")) return true;
    }
    return false;
}

std::string redact_urls(std::string_view text) {
    std::string out(text);
    for (std::size_t scheme = out.find("://"); scheme != std::string::npos; scheme = out.find("://", scheme + 3)) {
        std::size_t start = scheme + 3;
        std::size_t end = out.find_first_of("/?# \t\n\"'", start);
        if (end == std::string::npos) end = out.size();
        std::size_t at = out.rfind('@', end == 0 ? 0 : end - 1);
        if (at == std::string::npos || at < start) continue;
        std::size_t colon = out.find(':', start);
        if (colon == std::string::npos || colon > at || colon + 1 == at) continue;
        out.replace(colon + 1, at - colon - 1, k_redacted);
    }
    return out;
}

namespace {

// Redacts one word of a command (an argument, or a word of a shell script in one). `pending`
// says that the previous word was a secret option whose value is this word.
std::string redact_bare_word(const std::string& word, bool& pending);

// Shell quotes around a word of a script (`'--api-key=V'`, `--token "V"`) are kept around it.
std::string redact_word(const std::string& word, bool& pending) {
    std::size_t lead = std::min(word.find_first_not_of("'\""), word.size());
    std::size_t trail = word.size() - std::max(lead, std::min(word.find_last_not_of("'\"") + 1, word.size()));
    if (lead == 0 && trail == 0) return redact_bare_word(word, pending);
    std::string core = word.substr(lead, word.size() - lead - trail);
    return word.substr(0, lead) + redact_bare_word(core, pending) + word.substr(word.size() - trail);
}

std::string redact_bare_word(const std::string& word, bool& pending) {
    bool value_of_previous = pending;
    pending = false;
    if (value_of_previous && !util::starts_with(word, "-")) return std::string(k_redacted);
    std::size_t dashes = word.find_first_not_of('-');
    if (dashes >= 1 && dashes <= 2 && std::isalpha(static_cast<unsigned char>(word[dashes]))) {
        std::size_t eq = word.find('=');
        std::string_view name = std::string_view(word).substr(dashes, eq == std::string::npos ? std::string::npos : eq - dashes);
        // `--no-auth` and the like are switches, not options with values.
        bool negated = util::starts_with(name, "no-") || util::starts_with(name, "no_");
        if (looks_secret(name) && !negated) {
            if (eq == std::string::npos) {
                pending = true;
                return word;
            }
            if (eq + 1 < word.size()) return word.substr(0, eq + 1) + std::string(k_redacted);
        }
    } else if (std::size_t eq = word.find('='); eq != std::string::npos && eq > 0) {
        // Environment assignments, as `env` and shells take them: upper-case names only, so
        // that `model.key_dim=64` (Hydra, argparse-style) is left alone.
        std::string_view name = std::string_view(word).substr(0, eq);
        bool variable = std::all_of(name.begin(), name.end(), [](char c) {
            return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        }) && !(name[0] >= '0' && name[0] <= '9');
        if (variable && looks_secret(name) && eq + 1 < word.size()) return word.substr(0, eq + 1) + std::string(k_redacted);
    }
    return redact_urls(word);
}

} // namespace

std::vector<std::string> redact_command(const std::vector<std::string>& argv) {
    std::vector<std::string> out;
    out.reserve(argv.size());
    bool pending = false;
    for (std::size_t i = 0; i < argv.size(); ++i) {
        const std::string& arg = argv[i];
        if (i == 0) {
            out.push_back(redact_urls(arg));
            continue;
        }
        if (arg.find_first_of(" \t\n") == std::string::npos) {
            out.push_back(redact_word(arg, pending));
            continue;
        }
        // A shell script (`sh -c '...'`) or a value with spaces: its words are redacted in place,
        // the spacing kept. As a whole it can still be the value of a secret option.
        if (pending) {
            pending = false;
            out.push_back(std::string(k_redacted));
            continue;
        }
        std::string script;
        bool inner = false;
        for (std::size_t pos = 0; pos < arg.size();) {
            std::size_t end = arg.find_first_of(" \t\n", pos);
            if (end == pos) {
                end = arg.find_first_not_of(" \t\n", pos);
                if (end == std::string::npos) end = arg.size();
                script += arg.substr(pos, end - pos);
            } else {
                if (end == std::string::npos) end = arg.size();
                script += redact_word(arg.substr(pos, end - pos), inner);
            }
            pos = end;
        }
        out.push_back(std::move(script));
    }
    return out;
}

std::optional<std::string> redacted_argument(const std::vector<std::string>& command) {
    for (std::size_t i = 0; i < command.size(); ++i) {
        if (command[i].find(k_redacted) == std::string::npos) continue;
        // A value on its own is named with its option: `--token <redacted>`.
        if (command[i] == k_redacted && i > 0 && util::starts_with(command[i - 1], "-")) return command[i - 1] + " " + command[i];
        return command[i];
    }
    return std::nullopt;
}

std::map<std::string, metrics::MetricSummary> RunRecord::metric_summary() const {
    if (summary && metrics.empty()) return *summary;
    std::map<std::string, metrics::MetricSummary> out;
    for (const auto& p : metrics) {
        auto [it, fresh] = out.try_emplace(p.key);
        metrics::MetricSummary& s = it->second;
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
    // Floor division: a time before 1970 (a clock set wrong) still prints as a valid time.
    std::int64_t ms = ((unix_ms % 1000) + 1000) % 1000;
    std::time_t secs = static_cast<std::time_t>((unix_ms - ms) / 1000);
    std::tm tm{};
    ::gmtime_r(&secs, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    return fmt::format("{}.{:03d}Z", buf, static_cast<int>(ms));
}

std::optional<std::int64_t> parse_time(const std::string& text) {
    // Exactly the form format_time writes (YYYY-MM-DDTHH:MM:SS.mmmZ, from 1970 on): sscanf alone
    // would take signs, short fields and days that do not exist.
    if (text.size() != 24) return std::nullopt;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char want = i == 4 || i == 7 ? '-' : i == 10 ? 'T' : i == 13 || i == 16 ? ':' : i == 19 ? '.' : i == 23 ? 'Z' : '0';
        if (want == '0' ? !std::isdigit(static_cast<unsigned char>(text[i])) : text[i] != want) return std::nullopt;
    }
    std::tm tm{};
    int ms = 0;
    if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                    &tm.tm_min, &tm.tm_sec, &ms) != 7 || tm.tm_year < 1970)
        return std::nullopt;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    std::int64_t out = static_cast<std::int64_t>(::timegm(&tm)) * 1000 + ms;
    if (format_time(out) != text) return std::nullopt; // February 30th, hour 25, ...
    return out;
}

void check_record_path(const RunRecord& r, const std::string& path, const char* what) {
    // Every component as safe as a tree entry's name, which also rules out absolute paths, empty
    // components and anything inside .git/ or .cairn/ (in any spelling).
    for (const auto& part : util::split(path, '/'))
        if (auto why = cache::unsafe_component_reason(part))
            fail(ErrorKind::input, "run {}: refusing the unsafe {} path '{}' in its record ('{}': {})",
                 r.id.substr(0, 8), what, path, part, *why);
}

std::optional<std::string> label_problem(std::string_view text) {
    if (!util::is_utf8(text)) return "is not UTF-8 text";
    for (unsigned char c : text)
        if (c < 0x20 || c == 0x7f) return "holds a control character";
    return std::nullopt;
}

std::string to_run_yaml(const RunRecord& r) {
    YAML::Emitter out;
    out << YAML::BeginMap;
    out << YAML::Key << "version" << YAML::Value << 1;
    out << YAML::Key << "id" << YAML::Value << r.id;
    out << YAML::Key << "name" << YAML::Value << r.name;
    out << YAML::Key << "experiment" << YAML::Value << r.experiment;
    if (!r.stage.empty()) out << YAML::Key << "stage" << YAML::Value << r.stage;
    if (!r.pipeline.empty()) out << YAML::Key << "pipeline" << YAML::Value << r.pipeline;
    if (!r.sweep.empty()) out << YAML::Key << "sweep" << YAML::Value << r.sweep;
    if (!r.stage_key.empty()) out << YAML::Key << "stage_key" << YAML::Value << r.stage_key;
    out << YAML::Key << "command" << YAML::Value << YAML::Flow << r.command;
    out << YAML::Key << "cwd" << YAML::Value << r.cwd;
    out << YAML::Key << "start" << YAML::Value << format_time(r.start_ms);
    if (r.end_ms) {
        out << YAML::Key << "end" << YAML::Value << format_time(r.end_ms);
        out << YAML::Key << "duration_s" << YAML::Value << static_cast<double>(r.end_ms - r.start_ms) / 1000.0;
    }
    out << YAML::Key << "status" << YAML::Value << r.status;
    if (!r.reason.empty()) out << YAML::Key << "reason" << YAML::Value << r.reason;
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
    if (!r.executor.empty()) {
        out << YAML::Key << "executor" << YAML::Value << YAML::BeginMap;
        for (const auto& [k, v] : r.executor) out << YAML::Key << k << YAML::Value << v;
        out << YAML::EndMap;
    }
    out << YAML::Key << "tags" << YAML::Value << YAML::BeginMap;
    for (const auto& [k, v] : r.tags) out << YAML::Key << k << YAML::Value << v;
    out << YAML::EndMap;
    out << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

std::string to_params_yaml(const std::vector<params::Param>& params) {
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

std::string to_metrics_tsv(const std::vector<metrics::MetricPoint>& points) {
    std::string out;
    for (const auto& p : points) out += fmt::format("{}\t{}\t{}\t{}\n", p.key, p.step, metrics::format_value(p.value), p.unix_ms);
    return out;
}

namespace {

// Typed access to a mapping from a run's files that names the file, line and field on error
// (yaml-cpp's own BadConversion says only "bad conversion").
class Fields {
public:
    Fields(YAML::Node map, const std::string& where, std::string prefix = "")
        : m_map(std::move(map)), m_where(where), m_prefix(std::move(prefix)) {}

    // A scalar's text; "" when absent or empty.
    [[nodiscard]] std::string text(const char* key) const {
        YAML::Node n = m_map[key];
        if (!n || n.IsNull()) return "";
        if (!n.IsScalar()) bad(n, key, "a string");
        return n.Scalar();
    }
    // text(), refused when label_problem() finds a problem with it.
    [[nodiscard]] std::string label(const char* key) const {
        std::string t = text(key);
        if (label_problem(t)) bad(m_map[key], key, "a string without control characters");
        return t;
    }
    [[nodiscard]] std::vector<std::string> list(const char* key) const {
        std::vector<std::string> out;
        YAML::Node n = m_map[key];
        if (!n || n.IsNull()) return out;
        if (!n.IsSequence()) bad(n, key, "a list of strings");
        for (const auto& item : n) {
            if (!item.IsScalar()) bad(item, key, "a list of strings");
            out.push_back(item.Scalar());
        }
        return out;
    }
    [[nodiscard]] std::map<std::string, std::string> strings(const char* key) const {
        std::map<std::string, std::string> out;
        YAML::Node n = m_map[key];
        if (!n || n.IsNull()) return out;
        if (!n.IsMap()) bad(n, key, "a mapping of names to strings");
        for (const auto& kv : n) {
            if (!kv.first.IsScalar() || !(kv.second.IsScalar() || kv.second.IsNull()))
                bad(kv.first, key, "a mapping of names to strings");
            out[kv.first.Scalar()] = kv.second.IsNull() ? "" : kv.second.Scalar();
        }
        return out;
    }
    [[nodiscard]] std::optional<Fields> map(const char* key) const {
        YAML::Node n = m_map[key];
        if (!n || n.IsNull()) return std::nullopt;
        if (!n.IsMap()) bad(n, key, "a mapping");
        return Fields(n, m_where, m_prefix + key + ".");
    }
    [[nodiscard]] int integer(const char* key, int fallback) const {
        YAML::Node n = m_map[key];
        if (!n) return fallback;
        auto v = n.IsScalar() ? util::parse_integer<int>(n.Scalar()) : std::nullopt;
        if (!v) bad(n, key, "an integer");
        return *v;
    }
    [[nodiscard]] bool boolean(const char* key, bool fallback) const {
        YAML::Node n = m_map[key];
        if (!n) return fallback;
        bool v = false;
        if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) bad(n, key, "true or false");
        return v;
    }
    // A time as format_time() writes it; 0 when absent.
    [[nodiscard]] std::int64_t time(const char* key) const {
        std::string t = text(key);
        if (t.empty()) return 0;
        auto v = parse_time(t);
        if (!v) bad(m_map[key], key, "a UTC time such as 2026-11-27T17:53:11.269Z");
        return *v;
    }

private:
    [[noreturn]] void bad(const YAML::Node& node, const char* key, const char* what) const {
        fail(ErrorKind::input, "{}: '{}{}' must be {}", workspace::where(m_where, node), m_prefix, key, what);
    }
    YAML::Node m_map;
    const std::string& m_where;
    std::string m_prefix;
};

// An object id as cairn writes it: sha256: and 64 lowercase hex digits.
bool is_object_id(const std::string& text) {
    auto d = hash::Digest::from_id(text);
    return d && d->id() == text;
}

// Records say `version: 1`; anything else is refused, a newer one with a hint.
void check_record_version(const YAML::Node& root, const std::string& where, const char* what) {
    YAML::Node v = root["version"];
    if (!v) fail(ErrorKind::input, "{}: missing 'version' (a {} says version: 1)", where, what);
    if (v.IsScalar() && v.Scalar() == "1") return;
    auto n = v.IsScalar() ? util::parse_integer<std::int64_t>(v.Scalar()) : std::nullopt;
    if (n && *n > 1)
        fail(ErrorKind::input, "{}: {} version {} is not supported by this cairn (it reads version 1); upgrade cairn",
             workspace::where(where, v), what, *n);
    fail(ErrorKind::input, "{}: 'version' must be 1, not '{}'", workspace::where(where, v),
         v.IsScalar() ? v.Scalar() : std::string("a ") + (v.IsMap() ? "mapping" : "list"));
}

} // namespace

namespace {

// cairn writes its records as UTF-8 text (YAML cannot hold other bytes in a string, and yaml-cpp
// would write U+FFFD for them): anything else was not written by cairn.
void require_utf8(const std::string& text, const std::string& where) {
    // A NUL byte makes yaml-cpp guess another encoding: not text cairn wrote either.
    if (!util::is_utf8(text) || text.find('\0') != std::string::npos)
        fail(ErrorKind::input, "{}: not UTF-8 text (cairn writes its records as UTF-8)", where);
}

} // namespace

void parse_run_yaml(const std::string& text, const std::string& where, RunRecord& r) {
    require_utf8(text, where);
    YAML::Node root = workspace::parse_yaml(text, where);
    if (!root.IsMap()) fail(ErrorKind::input, "{}: not a run record (expected a mapping)", workspace::where(where, root));
    check_record_version(root, where, "run record");
    Fields f(root, where);
    r.id = f.text("id");
    r.name = f.text("name");
    r.experiment = f.text("experiment");
    r.stage = f.label("stage");
    r.pipeline = f.label("pipeline");
    r.sweep = f.label("sweep");
    r.stage_key = f.label("stage_key");
    r.command = f.list("command");
    r.cwd = f.text("cwd");
    r.start_ms = f.time("start");
    r.end_ms = f.time("end");
    r.status = f.text("status");
    r.reason = f.text("reason");
    r.exit_code = f.integer("exit_code", 0);
    r.host = f.text("host");
    r.user = f.text("user");
    r.os = f.text("os");
    r.cpu = f.text("cpu");
    r.cairn_version = f.text("cairn_version");
    if (auto exe = f.map("executable")) {
        r.executable = exe->text("path");
        r.executable_hash = exe->text("sha256");
    }
    if (auto g = f.map("git")) {
        r.git_base = g->text("base");
        r.git_branch = g->text("branch");
        r.git_dirty = g->boolean("dirty", false);
        r.git_snapshot = g->text("snapshot");
    }
    r.env = f.strings("env");
    r.env_names = f.list("env_names");
    r.log_object = f.text("log");
    if (!r.log_object.empty() && !is_object_id(r.log_object))
        fail(ErrorKind::input, "{}: 'log' must be an object id (sha256:<64 lowercase hex>), not '{}'",
             workspace::where(where, root["log"]), r.log_object);
    r.param_files = f.list("param_files");
    r.reproduces = f.text("reproduces");
    r.metric_files = f.list("metric_files");
    r.capture = f.boolean("capture", true);
    r.tags = f.strings("tags");
    r.executor = f.strings("executor");
    if (r.id.empty()) fail(ErrorKind::input, "{}: missing 'id'", where);
}

void parse_params_yaml(const std::string& text, const std::string& where, RunRecord& r) {
    require_utf8(text, where);
    YAML::Node root = workspace::parse_yaml(text, where);
    if (!root || root.IsNull()) return;
    if (!root.IsMap()) fail(ErrorKind::input, "{}: expected a mapping of parameters", workspace::where(where, root));
    for (const auto& kv : root) {
        if (!kv.first.IsScalar() || !kv.second.IsScalar())
            fail(ErrorKind::input, "{}: expected 'key: value' with a single value", workspace::where(where, kv.first));
        std::string key = kv.first.Scalar();
        std::string value = kv.second.Scalar();
        // Strings were written double-quoted; everything else re-types itself from its text.
        bool quoted = kv.second.Tag() == "!";
        r.params.push_back(quoted ? params::Param{key, "string", value} : params::resolve_param(key, value));
    }
}

void parse_paths_yaml(const std::string& text, const std::string& where, std::map<std::string, std::string>& out) {
    require_utf8(text, where);
    YAML::Node root = workspace::parse_yaml(text, where);
    if (!root || root.IsNull()) return;
    if (!root.IsMap()) fail(ErrorKind::input, "{}: expected a mapping of paths to object ids", workspace::where(where, root));
    for (const auto& kv : root) {
        if (!kv.first.IsScalar() || !kv.second.IsScalar() || !is_object_id(kv.second.Scalar()))
            fail(ErrorKind::input, "{}: expected 'path: sha256:<64 lowercase hex>'", workspace::where(where, kv.first));
        out[kv.first.Scalar()] = kv.second.Scalar();
    }
}

void scan_metrics_tsv(std::string_view text, const std::string& where, const MetricLineFn& fn) {
    std::size_t line_no = 0;
    std::string_view checked_key; // the key of the line before, already checked
    while (!text.empty()) {
        ++line_no;
        std::size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        if (line.empty()) continue;
        std::string_view fields[4];
        std::size_t n = 0;
        for (std::size_t from = 0;; ++n) {
            std::size_t tab = line.find('\t', from);
            if (n == 4) {
                n = 5;
                break;
            }
            fields[n] = line.substr(from, tab == std::string_view::npos ? std::string_view::npos : tab - from);
            if (tab == std::string_view::npos) {
                ++n;
                break;
            }
            from = tab + 1;
        }
        std::optional<std::int64_t> step, ms;
        std::optional<double> value;
        if (n == 4) {
            step = util::parse_integer<std::int64_t>(fields[1]);
            ms = util::parse_integer<std::int64_t>(fields[3]);
            double v = 0;
            auto [ptr, ec] = std::from_chars(fields[2].data(), fields[2].data() + fields[2].size(), v);
            if (ec == std::errc() && ptr == fields[2].data() + fields[2].size() && !fields[2].empty())
                value = v; // what strtod reads too; anything else goes the long way
            else
                value = metrics::parse_value(fields[2]);
        }
        if (!step || !value || !ms)
            fail(ErrorKind::input, "{}:{}: malformed metric line (expected KEY<TAB>STEP<TAB>VALUE<TAB>UNIX_MS, integers for "
                 "STEP and UNIX_MS)", where, line_no);
        if (fields[0] != checked_key) {
            metrics::check_metric_key(std::string(fields[0]), fmt::format("{}:{}", where, line_no));
            checked_key = fields[0];
        }
        fn(fields[0], *step, *value, *ms);
    }
}

void parse_metrics_tsv(const std::string& text, const std::string& where, RunRecord& r) {
    scan_metrics_tsv(text, where, [&](std::string_view key, std::int64_t step, double value, std::int64_t ms) {
        r.metrics.push_back({std::string(key), step, value, ms});
    });
}

} // namespace cairn::run
