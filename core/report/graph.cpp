// Layered drawing of a small directed graph (pipeline DAGs, lineage) as inline SVG.
#include <algorithm>

#include <fmt/format.h>

#include "core/plot/chart.hpp"
#include "core/report/report.hpp"

namespace cairn::report {

std::string graph_svg(const std::vector<GraphNode>& nodes, const std::vector<std::pair<std::size_t, std::size_t>>& edges) {
    const std::size_t n = nodes.size();
    if (n == 0) return {};
    // Layer = the longest path from a source (edges point down); a cycle cannot occur in the
    // graphs drawn here, and the pass count bounds the work if one did.
    std::vector<std::size_t> layer(n, 0);
    for (std::size_t pass = 0; pass < n; ++pass) {
        bool moved = false;
        for (auto [a, b] : edges)
            if (a < n && b < n && layer[b] < layer[a] + 1) layer[b] = layer[a] + 1, moved = true;
        if (!moved) break;
    }
    std::size_t layers = *std::max_element(layer.begin(), layer.end()) + 1;
    std::vector<std::vector<std::size_t>> rows(layers);
    for (std::size_t i = 0; i < n; ++i) rows[layer[i]].push_back(i);
    auto label_of = [&](std::size_t i) {
        std::string l = nodes[i].label;
        if (l.size() > 36) {
            std::size_t cut = 33;
            while (cut > 0 && (static_cast<unsigned char>(l[cut]) & 0xC0) == 0x80) --cut;
            l = l.substr(0, cut) + "...";
        }
        return l;
    };
    auto box_w = [&](std::size_t i) { return 20.0 + 7.0 * static_cast<double>(label_of(i).size()); };
    const double box_h = 26, gap_x = 24, gap_y = 46, pad = 12;
    std::vector<double> cx(n), cy(n);
    double width = 0;
    for (const auto& row : rows) {
        double w = 0;
        for (std::size_t i : row) w += box_w(i) + gap_x;
        width = std::max(width, w);
    }
    for (std::size_t l = 0; l < layers; ++l) {
        double w = 0;
        for (std::size_t i : rows[l]) w += box_w(i) + gap_x;
        double x = pad + (width - w) / 2 + gap_x / 2;
        for (std::size_t i : rows[l]) {
            cx[i] = x + box_w(i) / 2;
            cy[i] = pad + static_cast<double>(l) * (box_h + gap_y) + box_h / 2;
            x += box_w(i) + gap_x;
        }
    }
    const double height = pad * 2 + static_cast<double>(layers) * (box_h + gap_y) - gap_y;
    std::string out = fmt::format("<svg class=\"graph\" width=\"{0:.0f}\" height=\"{1:.0f}\" viewBox=\"0 0 {0:.0f} {1:.0f}\" "
                                  "font-family=\"sans-serif\" font-size=\"11\">\n",
                                  width + pad * 2, height);
    out += "<defs><marker id=\"arrow\" viewBox=\"0 0 8 8\" refX=\"8\" refY=\"4\" markerWidth=\"7\" markerHeight=\"7\" "
           "orient=\"auto\"><path d=\"M0 0L8 4L0 8z\" fill=\"#777777\"/></marker></defs>\n<g fill=\"none\" stroke=\"#777777\">";
    for (auto [a, b] : edges) {
        if (a >= n || b >= n) continue;
        double y0 = cy[a] + box_h / 2, y1 = cy[b] - box_h / 2, my = (y0 + y1) / 2;
        out += fmt::format("<path class=\"edge\" d=\"M{:.1f} {:.1f}C{:.1f} {:.1f} {:.1f} {:.1f} {:.1f} {:.1f}\" marker-end=\"url(#arrow)\"/>",
                           cx[a], y0, cx[a], my, cx[b], my, cx[b], y1);
    }
    out += "</g>\n";
    for (std::size_t i = 0; i < n; ++i) {
        double w = box_w(i);
        const std::string& kind = nodes[i].kind;
        const char* fill = kind == "run" ? "#dbe9f6" : kind == "data" ? "#f3f3e6" : "#e6f2e6";
        double rx = kind == "data" ? 2 : 8;
        out += fmt::format("<g class=\"node {}\"><title>{}</title><rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{}\" "
                           "rx=\"{}\" fill=\"{}\" stroke=\"#667788\"/><text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text></g>\n",
                           plot::xml_escape(kind), plot::xml_escape(nodes[i].title), cx[i] - w / 2, cy[i] - box_h / 2, w, box_h, rx,
                           fill, cx[i], cy[i] + 4, plot::xml_escape(label_of(i)));
    }
    out += "</svg>\n";
    return out;
}

} // namespace cairn::report
