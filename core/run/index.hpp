#pragma once
// The run index: a derived cache of every run's record (without log, environment and metric
// series; with metric summaries) at `.cairn/index/runs`, so that `cairn ls` reads one file instead of every
// run's commit. Each entry names the ref and the commit it was built from; an entry whose ref
// now points elsewhere (or no longer exists) is ignored and rebuilt from git, so the index can be
// deleted at any time and is safe under concurrent writers. Format: docs/format.md ("Run index").

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/run/record.hpp"

namespace cairn::run {

struct IndexEntry {
    std::string commit;
    RunRecord record; // metrics empty; summary in record.summary
};

// Parses an index file; nullopt when its header or any entry is malformed (it is then rebuilt).
[[nodiscard]] std::optional<std::map<std::string, IndexEntry>> parse_index(const std::string& text);
[[nodiscard]] std::string serialize_index(const std::map<std::string, IndexEntry>& entries);
// The version line both index files start with (`runs` and its append log `runs.log`).
[[nodiscard]] std::string_view index_header();

} // namespace cairn::run
