#include "core/plot/series.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace cairn::plot {

Series series_of(const run::RunRecord& r, const std::string& key, XAxis axis) {
    Series s;
    s.run = r.id;
    s.label = r.name.empty() ? r.id.substr(0, 8) : r.name;
    std::int64_t origin = r.start_ms;
    if (axis == XAxis::time && origin == 0)
        for (const auto& p : r.metrics)
            if (p.key == key) {
                origin = p.unix_ms;
                break;
            }
    for (const auto& p : r.metrics) {
        if (p.key != key || !std::isfinite(p.value)) continue;
        s.x.push_back(axis == XAxis::step ? static_cast<double>(p.step) : static_cast<double>(p.unix_ms - origin) / 1000.0);
        s.y.push_back(p.value);
    }
    return s;
}

void smooth(Series& s, std::size_t window) {
    if (window <= 1) return;
    std::vector<double> out(s.y.size());
    double sum = 0;
    for (std::size_t i = 0; i < s.y.size(); ++i) {
        sum += s.y[i];
        if (i >= window) sum -= s.y[i - window];
        out[i] = sum / static_cast<double>(std::min(i + 1, window));
    }
    s.y = std::move(out);
}

std::size_t to_log10(Series& s) {
    std::size_t kept = 0, removed = 0;
    for (std::size_t i = 0; i < s.y.size(); ++i) {
        if (!(s.y[i] > 0)) {
            ++removed;
            continue;
        }
        s.x[kept] = s.x[i];
        s.y[kept] = std::log10(s.y[i]);
        ++kept;
    }
    s.x.resize(kept);
    s.y.resize(kept);
    return removed;
}

namespace {
Range range_of(const std::vector<Series>& all, bool xs) {
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (const auto& s : all)
        for (double v : xs ? s.x : s.y) lo = std::min(lo, v), hi = std::max(hi, v);
    if (lo > hi) return {};
    return {lo, hi};
}
} // namespace

Range x_range(const std::vector<Series>& s) { return range_of(s, true); }
Range y_range(const std::vector<Series>& s) { return range_of(s, false); }

std::vector<Bucket> downsample(const Series& s, Range xr, std::size_t columns) {
    std::vector<Bucket> out(columns);
    if (columns == 0) return out;
    const double span = xr.hi - xr.lo;
    const double scale = span > 0 ? static_cast<double>(columns) / span : 0;
    for (std::size_t i = 0; i < s.x.size(); ++i) {
        double pos = (s.x[i] - xr.lo) * scale;
        std::size_t c = pos <= 0 ? 0 : std::min(columns - 1, static_cast<std::size_t>(pos));
        Bucket& b = out[c];
        double y = s.y[i];
        if (b.empty) {
            b = {false, y, y, y, y, i, i};
            continue;
        }
        if (y < b.min) b.min = y, b.min_at = i;
        if (y > b.max) b.max = y, b.max_at = i;
        b.last = y;
    }
    return out;
}

Series reduce(const Series& s, Range xr, std::size_t columns) {
    Series out;
    out.label = s.label;
    out.run = s.run;
    if (s.x.size() <= 4 * columns) {
        out.x = s.x;
        out.y = s.y;
        return out;
    }
    auto buckets = downsample(s, xr, columns);
    const double width = columns ? (xr.hi - xr.lo) / static_cast<double>(columns) : 0;
    std::size_t first_index = 0;
    for (std::size_t c = 0; c < columns; ++c) {
        const Bucket& b = buckets[c];
        if (b.empty) continue;
        double left = xr.lo + width * static_cast<double>(c), mid = left + width / 2;
        auto add = [&](double x, double y) {
            if (!out.y.empty() && out.x.back() == x && out.y.back() == y) return;
            out.x.push_back(x);
            out.y.push_back(y);
        };
        add(left, b.first);
        if (b.min_at <= b.max_at) add(mid, b.min), add(mid, b.max);
        else add(mid, b.max), add(mid, b.min);
        add(left + width, b.last);
        (void)first_index;
    }
    return out;
}

std::vector<double> nice_ticks(double lo, double hi, int count) {
    std::vector<double> out;
    if (!std::isfinite(lo) || !std::isfinite(hi) || count < 1) return out;
    if (hi < lo) std::swap(lo, hi);
    if (hi == lo) return {lo};
    double raw = (hi - lo) / static_cast<double>(count);
    double mag = std::pow(10.0, std::floor(std::log10(raw)));
    double norm = raw / mag;
    double step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
    double first = std::ceil(lo / step - 1e-9) * step;
    for (double v = first; v <= hi + step * 1e-9 && out.size() < 1000; v = first + step * static_cast<double>(out.size()))
        out.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
    return out;
}

std::string tick_label(double value, double spacing) {
    double a = std::abs(value);
    if (a != 0 && (a >= 1e6 || a < 1e-4)) return fmt::format("{:.3g}", value);
    int decimals = 0;
    if (spacing > 0 && spacing < 1) decimals = std::min(6, static_cast<int>(std::ceil(-std::log10(spacing) - 1e-9)));
    return fmt::format("{:.{}f}", value, decimals);
}

} // namespace cairn::plot
