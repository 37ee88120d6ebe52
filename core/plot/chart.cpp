#include "core/plot/chart.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include <fmt/format.h>

namespace cairn::plot {
namespace {

struct Axis {
    Range range;
    std::vector<double> ticks;
    double spacing = 0;
};

// The data range widened when flat (a constant metric still gets an axis), and its ticks.
Axis make_axis(Range r, int count, bool log, bool integer = false, bool extend = false) {
    if (r.hi == r.lo) {
        double pad = r.lo == 0 ? 1 : std::abs(r.lo) * 0.1;
        r.lo -= pad;
        r.hi += pad;
    }
    Axis a;
    a.range = r;
    a.ticks = nice_ticks(r.lo, r.hi, count);
    if (extend && !log && a.ticks.size() > 1) { // the range grown to whole ticks, so both ends are labelled
        double step = a.ticks[1] - a.ticks[0];
        a.range = {std::floor(r.lo / step + 1e-9) * step, std::ceil(r.hi / step - 1e-9) * step};
        a.ticks = nice_ticks(a.range.lo, a.range.hi, count);
    }
    if (log && r.hi - r.lo >= 1.5) { // whole powers of ten
        std::vector<double> whole;
        for (double t = std::ceil(r.lo); t <= r.hi; t += 1) whole.push_back(t);
        while (whole.size() > static_cast<std::size_t>(std::max(count, 2))) {
            std::vector<double> half;
            for (std::size_t i = 0; i < whole.size(); i += 2) half.push_back(whole[i]);
            whole = half;
        }
        a.ticks = whole;
    }
    if (integer && a.ticks.size() > 1 && a.ticks[1] - a.ticks[0] < 1) {
        a.ticks.clear();
        for (double t = std::ceil(r.lo); t <= r.hi; t += 1) a.ticks.push_back(t);
    }
    a.spacing = a.ticks.size() > 1 ? a.ticks[1] - a.ticks[0] : std::abs(r.hi - r.lo);
    return a;
}

// The text chart's y axis: tick k (value lo + k * step) on row (h - 1) - k * gap, so that the
// labels stand evenly apart on a chart of any height (ticks placed by rounding pixels to rows
// crowd on some rows and skip others). A value maps to dot row base - (v - lo) * scale.
struct RowAxis {
    double lo = 0, step = 1;
    std::size_t ticks = 1, gap = 1;
    double base = 3, scale = 1;
};

RowAxis row_axis(Range r, std::size_t h, bool log) {
    if (r.hi == r.lo) {
        double pad = r.lo == 0 ? 1 : std::abs(r.lo) * 0.1;
        r.lo -= pad;
        r.hi += pad;
    }
    RowAxis a;
    if (h < 2) { // one row: its 4 dots span the data, labelled with the bottom value
        a.lo = r.lo;
        a.step = r.hi - r.lo;
        a.base = 3;
        a.scale = 3 / (r.hi - r.lo);
        return a;
    }
    const std::size_t rows = h - 1, min_gap = h >= 6 ? 2 : 1;
    double raw = (r.hi - r.lo) / static_cast<double>(std::max<std::size_t>(1, rows / 3));
    if (log) raw = std::max(raw, 1.0); // whole powers of ten
    double mag = std::pow(10.0, std::floor(std::log10(raw)));
    const double k_nice[] = {1, 2, 5};
    std::size_t nice = 0;
    while (nice < 3 && k_nice[nice] * mag < raw * (1 - 1e-9)) ++nice;
    if (nice == 3) nice = 0, mag *= 10;
    for (int tries = 0; tries < 64; ++tries) {
        double step = k_nice[nice] * mag;
        double first = std::floor(r.lo / step + 1e-9);
        auto n = static_cast<std::size_t>(std::max(1.0, std::ceil(r.hi / step - 1e-9) - first));
        if (n * min_gap <= rows) {
            // More intervals when they fill the rows better (5 of 3 rows on 16 rows, not 4 of 3).
            std::size_t best = n;
            for (std::size_t m = n; m * min_gap <= rows; ++m)
                if (m * (rows / m) > best * (rows / best)) best = m;
            a.lo = first * step;
            a.step = step;
            a.ticks = best + 1;
            a.gap = rows / best;
            a.base = static_cast<double>(4 * rows + 3);
            a.scale = 4.0 * static_cast<double>(a.gap) / step;
            return a;
        }
        if (++nice == 3) nice = 0, mag *= 10;
    }
    a.lo = r.lo, a.step = r.hi - r.lo, a.ticks = 2, a.gap = rows; // not reached for finite data
    a.base = static_cast<double>(4 * rows + 3), a.scale = 4.0 * static_cast<double>(rows) / a.step;
    return a;
}

std::string label_of(const Axis& a, double v, bool log) {
    if (log) return fmt::format("{:.3g}", std::pow(10.0, v));
    return tick_label(v, a.spacing);
}

std::size_t text_width(const std::string& s) {
    std::size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

void append_braille(std::string& out, std::uint8_t bits) {
    unsigned code = 0x2800u + bits;
    out += static_cast<char>(0xE0 | (code >> 12));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
}

constexpr int k_ansi[] = {34, 31, 32, 33, 35, 36, 94, 91, 92, 93, 95, 96};

class Canvas {
public:
    Canvas(std::size_t w, std::size_t h) : m_w(w), m_h(h), m_bits(w * h, 0), m_owner(w * h, -1), m_mark(w * h, 0) {}
    [[nodiscard]] std::size_t pw() const { return m_w * 2; }
    [[nodiscard]] std::size_t ph() const { return m_h * 4; }
    void dot(long x, long y, int owner) {
        if (x < 0 || y < 0 || x >= static_cast<long>(pw()) || y >= static_cast<long>(ph())) return;
        static constexpr std::uint8_t bit[2][4] = {{0x01, 0x02, 0x04, 0x40}, {0x08, 0x10, 0x20, 0x80}};
        std::size_t cell = static_cast<std::size_t>(y / 4) * m_w + static_cast<std::size_t>(x / 2);
        m_bits[cell] |= bit[x % 2][y % 4];
        m_owner[cell] = static_cast<std::int16_t>(owner);
    }
    void line(long x0, long y0, long x1, long y1, int owner) {
        long dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, err = dx + dy;
        for (;;) {
            dot(x0, y0, owner);
            if (x0 == x1 && y0 == y1) break;
            long e2 = 2 * err;
            if (e2 >= dy) err += dy, x0 += sx;
            if (e2 <= dx) err += dx, y0 += sy;
        }
    }
    // A marker symbol on the first cell of column `col` that `owner` drew last.
    void mark_column(std::size_t col, int owner, char symbol) {
        for (std::size_t r = 0; r < m_h; ++r) {
            std::size_t cell = r * m_w + col;
            if (m_owner[cell] == owner && m_bits[cell] && !m_mark[cell]) {
                m_mark[cell] = symbol;
                return;
            }
        }
    }
    // Row `r`, coloured (when `color`) with ansi[owner].
    void row(std::size_t r, std::string& out, bool color, const std::vector<int>& ansi) const {
        int current = -1;
        for (std::size_t c = 0; c < m_w; ++c) {
            std::size_t cell = r * m_w + c;
            int owner = m_owner[cell];
            if (color && owner != current) {
                out += owner < 0 ? std::string("\x1b[0m") : fmt::format("\x1b[{}m", ansi[static_cast<std::size_t>(owner)]);
                current = owner;
            }
            if (m_mark[cell])
                out += m_mark[cell];
            else if (m_bits[cell])
                append_braille(out, m_bits[cell]);
            else
                out += ' ';
        }
        if (color && current >= 0) out += "\x1b[0m";
    }

private:
    std::size_t m_w, m_h;
    std::vector<std::uint8_t> m_bits;
    std::vector<std::int16_t> m_owner;
    std::vector<char> m_mark;
};

std::size_t style_of(const Series& s, std::size_t i) { return s.style == Series::k_by_position ? i : s.style; }

} // namespace

char marker(std::size_t i) {
    static constexpr char k_markers[] = "*+ox#@%&=~";
    return k_markers[i % (sizeof(k_markers) - 1)];
}

const char* svg_color(std::size_t i) {
    static constexpr const char* k_colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                               "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
    return k_colors[i % 10];
}

std::string render_text(const Chart& chart, const TextStyle& style) {
    const std::size_t w = std::max<std::size_t>(style.width, 8), h = std::max<std::size_t>(style.height, 1);
    Axis xa = make_axis(x_range(chart.series), static_cast<int>(std::max<std::size_t>(2, w / 12)), false, chart.integer_x);
    RowAxis ya = row_axis(y_range(chart.series), h, chart.log_y);
    Canvas canvas(w, h);
    auto ypix = [&](double y) { return static_cast<long>(std::lround(ya.base - (y - ya.lo) * ya.scale)); };
    // Without colour every series has its marker, a lone one too: it is how the legend names it.
    const bool markers = !style.color;
    std::vector<int> ansi; // the terminal colour of each series
    for (std::size_t i = 0; i < chart.series.size(); ++i) {
        const std::size_t look = style_of(chart.series[i], i);
        const int owner = static_cast<int>(i);
        ansi.push_back(k_ansi[look % 12]);
        auto buckets = downsample(chart.series[i], xa.range, canvas.pw());
        long prev_x = -1, prev_y = 0;
        for (std::size_t c = 0; c < buckets.size(); ++c) {
            const Bucket& b = buckets[c];
            if (b.empty) continue;
            long x = static_cast<long>(c);
            if (prev_x >= 0) canvas.line(prev_x, prev_y, x, ypix(b.first), owner);
            canvas.line(x, ypix(b.min), x, ypix(b.max), owner);
            prev_x = x;
            prev_y = ypix(b.last);
        }
        if (markers) // on every 8th cell column the line crosses, shifted per series so marks do not collide
            for (std::size_t c = (look * 3) % 8; c < w; c += 8) canvas.mark_column(c, owner, marker(look));
    }

    // The y axis labels, on the rows their ticks fall on.
    std::vector<std::string> row_label(h);
    std::vector<bool> row_tick(h, false);
    std::size_t label_w = 0;
    Axis spacing;
    spacing.spacing = ya.step;
    for (std::size_t k = 0; k < ya.ticks; ++k) {
        double t = ya.lo + ya.step * static_cast<double>(k);
        if (std::abs(t) < ya.step * 1e-9) t = 0;
        std::size_t r = h - 1 - k * ya.gap;
        row_label[r] = label_of(spacing, t, chart.log_y);
        row_tick[r] = true;
        label_w = std::max(label_w, text_width(row_label[r]));
    }
    std::string out;
    out += chart.title + (chart.log_y ? " (log scale)" : "") + "\n";
    for (std::size_t r = 0; r < h; ++r) {
        out += std::string(label_w - text_width(row_label[r]), ' ') + row_label[r];
        out += row_tick[r] ? " \u2524" : " \u2502";
        canvas.row(r, out, style.color, ansi);
        out += "\n";
    }
    // The x axis: a rule with a mark under each tick, then the tick labels centred on them.
    std::vector<long> tick_col;
    for (double t : xa.ticks)
        tick_col.push_back(std::lround((t - xa.range.lo) / (xa.range.hi - xa.range.lo) * static_cast<double>(w - 1)));
    out += std::string(label_w + 1, ' ') + "\u2514";
    for (std::size_t c = 0; c < w; ++c)
        out += std::find(tick_col.begin(), tick_col.end(), static_cast<long>(c)) != tick_col.end() ? "\u252c" : "\u2500";
    out += "\n";
    std::string labels(label_w + 2 + w + 12, ' ');
    long free_from = 0;
    for (std::size_t i = 0; i < xa.ticks.size(); ++i) {
        std::string text = label_of(xa, xa.ticks[i], false);
        long at = static_cast<long>(label_w + 2) + tick_col[i] - static_cast<long>(text.size() / 2);
        at = std::max(at, static_cast<long>(label_w + 2));
        if (at < free_from || at + static_cast<long>(text.size()) > static_cast<long>(labels.size())) continue;
        labels.replace(static_cast<std::size_t>(at), text.size(), text);
        free_from = at + static_cast<long>(text.size()) + 1;
    }
    while (!labels.empty() && labels.back() == ' ') labels.pop_back();
    out += labels + "\n";
    if (!chart.x_label.empty()) {
        std::size_t end = label_w + 2 + w;
        out += std::string(end > chart.x_label.size() ? end - chart.x_label.size() : 0, ' ') + chart.x_label + "\n";
    }
    // The legend, wrapped at the chart's width.
    std::string line = std::string(label_w + 2, ' ');
    std::size_t line_w = line.size();
    for (std::size_t i = 0; i < chart.series.size(); ++i) {
        const std::size_t look = style_of(chart.series[i], i);
        std::string sample = style.color ? fmt::format("\x1b[{}m\u2501\u2501\x1b[0m", k_ansi[look % 12])
                                         : (markers ? std::string(1, marker(look)) : std::string("\u2800\u2800"));
        std::size_t entry_w = (style.color ? 2 : markers ? 1 : 2) + 1 + text_width(chart.series[i].label);
        if (line_w > label_w + 2 && line_w + 3 + entry_w > label_w + 2 + w) {
            out += line + "\n";
            line = std::string(label_w + 2, ' ');
            line_w = line.size();
        }
        if (line_w > label_w + 2) line += "   ", line_w += 3;
        line += sample + " " + chart.series[i].label;
        line_w += entry_w;
    }
    out += line + "\n";
    return out;
}

std::string xml_escape(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (char ch : text) {
        auto c = static_cast<unsigned char>(ch);
        switch (ch) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default:
            if (c < 0x20 && c != '\t' && c != '\n') break;
            if (c == 0x7f) break;
            out += ch;
        }
    }
    return out;
}

std::string render_svg(const Chart& chart, const SvgStyle& style) {
    const int W = std::max(style.width, 160), H = std::max(style.height, 120);
    const double left = 64, right = W - 16.0, top = 30, bottom = H - 42.0;
    Axis xa = make_axis(x_range(chart.series), std::max(2, static_cast<int>((right - left) / 90)), false, chart.integer_x);
    Axis ya = make_axis(y_range(chart.series), std::max(3, static_cast<int>((bottom - top) / 40)), chart.log_y, false, true);
    auto sx = [&](double x) { return left + (x - xa.range.lo) / (xa.range.hi - xa.range.lo) * (right - left); };
    auto sy = [&](double y) { return bottom - (y - ya.range.lo) / (ya.range.hi - ya.range.lo) * (bottom - top); };

    // The legend flows below the plot, in rows.
    std::vector<std::pair<double, double>> legend_at;
    double lx = left, ly = H + 4.0;
    if (style.legend)
        for (const auto& s : chart.series) {
            double entry = 26 + 7.0 * static_cast<double>(std::min<std::size_t>(s.label.size(), 40));
            if (lx > left && lx + entry > right) lx = left, ly += 18;
            legend_at.emplace_back(lx, ly);
            lx += entry + 12;
        }
    const int total_h = style.legend && !chart.series.empty() ? static_cast<int>(ly + 22) : H;

    std::string out;
    out.reserve(4096 + chart.series.size() * 2048);
    if (style.standalone) out += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    out += fmt::format("<svg {}width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" font-family=\"sans-serif\" font-size=\"11\"",
                       style.standalone ? "xmlns=\"http://www.w3.org/2000/svg\" " : "", W, total_h, W, total_h);
    if (style.interactive)
        out += fmt::format(" class=\"chart\" data-box=\"{} {} {} {}\" data-x=\"{} {}\" data-y=\"{} {}\" data-log=\"{}\"", left, top, right,
                           bottom, xa.range.lo, xa.range.hi, ya.range.lo, ya.range.hi, chart.log_y ? 1 : 0);
    out += ">\n";
    out += fmt::format("<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>\n", W, total_h);
    out += fmt::format("<text x=\"{}\" y=\"18\" font-size=\"13\" font-weight=\"bold\">{}{}</text>\n", left, xml_escape(chart.title),
                       chart.log_y ? " (log scale)" : "");
    // Grid, ticks and their labels.
    out += "<g stroke=\"#e4e4e4\" stroke-width=\"1\">";
    for (double t : ya.ticks) out += fmt::format("<line x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\"/>", left, right, sy(t), sy(t));
    for (double t : xa.ticks) out += fmt::format("<line y1=\"{}\" y2=\"{}\" x1=\"{:.1f}\" x2=\"{:.1f}\"/>", top, bottom, sx(t), sx(t));
    out += "</g>\n<g fill=\"#444444\">";
    for (double t : ya.ticks)
        out += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>", left - 6, sy(t) + 4,
                           xml_escape(label_of(ya, t, chart.log_y)));
    for (double t : xa.ticks)
        out += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>", sx(t), bottom + 15,
                           xml_escape(label_of(xa, t, false)));
    out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>", right, bottom + 32, xml_escape(chart.x_label));
    if (!chart.y_label.empty())
        out += fmt::format("<text x=\"12\" y=\"{0:.1f}\" text-anchor=\"middle\" transform=\"rotate(-90 12 {0:.1f})\">{1}</text>",
                           (top + bottom) / 2, xml_escape(chart.y_label));
    out += "</g>\n";
    out += fmt::format("<path d=\"M{0} {1}V{2}H{3}\" fill=\"none\" stroke=\"#888888\"/>\n", left, top, bottom, right);
    // One path per series.
    const std::size_t px = static_cast<std::size_t>(right - left);
    std::size_t columns = px;
    if (style.max_points) columns = std::max<std::size_t>(8, std::min(px, style.max_points / 4));
    out += "<g fill=\"none\" stroke-width=\"1.5\" stroke-linejoin=\"round\">\n";
    for (std::size_t i = 0; i < chart.series.size(); ++i) {
        // Dots keep every point while they are few (a scatter's points are not a line to cut).
        Series r = chart.dots && chart.series[i].x.size() <= 4 * columns ? chart.series[i] : reduce(chart.series[i], xa.range, columns);
        out += fmt::format("<path class=\"series\" stroke=\"{}\"", svg_color(style_of(chart.series[i], i)));
        if (chart.dots) out += " stroke-width=\"5\"";
        if (style.interactive) out += fmt::format(" data-run=\"{}\" data-label=\"{}\"", xml_escape(r.run), xml_escape(r.label));
        out += " d=\"";
        for (std::size_t k = 0; k < r.x.size(); ++k) {
            if (chart.dots) // a zero-length segment with round caps: a dot
                out += fmt::format("M{:.1f} {:.1f}h0", sx(r.x[k]), sy(r.y[k]));
            else
                out += fmt::format("{}{:.1f} {:.1f}", k == 0 ? "M" : k == 1 ? "L" : " ", sx(r.x[k]), sy(r.y[k]));
        }
        if (r.x.size() == 1 && !chart.dots) out += "m-2.5 0a2.5 2.5 0 1 0 5 0a2.5 2.5 0 1 0 -5 0"; // a single point: a dot
        const auto& full = chart.series[i];
        // The value as stored (shortest text that reads back the same), not the ticks' rounding;
        // on a log scale 15 digits undo log10 for any value a user wrote.
        std::string last = full.y.empty() ? ""
                           : chart.log_y ? fmt::format(", last {:.15g} at {}", std::pow(10.0, full.y.back()), full.x.back())
                                         : fmt::format(", last {} at {}", full.y.back(), full.x.back());
        out += fmt::format("\" stroke-linecap=\"round\"><title>{}{}</title></path>\n", xml_escape(r.label), xml_escape(last));
    }
    out += "</g>\n";
    if (style.legend)
        for (std::size_t i = 0; i < chart.series.size(); ++i) {
            auto [x, y] = legend_at[i];
            std::string label = chart.series[i].label;
            if (label.size() > 40) {
                std::size_t cut = 37;
                while (cut > 0 && (static_cast<unsigned char>(label[cut]) & 0xC0) == 0x80) --cut;
                label.resize(cut);
                label.append("...");
            }
            out += fmt::format("<g class=\"legend\"><rect x=\"{}\" y=\"{}\" width=\"16\" height=\"4\" fill=\"{}\"/>"
                               "<text x=\"{}\" y=\"{}\">{}</text></g>\n",
                               x, y + 5, svg_color(style_of(chart.series[i], i)), x + 22, y + 10, xml_escape(label));
        }
    out += "</svg>\n";
    return out;
}

} // namespace cairn::plot
