// Charts: series, smoothing, min/max downsampling (spikes survive), ticks, the braille text
// chart and the SVG writer.
#include <chrono>
#include <cmath>
#include <string>

#include <catch2/catch.hpp>

#include "core/plot/chart.hpp"
#include "core/plot/series.hpp"

using namespace cairn;

namespace {
plot::Series line_series(std::size_t n, const std::string& label = "a") {
    plot::Series s;
    s.label = label;
    s.run = label;
    for (std::size_t i = 0; i < n; ++i) {
        s.x.push_back(static_cast<double>(i));
        s.y.push_back(1.0);
    }
    return s;
}
std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
    return n;
}
} // namespace

TEST_CASE("plot: series of a record, steps or seconds, non-finite values left out", "[plot]") {
    run::RunRecord r;
    r.id = "0123456789abcdef0123456789abcdef";
    r.start_ms = 1000;
    r.metrics = {{"loss", 0, 0.5, 1000}, {"acc", 0, 0.1, 1000}, {"loss", 1, NAN, 2000}, {"loss", 2, 0.25, 3500}};
    auto s = plot::series_of(r, "loss", plot::XAxis::step);
    CHECK(s.label == "01234567");
    REQUIRE(s.x.size() == 2);
    CHECK(s.x[1] == 2);
    CHECK(s.y[1] == 0.25);
    auto t = plot::series_of(r, "loss", plot::XAxis::time);
    CHECK(t.x[1] == 2.5);
    CHECK(plot::series_of(r, "nope", plot::XAxis::step).x.empty());
}

TEST_CASE("plot: smoothing is a trailing moving average", "[plot]") {
    plot::Series s;
    s.x = {0, 1, 2, 3};
    s.y = {1, 3, 5, 7};
    plot::smooth(s, 2);
    CHECK(s.y == std::vector<double>{1, 2, 4, 6});
    plot::Series one = s;
    plot::smooth(one, 1);
    CHECK(one.y == s.y);
}

TEST_CASE("plot: log scale drops values that are not positive", "[plot]") {
    plot::Series s;
    s.x = {0, 1, 2, 3};
    s.y = {100, 0, -1, 0.01};
    CHECK(plot::to_log10(s) == 2);
    CHECK(s.x == std::vector<double>{0, 3});
    CHECK(s.y[0] == Approx(2));
    CHECK(s.y[1] == Approx(-2));
}

TEST_CASE("plot: a single spike survives downsampling 1,000,000 points", "[plot]") {
    auto s = line_series(1'000'000);
    s.y[654'321] = 50.0;
    s.y[123'457] = -7.0;
    auto started = std::chrono::steady_clock::now();
    auto buckets = plot::downsample(s, plot::x_range({s}), 140);
    double max = -1e9, min = 1e9;
    for (const auto& b : buckets) max = std::max(max, b.max), min = std::min(min, b.min);
    CHECK(max == 50.0);
    CHECK(min == -7.0);
    auto reduced = plot::reduce(s, plot::x_range({s}), 140);
    CHECK(reduced.x.size() <= 4 * 140);
    CHECK(*std::max_element(reduced.y.begin(), reduced.y.end()) == 50.0);
    CHECK(*std::min_element(reduced.y.begin(), reduced.y.end()) == -7.0);
    // The text chart draws the spike: the top row has a dot.
    plot::Chart chart;
    chart.title = "loss";
    chart.series.push_back(s);
    std::string text = plot::render_text(chart, {70, 10, false});
    auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    WARN("1,000,000 points: downsample, reduce and text chart in " << elapsed << " s"); // a figure, not asserted
    // The spike reaches the top row and the dip the bottom row of the plot.
    std::vector<std::string> lines;
    for (std::size_t at = 0, nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1) lines.push_back(text.substr(at, nl - at));
    REQUIRE(lines.size() > 11);
    auto has_braille = [](const std::string& row) {
        for (std::size_t i = 0; i + 2 < row.size(); ++i)
            if (static_cast<unsigned char>(row[i]) == 0xE2 && (static_cast<unsigned char>(row[i + 1]) & 0xFC) == 0xA0 &&
                static_cast<unsigned char>(row[i + 2]) != 0x80)
                return true;
        return false;
    };
    // Rows 1..10 are the plot; the flat line is on one of them, the spike above it, the dip below.
    std::size_t flat = 0;
    for (std::size_t r = 1; r <= 10; ++r)
        if (lines[r].find("\u28c0") != std::string::npos || lines[r].find("\u2809") != std::string::npos || lines[r].find("\u2812") != std::string::npos ||
            lines[r].find("\u2824") != std::string::npos)
            flat = r;
    REQUIRE(flat > 1);
    REQUIRE(flat < 10);
    CHECK(has_braille(lines[flat - 1]));
    CHECK(has_braille(lines[flat + 1]));
}

TEST_CASE("plot: nice ticks", "[plot]") {
    CHECK(plot::nice_ticks(0, 1, 5) == std::vector<double>{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1});
    auto t = plot::nice_ticks(3, 997, 4);
    CHECK(t.front() == 200);
    CHECK(t.back() == 800);
    CHECK(plot::tick_label(0.25, 0.05) == "0.25");
    CHECK(plot::tick_label(200, 200) == "200");
    CHECK(plot::tick_label(2e7, 1e7) == "2e+07");
    CHECK(plot::nice_ticks(5, 5, 4) == std::vector<double>{5});
}

TEST_CASE("plot: text chart has title, axes, legend, markers without colour and ANSI with", "[plot]") {
    plot::Chart chart;
    chart.title = "loss";
    chart.x_label = "step";
    chart.series.push_back(line_series(100, "run-a"));
    auto b = line_series(100, "run-b");
    for (auto& y : b.y) y = 2.0;
    chart.series.push_back(b);
    std::string plain = plot::render_text(chart, {40, 8, false});
    CHECK(plain.rfind("loss\n", 0) == 0);
    CHECK(plain.find("* run-a") != std::string::npos);
    CHECK(plain.find("+ run-b") != std::string::npos);
    CHECK(plain.find("step") != std::string::npos);
    CHECK(plain.find("\x1b[") == std::string::npos);
    CHECK(plain.find("\u2514") != std::string::npos);
    std::string color = plot::render_text(chart, {40, 8, true});
    CHECK(color.find("\x1b[34m") != std::string::npos);
    CHECK(color.find("\x1b[31m") != std::string::npos);
}

TEST_CASE("plot: SVG has one path per series, a legend and escaped text", "[plot]") {
    plot::Chart chart;
    chart.title = "a<b & \"c\"";
    chart.series.push_back(line_series(10, "x<y>"));
    chart.series.push_back(line_series(3000, "z"));
    std::string svg = plot::render_svg(chart, {});
    CHECK(svg.rfind("<?xml", 0) == 0);
    CHECK(count(svg, "<path class=\"series\"") == 2);
    CHECK(svg.find("a&lt;b &amp; &quot;c&quot;") != std::string::npos);
    CHECK(svg.find("x&lt;y&gt;") != std::string::npos);
    CHECK(svg.find("<y>") == std::string::npos);
    CHECK(count(svg, "class=\"legend\"") == 2);
    CHECK(plot::xml_escape(std::string("a\x01'b")) == "a&#39;b");
}

TEST_CASE("plot: text y labels stand on evenly spaced rows at any height, --height 1 is one row", "[plot]") {
    plot::Chart chart;
    chart.title = "loss";
    plot::Series s;
    s.label = "a";
    for (int i = 0; i < 50; ++i) s.x.push_back(i), s.y.push_back(0.37 + 0.0123 * i);
    chart.series.push_back(s);
    for (std::size_t h : {1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u, 9u, 10u, 11u, 12u, 13u, 16u, 20u, 31u}) {
        INFO("height " << h);
        std::string text = plot::render_text(chart, {40, h, false});
        // The rows of the plot: after the title, up to the x axis rule.
        std::vector<std::string> rows;
        std::size_t at = text.find('\n') + 1;
        while (true) {
            std::size_t end = text.find('\n', at);
            std::string line = text.substr(at, end - at);
            if (line.find("\u2514") != std::string::npos) break;
            rows.push_back(line);
            at = end + 1;
        }
        CHECK(rows.size() == h);
        std::vector<std::size_t> labelled;
        for (std::size_t r = 0; r < rows.size(); ++r)
            if (rows[r].find("\u2524") != std::string::npos) labelled.push_back(r);
        REQUIRE(!labelled.empty());
        CHECK(labelled.back() == h - 1); // the bottom row carries a label
        if (h >= 3) CHECK(labelled.size() >= 2);
        for (std::size_t k = 2; k < labelled.size(); ++k) CHECK(labelled[k] - labelled[k - 1] == labelled[1] - labelled[0]);
    }
}

TEST_CASE("plot: an SVG line's hover title gives the exact last value, not the tick's rounding", "[plot]") {
    plot::Chart chart;
    chart.title = "loss";
    plot::Series s;
    s.label = "a";
    s.x = {0, 1, 2};
    s.y = {0.9, 0.5, 0.23456789};
    chart.series.push_back(s);
    std::string svg = plot::render_svg(chart, {});
    CHECK(svg.find("<title>a, last 0.23456789 at 2</title>") != std::string::npos);
    chart.log_y = true;
    plot::Series l = s;
    l.y = {std::log10(900.0), std::log10(50.0), std::log10(0.125)};
    chart.series = {l};
    CHECK(plot::render_svg(chart, {}).find("<title>a, last 0.125 at 2</title>") != std::string::npos);
}
