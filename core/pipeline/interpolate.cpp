#include "core/pipeline/interpolate.hpp"

#include <filesystem>

#include <fmt/format.h>

#include "core/util/error.hpp"
#include "core/util/strings.hpp"

namespace cairn::pipeline {
namespace {

// Python's shlex.quote, which DVC applies to strings in `${dict}` flags.
std::string shell_quote(const std::string& s) {
    if (s.empty()) return "''";
    bool safe = true;
    for (unsigned char c : s)
        if (!(std::isalnum(c) ||
              std::string_view("@%+=:,./-_").find(static_cast<char>(c)) != std::string_view::npos))
            safe = false;
    if (safe) return s;
    std::string out = "'";
    for (char c : s)
        out += c == '\'' ? std::string("'\"'\"'") : std::string(1, c);
    return out + "'";
}

// Python's str() of a list item in flags (True/False/None, unlike scalar_text).
std::string python_str(const Value& v) {
    if (v.is_boolean()) return v.get<bool>() ? "True" : "False";
    return scalar_text(v);
}

void flatten(const Value& v, const std::string& prefix,
             std::vector<std::pair<std::string, const Value*>>& out) {
    for (const auto& [k, item] : v.items()) {
        std::string key = prefix.empty() ? k : prefix + "." + k;
        if (item.is_object())
            flatten(item, key, out);
        else
            out.emplace_back(key, &item);
    }
}

void all_paths(const Value& v, const std::string& prefix, std::vector<std::string>& out,
               int depth) {
    if (!v.is_object() || depth > k_max_value_depth || out.size() > 10000) return;
    for (const auto& [k, item] : v.items()) {
        std::string key = prefix.empty() ? k : prefix + "." + k;
        out.push_back(key);
        all_paths(item, key, out, depth + 1);
    }
}

void validate(const Value& value, const std::string& inner, Field field) {
    if (field == Field::iterable || !(value.is_object() || value.is_array())) return;
    if (value.is_object() && field == Field::cmd) return;
    if (value.is_object())
        throw ResolveError(fmt::format(
            "'${{{}}}' is a mapping, which can only be interpolated into a cmd (as --key "
            "value flags)",
            inner));
    throw ResolveError(
        fmt::format("'${{{}}}' is a list, which cannot be interpolated here", inner));
}

} // namespace

std::vector<Match> find_matches(const std::string& text) {
    std::vector<Match> out;
    std::size_t pos = 0;
    while ((pos = text.find("${", pos)) != std::string::npos) {
        if (pos > 0 && text[pos - 1] == '\\') {
            pos += 2;
            continue;
        }
        std::size_t close = text.find('}', pos + 2);
        std::size_t newline = text.find('\n', pos + 2);
        if (close == std::string::npos) break;
        if (newline < close) {
            pos = newline;
            continue;
        }
        out.push_back({pos, close + 1, text.substr(pos + 2, close - pos - 2)});
        pos = close + 1;
    }
    return out;
}

bool has_interpolation(const std::string& text) {
    return !find_matches(text).empty();
}

std::vector<std::string> parse_expression(const std::string& inner) {
    auto bad = [&](std::string_view why) {
        throw ResolveError(fmt::format(
            "'${{{}}}': {} (expected a key path such as 'train.lr' or 'layers[0]')", inner, why));
    };
    auto word_end = [&](std::size_t i) {
        while (i < inner.size() && inner[i] != '.' && inner[i] != '[' && inner[i] != ']')
            ++i;
        return i;
    };
    std::vector<std::string> parts;
    std::size_t i = word_end(0);
    if (i == 0) bad(inner.empty() ? "an empty expression" : "it must start with a key");
    parts.push_back(inner.substr(0, i));
    while (i < inner.size()) {
        char c = inner[i];
        if (c == ']') bad("an unmatched ']'");
        std::size_t end = word_end(i + 1);
        if (end == i + 1) bad(c == '.' ? "an empty key after '.'" : "an empty index in '[]'");
        parts.push_back(inner.substr(i + 1, end - i - 1));
        if (c == '[') {
            if (end >= inner.size() || inner[end] != ']') bad("a '[' without its ']'");
            ++end;
        }
        i = end;
    }
    return parts;
}

std::string cmd_flags(const Value& mapping) {
    std::vector<std::pair<std::string, const Value*>> items;
    flatten(mapping, "", items);
    std::string out;
    for (const auto& [k, v] : items) {
        if (v->is_boolean()) {
            if (v->get<bool>()) out += "--" + k + " ";
        } else if (v->is_string()) {
            out += "--" + k + " " + shell_quote(v->get<std::string>()) + " ";
        } else if (v->is_array()) {
            bool first = true;
            for (const auto& item : *v) {
                if (item.is_array() || item.is_object())
                    throw ResolveError(
                        fmt::format("cannot interpolate the nested list or mapping in '{}'", k));
                std::string text =
                    item.is_string() ? shell_quote(item.get<std::string>()) : python_str(item);
                out += (first ? "--" + k + " " : std::string()) + text + " ";
                first = false;
            }
        } else {
            out += "--" + k + " " + scalar_text(*v) + " ";
        }
    }
    while (!out.empty() && out.back() == ' ')
        out.pop_back();
    return out;
}

void Context::merge(const Value& data, const std::string& source) {
    for (const auto& [k, v] : data.items())
        if (m_reserved.count(k))
            throw ResolveError(
                fmt::format("attempted to modify reserved key '{}' in '{}'", k, source));
    std::function<void(Value&, const Value&, const std::string&)> merge_into =
        [&](Value& into, const Value& update, const std::string& prefix) {
            for (const auto& [k, v] : update.items()) {
                std::string path = prefix.empty() ? k : prefix + "." + k;
                auto it = into.find(k);
                if (it != into.end() && it->is_object() && v.is_object()) {
                    merge_into(*it, v, path);
                    continue;
                }
                if (it != into.end()) {
                    std::string existing = "<unknown>";
                    for (std::string p = path;; p = p.substr(0, p.rfind('.'))) {
                        if (auto s = m_sources.find(p); s != m_sources.end()) {
                            existing = s->second;
                            break;
                        }
                        if (p.find('.') == std::string::npos) break;
                    }
                    throw ResolveError(
                        fmt::format("cannot redefine '{}' from '{}' as it already exists in '{}'",
                                    path, source, existing));
                }
                into[k] = v;
                m_sources[path] = source;
            }
        };
    merge_into(m_data, data, "");
}

void Context::load_file(const workspace::Workspace& ws, const std::string& item,
                        const std::string& wdir) {
    std::size_t colon = item.find(':');
    std::string written = item.substr(0, colon);
    std::optional<std::vector<std::string>> keys;
    if (colon != std::string::npos) {
        std::vector<std::string> list;
        for (const auto& k : util::split(item.substr(colon + 1), ','))
            if (!k.empty()) list.push_back(k);
        if (!list.empty()) keys = list;
    }
    if (written.empty()) throw ResolveError(fmt::format("'{}' names no file", item));
    if (std::filesystem::path(written).is_absolute())
        throw ResolveError(
            fmt::format("'{}': an absolute path; write it relative to the pipeline file", written));
    std::string path = (std::filesystem::path(wdir) / written).lexically_normal().string();
    if (path.empty() || path == "." || util::starts_with(path, "../") || path == "..")
        throw ResolveError(fmt::format("'{}' is outside the workspace", written));

    if (auto it = m_imports.find(path); it != m_imports.end()) {
        const auto& imported = it->second;
        if (!keys && !imported) return; // the same whole file named again
        if (!keys)
            throw ResolveError(
                fmt::format("cannot load '{}' as it's partially loaded already", item));
        if (!imported)
            throw ResolveError(
                fmt::format("cannot partially load '{}' as it's already loaded", item));
        for (const auto& k : *keys)
            if (std::find(imported->begin(), imported->end(), k) != imported->end())
                throw ResolveError(
                    fmt::format("cannot load '{}' as it's partially loaded already", item));
    }
    Value data;
    try {
        data = read_values(ws, path);
    } catch (const Error& e) {
        throw ResolveError(e.what());
    }
    if (keys) {
        Value selected = Value::object();
        for (const auto& k : *keys) {
            auto it = data.find(k);
            if (it == data.end())
                throw ResolveError(fmt::format("could not find '{}' in '{}'", k, path));
            selected[k] = *it;
        }
        data = std::move(selected);
    }
    merge(data, path);
    auto& imported = m_imports[path];
    if (keys) {
        if (!imported) imported = std::vector<std::string>();
        imported->insert(imported->end(), keys->begin(), keys->end());
    } else {
        imported = std::nullopt;
    }
}

void Context::set_reserved(const Value& values) {
    for (const auto& [k, v] : values.items()) {
        m_data[k] = v;
        m_reserved.insert(k);
    }
}

const Value& Context::select(const std::string& inner) const {
    std::vector<std::string> parts = parse_expression(inner);
    if (const Value* v = lookup_parts(m_data, parts)) return *v;
    std::string key(util::trim(inner));
    std::vector<std::string> known;
    all_paths(m_data, "", known, 0);
    std::string near = util::closest(key, known);
    throw ResolveError(fmt::format("could not find '{}' in the params and vars{}", key,
                                   near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near)));
}

Value Context::resolve_string(const std::string& text, Field field) const {
    std::vector<Match> matches = find_matches(text);
    if (matches.size() == 1 && matches[0].begin == 0 && matches[0].end == text.size()) {
        const Value& v = select(matches[0].inner);
        validate(v, matches[0].inner, field);
        if (v.is_object() && field == Field::cmd) return cmd_flags(v);
        return v;
    }
    std::string out;
    std::size_t at = 0;
    for (const auto& m : matches) {
        const Value& v = select(m.inner);
        validate(v, m.inner, field == Field::iterable ? Field::plain : field);
        out += text.substr(at, m.begin - at);
        out += v.is_object() ? cmd_flags(v) : scalar_text(v);
        at = m.end;
    }
    out += text.substr(at);
    std::string unescaped;
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (out.compare(i, 3, "\\${") == 0) {
            unescaped += "${";
            i += 2;
        } else {
            unescaped += out[i];
        }
    }
    return unescaped;
}

} // namespace cairn::pipeline
