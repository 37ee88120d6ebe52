#include "core/run/diff.hpp"

#include <map>
#include <set>

namespace cairn::run {
namespace {

std::vector<ValueChange> compare_maps(const std::map<std::string, std::string>& a,
                                      const std::map<std::string, std::string>& b, bool keep_same) {
    std::set<std::string> keys;
    for (const auto& [k, v] : a) keys.insert(k);
    for (const auto& [k, v] : b) keys.insert(k);
    std::vector<ValueChange> out;
    for (const auto& k : keys) {
        ValueChange c{k, {}, {}};
        if (auto it = a.find(k); it != a.end()) c.old_value = it->second;
        if (auto it = b.find(k); it != b.end()) c.new_value = it->second;
        if (keep_same || c.change() != "same") out.push_back(std::move(c));
    }
    return out;
}

std::map<std::string, std::string> environment_of(const RunRecord& r) {
    std::map<std::string, std::string> m;
    for (const auto& [k, v] : r.env) m["env." + k] = v;
    // Variables recorded by name only: present, value unknown.
    for (const auto& k : r.env_names) m["env." + k] = "(set)";
    m["executable"] = r.executable;
    m["executable.sha256"] = r.executable_hash;
    m["host"] = r.host;
    m["os"] = r.os;
    if (!r.cpu.empty()) m["cpu"] = r.cpu;
    m["cairn_version"] = r.cairn_version;
    return m;
}

} // namespace

std::vector<MetricChange> compare_metrics(const RunRecord& a, const RunRecord& b) {
    auto ma = a.metric_summary(), mb = b.metric_summary();
    std::set<std::string> keys;
    for (const auto& [k, v] : ma) keys.insert(k);
    for (const auto& [k, v] : mb) keys.insert(k);
    std::vector<MetricChange> out;
    for (const auto& k : keys) {
        MetricChange c{k, {}, {}};
        if (auto it = ma.find(k); it != ma.end()) c.old_value = it->second.last;
        if (auto it = mb.find(k); it != mb.end()) c.new_value = it->second.last;
        out.push_back(c);
    }
    return out;
}

std::vector<ValueChange> compare_environment(const RunRecord& a, const RunRecord& b) {
    return compare_maps(environment_of(a), environment_of(b), false);
}

std::string ValueChange::change() const {
    if (!old_value) return "added";
    if (!new_value) return "removed";
    return *old_value == *new_value ? "same" : "changed";
}

RunDiff diff_runs(workspace::Workspace& ws, const RunRecord& a, const RunRecord& b, bool patch) {
    RunDiff d;
    d.a = a;
    d.b = b;
    std::map<std::string, std::string> pa, pb;
    for (const auto& p : a.params) pa[p.key] = p.text;
    for (const auto& p : b.params) pb[p.key] = p.text;
    d.params = compare_maps(pa, pb, false);
    d.metrics = compare_metrics(a, b);
    d.inputs = compare_maps(a.inputs, b.inputs, true);
    d.outputs = compare_maps(a.outputs, b.outputs, true);
    d.environment = compare_environment(a, b);
    if (!a.git_snapshot.empty() && !b.git_snapshot.empty())
        d.code = ws.repo().diff_commits(a.git_snapshot, b.git_snapshot, patch ? &d.patch : nullptr);
    return d;
}

} // namespace cairn::run
