#pragma once
// A line chart of metric series, drawn as text (Unicode braille, 2x4 dots a cell) or as a
// standalone SVG. Both draw the min/max-per-column downsampling of every series
// (core/plot/series.hpp), so spikes survive and a million points cost one pass.

#include <cstddef>
#include <string>
#include <vector>

#include "core/plot/series.hpp"

namespace cairn::plot {

struct Chart {
    std::string title;   // the metric name
    std::string x_label; // "step" or "time (s)"
    bool log_y = false;  // the series' y already hold log10 values (to_log10); ticks say 10^v
    bool integer_x = false; // x are steps: ticks at whole numbers only
    std::string y_label;    // SVG only: written along the y axis ("" none)
    bool dots = false;      // SVG only: each point a dot, no line between them (a scatter plot)
    std::vector<Series> series;
};

struct TextStyle {
    std::size_t width = 72, height = 16; // the plot area in terminal cells (braille cells)
    bool color = false;                  // ANSI colours, one per series; else plain marker symbols
};

// The chart as lines of text: title, y axis with ticks, the braille plot, x axis with ticks and
// label, and a legend naming each series (with its colour, or its marker symbol without colour).
[[nodiscard]] std::string render_text(const Chart& chart, const TextStyle& style);

// The marker symbol of series `i` in a chart without colour.
[[nodiscard]] char marker(std::size_t i);

// The colour (#rrggbb) of series `i` in SVG output.
[[nodiscard]] const char* svg_color(std::size_t i);

struct SvgStyle {
    int width = 720, height = 360; // the whole picture, in pixels (the legend below adds to it)
    bool legend = true;
    bool standalone = true; // an XML declaration and xmlns (a file); false: for inlining in HTML
    // For the HTML report: data attributes and classes its script reads (hover, toggles).
    bool interactive = false;
    std::size_t max_points = 0; // cap on points a path keeps in all (0: 4 per pixel column)
};

// The chart as SVG: axes, ticks, grid, title, one <path> per series (with a <title> naming the
// run, so a viewer shows it on hover), the legend. Every text escaped.
[[nodiscard]] std::string render_svg(const Chart& chart, const SvgStyle& style);

// `text` with & < > " ' as XML entities, and control characters other than tab and newline
// dropped (XML cannot hold them).
[[nodiscard]] std::string xml_escape(const std::string& text);

} // namespace cairn::plot
