#include "core/pipeline/pipeline.hpp"
#include "core/pipeline/values.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "core/params/tomlpp.hpp"

#include "core/fs/file.hpp"
#include "core/params/params.hpp"
#include "core/util/error.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/workspace.hpp"
#include "core/workspace/yaml_util.hpp"

namespace cairn::pipeline {
namespace {

Value typed_scalar(const YAML::Node& node) {
    if (node.IsNull()) return nullptr;
    const std::string& tag = node.Tag();
    // "?": a plain scalar, typed by the schema; "!": quoted or block, always a string.
    bool typed = tag == "?" || tag == "tag:yaml.org,2002:int" || tag == "tag:yaml.org,2002:float" ||
                 tag == "tag:yaml.org,2002:bool";
    if (!typed) return node.Scalar();
    params::Param p = params::resolve_param("", node.Scalar());
    if (p.type == "int") {
        if (auto i = params::param_integer(p)) return *i;
    } else if (p.type == "float") {
        if (auto d = params::param_number(p)) return *d;
    } else if (p.type == "bool") {
        if (auto b = params::param_bool(p)) return *b;
    }
    return node.Scalar();
}

Value yaml_value_at(const YAML::Node& node, const std::string& display, int depth) {
    if (depth > k_max_value_depth)
        fail(ErrorKind::input, "{}: nested deeper than {} levels", workspace::where(display, node),
             k_max_value_depth);
    if (!node || node.IsNull()) return nullptr;
    if (node.IsScalar()) return typed_scalar(node);
    if (node.IsSequence()) {
        Value out = Value::array();
        for (const auto& item : node)
            out.push_back(yaml_value_at(item, display, depth + 1));
        return out;
    }
    Value out = Value::object();
    for (const auto& kv : node) {
        if (!kv.first.IsScalar())
            fail(ErrorKind::input, "{}: a key must be a plain name, not a list or mapping",
                 workspace::where(display, kv.first));
        const std::string& key = kv.first.Scalar();
        if (out.contains(key))
            fail(ErrorKind::input, "{}: key '{}' given twice", workspace::where(display, kv.first),
                 key);
        out[key] = yaml_value_at(kv.second, display, depth + 1);
    }
    return out;
}

Value toml_value(const toml::node& node, int depth) {
    if (depth > k_max_value_depth)
        fail(ErrorKind::input, "nested deeper than {} levels", k_max_value_depth);
    if (const auto* t = node.as_table()) {
        Value out = Value::object();
        for (const auto& [k, v] : *t)
            out[std::string(k.str())] = toml_value(v, depth + 1);
        return out;
    }
    if (const auto* a = node.as_array()) {
        Value out = Value::array();
        for (const auto& v : *a)
            out.push_back(toml_value(v, depth + 1));
        return out;
    }
    if (const auto* s = node.as_string()) return s->get();
    if (const auto* i = node.as_integer()) return i->get();
    if (const auto* d = node.as_floating_point()) return d->get();
    if (const auto* b = node.as_boolean()) return b->get();
    // Dates and times: their TOML text, as a string.
    std::ostringstream text;
    node.visit([&](const auto& v) { text << v; });
    return text.str();
}

int line_of_offset(const std::string& text, std::size_t offset) {
    int line = 1;
    for (std::size_t i = 0; i < offset && i < text.size(); ++i)
        if (text[i] == '\n') ++line;
    return line;
}

// Python's repr() of a float: the shortest text that reads back, fixed between 1e-4 and 1e16,
// else `1e-05` / `1.5e+20`.
std::string python_float(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
    std::string sci(buf, res.ptr);
    std::size_t e = sci.find('e');
    std::string mantissa = sci.substr(0, e);
    int exponent = std::atoi(sci.c_str() + e + 1);
    bool negative = mantissa[0] == '-';
    if (negative) mantissa.erase(0, 1);
    std::string digits;
    for (char c : mantissa)
        if (c != '.') digits += c;
    std::string out;
    if (exponent >= -4 && exponent < 16) {
        if (exponent < 0) {
            out = "0." + std::string(static_cast<std::size_t>(-exponent - 1), '0') + digits;
        } else {
            auto int_len = static_cast<std::size_t>(exponent + 1);
            if (digits.size() <= int_len)
                out = digits + std::string(int_len - digits.size(), '0') + ".0";
            else
                out = digits.substr(0, int_len) + "." + digits.substr(int_len);
        }
    } else {
        out = digits.substr(0, 1);
        if (digits.size() > 1) out += "." + digits.substr(1);
        out += fmt::format("e{}{:02}", exponent < 0 ? '-' : '+', std::abs(exponent));
    }
    return negative ? "-" + out : out;
}

nlohmann::json to_sorted(const Value& v) {
    if (v.is_object()) {
        nlohmann::json out = nlohmann::json::object();
        for (const auto& [k, item] : v.items())
            out[k] = to_sorted(item);
        return out;
    }
    if (v.is_array()) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& item : v)
            out.push_back(to_sorted(item));
        return out;
    }
    if (v.is_boolean()) return v.get<bool>();
    if (v.is_number_unsigned()) return v.get<std::uint64_t>();
    if (v.is_number_integer()) return v.get<std::int64_t>();
    if (v.is_number_float()) return v.get<double>();
    if (v.is_string()) return v.get<std::string>();
    return nullptr;
}

// Splits a DVC key path: `a.b[0].c` is {"a", "b", "0", "c"} (brackets are dots, as DVC
// normalises them).
std::vector<std::string> key_parts(const std::string& key) {
    std::string normal;
    for (char c : key) {
        if (c == '[')
            normal += '.';
        else if (c != ']')
            normal += c;
    }
    return util::split(normal, '.');
}

template <typename Json>
void collect_leaves(const Json& v, const std::string& prefix, std::vector<std::string>& out) {
    if (v.is_object() && !v.empty()) {
        for (const auto& [k, item] : v.items())
            collect_leaves(item, prefix.empty() ? k : prefix + "." + k, out);
        return;
    }
    if (!prefix.empty()) out.push_back(prefix);
}

template <typename Json>
const Json* lookup_in(const Json& doc, const std::vector<std::string>& parts) {
    const Json* at = &doc;
    for (const auto& raw : parts) {
        std::string part(util::trim(raw));
        if (at->is_object()) {
            auto it = at->find(part);
            if (it == at->end()) return nullptr;
            at = &*it;
        } else if (at->is_array()) {
            long long index = 0;
            const char* first = part.data();
            if (!part.empty() && part[0] == '+') ++first;
            auto [ptr, ec] = std::from_chars(first, part.data() + part.size(), index);
            if (ec != std::errc() || ptr != part.data() + part.size() || part.empty())
                return nullptr;
            auto size = static_cast<long long>(at->size());
            if (index < 0) index += size;
            if (index < 0 || index >= size) return nullptr;
            at = &(*at)[static_cast<std::size_t>(index)];
        } else {
            return nullptr;
        }
    }
    return at;
}

} // namespace

Value yaml_value(const YAML::Node& node, const std::string& display) {
    return yaml_value_at(node, display, 0);
}

std::string scalar_text(const Value& value) {
    if (value.is_null()) return "None";
    if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
    if (value.is_string()) return value.get<std::string>();
    if (value.is_number_float()) return python_float(value.get<double>());
    return value.dump();
}

std::string type_name(const Value& value) {
    if (value.is_object()) return "mapping";
    if (value.is_array()) return "list";
    if (value.is_string()) return "string";
    if (value.is_boolean()) return "boolean";
    if (value.is_null()) return "null";
    return "number";
}

Value read_values(const workspace::Workspace& ws, const std::string& file) {
    if (util::ends_with(file, ".py"))
        fail(ErrorKind::input, "{}: Python params files are not supported; use YAML, JSON or TOML",
             file);
    auto st = fs::lstat_path(ws.absolute(file));
    if (st && S_ISDIR(st->st_mode)) fail(ErrorKind::input, "params file '{}' is a directory", file);
    std::optional<std::string> text = fs::read_file_if_exists(ws.absolute(file));
    if (!text) fail(ErrorKind::input, "params file '{}' does not exist", file);
    Value doc;
    if (util::ends_with(file, ".json")) {
        try {
            doc = Value::parse(*text);
        } catch (const nlohmann::json::parse_error& e) {
            std::string what = e.what();
            // "[json.exception.parse_error.101] parse error at line 1, column 2: syntax error ..."
            std::size_t colon = what.find(": ");
            fail(ErrorKind::input, "{}:{}: {}", file,
                 line_of_offset(*text, e.byte == 0 ? 0 : e.byte - 1),
                 colon == std::string::npos ? what : what.substr(colon + 2));
        }
    } else if (util::ends_with(file, ".toml")) {
        try {
            toml::table table = toml::parse(*text, file);
            doc = toml_value(table, 0);
        } catch (const toml::parse_error& e) {
            fail(ErrorKind::input, "{}:{}: {}", file, e.source().begin.line, e.description());
        }
    } else {
        // DVC reads a file of any other extension as YAML too.
        YAML::Node root = workspace::parse_yaml(*text, file);
        doc = yaml_value(root, file);
        if (root && !root.IsNull() && !root.IsMap())
            fail(ErrorKind::input, "{}: a params file must be a mapping, not a {}",
                 workspace::where(file, root), type_name(doc));
    }
    if (doc.is_null()) doc = Value::object();
    if (!doc.is_object())
        fail(ErrorKind::input, "{}: a params file must be a mapping, not a {}", file,
             type_name(doc));
    return doc;
}

nlohmann::json read_params(const workspace::Workspace& ws, const std::string& file) {
    return to_sorted(read_values(ws, file));
}

const nlohmann::json* lookup(const nlohmann::json& doc, const std::string& key) {
    return lookup_in(doc, key_parts(key));
}

const Value* lookup_parts(const Value& doc, const std::vector<std::string>& parts) {
    return lookup_in(doc, parts);
}

std::vector<std::string> leaf_keys(const nlohmann::json& doc) {
    std::vector<std::string> out;
    collect_leaves(doc, "", out);
    std::sort(out.begin(), out.end());
    return out;
}

} // namespace cairn::pipeline
