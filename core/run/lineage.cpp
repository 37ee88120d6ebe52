#include "core/run/lineage.hpp"

namespace cairn::run {

LineageIndex::LineageIndex(std::vector<RunRecord> runs) : m_runs(std::move(runs)) {
    for (std::size_t i = 0; i < m_runs.size(); ++i) {
        const RunRecord& r = m_runs[i];
        m_by_id.emplace(r.id, i);
        for (const auto& [path, id] : r.outputs) {
            m_producers[id].push_back(i);
            m_path_writers[path].push_back(i);
        }
        for (const auto& [path, id] : r.inputs) m_consumers[id].push_back(i);
    }
}

namespace {

std::vector<const RunRecord*> pick(const std::vector<RunRecord>& runs,
                                   const std::unordered_map<std::string, std::vector<std::size_t>>& map,
                                   const std::string& key) {
    std::vector<const RunRecord*> out;
    if (auto it = map.find(key); it != map.end())
        for (std::size_t i : it->second) out.push_back(&runs[i]);
    return out;
}

} // namespace

std::vector<const RunRecord*> LineageIndex::producers(const std::string& object_id) const {
    return pick(m_runs, m_producers, object_id);
}

std::vector<const RunRecord*> LineageIndex::consumers(const std::string& object_id) const {
    return pick(m_runs, m_consumers, object_id);
}

std::vector<const RunRecord*> LineageIndex::writers_of_path(const std::string& path) const {
    return pick(m_runs, m_path_writers, path);
}

const RunRecord* LineageIndex::by_id(const std::string& id) const {
    auto it = m_by_id.find(id);
    return it == m_by_id.end() ? nullptr : &m_runs[it->second];
}

const RunRecord* LineageIndex::producer_for(const std::string& object_id, const RunRecord* consumer) const {
    auto all = producers(object_id);
    if (all.empty()) return nullptr;
    const RunRecord* best = nullptr;
    auto better = [](const RunRecord* a, const RunRecord* b) {
        // An original beats a re-run; then the newer one (the list is newest first).
        if (!b) return true;
        return a->reproduces.empty() && !b->reproduces.empty();
    };
    for (const RunRecord* p : all) {
        if (consumer && (p->id == consumer->id || (p->end_ms && p->end_ms > consumer->start_ms))) continue;
        if (better(p, best)) best = p;
    }
    if (best) return best;
    // None finished before the consumer began (clocks differ between machines): the oldest.
    for (const RunRecord* p : all)
        if (!consumer || p->id != consumer->id) best = p;
    return best;
}

} // namespace cairn::run
