#include "core/params/params.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include "core/fs/atomic_file.hpp"
#include "core/fs/file.hpp"
#include "core/fs/lock.hpp"
#include "core/hash/hash.hpp"
#include "core/util/error.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/workspace.hpp"
#include "core/workspace/yaml_util.hpp"

namespace cairn::params {
namespace {

// The YAML 1.2 core schema's resolution of plain scalars (yaml.org/spec/1.2.2, 10.3.2). RE2:
// libstdc++'s std::regex recurses per character and overflows the stack on a long value.
const re2::RE2& k_int10() {
    static const re2::RE2 re("[-+]?[0-9]+");
    return re;
}
const re2::RE2& k_float() {
    static const re2::RE2 re(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
    return re;
}

bool is_one_of(const std::string& s, std::initializer_list<const char*> words) {
    return std::any_of(words.begin(), words.end(), [&](const char* w) { return s == w; });
}

bool is_inf(const std::string& s) {
    std::string t = !s.empty() && (s[0] == '+' || s[0] == '-') ? s.substr(1) : s;
    return is_one_of(t, {".inf", ".Inf", ".INF"});
}

} // namespace

Param resolve_param(const std::string& key, const std::string& text) {
    if (is_one_of(text, {"true", "True", "TRUE", "false", "False", "FALSE"})) return {key, "bool", text};
    bool hex = text.size() > 2 && text.compare(0, 2, "0x") == 0 &&
               text.find_first_not_of("0123456789abcdefABCDEF", 2) == std::string::npos;
    bool oct = text.size() > 2 && text.compare(0, 2, "0o") == 0 && text.find_first_not_of("01234567", 2) == std::string::npos;
    if (hex || oct || re2::RE2::FullMatch(text, k_int10())) {
        Param p{key, "int", text};
        // Too large for 64 bits: still a number, but only a float can hold it.
        if (!param_integer(p)) p.type = "float";
        return p;
    }
    if (re2::RE2::FullMatch(text, k_float()) || is_inf(text) || is_one_of(text, {".nan", ".NaN", ".NAN"}))
        return {key, "float", text};
    return {key, "string", text};
}

Param parse_param(const std::string& key, const std::string& value) {
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front())
        return {key, "string", value.substr(1, value.size() - 2)};
    return resolve_param(key, value);
}

std::optional<std::int64_t> param_integer(const Param& p) {
    if (p.type != "int") return std::nullopt;
    std::string_view s = p.text;
    bool negative = false;
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
        negative = s[0] == '-';
        s.remove_prefix(1);
    }
    int base = 10;
    if (s.size() > 2 && (s.substr(0, 2) == "0x" || s.substr(0, 2) == "0o")) {
        base = s[1] == 'x' ? 16 : 8;
        s.remove_prefix(2);
    }
    std::uint64_t magnitude = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), magnitude, base);
    if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) return std::nullopt;
    constexpr std::uint64_t k_max = static_cast<std::uint64_t>(INT64_MAX);
    if (magnitude > k_max + (negative ? 1 : 0)) return std::nullopt;
    if (negative) return magnitude == k_max + 1 ? INT64_MIN : -static_cast<std::int64_t>(magnitude);
    return static_cast<std::int64_t>(magnitude);
}

std::optional<bool> param_bool(const Param& p) {
    if (p.type != "bool" || p.text.empty()) return std::nullopt;
    return p.text[0] == 't' || p.text[0] == 'T';
}

std::optional<double> param_number(const Param& p) {
    if (p.type == "int") {
        if (auto i = param_integer(p)) return static_cast<double>(*i);
        return std::nullopt;
    }
    if (p.type != "float") return std::nullopt;
    if (is_inf(p.text)) return p.text[0] == '-' ? -HUGE_VAL : HUGE_VAL;
    if (is_one_of(p.text, {".nan", ".NaN", ".NAN"})) return std::nan("");
    char* end = nullptr;
    double v = std::strtod(p.text.c_str(), &end);
    if (p.text.empty() || end != p.text.c_str() + p.text.size()) return std::nullopt;
    return v;
}

namespace {

Param typed_scalar(const std::string& key, const YAML::Node& v) {
    const std::string& tag = v.Tag();
    // "?": a plain scalar, typed by the schema; "!": quoted or block, always a string.
    if (tag == "?") return resolve_param(key, v.Scalar());
    if (tag == "tag:yaml.org,2002:int" || tag == "tag:yaml.org,2002:float" || tag == "tag:yaml.org,2002:bool") {
        Param p = resolve_param(key, v.Scalar());
        if (p.type != "string") return p;
    }
    return {key, "string", v.Scalar()};
}

} // namespace

std::vector<Param> flatten_params_yaml(const std::string& text, const std::string& where) {
    YAML::Node root = workspace::parse_yaml(text, where);
    std::vector<Param> out;
    if (!root || root.IsNull()) return out;
    if (!root.IsMap()) fail(ErrorKind::input, "{}: a parameters file must be a mapping", workspace::where(where, root));
    // Nesting is bounded: the walk recurses once per level of the user's file.
    constexpr int k_max_depth = 100;
    std::function<void(const YAML::Node&, const std::string&, int)> walk = [&](const YAML::Node& node,
                                                                             const std::string& prefix, int depth) {
        if (depth > k_max_depth)
            fail(ErrorKind::input, "{}: parameters nested deeper than {} levels", workspace::where(where, node), k_max_depth);
        for (const auto& kv : node) {
            if (!kv.first.IsScalar())
                fail(ErrorKind::input, "{}: a parameter name must be a plain name", workspace::where(where, kv.first));
            std::string key = prefix.empty() ? kv.first.Scalar() : prefix + "." + kv.first.Scalar();
            const YAML::Node& v = kv.second;
            if (v.IsMap()) {
                walk(v, key, depth + 1);
            } else if (v.IsScalar()) {
                out.push_back(typed_scalar(key, v));
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
        walk(root, "", 1);
    } catch (const YAML::Exception& e) {
        fail(ErrorKind::input, "{}:{}: {}", where, e.mark.line + 1, e.msg);
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
    return out;
}

namespace {

// ---- editing YAML text in place -------------------------------------------------------------

bool blank(char c) { return c == ' ' || c == '\t'; }

std::size_t line_begin(const std::string& t, std::size_t pos) {
    while (pos > 0 && t[pos - 1] != '\n') --pos;
    return pos;
}

std::size_t line_end(const std::string& t, std::size_t pos) {
    std::size_t e = t.find('\n', pos);
    return e == std::string::npos ? t.size() : e;
}

std::size_t indent_at(const std::string& t, std::size_t begin) {
    std::size_t i = begin;
    while (i < t.size() && t[i] == ' ') ++i;
    return i - begin;
}

// Past a node's tag and anchor (`!!str `, `&a `), where the scalar itself starts.
std::size_t skip_properties(const std::string& t, std::size_t pos) {
    while (pos < t.size() && (t[pos] == '!' || t[pos] == '&')) {
        while (pos < t.size() && !std::isspace(static_cast<unsigned char>(t[pos]))) ++pos;
        while (pos < t.size() && blank(t[pos])) ++pos;
    }
    return pos;
}

std::optional<std::size_t> quoted_end(const std::string& t, std::size_t pos) {
    char q = t[pos];
    for (std::size_t i = pos + 1; i < t.size(); ++i) {
        if (q == '"' && t[i] == '\\') {
            ++i;
        } else if (t[i] == q) {
            if (q == '\'' && i + 1 < t.size() && t[i + 1] == '\'') {
                ++i;
                continue;
            }
            return i + 1;
        }
    }
    return std::nullopt;
}

// End of a plain scalar on its first line: before ` #`, `: `, and in flow context `,]}`.
std::size_t plain_end(const std::string& t, std::size_t pos, bool flow) {
    std::size_t end = pos;
    for (std::size_t i = pos; i < t.size() && t[i] != '\n'; ++i) {
        char c = t[i];
        if (c == '#' && i > pos && blank(t[i - 1])) break;
        if (flow && (c == ',' || c == ']' || c == '}')) break;
        if (c == ':' && (i + 1 == t.size() || std::isspace(static_cast<unsigned char>(t[i + 1])) ||
                         (flow && std::strchr(",]}", t[i + 1]))))
            break;
        if (!blank(c) && c != '\r') end = i + 1;
    }
    return end;
}

std::string collapse_spaces(std::string_view s) {
    std::string out;
    for (char c : s) {
        bool space = std::isspace(static_cast<unsigned char>(c));
        if (space && (out.empty() || out.back() == ' ')) continue;
        out += space ? ' ' : c;
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

struct Span {
    std::size_t begin = 0, end = 0; // the bytes to replace
    char style = 'p';                // '"', '\'', '|' (block), 'p' (plain), 'n' (empty null: insert after the colon)
};

// Where the scalar value `v` of key `k` lies in `t`.
Span value_span(const std::string& t, const YAML::Node& k, const YAML::Node& v, bool flow, const std::string& where,
                const std::string& key) {
    auto cannot = [&](const char* why) -> Span {
        fail(ErrorKind::input, "{}:{}: cannot change '{}' in place ({}); edit the file instead", where,
             v.Mark().line + 1, key, why);
    };
    std::size_t key_col = static_cast<std::size_t>(std::max(0, k.Mark().column));
    std::size_t pos = v.Mark().pos < 0 ? t.size() : skip_properties(t, static_cast<std::size_t>(v.Mark().pos));
    if (v.IsNull()) {
        for (const char* token : {"null", "Null", "NULL", "~"}) {
            std::size_t n = std::strlen(token);
            if (t.compare(pos, n, token) == 0 && (pos + n == t.size() || std::strchr(" \t\r\n#,]}", t[pos + n])))
                return {pos, pos + n, 'p'};
        }
        // `key:` with nothing after it: yaml-cpp marks the next token, so find the colon.
        std::size_t kpos = static_cast<std::size_t>(k.Mark().pos);
        std::size_t i = kpos;
        if (t[kpos] == '"' || t[kpos] == '\'') {
            auto e = quoted_end(t, kpos);
            if (!e) return cannot("unterminated key");
            i = *e;
        }
        while (i < t.size() && !(t[i] == ':' && (i + 1 == t.size() || std::isspace(static_cast<unsigned char>(t[i + 1])))))
            ++i;
        if (i >= t.size()) return cannot("no colon after the key");
        return {i + 1, i + 1, 'n'};
    }
    if (pos >= t.size()) return cannot("no position for the value");
    char c = t[pos];
    if (c == '"' || c == '\'') {
        auto e = quoted_end(t, pos);
        if (!e) return cannot("unterminated quoted string");
        return {pos, *e, c};
    }
    if (c == '|' || c == '>') {
        // The header line, then every line indented deeper than the key (or blank).
        std::size_t end = line_end(t, pos);
        std::size_t scan = end;
        while (scan < t.size()) {
            std::size_t b = scan + 1;
            if (b >= t.size()) break;
            std::size_t e = line_end(t, b);
            std::string_view line(t.data() + b, e - b);
            bool is_blank = line.find_first_not_of(" \t\r") == std::string_view::npos;
            if (!is_blank && indent_at(t, b) <= key_col) break;
            if (!is_blank) end = e;
            scan = e;
        }
        return {pos, end, '|'};
    }
    Span s{pos, plain_end(t, pos, flow), 'p'};
    if (!flow && collapse_spaces(std::string_view(t).substr(s.begin, s.end - s.begin)) != collapse_spaces(v.Scalar())) {
        // A plain scalar continued on more deeply indented lines.
        std::size_t scan = line_end(t, pos);
        while (scan < t.size()) {
            std::size_t b = scan + 1;
            if (b >= t.size()) break;
            std::size_t e = line_end(t, b);
            std::size_t ind = indent_at(t, b);
            bool is_blank = std::string_view(t.data() + b, e - b).find_first_not_of(" \t\r") == std::string_view::npos;
            if (!is_blank && (ind <= key_col || t[b + ind] == '#')) break;
            if (!is_blank) s.end = plain_end(t, b + ind, false);
            scan = e;
        }
        if (collapse_spaces(std::string_view(t).substr(s.begin, s.end - s.begin)) != collapse_spaces(v.Scalar()))
            return cannot("its extent in the file is unclear");
    }
    return s;
}

std::string double_quoted(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c < 0x20 || c == 0x7f) {
            out += fmt::format("\\u{:04x}", c);
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

// Plain in both YAML 1.1 and 1.2 readers, and read back as this very string.
bool safe_plain(const std::string& s) {
    if (s.empty() || blank(s.front()) || blank(s.back())) return false;
    if (resolve_param("", s).type != "string") return false;
    std::string lower = s;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    // YAML 1.1 (PyYAML) reads these as booleans or null.
    if (is_one_of(lower, {"y", "n", "yes", "no", "on", "off", "null", "~"})) return false;
    // Leading digits, signs and dots: YAML 1.1 numbers (1_000, 0b11, 1:20), versions; quote them.
    unsigned char first = static_cast<unsigned char>(s.front());
    if (!std::isalpha(first) && first != '_' && first != '/') return false;
    return std::all_of(s.begin(), s.end(), [](char ch) {
        unsigned char u = static_cast<unsigned char>(ch);
        return std::isalnum(u) || std::strchr("_./+=@ -", ch) != nullptr || u >= 0x80;
    });
}

std::string render(const Param& value, char style, bool json) {
    if (value.type != "string") return value.text;
    bool control = std::any_of(value.text.begin(), value.text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; });
    if (json || style == '"') return double_quoted(value.text);
    if (style == '\'' && !control) {
        std::string out = "'";
        for (char c : value.text) out += c == '\'' ? std::string("''") : std::string(1, c);
        return out + "'";
    }
    if (safe_plain(value.text)) return value.text;
    return double_quoted(value.text);
}

std::string render_key(const std::string& k) { return safe_plain(k) ? k : double_quoted(k); }

// Adds `parts[depth..]` = value at the end of the block mapping `map` (the root when depth is 0).
std::string append_key(const std::string& t, const YAML::Node& map, const std::vector<std::string>& parts,
                       std::size_t depth, const Param& value, bool json, const std::string& where, const std::string& key) {
    if (json || (map.IsMap() && map.Style() == YAML::EmitterStyle::Flow))
        fail(ErrorKind::input, "{}: cannot add '{}': its place is inside a flow mapping; add it to the file first", where, key);
    bool empty = !map.IsMap() || map.size() == 0 || map.Mark().pos < 0;
    std::size_t col = empty ? 0 : static_cast<std::size_t>(map.Mark().column);
    std::size_t insert_at = t.size();
    if (!empty) {
        // After the last line of the mapping: the lines from its first key on that are indented
        // at least as deep as its keys (comments and blank lines do not end it).
        std::size_t b = line_begin(t, static_cast<std::size_t>(map.Mark().pos));
        std::size_t last = line_end(t, b);
        while (b < t.size()) {
            std::size_t e = line_end(t, b);
            std::size_t ind = indent_at(t, b);
            std::string_view line(t.data() + b, e - b);
            bool is_blank = line.find_first_not_of(" \t\r") == std::string_view::npos;
            if (!is_blank && t[b + ind] != '#') {
                if (ind < col || (ind == 0 && (line.substr(0, 3) == "---" || line.substr(0, 3) == "..."))) break;
                last = e;
            }
            b = e + 1;
        }
        insert_at = last;
    }
    std::string lines;
    for (std::size_t i = depth; i < parts.size(); ++i) {
        lines += "\n" + std::string(col + 2 * (i - depth), ' ') + render_key(parts[i]) + ":";
        if (i + 1 == parts.size()) lines += " " + render(value, 'p', false);
    }
    std::string out = t;
    if (insert_at == t.size()) {
        // At the end of the file: keep its last line ending, and end the new line with one.
        if (!out.empty() && out.back() == '\n') {
            out.pop_back();
            return out + lines + "\n";
        }
        return (out.empty() ? lines.substr(1) : out + lines) + "\n";
    }
    out.insert(insert_at, lines);
    return out;
}

} // namespace

std::string override_params_yaml(const std::string& text, const std::string& key, const Param& value,
                                 const std::string& where) {
    // The edit works on byte positions yaml-cpp reports, which are only byte offsets for UTF-8
    // text (yaml-cpp reads UTF-16 and UTF-32 too, detected from NUL bytes).
    if (!util::is_utf8(text) || text.find('\0') != std::string::npos)
        fail(ErrorKind::input, "{}: not UTF-8 text; cairn edits only UTF-8 parameter files", where);
    YAML::Node root = workspace::parse_yaml(text, where);
    if (root && !root.IsNull() && !root.IsMap())
        fail(ErrorKind::input, "{}: a parameters file must be a mapping", workspace::where(where, root));
    const bool json = util::ends_with(where, ".json");
    std::vector<std::string> parts = util::split(key, '.');
    std::string out;
    try {
        YAML::Node node = root;
        bool flow = root && root.IsMap() && root.Style() == YAML::EmitterStyle::Flow;
        std::optional<std::string> edited;
        for (std::size_t i = 0; i < parts.size() && !edited; ++i) {
            if (!node.IsMap() && !(i == 0 && (!node || node.IsNull())))
                fail(ErrorKind::input, "{}: cannot set '{}': '{}' is not a mapping", where, key,
                     fmt::join(parts.begin(), parts.begin() + static_cast<std::ptrdiff_t>(i), "."));
            // Iterate rather than index: operator[] on a non-const node would insert.
            std::optional<std::pair<YAML::Node, YAML::Node>> found;
            if (node.IsMap())
                for (const auto& kv : node)
                    if (kv.first.IsScalar() && kv.first.Scalar() == parts[i]) found.emplace(kv.first, kv.second);
            if (!found) {
                edited = append_key(text, node, parts, i, value, json, where, key);
                break;
            }
            if (i + 1 < parts.size()) {
                flow = flow || (found->second.IsMap() && found->second.Style() == YAML::EmitterStyle::Flow);
                node.reset(found->second);
                continue;
            }
            const YAML::Node& v = found->second;
            if (!v.IsScalar() && !v.IsNull())
                fail(ErrorKind::input, "{}: '{}' is not a single value and cannot be overridden", where, key);
            Span s = value_span(text, found->first, v, flow, where, key);
            std::string rendered = render(value, s.style, json);
            edited = text.substr(0, s.begin) + (s.style == 'n' ? " " : "") + rendered + text.substr(s.end);
        }
        out = std::move(*edited);
    } catch (const YAML::Exception& e) {
        fail(ErrorKind::input, "{}:{}: {}", where, e.mark.line + 1, e.msg);
    }
    // The file must read back as before with just this value changed; anything else would make
    // the record differ from what the command reads.
    std::vector<Param> expected = flatten_params_yaml(text, where);
    Param typed = value;
    typed.key = key;
    auto it = std::find_if(expected.begin(), expected.end(), [&](const Param& p) { return p.key == key; });
    if (it != expected.end())
        *it = typed;
    else
        expected.push_back(typed);
    std::sort(expected.begin(), expected.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
    std::vector<Param> got;
    try {
        got = flatten_params_yaml(out, where);
    } catch (const Error&) {
    }
    if (got != expected)
        fail(ErrorKind::input, "{}: cannot set '{}' to {} in place without changing what the file says otherwise; edit "
             "the file instead", where, key, value.text);
    return out;
}

std::vector<Param> flatten_params_file(const std::string& text, const std::string& where) {
    return util::ends_with(where, ".toml") ? flatten_params_toml(text, where) : flatten_params_yaml(text, where);
}

std::string override_params_file(const std::string& text, const std::string& key, const Param& value,
                                 const std::string& where) {
    return util::ends_with(where, ".toml") ? override_params_toml(text, key, value, where)
                                           : override_params_yaml(text, key, value, where);
}

KeyTarget file_for_key(const std::vector<const std::vector<Param>*>& files, const std::string& key) {
    KeyTarget out;
    for (std::size_t i = 0; i < files.size(); ++i)
        if (std::any_of(files[i]->begin(), files[i]->end(), [&](const Param& p) { return p.key == key; }))
            out.files.push_back(i);
    if (!out.files.empty()) return out;
    // Added under the deepest mapping that holds a prefix, so that the file the command reads
    // holds what the record says; not when a prefix is itself a value, or the key a mapping.
    auto parts = util::split(key, '.');
    std::size_t best_depth = 0;
    for (std::size_t f = 0; f < files.size(); ++f) {
        bool blocked = false;
        std::size_t depth = 0;
        std::string prefix;
        for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
            prefix += (i ? "." : "") + parts[i];
            for (const auto& p : *files[f]) {
                if (p.key == prefix) blocked = true;
                if (util::starts_with(p.key, prefix + ".")) depth = std::max(depth, i + 1);
            }
        }
        for (const auto& p : *files[f]) blocked |= util::starts_with(p.key, key + ".");
        if (!blocked && depth > best_depth) {
            out.files = {f};
            best_depth = depth;
        }
    }
    out.added = !out.files.empty();
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

std::string nearest_key(const std::string& key, const std::vector<std::string>& keys) {
    std::string best;
    std::size_t best_distance = SIZE_MAX;
    for (const auto& k : keys) {
        // Levenshtein distance, one row at a time.
        std::vector<std::size_t> row(k.size() + 1);
        for (std::size_t j = 0; j <= k.size(); ++j) row[j] = j;
        for (std::size_t i = 1; i <= key.size(); ++i) {
            std::size_t diagonal = row[0];
            row[0] = i;
            for (std::size_t j = 1; j <= k.size(); ++j) {
                std::size_t up = row[j];
                row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (key[i - 1] == k[j - 1] ? 0 : 1)});
                diagonal = up;
            }
        }
        if (row[k.size()] < best_distance) {
            best_distance = row[k.size()];
            best = k;
        }
    }
    return best;
}

// ---- locks ------------------------------------------------------------------------------------

namespace {

constexpr const char* k_held_env = "CAIRN_LOCKS_HELD";

std::filesystem::path params_path(workspace::Workspace& ws, const std::string& rel, const char* ext) {
    return ws.store_dir() / ("params-" + hash::hash_bytes(rel).hex().substr(0, 16) + ext);
}

// The locks enclosing runs hold, from CAIRN_LOCKS_HELD: lock path -> exclusive.
std::map<std::string, bool> held_by_enclosing_runs() {
    std::map<std::string, bool> out;
    const char* env = std::getenv(k_held_env);
    if (!env) return out;
    for (const auto& line : util::split(env, '\n')) {
        if (line.size() < 3 || line[1] != ' ') continue;
        bool exclusive = line[0] == 'X';
        out[line.substr(2)] |= exclusive;
    }
    return out;
}

// Puts back the original kept at `orig` (a dead or finishing run's override). Needs no free space
// when the rename works.
void restore_original(const std::filesystem::path& orig, const std::filesystem::path& target) {
    if (::rename(orig.c_str(), target.c_str()) == 0) return;
    int err = errno;
    if (err != EXDEV) fail_errno("cannot restore " + target.string() + " from " + orig.string(), err);
    struct stat st {};
    mode_t mode = ::stat(orig.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0644;
    fs::write_file_atomic(target, fs::read_file(orig), mode);
    fs::remove_file(orig);
}

} // namespace

struct ParamFiles::Held {
    std::string rel;
    std::string lock_path;
    bool exclusive = false;
    std::unique_ptr<fs::FileLock> lock;
};

ParamFiles::ParamFiles(workspace::Workspace& ws, Mode mode, Notice notice)
    : m_ws(ws), m_mode(mode), m_notice(std::move(notice)) {}

ParamFiles::~ParamFiles() {
    try {
        restore();
    } catch (...) {
        // The original stays in .cairn/params-<hash>.orig: the next reader of the file puts it back.
    }
}

void ParamFiles::acquire(const std::string& rel, bool exclusive) {
    auto held = std::make_unique<Held>();
    held->rel = rel;
    held->lock_path = params_path(m_ws, rel, ".lock").string();
    held->exclusive = exclusive;
    bool noticed = false;
    auto notice = [&](const char* why) {
        return [this, &noticed, why, &rel](const std::string& who) {
            if (noticed || !m_notice) return;
            noticed = true;
            m_notice(fmt::format(fmt::runtime(why), rel, who));
        };
    };
    auto enclosing = held_by_enclosing_runs();
    if (auto it = enclosing.find(held->lock_path); it != enclosing.end()) {
        // Waiting for the run whose command we are part of would never end.
        if (it->second || exclusive) {
            const char* id = std::getenv("CAIRN_RUN_ID");
            fail(ErrorKind::busy,
                 "{} is locked by the run this command runs inside (run {}), which {} it; this nested run would wait "
                 "for it forever: {}",
                 rel, id ? std::string(id).substr(0, 8) : "?", it->second ? "overrides values in" : "reads",
                 exclusive ? "override the value in the outer run instead, or use another --params file"
                           : "use another --params file");
        }
        // Shared under a shared lock: compatible, and the gate may be held by a run waiting for
        // the enclosing one, so it is not taken.
        held->lock = std::make_unique<fs::FileLock>(held->lock_path, fs::LockMode::shared);
        m_held.push_back(std::move(held));
        return;
    }
    // The gate orders writers before later readers: readers pass it shared, a writer holds it
    // exclusive while it waits for the readers already in.
    std::filesystem::path gate = params_path(m_ws, rel, ".gate");
    fs::FileLock pass(gate, exclusive ? fs::LockMode::exclusive : fs::LockMode::shared, std::chrono::hours(24),
                      notice("waiting for {}: another run ({}) overrides values in it"));
    held->lock = std::make_unique<fs::FileLock>(
        held->lock_path, exclusive ? fs::LockMode::exclusive : fs::LockMode::shared, std::chrono::hours(24),
        notice(exclusive ? "waiting for {}: the commands of other runs read it; -p changes it when they end (last "
                           "holder: {})"
                         : "waiting for {}: another run ({}) has overridden values in it"));
    m_held.push_back(std::move(held));
}

void ParamFiles::plan(const std::map<std::string, Param>& overrides) {
    std::vector<const std::vector<Param>*> read;
    for (auto& f : m_files) {
        f.edited.reset();
        f.added.clear();
        read.push_back(&f.params);
    }
    for (const auto& entry : overrides) {
        const std::string& key = entry.first; // not a structured binding: the lambda below captures it
        const Param& value = entry.second;
        KeyTarget target = file_for_key(read, key);
        for (std::size_t i : target.files) {
            File& f = m_files[i];
            if (!target.added) {
                auto p = std::find_if(f.params.begin(), f.params.end(), [&](const Param& q) { return q.key == key; });
                if (p->type == value.type && p->text == value.text) continue; // equal: nothing to write
            }
            f.edited = override_params_file(f.edited.value_or(f.original), key, value, f.rel);
            if (target.added) f.added.push_back(key);
        }
    }
}

void ParamFiles::open(const std::vector<std::string>& given, const std::map<std::string, Param>& overrides) {
    // A file named twice is one file: editing it twice would keep the first edit as "original".
    std::vector<std::string> files;
    for (const auto& rel : given)
        if (std::find(files.begin(), files.end(), rel) == files.end()) files.push_back(rel);
    auto read_all = [&](std::vector<File>& out) {
        out.clear();
        for (const auto& rel : files) {
            auto text = fs::read_file_if_exists(m_ws.absolute(rel));
            if (!text) fail(ErrorKind::input, "parameter file '{}' does not exist", rel);
            out.push_back({rel, flatten_params_file(*text, rel), *text, std::nullopt, {}});
        }
    };
    if (m_mode == Mode::replay) {
        read_all(m_files);
        plan(overrides);
        return;
    }
    // Which files need an exclusive lock is known only from their content, read again under the
    // locks. Modes only ever go up (or down once, after a dead run's override is put back), so
    // this settles in a few rounds.
    std::map<std::string, bool> exclusive;
    read_all(m_files); // a first look, without locks
    plan(overrides);
    for (const auto& f : m_files) exclusive[f.rel] = f.edited.has_value();
    for (int round = 0;; ++round) {
        std::vector<std::string> order = files;
        std::sort(order.begin(), order.end(), [&](const auto& a, const auto& b) {
            return params_path(m_ws, a, ".lock") < params_path(m_ws, b, ".lock");
        });
        for (const auto& rel : order) acquire(rel, exclusive[rel]);
        bool settled = true;
        for (const auto& rel : order) {
            std::filesystem::path orig = params_path(m_ws, rel, ".orig");
            if (!fs::lstat_path(orig)) continue;
            // An override whose run died before putting the original back.
            if (!exclusive[rel]) {
                exclusive[rel] = true;
                settled = false;
            } else {
                restore_original(orig, m_ws.absolute(rel));
                exclusive[rel] = false;
                settled = false;
            }
        }
        if (settled) {
            read_all(m_files);
            plan(overrides);
            for (const auto& f : m_files)
                if (f.edited && !exclusive[f.rel]) {
                    exclusive[f.rel] = true;
                    settled = false;
                }
        }
        if (settled) return;
        release();
        if (round == 20) fail(ErrorKind::busy, "parameter files {} keep changing; gave up locking them", fmt::join(files, ", "));
    }
}

std::vector<std::string> ParamFiles::warnings(const std::map<std::string, Param>& overrides,
                                              const std::vector<std::string>& argv) const {
    std::vector<std::string> out;
    if (m_files.empty() || m_mode == Mode::replay) return out;
    std::vector<std::string> keys, names;
    for (const auto& f : m_files) {
        names.push_back(f.rel);
        for (const auto& p : f.params) keys.push_back(p.key);
    }
    auto nearest = [&](const std::string& key, const char* format) {
        std::string n = nearest_key(key, keys);
        return n.empty() ? std::string() : fmt::format(fmt::runtime(format), n);
    };
    for (const auto& [key, value] : overrides) {
        if (std::find(keys.begin(), keys.end(), key) != keys.end()) continue;
        bool added = false;
        for (const auto& f : m_files) {
            if (std::find(f.added.begin(), f.added.end(), key) == f.added.end()) continue;
            added = true;
            out.push_back(fmt::format("parameter '{}' is not in {}{}: added to it for this run", key, f.rel,
                                      nearest(key, " (nearest: {})")));
        }
        if (added) continue;
        std::string placeholder = "{" + key + "}";
        bool used = std::any_of(argv.begin(), argv.end(), [&](const auto& a) { return a.find(placeholder) != std::string::npos; });
        if (!used)
            out.push_back(fmt::format("parameter '{}' is in no parameter file (searched: {}{}): the command gets it "
                                      "only in its environment",
                                      key, fmt::join(names, ", "), nearest(key, "; nearest: {}")));
    }
    return out;
}

void ParamFiles::apply(const std::filesystem::path& staging) {
    std::size_t n = 0;
    for (const auto& f : m_files) {
        if (!f.edited) continue;
        std::filesystem::path target = m_ws.absolute(f.rel);
        struct stat st {};
        mode_t mode = ::stat(target.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0644;
        if (m_mode == Mode::replay) {
            fs::write_file_atomic(target, *f.edited, mode, fs::Durability::deferred);
            continue;
        }
        fs::make_dirs(staging / "restore");
        fs::write_file_atomic(staging / "restore" / fmt::format("{}.path", n++), f.rel, 0644, fs::Durability::deferred);
        // The original is kept under a second name, so that putting it back is a rename, which
        // a full disk cannot refuse, and keeps its inode and mtime.
        std::filesystem::path orig = params_path(m_ws, f.rel, ".orig");
        fs::remove_file(orig);
        if (::link(target.c_str(), orig.c_str()) != 0) fs::write_file_atomic(orig, f.original, mode);
        try {
            fs::write_file_atomic(target, *f.edited, mode, fs::Durability::deferred);
        } catch (...) {
            fs::remove_file(orig); // nothing was changed
            throw;
        }
        m_applied.push_back(f.rel);
    }
}

void ParamFiles::restore() {
    while (!m_applied.empty()) {
        const std::string& rel = m_applied.back();
        restore_original(params_path(m_ws, rel, ".orig"), m_ws.absolute(rel));
        m_applied.pop_back();
    }
}

void ParamFiles::release() {
    // The gate is not held past acquire(); the locks go in the reverse order of taking them.
    while (!m_held.empty()) m_held.pop_back();
}

std::string ParamFiles::held_locks_env() const {
    std::string out;
    if (const char* env = std::getenv(k_held_env)) out = env;
    for (const auto& h : m_held) out += fmt::format("{}{} {}", out.empty() ? "" : "\n", h->exclusive ? 'X' : 'S', h->lock_path);
    return out;
}

bool restore_param_files(workspace::Workspace& ws, const std::filesystem::path& staging) {
    std::filesystem::path dir = staging / "restore";
    if (!fs::lstat_path(dir)) return true;
    for (int n = 0;; ++n) {
        auto rel = fs::read_file_if_exists(dir / fmt::format("{}.path", n));
        if (!rel) break;
        std::filesystem::path orig = params_path(ws, *rel, ".orig");
        if (!fs::lstat_path(orig)) continue; // put back already (by a later reader of the file)
        try {
            fs::FileLock gate(params_path(ws, *rel, ".gate"), fs::LockMode::exclusive, std::chrono::seconds(2));
            fs::FileLock lock(params_path(ws, *rel, ".lock"), fs::LockMode::exclusive, std::chrono::seconds(2));
            // Under the exclusive lock, a kept original belongs to a run that is gone.
            if (fs::lstat_path(orig)) restore_original(orig, ws.absolute(*rel));
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::busy) return false;
            throw;
        }
    }
    return true;
}

} // namespace cairn::params
