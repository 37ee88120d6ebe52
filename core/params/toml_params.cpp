// Parameter files in TOML: flattened as YAML ones are, and overridden by rewriting the bytes of
// one value with the text toml++ writes for it.
#include "core/params/params.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <sstream>

#include <fmt/format.h>

#include "core/params/tomlpp.hpp"
#include "core/util/error.hpp"
#include "core/util/strings.hpp"

namespace cairn::params {
namespace {

// Nesting is bounded: the walks recurse once per level of the user's file.
constexpr int k_max_depth = 100;

toml::table parse_toml(const std::string& text, const std::string& where) {
    try {
        return toml::parse(text, where);
    } catch (const toml::parse_error& e) {
        fail(ErrorKind::input, "{}:{}: {}", where, e.source().begin.line, e.description());
    }
}

// Byte offsets of toml++ source positions, whose columns count code points, not bytes.
class Offsets {
public:
    explicit Offsets(const std::string& text) : m_text(text) {
        m_lines.push_back(0);
        for (std::size_t i = 0; i < text.size(); ++i)
            if (text[i] == '\n') m_lines.push_back(i + 1);
    }

    // npos when the position is not in the text.
    [[nodiscard]] std::size_t at(const toml::source_position& p) const {
        if (p.line == 0 || p.line > m_lines.size() || p.column == 0) return std::string::npos;
        std::size_t pos = m_lines[p.line - 1];
        for (toml::source_index col = 1; col < p.column; ++col) {
            if (pos >= m_text.size() || m_text[pos] == '\n') return std::string::npos;
            ++pos;
            while (pos < m_text.size() && (static_cast<unsigned char>(m_text[pos]) & 0xC0) == 0x80) ++pos;
        }
        return pos;
    }

    // The bytes a node was read from; empty when toml++ did not say.
    [[nodiscard]] std::string_view slice(const toml::node& n) const {
        std::size_t b = at(n.source().begin), e = at(n.source().end);
        if (b == std::string::npos || e == std::string::npos || e < b) return {};
        return std::string_view(m_text).substr(b, e - b);
    }

    // The offset just past line `line` (1-based), its newline included.
    [[nodiscard]] std::size_t after_line(std::size_t line) const {
        return line < m_lines.size() ? m_lines[line] : m_text.size();
    }

private:
    const std::string& m_text;
    std::vector<std::size_t> m_lines; // offset of each line's first byte
};

// Shortest text that reads back as `v`, in the YAML 1.2 core schema's spelling.
std::string float_text(double v) {
    if (std::isnan(v)) return ".nan";
    if (std::isinf(v)) return v < 0 ? "-.inf" : ".inf";
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, v);
    std::string s(buf, res.ptr);
    if (s.find_first_of(".e") == std::string::npos) s += ".0";
    return s;
}

bool same_float(double a, double b) {
    return (std::isnan(a) && std::isnan(b)) || (a == b && std::signbit(a) == std::signbit(b));
}

// Equal values of equal types (a NaN equals a NaN: the file says the same thing).
bool same(const toml::node& a, const toml::node& b) {
    if (a.type() != b.type()) return false;
    if (const auto* x = a.as_table()) {
        const auto* y = b.as_table();
        if (x->size() != y->size()) return false;
        for (const auto& [k, v] : *x) {
            const toml::node* w = y->get(k.str());
            if (!w || !same(v, *w)) return false;
        }
        return true;
    }
    if (const auto* x = a.as_array()) {
        const auto* y = b.as_array();
        if (x->size() != y->size()) return false;
        for (std::size_t i = 0; i < x->size(); ++i)
            if (!same((*x)[i], (*y)[i])) return false;
        return true;
    }
    if (const auto* x = a.as_floating_point()) return same_float(x->get(), b.as_floating_point()->get());
    if (const auto* x = a.as_integer()) return x->get() == b.as_integer()->get();
    if (const auto* x = a.as_boolean()) return x->get() == b.as_boolean()->get();
    if (const auto* x = a.as_string()) return x->get() == b.as_string()->get();
    if (const auto* x = a.as_date()) return x->get() == b.as_date()->get();
    if (const auto* x = a.as_time()) return x->get() == b.as_time()->get();
    if (const auto* x = a.as_date_time()) return x->get() == b.as_date_time()->get();
    return false;
}

// Whether `got`, read back from the file, is the value `want` was written as: the same type and
// the same number, truth value or text (TOML may spell a number otherwise: `1e-4` is `0.0001`).
bool reads_as(const Param& want, const Param& got) {
    if (want.key != got.key || want.type != got.type) return false;
    if (want.type == "bool") return param_bool(want) == param_bool(got);
    if (want.type != "int" && want.type != "float") return want.text == got.text;
    auto a = param_number(want), b = param_number(got);
    return a && b && same_float(*a, *b);
}

std::string formatted(const toml::node& n, toml::format_flags flags) {
    std::ostringstream out;
    out << toml::toml_formatter(n, flags);
    return out.str();
}

// The value toml++ reads from `text` alone (`v = <text>`), or nullptr when it is not one.
std::optional<toml::table> read_value(const std::string& text) {
    if (text.find_first_of("\r\n#") != std::string::npos) return std::nullopt;
    try {
        return toml::parse("v = " + text);
    } catch (const toml::parse_error&) {
        return std::nullopt;
    }
}

std::string key_text(const std::string& k);

// A value on one line: arrays and tables written out here, since toml++ 3.3's formatter
// converts log10(NaN) to an integer (undefined behaviour) sizing a container holding one.
std::string inline_text(const toml::node& v) {
    std::vector<std::string> items;
    if (const auto* a = v.as_array()) {
        for (const auto& item : *a) items.push_back(inline_text(item));
        return fmt::format("[{}]", fmt::join(items, ", "));
    }
    if (const auto* t = v.as_table()) {
        for (const auto& [k, item] : *t) items.push_back(key_text(std::string(k.str())) + " = " + inline_text(item));
        return items.empty() ? "{}" : fmt::format("{{ {} }}", fmt::join(items, ", "));
    }
    return formatted(v, toml::format_flags::allow_unicode_strings | toml::format_flags::allow_literal_strings);
}

// A leaf of the file as a parameter: numbers and booleans keep the text they were written in
// when the YAML 1.2 core schema reads it as the same value, so that `lr = 1e-3` records as
// `lr: 1e-3` in YAML does.
Param leaf(const std::string& key, const toml::node& v, std::string_view source) {
    Param written = resolve_param(key, std::string(source));
    if (const auto* i = v.as_integer()) {
        if (written.type == "int" && param_integer(written) == i->get()) return written;
        return {key, "int", std::to_string(i->get())};
    }
    if (const auto* d = v.as_floating_point()) {
        auto n = param_number(written);
        if (written.type == "float" && n && same_float(*n, d->get())) return written;
        return {key, "float", float_text(d->get())};
    }
    if (const auto* b = v.as_boolean()) return {key, "bool", b->get() ? "true" : "false"};
    if (const auto* s = v.as_string()) return {key, "string", s->get()};
    // Dates, times and arrays: their TOML text, as written when it is one line.
    if (!source.empty() && source.find('\n') == std::string_view::npos) return {key, "string", std::string(source)};
    return {key, "string", inline_text(v)};
}

// `value` as a TOML value: its type kept, and a date or time in the file stays one when the
// new text is one of the same kind.
toml::table new_value(const Param& value, const toml::node* old, const std::string& where, const std::string& key) {
    toml::table holder;
    if (value.type == "string" && old && (old->is_date() || old->is_time() || old->is_date_time())) {
        if (auto read = read_value(value.text); read && read->get("v")->type() == old->type()) return std::move(*read);
    }
    if (value.type == "int") {
        auto i = param_integer(value);
        if (!i) fail(ErrorKind::input, "{}: cannot set '{}' to {}: not a 64-bit integer", where, key, value.text);
        holder.insert("v", *i);
    } else if (value.type == "float") {
        auto d = param_number(value);
        if (!d) fail(ErrorKind::input, "{}: cannot set '{}' to {}: not a number", where, key, value.text);
        holder.insert("v", *d);
    } else if (value.type == "bool") {
        holder.insert("v", param_bool(value).value_or(false));
    } else {
        holder.insert("v", value.text);
    }
    return holder;
}

// The text written for `v`: as given when TOML reads that as this very value (`1e-3`, `0x1f`),
// else as toml++ writes it (floats as briefly as reads back the same).
std::string value_text(const toml::node& v, const Param& value, bool literal) {
    if (!v.is_string()) {
        if (auto read = read_value(value.text); read && same(*read->get("v"), v)) return value.text;
        for (auto flags : {toml::format_flags::relaxed_float_precision, toml::format_flags::none}) {
            std::string text = formatted(v, flags);
            if (auto read = read_value(text); read && same(*read->get("v"), v)) return text;
        }
        return formatted(v, toml::format_flags::none);
    }
    auto flags = toml::format_flags::allow_unicode_strings;
    if (literal) flags |= toml::format_flags::allow_literal_strings;
    return formatted(v, flags);
}

std::string key_text(const std::string& k) {
    bool bare = !k.empty() && std::all_of(k.begin(), k.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
    });
    return bare ? k : formatted(toml::value<std::string>(k), toml::format_flags::allow_unicode_strings);
}

// The last line holding a key-value pair of table `t` itself (not of the tables that have a
// header of their own); `floor` when it has none.
std::size_t last_line_of(const toml::table& t, const Offsets& offsets, const std::string& text, std::size_t floor) {
    std::size_t last = floor;
    for (const auto& [k, v] : t) {
        if (const auto* sub = v.as_table(); sub && !sub->is_inline()) {
            std::size_t b = offsets.at(sub->source().begin);
            if (b != std::string::npos && text[b] == '[') continue; // a section of its own
            last = std::max(last, last_line_of(*sub, offsets, text, floor));
            continue;
        }
        if (const auto* a = v.as_array(); a && a->is_array_of_tables()) {
            std::size_t b = offsets.at(a->source().begin);
            if (b != std::string::npos && text.compare(b, 2, "[[") == 0) continue;
        }
        last = std::max(last, static_cast<std::size_t>(v.source().end.line));
    }
    return last;
}

// Whether `t`, found at `path`, starts with a header `[path]` of its own.
bool has_header(const toml::table& t, const std::vector<std::string>& path, const Offsets& offsets, const std::string& text) {
    std::size_t b = offsets.at(t.source().begin);
    if (b == std::string::npos || text[b] != '[' || text.compare(b, 2, "[[") == 0) return false;
    std::size_t e = text.find(']', b);
    if (e == std::string::npos) return false;
    std::vector<std::string> named;
    for (const auto& part : util::split(text.substr(b + 1, e - b - 1), '.')) {
        std::string p(util::trim(part));
        if (p.size() >= 2 && (p.front() == '"' || p.front() == '\'') && p.back() == p.front()) p = p.substr(1, p.size() - 2);
        named.push_back(p);
    }
    return named == path;
}

} // namespace

std::vector<Param> flatten_params_toml(const std::string& text, const std::string& where) {
    toml::table root = parse_toml(text, where);
    Offsets offsets(text);
    std::vector<Param> out;
    std::function<void(const toml::table&, const std::string&, int)> walk = [&](const toml::table& t,
                                                                               const std::string& prefix, int depth) {
        if (depth > k_max_depth)
            fail(ErrorKind::input, "{}:{}: parameters nested deeper than {} levels", where, t.source().begin.line, k_max_depth);
        for (const auto& [k, v] : t) {
            std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
            if (const auto* sub = v.as_table())
                walk(*sub, key, depth + 1);
            else
                out.push_back(leaf(key, v, offsets.slice(v)));
        }
    };
    walk(root, "", 1);
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
    return out;
}

std::string override_params_toml(const std::string& text, const std::string& key, const Param& value,
                                 const std::string& where) {
    if (!util::is_utf8(text) || text.find('\0') != std::string::npos)
        fail(ErrorKind::input, "{}: not UTF-8 text; cairn edits only UTF-8 parameter files", where);
    toml::table root = parse_toml(text, where);
    Offsets offsets(text);
    std::vector<std::string> parts = util::split(key, '.');
    const toml::table* table = &root;
    std::string out;
    std::size_t depth = 0; // parts[0..depth) name `table`
    const toml::node* old = nullptr;
    for (; depth < parts.size(); ++depth) {
        const toml::node* child = table->get(parts[depth]);
        if (!child) break;
        if (depth + 1 == parts.size()) {
            old = child;
            break;
        }
        table = child->as_table();
        if (!table)
            fail(ErrorKind::input, "{}: cannot set '{}': '{}' is not a table", where, key,
                 fmt::join(parts.begin(), parts.begin() + static_cast<std::ptrdiff_t>(depth) + 1, "."));
    }
    toml::table holder = new_value(value, old, where, key);
    const toml::node& v = *holder.get("v");
    if (old) {
        if (old->is_table() || old->is_array())
            fail(ErrorKind::input, "{}: '{}' is not a single value and cannot be overridden", where, key);
        std::size_t b = offsets.at(old->source().begin), e = offsets.at(old->source().end);
        if (b == std::string::npos || e == std::string::npos || e < b)
            fail(ErrorKind::input, "{}:{}: cannot change '{}' in place (no position for the value); edit the file instead",
                 where, old->source().begin.line, key);
        out = text.substr(0, b) + value_text(v, value, text[b] == '\'') + text.substr(e);
    } else {
        // A new key goes after the last key-value line of the nearest table that holds its
        // parent: the file's top, or a table with a `[header]` of its own.
        std::vector<std::string> path(parts.begin(), parts.begin() + static_cast<std::ptrdiff_t>(depth));
        if (table->is_inline())
            fail(ErrorKind::input, "{}: cannot add '{}': its place is inside an inline table; add it to the file first",
                 where, key);
        if (depth > 0 && !has_header(*table, path, offsets, text))
            fail(ErrorKind::input, "{}: cannot add '{}': table '{}' has no [{}] header to add it under; add it to the "
                 "file first", where, key, fmt::join(path, "."), fmt::join(path, "."));
        std::size_t floor = depth > 0 ? static_cast<std::size_t>(table->source().begin.line) : 0;
        std::size_t at = offsets.after_line(last_line_of(*table, offsets, text, floor));
        std::vector<std::string> rest;
        for (std::size_t i = depth; i < parts.size(); ++i) rest.push_back(key_text(parts[i]));
        std::string line = fmt::format("{} = {}\n", fmt::join(rest, "."), value_text(v, value, false));
        out = text.substr(0, at);
        if (!out.empty() && out.back() != '\n') out += '\n';
        out += line + text.substr(at);
    }
    // The file must read back as before with just this value changed; anything else would make
    // the record differ from what the command reads.
    toml::table expected = root;
    toml::table* parent = &expected;
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
        if (!parent->get(parts[i])) parent->insert(parts[i], toml::table{});
        parent = parent->get(parts[i])->as_table();
    }
    v.visit([&](const auto& typed) { parent->insert_or_assign(parts.back(), typed); });
    std::optional<toml::table> got;
    try {
        got = toml::parse(out, where);
    } catch (const toml::parse_error&) {
    }
    // Flattened too: a quoted key with a dot in it (`"a.b" = 1`) must not become a second `a.b`.
    bool flat_same = false;
    if (got && same(expected, *got)) {
        std::vector<Param> want = flatten_params_toml(text, where), have = flatten_params_toml(out, where);
        Param typed = value;
        typed.key = key;
        auto it = std::find_if(want.begin(), want.end(), [&](const Param& p) { return p.key == key; });
        if (it != want.end())
            *it = typed;
        else
            want.push_back(typed);
        std::sort(want.begin(), want.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
        flat_same = want.size() == have.size() &&
                    std::equal(want.begin(), want.end(), have.begin(), [&](const Param& a, const Param& b) {
                        return a.key == key ? reads_as(a, b) : a == b;
                    });
    }
    if (!flat_same)
        fail(ErrorKind::input, "{}: cannot set '{}' to {} in place without changing what the file says otherwise; edit "
             "the file instead", where, key, value.text);
    return out;
}

} // namespace cairn::params
