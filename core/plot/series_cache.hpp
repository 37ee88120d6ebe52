#pragma once
// The chart series cache (`.cairn/state/series/<commit>.<columns>`, docs/format.md "Chart
// series"): a run's metric series cut to a chart's pixel columns, kept per run commit so that a
// report reads a few hundred points per series instead of the whole metrics.tsv. Filled when a
// run is recorded (run::commit_run, for every column count a report uses) and by `cairn report`
// for a run that has none; derived data, never trusted when malformed.

#include <array>
#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/metrics/metrics.hpp"
#include "core/plot/series.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::plot {

// The column counts a report cuts series to (report::columns_for picks one by run count).
inline constexpr std::array<std::size_t, 3> k_cut_columns = {32, 150, 600};

// Every key's series (x = step), each cut to `columns` columns of its own step range.
using CutSeries = std::map<std::string, Series>;

[[nodiscard]] std::filesystem::path series_cache_path(const workspace::Workspace& ws, const std::string& commit, std::size_t columns);

// The cached series, or nullopt when the file is missing or is not exactly what
// write_series_cache writes (anything unexpected means it is computed again).
[[nodiscard]] std::optional<CutSeries> read_series_cache(const std::filesystem::path& path);

// Writes the file atomically (temp + rename, no fsync: derived data). Never throws: a cache
// that cannot be written (read-only store, disk full) costs time, not results: returns false.
bool write_series_cache(const std::filesystem::path& path, const CutSeries& series) noexcept;

// A metrics.tsv's series cut to each of `columns` (one CutSeries per entry, in that order);
// non-finite values left out. Throws Error(input) naming `where` for a malformed file.
[[nodiscard]] std::vector<CutSeries> cut_metrics_tsv(std::string_view text, const std::string& where,
                                                     const std::vector<std::size_t>& columns);
// The same of points in memory (a run in progress).
[[nodiscard]] CutSeries cut_points(const std::vector<metrics::MetricPoint>& points, std::size_t columns);

// Fills the cache of a recorded run's commit from its metrics.tsv text for every k_cut_columns
// count. Best effort: returns false (and writes what it could) on any failure, never throws.
bool fill_series_cache(const workspace::Workspace& ws, const std::string& commit, std::string_view metrics_tsv) noexcept;

} // namespace cairn::plot
