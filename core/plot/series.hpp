#pragma once
// Metric series for charts: one run's points of one key as (x, y) numbers, the trailing moving
// average of --smooth, and the min/max-per-column downsampling every chart draws from, so a
// spike is never dropped however many points a series holds.

#include <cstddef>
#include <string>
#include <vector>

#include "core/run/record.hpp"

namespace cairn::plot {

enum class XAxis { step, time };

struct Series {
    std::string label; // the run's name (or short id)
    std::string run;   // the run's id
    std::vector<double> x, y;
    // The colour and marker to draw with (svg_color, marker, a terminal colour): a run's position
    // in the selection, so that it looks the same in every chart; k_by_position: its index in
    // the chart.
    static constexpr std::size_t k_by_position = static_cast<std::size_t>(-1);
    std::size_t style = k_by_position;
    std::size_t non_finite = 0; // nan and inf values of the key left out of x, y (where counted)
};

// The points of `key` in `r`, in the order logged, x = step or seconds since the run started
// (the first point when the start is unknown). Non-finite values (nan, inf) are left out.
[[nodiscard]] Series series_of(const run::RunRecord& r, const std::string& key, XAxis axis);

// Replaces each y by the mean of it and the N-1 points before it (a trailing window: the
// first N-1 points average what there is). N <= 1 leaves the series as it is.
void smooth(Series& s, std::size_t window);

// Log scale: removes the points whose y is not positive and takes log10 of the others.
// Returns how many were removed.
std::size_t to_log10(Series& s);

struct Range {
    double lo = 0, hi = 0;
};

// The range of xs (or ys) over the series; {0, 0} when they hold no points.
[[nodiscard]] Range x_range(const std::vector<Series>& s);
[[nodiscard]] Range y_range(const std::vector<Series>& s);

// One pixel column of a downsampled series.
struct Bucket {
    bool empty = true;
    double min = 0, max = 0;   // the extremes of the column's points
    double first = 0, last = 0; // its first and last points (in series order)
    std::size_t min_at = 0, max_at = 0; // the indices of the extremes, for ordering them
};

// The points of `s` split into `columns` equal columns of [xr.lo, xr.hi] (points outside go to
// the nearest end). O(points).
[[nodiscard]] std::vector<Bucket> downsample(const Series& s, Range xr, std::size_t columns);

// The series cut to at most 4 points per column (first, min, max, last, in series order; x the
// column's centre for min and max), for a vector path or JSON: the same picture at that width.
[[nodiscard]] Series reduce(const Series& s, Range xr, std::size_t columns);

// "Nice" tick values (1, 2, 5 times a power of ten) covering [lo, hi], at most about `count`.
[[nodiscard]] std::vector<double> nice_ticks(double lo, double hi, int count);
// A tick's text with as many decimals as the ticks' spacing needs ("0.25", "1e+06" when large).
[[nodiscard]] std::string tick_label(double value, double spacing);

} // namespace cairn::plot
