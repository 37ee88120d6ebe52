// Reading the selected runs' series for the report, each cut to the chart's columns as read,
// through the cache of those cut series per run commit (core/plot/series_cache.hpp), which the
// recorder fills when a run is recorded.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

#include <fmt/format.h>

#include "core/plot/series_cache.hpp"
#include "core/report/report.hpp"
#include "core/run/store.hpp"
#include "core/util/parallel.hpp"

namespace cairn::report {
namespace {

plot::CutSeries read_series(workspace::Workspace& ws, const run::RunRecord& r, std::size_t columns) {
    if (r.commit.empty()) return plot::cut_points(r.metrics, columns); // in progress: what it logged so far
    auto text = ws.repo().read_blob(r.commit, "metrics.tsv");
    if (!text) return {};
    return std::move(plot::cut_metrics_tsv(*text, std::string(run::k_ref_prefix) + r.id + ":metrics.tsv", {columns}).front());
}

} // namespace

std::size_t columns_for(std::size_t runs, std::size_t chart_points, std::size_t max_columns) {
    // Tiers, so that reports of a similar number of runs share their cached series (the recorder
    // fills those of plot::k_cut_columns: 32, 150 and the default 600).
    std::size_t want = runs ? chart_points / (4 * runs) : max_columns;
    for (std::size_t tier : {32u, 150u})
        if (want <= tier && tier < max_columns) return tier;
    return max_columns;
}

std::vector<std::map<std::string, plot::Series>> read_full_series(workspace::Workspace& ws, const std::vector<run::RunRecord>& listed,
                                                                const std::vector<std::string>& keys, plot::XAxis axis) {
    std::vector<std::map<std::string, plot::Series>> out(listed.size());
    util::parallel_for(listed.size(), [&](std::size_t i) {
        const run::RunRecord& r = listed[i];
        auto& series = out[i];
        std::int64_t origin = r.start_ms;
        plot::Series* current = nullptr;
        std::string current_key;
        bool wanted = false;
        auto add = [&](std::string_view key, std::int64_t step, double value, std::int64_t ms) {
            if (!current || key != current_key) {
                current_key = std::string(key);
                wanted = std::find(keys.begin(), keys.end(), current_key) != keys.end();
                current = wanted ? &series[current_key] : nullptr;
            }
            if (!wanted) return;
            if (!std::isfinite(value)) {
                ++current->non_finite;
                return;
            }
            if (axis == plot::XAxis::time && origin == 0) origin = ms;
            current->x.push_back(axis == plot::XAxis::step ? static_cast<double>(step) : static_cast<double>(ms - origin) / 1000.0);
            current->y.push_back(value);
        };
        if (r.commit.empty()) {
            for (const auto& p : r.metrics) add(p.key, p.step, p.value, p.unix_ms);
        } else if (auto text = ws.repo().read_blob(r.commit, "metrics.tsv")) {
            run::scan_metrics_tsv(*text, std::string(run::k_ref_prefix) + r.id + ":metrics.tsv", add);
        }
        for (auto& [key, s] : series) {
            s.run = r.id;
            s.label = r.name.empty() ? r.id.substr(0, 8) : r.name;
        }
    });
    return out;
}

std::vector<RunData> load_runs(workspace::Workspace& ws, const std::vector<run::RunRecord>& listed, std::size_t columns,
                               util::Progress& progress) {
    std::vector<RunData> out(listed.size());
    progress.begin("Reading runs", listed.size());
    util::parallel_for(listed.size(), [&](std::size_t i) {
        const run::RunRecord& r = listed[i];
        RunData& d = out[i];
        d.record = r;
        d.record.summary = r.metric_summary();
        d.record.metrics.clear();
        std::optional<std::map<std::string, plot::Series>> series;
        std::filesystem::path cache;
        if (!r.commit.empty()) {
            cache = plot::series_cache_path(ws, r.commit, columns);
            series = plot::read_series_cache(cache);
        }
        if (!series) {
            series = read_series(ws, r, columns);
            if (!r.commit.empty()) plot::write_series_cache(cache, *series);
        }
        for (auto& [key, s] : *series) {
            s.run = r.id;
            s.label = r.name.empty() ? r.id.substr(0, 8) : r.name;
        }
        d.series = std::move(*series);
        progress.advance(1, 0);
    });
    progress.end();
    return out;
}

} // namespace cairn::report
