#include "core/pipeline/stale.hpp"

#include <algorithm>

#include <sys/stat.h>

#include <fmt/format.h>

#include "core/fs/file.hpp"
#include "core/hash/hash.hpp"
#include "core/util/error.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/add.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::pipeline {

std::string Reason::kind_name() const {
    switch (kind) {
    case Kind::never_run: return "never_run";
    case Kind::always_changed: return "always_changed";
    case Kind::forced: return "forced";
    case Kind::command: return "command";
    case Kind::dependency: return "dependency";
    case Kind::param: return "param";
    case Kind::output: return "output";
    case Kind::upstream: return "upstream";
    }
    return "unknown";
}

std::string Reason::describe() const {
    auto with_note = [this](std::string text) { return note.empty() ? text : text + " (" + note + ")"; };
    switch (kind) {
    case Kind::never_run: return "not in the lock file (never run)";
    case Kind::always_changed: return "always_changed is set";
    case Kind::forced: return "forced";
    case Kind::command: return "command changed";
    case Kind::dependency: return with_note(fmt::format("dependency {} {}", subject, change));
    case Kind::param: return with_note(fmt::format("param {} {}", subject, change));
    case Kind::output: return with_note(fmt::format("output {} {}", subject, change));
    case Kind::upstream: return with_note(fmt::format("upstream stage {} {}", subject, change));
    }
    return "";
}

std::string describe(const std::vector<Reason>& reasons) {
    std::string out;
    for (const auto& r : reasons) out += (out.empty() ? "" : "; ") + r.describe();
    return out;
}

std::optional<LockedPath> Probe::path(const std::string& rel) {
    if (!m_paths.count(rel)) prefetch({rel});
    return m_paths.at(rel);
}

void Probe::prefetch(std::vector<std::string> paths) {
    std::sort(paths.begin(), paths.end());
    paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
    // add() takes paths none of which is inside another: the outermost ones go in one call, the
    // ones inside them are looked up one by one later (they are rare: a stage reading part of
    // another's output directory).
    std::vector<std::string> batch;
    for (const auto& rel : paths) {
        if (m_paths.count(rel)) continue;
        if (!batch.empty() && util::starts_with(rel, batch.back() + "/")) continue;
        if (!fs::lstat_path(m_ws.absolute(rel))) {
            m_paths[rel] = std::nullopt;
            continue;
        }
        batch.push_back(rel);
    }
    if (batch.empty()) return;
    auto result = workspace::add(m_ws, batch, m_progress, workspace::Track::hash_only);
    for (const auto& added : result.paths) {
        LockedPath p;
        p.hash = added.digest.id();
        p.size = added.size;
        if (added.is_directory) p.nfiles = added.files;
        m_paths[added.data_path] = p;
    }
}

std::optional<std::string> Probe::tracked(const std::string& rel) const {
    for (std::string path = rel; !path.empty();) {
        auto st = fs::lstat_path(m_ws.absolute(path + std::string(workspace::k_pointer_suffix)));
        if (st && S_ISREG(st->st_mode)) return path;
        auto slash = path.rfind('/');
        path = slash == std::string::npos ? "" : path.substr(0, slash);
    }
    return std::nullopt;
}

const nlohmann::json* Probe::params(const std::string& file) {
    auto it = m_params.find(file);
    if (it == m_params.end()) {
        std::optional<nlohmann::json> doc;
        if (fs::lstat_path(m_ws.absolute(file))) doc = read_params(m_ws, file);
        it = m_params.emplace(file, std::move(doc)).first;
    }
    return it->second ? &*it->second : nullptr;
}

namespace {

// Paths in the lock are written relative to the stage's wdir, as in the pipeline file.
std::map<std::string, const LockedPath*> by_path(const std::vector<LockedPath>& paths) {
    std::map<std::string, const LockedPath*> out;
    for (const auto& p : paths) out[p.path] = &p;
    return out;
}

} // namespace

StageCheck check_stage(Probe& probe, const Stage& stage, const LockedStage* locked) {
    StageCheck check;
    check.frozen = stage.frozen;
    check.current.cmd = stage.cmd;
    using Kind = Reason::Kind;

    for (const auto& dep : stage.deps) {
        auto state = probe.path(dep.path);
        if (!state) {
            check.missing_deps.push_back(dep.path);
            if (auto tracked = probe.tracked(dep.path)) check.tracked_missing[dep.path] = *tracked;
            continue;
        }
        LockedPath p = *state;
        p.path = dep.written;
        check.current.deps.push_back(std::move(p));
    }
    std::sort(check.current.deps.begin(), check.current.deps.end(),
              [](const LockedPath& a, const LockedPath& b) { return a.path < b.path; });
    for (const auto& ref : stage.params) {
        const nlohmann::json* found = nullptr;
        try {
            found = probe.params(ref.file);
        } catch (const Error& e) {
            throw Error(e.kind(), fmt::format("{}:{}: stage '{}': params: {}", ref.mark.file, ref.mark.line, stage.name, e.what()));
        }
        if (!found) {
            check.missing_params_files.push_back(&ref);
            check.missing_params.push_back(ref.written);
            continue;
        }
        const nlohmann::json& doc = *found;
        auto& values = check.current.params[ref.written];
        std::vector<std::string> keys = ref.all ? leaf_keys(doc) : ref.keys;
        for (const auto& key : keys) {
            if (const nlohmann::json* v = lookup(doc, key))
                values[key] = *v;
            else
                check.missing_params.push_back(fmt::format("{}: {}", ref.written, key));
        }
    }

    for (const auto& dep : check.missing_deps) {
        std::string note;
        if (auto it = check.tracked_missing.find(dep); it != check.tracked_missing.end())
            note = fmt::format("tracked by {}{}, not checked out: run 'cairn checkout {}'", it->second,
                               workspace::k_pointer_suffix, it->second);
        check.reasons.push_back({Kind::dependency, dep, "missing", note});
    }
    for (const auto& p : check.missing_params) {
        bool file = std::any_of(check.missing_params_files.begin(), check.missing_params_files.end(),
                                [&](const ParamsRef* ref) { return ref->written == p; });
        check.reasons.push_back({Kind::param, p, "missing", file ? "the params file does not exist" : ""});
    }
    if (stage.always_changed) check.reasons.push_back({Kind::always_changed, "", ""});
    if (!locked) {
        check.reasons.push_back({Kind::never_run, "", ""});
        return check;
    }
    if (locked->cmd != stage.cmd) check.reasons.push_back({Kind::command, "", ""});

    auto before = by_path(locked->deps);
    for (const auto& p : check.current.deps) {
        auto it = before.find(p.path);
        if (it == before.end())
            check.reasons.push_back({Kind::dependency, p.path, "added"});
        else if (it->second->hash != p.hash)
            check.reasons.push_back({Kind::dependency, p.path, "modified"});
    }
    for (const auto& entry : before) {
        const std::string& path = entry.first;
        bool still = std::any_of(stage.deps.begin(), stage.deps.end(), [&](const Dependency& d) { return d.written == path; });
        if (!still) check.reasons.push_back({Kind::dependency, path, "removed"});
    }

    for (const auto& [file, values] : check.current.params) {
        auto f = locked->params.find(file);
        for (const auto& [key, value] : values) {
            const nlohmann::json* old = nullptr;
            if (f != locked->params.end())
                if (auto k = f->second.find(key); k != f->second.end()) old = &k->second;
            if (!old)
                check.reasons.push_back({Kind::param, key, "added"});
            else if (*old != value)
                check.reasons.push_back({Kind::param, key, fmt::format("changed ({} -> {})", old->dump(), value.dump())});
        }
    }
    for (const auto& [file, values] : locked->params) {
        // A missing params file is one reason, not one per key.
        if (std::find(check.missing_params.begin(), check.missing_params.end(), file) != check.missing_params.end())
            continue;
        auto f = check.current.params.find(file);
        for (const auto& [key, value] : values)
            if (f == check.current.params.end() || !f->second.count(key))
                if (std::find(check.missing_params.begin(), check.missing_params.end(), fmt::format("{}: {}", file, key)) ==
                    check.missing_params.end())
                    check.reasons.push_back({Kind::param, key, "removed"});
    }

    auto outs_before = by_path(locked->outs);
    for (const auto& out : stage.outs) {
        auto it = outs_before.find(out.written);
        auto state = probe.path(out.path);
        if (!state)
            check.reasons.push_back({Kind::output, out.path, "deleted"});
        else if (it == outs_before.end())
            check.reasons.push_back({Kind::output, out.path, "added"});
        else if (it->second->hash != state->hash)
            check.reasons.push_back({Kind::output, out.path, "modified"});
    }
    for (const auto& entry : outs_before) {
        const std::string& path = entry.first;
        bool still = std::any_of(stage.outs.begin(), stage.outs.end(), [&](const Output& o) { return o.written == path; });
        if (!still) check.reasons.push_back({Kind::output, path, "removed"});
    }
    return check;
}

std::vector<std::string> stage_argv(const Stage& stage) {
    if (stage.cmd.size() == 1) return {"sh", "-c", stage.cmd.front()};
    // Each command in its own subshell, as DVC runs each in its own shell: a `cd` or a variable
    // set by one does not reach the next.
    std::string script;
    for (const auto& c : stage.cmd) script += (script.empty() ? "(" : " && (") + c + "\n)";
    return {"sh", "-c", script};
}

std::string stage_key(const LockedStage& current) {
    nlohmann::json key;
    key["cmd"] = current.cmd;
    nlohmann::json deps = nlohmann::json::object();
    for (const auto& d : current.deps) deps[d.path] = d.hash;
    key["deps"] = deps;
    nlohmann::json params = nlohmann::json::object();
    for (const auto& [file, values] : current.params)
        for (const auto& [k, v] : values) params[file][k] = v;
    key["params"] = params;
    return hash::hash_bytes(key.dump()).id();
}

} // namespace cairn::pipeline
