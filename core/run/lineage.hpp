#pragma once
// Lineage: which runs produced and consumed which bytes. The graph is derived from the run index
// (each run's inputs and outputs, path -> object id), so it is rebuilt whenever the runs change
// and costs one pass over the listing.

#include <cstddef>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/run/record.hpp"

namespace cairn::run {

class LineageIndex {
public:
    // `runs` newest first, as list_runs() returns them.
    explicit LineageIndex(std::vector<RunRecord> runs);

    [[nodiscard]] const std::vector<RunRecord>& runs() const { return m_runs; }
    // Runs whose outputs (or inputs) hold the object, newest first.
    [[nodiscard]] std::vector<const RunRecord*> producers(const std::string& object_id) const;
    [[nodiscard]] std::vector<const RunRecord*> consumers(const std::string& object_id) const;
    // The run that made the bytes `consumer` read: the newest producer that finished before the
    // consumer started, preferring original runs to re-runs; else the oldest producer. Null
    // when no run produced them.
    [[nodiscard]] const RunRecord* producer_for(const std::string& object_id, const RunRecord* consumer) const;
    // Runs that wrote `path` as an output, newest first (whatever the bytes).
    [[nodiscard]] std::vector<const RunRecord*> writers_of_path(const std::string& path) const;
    // A run by full id.
    [[nodiscard]] const RunRecord* by_id(const std::string& id) const;

private:
    std::vector<RunRecord> m_runs;
    std::unordered_map<std::string, std::vector<std::size_t>> m_producers, m_consumers, m_path_writers;
    std::unordered_map<std::string, std::size_t> m_by_id;
};

} // namespace cairn::run
