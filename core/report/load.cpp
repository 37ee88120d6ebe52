// Reading the selected runs' series for the report, each cut to the chart's columns as read,
// through a cache of those cut series per run commit (.cairn/state/series/).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>

#include <fmt/format.h>

#include "core/fs/atomic_file.hpp"
#include "core/report/report.hpp"
#include "core/run/store.hpp"
#include "core/util/parallel.hpp"

namespace cairn::report {
namespace {

constexpr std::string_view k_cache_header = "cairn-series 1\n";

std::filesystem::path cache_path(const workspace::Workspace& ws, const std::string& commit, std::size_t columns) {
    return ws.store_dir() / "state" / "series" / fmt::format("{}.{}", commit, columns);
}

// The cached series, or nullopt when the file is missing or is not exactly what write_cache
// writes (a derived file: anything unexpected means it is computed again, never trusted).
std::optional<std::map<std::string, plot::Series>> read_cache(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::string text((std::istreambuf_iterator<char>(in)), {});
    std::string_view rest = text;
    if (rest.substr(0, k_cache_header.size()) != k_cache_header) return std::nullopt;
    rest.remove_prefix(k_cache_header.size());
    std::map<std::string, plot::Series> out;
    while (!rest.empty()) {
        std::size_t tab = rest.find('\t'), nl = rest.find('\n');
        if (tab == std::string_view::npos || nl == std::string_view::npos || tab > nl || tab == 0) return std::nullopt;
        plot::Series& s = out[std::string(rest.substr(0, tab))];
        const char* p = rest.data() + tab + 1;
        const char* end = rest.data() + nl;
        std::size_t n = 0;
        auto r = std::from_chars(p, end, n);
        if (r.ec != std::errc() || n > 100000) return std::nullopt;
        p = r.ptr;
        s.x.resize(n);
        s.y.resize(n);
        for (std::size_t i = 0; i < 2 * n; ++i) {
            if (p >= end || *p != ' ') return std::nullopt;
            double v = 0;
            auto q = std::from_chars(p + 1, end, v);
            if (q.ec != std::errc()) return std::nullopt;
            (i % 2 ? s.y : s.x)[i / 2] = v;
            p = q.ptr;
        }
        if (p != end) return std::nullopt;
        rest.remove_prefix(nl + 1);
    }
    return out;
}

void write_cache(const std::filesystem::path& path, const std::map<std::string, plot::Series>& series) {
    std::string text(k_cache_header);
    for (const auto& [key, s] : series) {
        text += fmt::format("{}\t{}", key, s.x.size());
        for (std::size_t i = 0; i < s.x.size(); ++i) text += fmt::format(" {} {}", s.x[i], s.y[i]);
        text += '\n';
    }
    try {
        std::filesystem::create_directories(path.parent_path());
        fs::write_file_atomic(path, text, 0644, fs::Durability::deferred);
    } catch (const std::exception&) {
        // A cache that cannot be written (read-only store, disk full) costs time, not results.
    }
}

std::map<std::string, plot::Series> read_series(workspace::Workspace& ws, const run::RunRecord& r, std::size_t columns) {
    std::map<std::string, plot::Series> full;
    plot::Series* current = nullptr;
    std::string current_key;
    auto add = [&](std::string_view key, std::int64_t step, double value) {
        if (!std::isfinite(value)) return;
        if (!current || key != current_key) {
            current_key = std::string(key);
            current = &full[current_key];
        }
        current->x.push_back(static_cast<double>(step));
        current->y.push_back(value);
    };
    if (r.commit.empty()) { // in progress: the listing holds what it logged so far
        for (const auto& p : r.metrics) add(p.key, p.step, p.value);
    } else if (auto text = ws.repo().read_blob(r.commit, "metrics.tsv")) {
        run::scan_metrics_tsv(*text, std::string(run::k_ref_prefix) + r.id + ":metrics.tsv",
                              [&](std::string_view key, std::int64_t step, double value, std::int64_t) { add(key, step, value); });
    }
    std::map<std::string, plot::Series> out;
    for (auto& [key, s] : full) {
        plot::Range xr{std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()};
        for (double x : s.x) xr.lo = std::min(xr.lo, x), xr.hi = std::max(xr.hi, x);
        out[key] = plot::reduce(s, xr, columns);
    }
    return out;
}

} // namespace

std::size_t columns_for(std::size_t runs, std::size_t chart_points, std::size_t max_columns) {
    // Tiers, so that reports of a similar number of runs share their cached series.
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
            if (!wanted || !std::isfinite(value)) return;
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
            cache = cache_path(ws, r.commit, columns);
            series = read_cache(cache);
        }
        if (!series) {
            series = read_series(ws, r, columns);
            if (!r.commit.empty()) write_cache(cache, *series);
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
