#include "core/pipeline/lock.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "core/fs/atomic_file.hpp"
#include "core/fs/file.hpp"
#include "core/fs/lock.hpp"
#include "core/hash/hash.hpp"
#include "core/pipeline/pipeline.hpp"
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
    // Words YAML would type (true, null, .inf, ...) and anything that reads as a number stay quoted.
    if (plain && (json(s) != plain_value(YAML::Load(s), ""))) plain = false;
    return plain ? s : json(s).dump();
}

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
