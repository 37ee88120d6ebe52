#include "core/plot/series_cache.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>

#include <fmt/format.h>

#include "core/fs/atomic_file.hpp"
#include "core/run/record.hpp"

namespace cairn::plot {
namespace {

constexpr std::string_view k_cache_header = "cairn-series 1\n";

// Collects (step, value) points per key, in the order given, skipping non-finite values.
class Collector {
public:
    void add(std::string_view key, std::int64_t step, double value) {
        if (!std::isfinite(value)) return;
        if (!m_current || key != m_current_key) {
            m_current_key = std::string(key);
            m_current = &m_full[m_current_key];
        }
        m_current->x.push_back(static_cast<double>(step));
        m_current->y.push_back(value);
    }
    [[nodiscard]] CutSeries cut(std::size_t columns) const {
        CutSeries out;
        for (const auto& [key, s] : m_full) {
            Range xr{std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()};
            for (double x : s.x) xr.lo = std::min(xr.lo, x), xr.hi = std::max(xr.hi, x);
            out[key] = reduce(s, xr, columns);
        }
        return out;
    }

private:
    std::map<std::string, Series> m_full;
    Series* m_current = nullptr;
    std::string m_current_key;
};

} // namespace

std::filesystem::path series_cache_path(const workspace::Workspace& ws, const std::string& commit, std::size_t columns) {
    return ws.store_dir() / "state" / "series" / fmt::format("{}.{}", commit, columns);
}

std::optional<CutSeries> read_series_cache(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::string text((std::istreambuf_iterator<char>(in)), {});
    std::string_view rest = text;
    if (rest.substr(0, k_cache_header.size()) != k_cache_header) return std::nullopt;
    rest.remove_prefix(k_cache_header.size());
    CutSeries out;
    while (!rest.empty()) {
        std::size_t tab = rest.find('\t'), nl = rest.find('\n');
        if (tab == std::string_view::npos || nl == std::string_view::npos || tab > nl || tab == 0) return std::nullopt;
        Series& s = out[std::string(rest.substr(0, tab))];
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

bool write_series_cache(const std::filesystem::path& path, const CutSeries& series) noexcept {
    try {
        std::string text(k_cache_header);
        for (const auto& [key, s] : series) {
            text += fmt::format("{}\t{}", key, s.x.size());
            for (std::size_t i = 0; i < s.x.size(); ++i) text += fmt::format(" {} {}", s.x[i], s.y[i]);
            text += '\n';
        }
        std::filesystem::create_directories(path.parent_path());
        fs::write_file_atomic(path, text, 0644, fs::Durability::deferred);
        return true;
    } catch (...) {
        return false; // derived data: the next report cuts the series again
    }
}

std::vector<CutSeries> cut_metrics_tsv(std::string_view text, const std::string& where, const std::vector<std::size_t>& columns) {
    Collector c;
    run::scan_metrics_tsv(text, where, [&](std::string_view key, std::int64_t step, double value, std::int64_t) { c.add(key, step, value); });
    std::vector<CutSeries> out;
    out.reserve(columns.size());
    for (std::size_t n : columns) out.push_back(c.cut(n));
    return out;
}

CutSeries cut_points(const std::vector<metrics::MetricPoint>& points, std::size_t columns) {
    Collector c;
    for (const auto& p : points) c.add(p.key, p.step, p.value);
    return c.cut(columns);
}

bool fill_series_cache(const workspace::Workspace& ws, const std::string& commit, std::string_view metrics_tsv) noexcept {
    try {
        std::vector<std::size_t> columns(k_cut_columns.begin(), k_cut_columns.end());
        auto cut = cut_metrics_tsv(metrics_tsv, commit + ":metrics.tsv", columns);
        bool ok = true;
        for (std::size_t i = 0; i < columns.size(); ++i) {
            ok &= write_series_cache(series_cache_path(ws, commit, columns[i]), cut[i]);
        }
        return ok;
    } catch (...) {
        return false;
    }
}

} // namespace cairn::plot
