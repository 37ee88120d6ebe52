#include "core/pipeline/lock.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string_view>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "core/fs/atomic_file.hpp"
#include "core/fs/file.hpp"
#include "core/fs/lock.hpp"
#include "core/hash/hash.hpp"
#include "core/pipeline/pipeline.hpp"
#include "core/params/params.hpp"
#include "core/pipeline/values.hpp"
#include "core/util/error.hpp"
#include "core/workspace/workspace.hpp"
#include "core/workspace/yaml_util.hpp"

namespace cairn::pipeline {
namespace {

using nlohmann::json;

json plain_value(const YAML::Node& node, const std::string& where) {
    return json::parse(yaml_value(node, where).dump());
}

// A string as YAML reads it back unchanged: plain when it cannot be taken for anything else,
// else a JSON string literal (a valid YAML double-quoted scalar).
std::string quoted(const std::string& s) {
    static constexpr std::string_view k_plain_extra = "._/@+-";
    bool plain = !s.empty() && s.size() < 1024 && (std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_' || s[0] == '.' || s[0] == '/');
    for (unsigned char c : s)
        if (!std::isalnum(c) && k_plain_extra.find(static_cast<char>(c)) == std::string_view::npos) plain = false;
    // Words YAML would type (true, null, .inf, ...), anything that reads as a number, and what
    // could start a document marker stay quoted. (These are the plain scalars of this character
    // set that yaml_value does not read as the same string: it types by params::resolve_param.)
    if (plain && (s == "null" || s == "Null" || s == "NULL" || s.rfind("---", 0) == 0 || s.rfind("...", 0) == 0 ||
                  params::resolve_param("", s).type != "string"))
        plain = false;
    return plain ? s : json(s).dump();
}

// Reads the layout serialize_lock writes, without yaml-cpp (which reads a few MB/s: most of an
// up-to-date `cairn repro`): nullopt for anything else, or for text that serialize_lock would not
// write back byte for byte — then the YAML reader decides, with its errors. What this returns is
// therefore what the YAML reader returns for the same text.
class CanonicalReader {
public:
    explicit CanonicalReader(std::string_view text) : m_text(text) {}

    std::optional<LockFile> read() {
        LockFile lock;
        std::string_view line;
        if (!next(line) || line != fmt::format("schema: {}", quoted(std::string(k_lock_schema)))) return std::nullopt;
        if (!next(line)) return std::nullopt;
        if (line == "stages: {}") return next(line) ? std::nullopt : std::optional<LockFile>(lock);
        if (line != "stages:") return std::nullopt;
        bool more = next(line);
        while (more) {
            // "  NAME:"
            if (!indented(line, 2) || line.size() < 4 || line.back() != ':') return std::nullopt;
            auto name = scalar(line.substr(2, line.size() - 3));
            if (!name) return std::nullopt;
            LockedStage st;
            more = next(line);
            while (more && indented(line, 4)) {
                std::string_view field = line.substr(4);
                if (field.rfind("cmd: ", 0) == 0) {
                    auto c = json_string(field.substr(5));
                    if (!c) return std::nullopt;
                    st.cmd.push_back(std::move(*c));
                    more = next(line);
                } else if (field == "cmd:") {
                    for (more = next(line); more && line.rfind("    - ", 0) == 0; more = next(line)) {
                        auto c = json_string(line.substr(6));
                        if (!c) return std::nullopt;
                        st.cmd.push_back(std::move(*c));
                    }
                } else if (field == "deps:" || field == "outs:") {
                    auto& paths = field == "deps:" ? st.deps : st.outs;
                    more = next(line);
                    while (more && line.rfind("    - path: ", 0) == 0) {
                        LockedPath p;
                        auto path = scalar(line.substr(12));
                        std::string_view hash_line, size_line;
                        if (!path || !next(hash_line) || !next(size_line) || hash_line.rfind("      hash: ", 0) != 0 ||
                            size_line.rfind("      size: ", 0) != 0)
                            return std::nullopt;
                        p.path = std::move(*path);
                        p.hash = std::string(hash_line.substr(12));
                        auto size = number(size_line.substr(12));
                        if (!hash::Digest::from_id(p.hash) || !size) return std::nullopt;
                        p.size = *size;
                        more = next(line);
                        if (more && line.rfind("      nfiles: ", 0) == 0) {
                            p.nfiles = number(line.substr(14));
                            if (!p.nfiles) return std::nullopt;
                            more = next(line);
                        }
                        paths.push_back(std::move(p));
                    }
                } else if (field == "params:") {
                    more = next(line);
                    while (more && indented(line, 6)) {
                        if (line.back() != ':') return std::nullopt;
                        auto file = scalar(line.substr(6, line.size() - 7));
                        if (!file) return std::nullopt;
                        auto& values = st.params[*file];
                        for (more = next(line); more && indented(line, 8); more = next(line)) {
                            std::string_view entry = line.substr(8);
                            std::size_t colon = entry.front() == '"' ? json_end(entry) : entry.find(": ");
                            if (colon == std::string_view::npos || entry.substr(colon, 2) != ": ") return std::nullopt;
                            auto key = scalar(entry.substr(0, colon));
                            if (!key) return std::nullopt;
                            json value = json::parse(entry.substr(colon + 2), nullptr, false);
                            if (value.is_discarded() || beyond_int64(value)) return std::nullopt;
                            values[*key] = std::move(value);
                        }
                    }
                } else if (field.rfind("run: ", 0) == 0) {
                    st.run = std::string(field.substr(5));
                    more = next(line);
                } else {
                    return std::nullopt;
                }
            }
            lock.stages[*name] = std::move(st);
        }
        return lock;
    }

private:
    std::string_view m_text;
    std::size_t m_pos = 0;

    bool next(std::string_view& line) {
        if (m_pos >= m_text.size()) return false;
        std::size_t nl = m_text.find('\n', m_pos);
        if (nl == std::string_view::npos) return false; // serialize_lock ends every line
        line = m_text.substr(m_pos, nl - m_pos);
        m_pos = nl + 1;
        return true;
    }
    // Exactly `n` spaces, then something else.
    static bool indented(std::string_view line, std::size_t n) {
        return line.size() > n && line.find_first_not_of(' ') == n;
    }
    // The end of the JSON string literal at the start of `s` (the index after its closing quote).
    static std::size_t json_end(std::string_view s) {
        for (std::size_t i = 1; i < s.size(); ++i) {
            if (s[i] == '\\') ++i;
            else if (s[i] == '"') return i + 1;
        }
        return std::string_view::npos;
    }
    static std::optional<std::string> json_string(std::string_view s) {
        if (s.empty() || s.front() != '"') return std::nullopt;
        json j = json::parse(s, nullptr, false);
        if (j.is_discarded() || !j.is_string()) return std::nullopt;
        return j.get<std::string>();
    }
    // A string as quoted() writes it: plain, or a JSON string literal.
    static std::optional<std::string> scalar(std::string_view s) {
        if (s.empty()) return std::nullopt;
        if (s.front() == '"') return json_string(s);
        return std::string(s);
    }
    // An integer the YAML reader types as a float (params::resolve_param), not as JSON does.
    static bool beyond_int64(const json& j) {
        if (j.is_number_unsigned()) return j.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX);
        if (j.is_structured())
            for (const auto& item : j)
                if (beyond_int64(item)) return true;
        return false;
    }
    static std::optional<std::uint64_t> number(std::string_view s) {
        if (s.empty() || s.size() > 19 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return std::nullopt;
        return std::stoull(std::string(s));
    }
};

void emit_paths(std::string& out, const char* field, const std::vector<LockedPath>& paths) {
    if (paths.empty()) return;
    out += fmt::format("    {}:\n", field);
    for (const auto& p : paths) {
        out += fmt::format("    - path: {}\n      hash: {}\n      size: {}\n", quoted(p.path), p.hash, p.size);
        if (p.nfiles) out += fmt::format("      nfiles: {}\n", *p.nfiles);
    }
}

[[noreturn]] void bad(const std::string& where, const YAML::Node& node, const std::string& what) {
    fail(ErrorKind::input, "{}: {}", workspace::where(where, node), what);
}

std::string scalar(const std::string& where, const YAML::Node& node, const std::string& field) {
    if (!node.IsScalar()) bad(where, node, fmt::format("'{}' must be a string", field));
    return node.Scalar();
}

std::uint64_t number(const std::string& where, const YAML::Node& node, const std::string& field) {
    const std::string& text = scalar(where, node, field);
    if (text.empty() || text.size() > 19 || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
        bad(where, node, fmt::format("'{}' must be a non-negative integer, not '{}'", field, text));
    return std::stoull(text);
}

std::vector<LockedPath> read_paths(const std::string& where, const YAML::Node& node, const std::string& stage,
                                   const char* field) {
    if (!node.IsSequence()) bad(where, node, fmt::format("stage '{}': '{}' must be a list", stage, field));
    std::vector<LockedPath> out;
    for (const auto& item : node) {
        if (!item.IsMap()) bad(where, item, fmt::format("stage '{}': each '{}' entry must be a mapping", stage, field));
        LockedPath p;
        bool has_path = false, has_hash = false;
        for (const auto& kv : item) {
            std::string key = kv.first.as<std::string>();
            if (key == "path") {
                p.path = scalar(where, kv.second, "path");
                has_path = true;
            } else if (key == "hash") {
                p.hash = scalar(where, kv.second, "hash");
                if (!hash::Digest::from_id(p.hash))
                    bad(where, kv.second, fmt::format("stage '{}': '{}' is not a sha256 object id", stage, p.hash));
                has_hash = true;
            } else if (key == "size") {
                p.size = number(where, kv.second, "size");
            } else if (key == "nfiles") {
                p.nfiles = number(where, kv.second, "nfiles");
            } else {
                bad(where, kv.first, fmt::format("stage '{}': unknown field '{}' in '{}'", stage, key, field));
            }
        }
        if (!has_path || !has_hash) bad(where, item, fmt::format("stage '{}': a '{}' entry needs 'path' and 'hash'", stage, field));
        out.push_back(std::move(p));
    }
    return out;
}

} // namespace

std::string serialize_lock(const LockFile& lock) {
    std::string out = fmt::format("schema: {}\nstages:\n", quoted(std::string(k_lock_schema)));
    if (lock.stages.empty()) out = fmt::format("schema: {}\nstages: {{}}\n", quoted(std::string(k_lock_schema)));
    for (const auto& [name, st] : lock.stages) {
        out += fmt::format("  {}:\n", quoted(name));
        if (st.cmd.size() == 1) {
            out += fmt::format("    cmd: {}\n", json(st.cmd.front()).dump());
        } else {
            out += "    cmd:\n";
            for (const auto& c : st.cmd) out += fmt::format("    - {}\n", json(c).dump());
        }
        emit_paths(out, "deps", st.deps);
        if (!st.params.empty()) {
            out += "    params:\n";
            for (const auto& [file, values] : st.params) {
                out += fmt::format("      {}:\n", quoted(file));
                for (const auto& [key, value] : values) out += fmt::format("        {}: {}\n", quoted(key), value.dump());
            }
        }
        emit_paths(out, "outs", st.outs);
        if (!st.run.empty()) out += fmt::format("    run: {}\n", st.run);
    }
    return out;
}

LockFile parse_lock(const std::string& text, const std::string& where) {
    try {
        if (auto lock = CanonicalReader(text).read(); lock && serialize_lock(*lock) == text) return std::move(*lock);
    } catch (const std::exception&) {
        // Anything the canonical reader cannot take is the YAML reader's to judge.
    }
    YAML::Node root = workspace::parse_yaml(text, where);
    LockFile lock;
    if (!root.IsMap()) bad(where, root, "expected a mapping with 'schema' and 'stages'");
    YAML::Node schema = root["schema"];
    if (!schema) bad(where, root, "no 'schema' line");
    if (!schema.IsScalar() || schema.Scalar() != k_lock_schema)
        bad(where, schema, fmt::format("schema '{}' is not '{}' (written by a newer cairn?)", schema.IsScalar() ? schema.Scalar() : "?", k_lock_schema));
    for (const auto& kv : root) {
        std::string key = kv.first.as<std::string>();
        if (key != "schema" && key != "stages") bad(where, kv.first, fmt::format("unknown field '{}'", key));
    }
    YAML::Node stages = root["stages"];
    if (!stages) return lock;
    if (!stages.IsMap()) bad(where, stages, "'stages' must be a mapping");
    for (const auto& s : stages) {
        std::string name = s.first.as<std::string>();
        const YAML::Node& body = s.second;
        if (!body.IsMap()) bad(where, body, fmt::format("stage '{}' must be a mapping", name));
        LockedStage st;
        for (const auto& kv : body) {
            std::string key = kv.first.as<std::string>();
            if (key == "cmd") {
                if (kv.second.IsScalar()) {
                    st.cmd.push_back(kv.second.Scalar());
                } else if (kv.second.IsSequence()) {
                    for (const auto& c : kv.second) st.cmd.push_back(scalar(where, c, "cmd"));
                } else {
                    bad(where, kv.second, fmt::format("stage '{}': 'cmd' must be a string or a list", name));
                }
            } else if (key == "deps") {
                st.deps = read_paths(where, kv.second, name, "deps");
            } else if (key == "outs") {
                st.outs = read_paths(where, kv.second, name, "outs");
            } else if (key == "params") {
                if (!kv.second.IsMap()) bad(where, kv.second, fmt::format("stage '{}': 'params' must be a mapping", name));
                for (const auto& f : kv.second) {
                    if (!f.second.IsMap() && !f.second.IsNull())
                        bad(where, f.second, fmt::format("stage '{}': params of '{}' must be a mapping", name, f.first.as<std::string>()));
                    auto& values = st.params[f.first.as<std::string>()];
                    if (f.second.IsMap())
                        for (const auto& p : f.second) values[p.first.as<std::string>()] = plain_value(p.second, where);
                }
            } else if (key == "run") {
                st.run = scalar(where, kv.second, "run");
            } else {
                bad(where, kv.first, fmt::format("stage '{}': unknown field '{}'", name, key));
            }
        }
        lock.stages[name] = std::move(st);
    }
    return lock;
}

LockFile read_lock(const workspace::Workspace& ws, const std::string& rel) {
    auto text = fs::read_file_if_exists(ws.absolute(rel));
    if (!text) return {};
    return parse_lock(*text, rel);
}

void update_lock(const workspace::Workspace& ws, const std::string& rel, const std::string& stage,
                 const std::optional<LockedStage>& entry) {
    fs::FileLock guard(ws.store_dir() / "pipeline.lock", fs::LockMode::exclusive);
    LockFile lock = read_lock(ws, rel);
    if (entry) {
        LockedStage e = *entry;
        auto by_path = [](const LockedPath& a, const LockedPath& b) { return a.path < b.path; };
        std::sort(e.deps.begin(), e.deps.end(), by_path);
        std::sort(e.outs.begin(), e.outs.end(), by_path);
        lock.stages[stage] = std::move(e);
    } else {
        lock.stages.erase(stage);
    }
    fs::write_file_atomic(ws.absolute(rel), serialize_lock(lock));
}

std::vector<std::string> prune_lock(const workspace::Workspace& ws, const std::string& rel,
                                    const std::set<std::string>& keep) {
    fs::FileLock guard(ws.store_dir() / "pipeline.lock", fs::LockMode::exclusive);
    LockFile lock = read_lock(ws, rel);
    std::vector<std::string> removed;
    for (auto it = lock.stages.begin(); it != lock.stages.end();) {
        if (keep.count(it->first)) {
            ++it;
            continue;
        }
        removed.push_back(it->first);
        it = lock.stages.erase(it);
    }
    if (!removed.empty()) fs::write_file_atomic(ws.absolute(rel), serialize_lock(lock));
    return removed;
}

} // namespace cairn::pipeline
