// The HTML report: sections gathered from the store and written as one page.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <set>

#include <fmt/format.h>

#include "core/drift/drift.hpp"
#include "core/drift/profiles.hpp"
#include "core/metrics/metrics.hpp"
#include "core/pipeline/pipeline.hpp"
#include "core/plot/chart.hpp"
#include "core/registry/registry.hpp"
#include "core/report/page.hpp"
#include "core/report/plots.hpp"
#include "core/report/report.hpp"
#include "core/run/lineage.hpp"
#include "core/run/rerun.hpp"
#include "core/run/store.hpp"
#include "core/util/error.hpp"
#include "core/util/strings.hpp"

namespace cairn::report {
namespace {

using plot::xml_escape;

std::string esc(const std::string& s) { return xml_escape(s); }

std::string num(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    return fmt::format("{:.5g}", v);
}

std::string run_label(const run::RunRecord& r) { return r.name.empty() ? r.id.substr(0, 8) : r.name; }

// The params and metrics worth a column: those whose values differ between the runs (or that
// some runs lack), as `cairn ls` chooses them; all of them for a single run.
struct Columns {
    std::vector<std::string> params, metrics;
};
Columns changed_columns(const std::vector<RunData>& runs) {
    std::map<std::string, std::set<std::string>> values;
    std::map<std::string, std::size_t> count;
    std::set<std::string> metric_keys;
    for (const auto& d : runs) {
        for (const auto& p : d.record.params) values[p.key].insert(p.text), ++count[p.key];
        for (const auto& [k, s] : d.record.metric_summary()) metric_keys.insert(k);
    }
    Columns c;
    for (const auto& [k, v] : values)
        if (count[k] < runs.size() || v.size() > 1 || runs.size() == 1) c.params.push_back(k);
    c.metrics.assign(metric_keys.begin(), metric_keys.end());
    return c;
}

const params::Param* param_of(const run::RunRecord& r, const std::string& key) {
    for (const auto& p : r.params)
        if (p.key == key) return &p;
    return nullptr;
}

std::string runs_table(const std::vector<RunData>& runs, const Columns& cols) {
    std::string out = "<section id=\"runs\"><h2>Runs</h2>\n"
                      "<p class=\"controls\"><input id=\"filter\" type=\"search\" placeholder=\"Filter runs by any text\" "
                      "aria-label=\"Filter runs\"> <span class=\"hint\">Click a column header to sort; untick a run to hide "
                      "its lines.</span></p>\n<div class=\"scroll\"><table id=\"runs-table\"><thead><tr><th class=\"nosort\">show</th>"
                      "<th data-key=\"name\">name</th><th data-key=\"id\">id</th><th data-key=\"status\">status</th>"
                      "<th data-key=\"start\">start</th><th data-key=\"duration\">duration (s)</th>";
    for (const auto& p : cols.params) out += fmt::format("<th data-key=\"params.{0}\">{0}</th>", esc(p));
    for (const auto& m : cols.metrics) out += fmt::format("<th data-key=\"metrics.{0}\" class=\"metric\">{0}</th>", esc(m));
    out += "</tr></thead>\n<tbody>\n";
    for (const auto& d : runs) {
        const auto& r = d.record;
        double seconds = static_cast<double>(r.duration_ms()) / 1000.0;
        out += fmt::format("<tr data-run=\"{0}\"><td><input type=\"checkbox\" class=\"toggle\" checked aria-label=\"show {1}\"></td>"
                           "<td data-v=\"{1}\">{1}</td><td data-v=\"{0}\"><code>{2}</code></td><td data-v=\"{3}\" class=\"st-{3}\">{3}</td>"
                           "<td data-v=\"{4}\">{5}</td><td data-v=\"{6}\">{7:.1f}</td>",
                           esc(r.id), esc(run_label(r)), esc(r.id.substr(0, 8)), esc(r.status), r.start_ms,
                           esc(run::format_time(r.start_ms).substr(0, 19).replace(10, 1, " ")), seconds, seconds);
        for (const auto& k : cols.params) {
            const auto* p = param_of(r, k);
            if (p)
                out += fmt::format("<td data-v=\"{0}\">{0}</td>", esc(p->text));
            else
                out += "<td data-v=\"\" class=\"absent\">-</td>";
        }
        auto summary = r.metric_summary();
        for (const auto& k : cols.metrics) {
            auto it = summary.find(k);
            if (it == summary.end()) {
                out += "<td data-v=\"\" class=\"absent\">-</td>";
                continue;
            }
            const auto& s = it->second;
            out += fmt::format("<td data-v=\"{}\" title=\"last at step {}, {} points\">{}<small> {} to {}</small></td>", num(s.last),
                               s.step, s.count, num(s.last), num(s.min), num(s.max));
        }
        out += "</tr>\n";
    }
    out += "</tbody></table></div>\n<p class=\"hint\">Each metric cell: the last value, then its range (min to max).</p></section>\n";
    return out;
}

std::string metric_charts(const std::vector<RunData>& runs, const Columns& cols, const Options& o, std::size_t& charts) {
    if (cols.metrics.empty()) return "<section id=\"charts\"><h2>Metric history</h2><p>No run logged a metric.</p></section>\n";
    std::string out = "<section id=\"charts\"><h2>Metric history</h2>\n<p class=\"hint\">One line per run, by step. Hover a line for "
                      "the run, step and value.</p>\n<div class=\"charts\">";
    // The metrics most runs have first (then by name).
    std::map<std::string, std::size_t> have;
    for (const auto& d : runs)
        for (const auto& [k, s] : d.series) have[k] += !s.x.empty();
    std::vector<std::string> keys = cols.metrics;
    std::stable_sort(keys.begin(), keys.end(), [&](const auto& a, const auto& b) { return have[a] > have[b]; });
    for (const auto& key : keys) {
        plot::Chart chart;
        chart.title = key;
        chart.x_label = "step";
        chart.integer_x = true;
        for (std::size_t i = 0; i < runs.size(); ++i) {
            auto it = runs[i].series.find(key);
            if (it == runs[i].series.end() || it->second.x.empty()) continue;
            chart.series.push_back(it->second);
            chart.series.back().style = i; // a run has one colour in every chart of the page
        }
        if (chart.series.empty()) continue;
        plot::SvgStyle style;
        style.width = 600;
        style.height = 300;
        style.standalone = false;
        style.interactive = true;
        style.legend = chart.series.size() <= 12;
        style.max_points = std::max<std::size_t>(32, o.chart_points / chart.series.size());
        out += fmt::format("<figure class=\"chart\" data-metric=\"{}\">", esc(key)) + plot::render_svg(chart, style) + "</figure>\n";
        ++charts;
    }
    out += "</div></section>\n";
    return out;
}

// Params (numbers on a linear axis, anything else as categories) to the chosen metric's last value.
std::string parallel_coordinates(const std::vector<RunData>& runs, const Columns& cols, const std::string& metric) {
    std::string out = "<section id=\"parallel\"><h2>Parameters and " + esc(metric) + "</h2>\n";
    std::vector<const RunData*> with;
    for (const auto& d : runs)
        if (d.record.metric_summary().count(metric)) with.push_back(&d);
    if (cols.params.empty() || with.empty())
        return out + "<p>Needs runs with parameters that differ and the metric " + esc(metric) + ".</p></section>\n";
    struct AxisData {
        std::string name;
        bool numeric = true;
        double lo = 0, hi = 0;
        std::vector<std::string> categories;
    };
    std::vector<AxisData> axes;
    for (const auto& k : cols.params) {
        AxisData a;
        a.name = k;
        std::set<std::string> cats;
        double lo = INFINITY, hi = -INFINITY;
        for (const auto* d : with) {
            const auto* p = param_of(d->record, k);
            if (!p) continue;
            auto v = metrics::parse_value(p->text);
            if (v && std::isfinite(*v)) lo = std::min(lo, *v), hi = std::max(hi, *v);
            else a.numeric = false;
            cats.insert(p->text);
        }
        if (a.numeric && lo <= hi) a.lo = lo, a.hi = hi;
        else a.numeric = false;
        a.categories.assign(cats.begin(), cats.end());
        axes.push_back(a);
    }
    AxisData m;
    m.name = metric;
    m.lo = INFINITY, m.hi = -INFINITY;
    for (const auto* d : with) {
        double v = d->record.metric_summary().at(metric).last;
        if (std::isfinite(v)) m.lo = std::min(m.lo, v), m.hi = std::max(m.hi, v);
    }
    if (!(m.lo <= m.hi)) m.lo = 0, m.hi = 1;
    axes.push_back(m);
    const double W = std::max(420.0, 150.0 * static_cast<double>(axes.size())), H = 320, top = 40, bottom = H - 30, left = 60,
                 right = W - 60;
    auto ax_x = [&](std::size_t i) { return axes.size() == 1 ? left : left + (right - left) * static_cast<double>(i) / static_cast<double>(axes.size() - 1); };
    auto pos = [&](const AxisData& a, const std::string& text, double value, bool use_value) -> std::optional<double> {
        double t;
        if (use_value || a.numeric) {
            double v = use_value ? value : metrics::parse_value(text).value_or(NAN);
            if (!std::isfinite(v)) return std::nullopt;
            t = a.hi > a.lo ? (v - a.lo) / (a.hi - a.lo) : 0.5;
        } else {
            auto it = std::find(a.categories.begin(), a.categories.end(), text);
            if (it == a.categories.end()) return std::nullopt;
            t = a.categories.size() == 1 ? 0.5 : static_cast<double>(it - a.categories.begin()) / static_cast<double>(a.categories.size() - 1);
        }
        return bottom - t * (bottom - top);
    };
    out += fmt::format("<svg class=\"parallel\" width=\"{0:.0f}\" height=\"{1:.0f}\" viewBox=\"0 0 {0:.0f} {1:.0f}\" "
                       "font-family=\"sans-serif\" font-size=\"11\"><rect width=\"{0:.0f}\" height=\"{1:.0f}\" fill=\"#ffffff\"/>\n",
                       W, H);
    out += "<g fill=\"none\" stroke-width=\"1.5\" stroke-opacity=\"0.8\">";
    for (const auto* d : with) {
        double v = d->record.metric_summary().at(metric).last;
        double t = m.hi > m.lo && std::isfinite(v) ? (v - m.lo) / (m.hi - m.lo) : 0.5;
        // From blue (low) to orange (high).
        auto mix = [&](int a, int b) { return static_cast<int>(std::lround(a + (b - a) * t)); };
        std::string color = fmt::format("#{:02x}{:02x}{:02x}", mix(0x1f, 0xff), mix(0x77, 0x7f), mix(0xb4, 0x0e));
        std::string path;
        for (std::size_t i = 0; i < axes.size(); ++i) {
            std::optional<double> y;
            if (i + 1 == axes.size()) y = pos(axes[i], "", v, true);
            else if (const auto* p = param_of(d->record, axes[i].name)) y = pos(axes[i], p->text, 0, false);
            if (!y) continue;
            path += fmt::format("{}{:.1f} {:.1f}", path.empty() ? "M" : "L", ax_x(i), *y);
        }
        out += fmt::format("<path class=\"pc\" data-run=\"{}\" stroke=\"{}\" d=\"{}\"><title>{}: {} = {}</title></path>", esc(d->record.id),
                           color, path, esc(run_label(d->record)), esc(metric), num(v));
    }
    out += "</g>\n<g fill=\"#333333\">";
    for (std::size_t i = 0; i < axes.size(); ++i) {
        const auto& a = axes[i];
        double x = ax_x(i);
        out += fmt::format("<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#555555\"/>"
                           "<text x=\"{0:.1f}\" y=\"{3}\" text-anchor=\"middle\" font-weight=\"bold\">{4}</text>",
                           x, top, bottom, top - 14, esc(a.name));
        auto tick = [&](double y, const std::string& label) {
            out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>", x - 4, y + 4, esc(label));
        };
        if (a.numeric || i + 1 == axes.size()) {
            tick(bottom, num(a.lo));
            if (a.hi > a.lo) tick(top, num(a.hi));
        } else {
            for (std::size_t c = 0; c < a.categories.size() && c < 20; ++c)
                if (auto y = pos(a, a.categories[c], 0, false)) tick(*y, a.categories[c]);
        }
    }
    out += "</g></svg>\n</section>\n";
    return out;
}

std::string pipelines_section(workspace::Workspace& ws, std::vector<std::string>& notes, std::vector<pipeline::Pipeline>& loaded) {
    std::string out = "<section id=\"pipelines\"><h2>Pipelines</h2>\n";
    bool any = false;
    for (const char* file : {"cairn.yaml", "dvc.yaml"}) {
        if (!std::filesystem::exists(ws.root() / file)) continue;
        any = true;
        try {
            pipeline::Pipeline p = pipeline::load(ws, file);
            pipeline::Graph g = pipeline::build_graph(p);
            std::vector<GraphNode> nodes;
            std::vector<std::pair<std::size_t, std::size_t>> edges;
            for (const auto& st : p.stages) {
                std::string cmd;
                for (const auto& c : st.cmd) cmd += (cmd.empty() ? "" : " && ") + c;
                nodes.push_back({st.name, st.name + ": " + cmd, "stage"});
            }
            for (std::size_t i = 0; i < g.upstream.size(); ++i)
                for (std::size_t u : g.upstream[i]) edges.emplace_back(u, i);
            out += fmt::format("<h3>{} ({} stage{})</h3>\n", esc(p.file), p.stages.size(), p.stages.size() == 1 ? "" : "s");
            out += p.stages.empty() ? std::string("<p>No stages.</p>") : graph_svg(nodes, edges);
            loaded.push_back(std::move(p));
        } catch (const Error& e) {
            notes.push_back(fmt::format("pipeline {} left out: {}", file, e.what()));
            out += fmt::format("<p class=\"note\">{} could not be read: {}</p>\n", file, esc(e.what()));
        }
    }
    if (!any) out += "<p>No cairn.yaml or dvc.yaml in this repository.</p>\n";
    return out + "</section>\n";
}

std::string lineage_section(workspace::Workspace& ws, const std::vector<run::RunRecord>& all, const std::string& id) {
    run::LineageIndex index(all);
    const run::RunRecord* target = nullptr;
    for (const auto& r : index.runs())
        if (r.id == id) target = &r;
    std::string out = "<section id=\"lineage\"><h2>Lineage</h2>\n";
    if (!target) return out + "<p>The run is not recorded yet.</p></section>\n";
    run::LineageTarget t;
    t.run = target;
    run::LineageGraph g = run::walk_lineage(index, ws.repo(), t, run::Direction::upstream, 0);
    out += fmt::format("<p>Where the data of run <b>{}</b> came from: the runs that produced its inputs, and theirs.</p>\n",
                       esc(run_label(*target)));
    if (g.nodes.size() <= 1) return out + "<p>This run read no recorded data.</p></section>\n";
    std::vector<GraphNode> nodes;
    for (const auto& n : g.nodes) {
        if (n.is_run && n.run)
            nodes.push_back({run_label(*n.run), fmt::format("run {} ({})", n.run->id, n.run->status), "run"});
        else {
            std::string label = n.paths.empty() ? n.object.substr(0, 15) : n.paths.front();
            std::string title = n.object + (n.source ? " (tracked by " + n.source->pointer + ")" : "");
            nodes.push_back({label, title, "data"});
        }
    }
    out += graph_svg(nodes, g.flow_edges());
    return out + "</section>\n";
}

std::string reruns_section(const std::vector<RunData>& runs, const std::vector<run::RunRecord>& all) {
    std::string rows;
    for (const auto& d : runs) {
        const auto& r = d.record;
        if (r.reproduces.empty()) continue;
        const run::RunRecord* original = nullptr;
        for (const auto& a : all)
            if (a.id == r.reproduces) original = &a;
        if (!original) {
            rows += fmt::format("<tr><td>{}</td><td><code>{}</code></td><td colspan=\"3\">original run not found</td></tr>\n",
                                esc(run_label(r)), esc(r.reproduces.substr(0, 8)));
            continue;
        }
        std::size_t same = 0, differ = 0;
        std::string details;
        for (const auto& [path, id] : original->outputs) {
            auto it = r.outputs.find(path);
            bool ok = it != r.outputs.end() && it->second == id;
            ok ? ++same : ++differ;
            if (!ok) details += fmt::format("<li>output {}: differs</li>", esc(path));
        }
        auto old_m = original->metric_summary(), new_m = r.metric_summary();
        std::size_t m_same = 0, m_differ = 0;
        for (const auto& [k, s] : old_m) {
            auto it = new_m.find(k);
            std::string verdict = it == new_m.end() ? "missing" : run::metric_verdict(s.last, it->second.last, 0, 0);
            verdict == "equal" ? ++m_same : ++m_differ;
            if (verdict != "equal")
                details += fmt::format("<li>metric {}: {} &#8594; {} ({})</li>", esc(k), num(s.last),
                                       it == new_m.end() ? std::string("-") : num(it->second.last), esc(verdict));
        }
        bool reproduced = differ == 0 && m_differ == 0 && r.status == "finished";
        rows += fmt::format("<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{} of {} outputs identical, {} of {} metrics equal</td>"
                            "<td><ul>{}</ul></td></tr>\n",
                            esc(run_label(r)), esc(run_label(*original)), reproduced ? "good" : "bad",
                            reproduced ? "reproduced" : "differs", same, same + differ, m_same, m_same + m_differ, details);
    }
    std::string out = "<section id=\"reruns\"><h2>Re-runs</h2>\n";
    if (rows.empty()) return out + "<p>None of these runs is a re-run (<code>cairn rerun</code>).</p></section>\n";
    return out + "<table><thead><tr><th>re-run</th><th>of</th><th>verdict</th><th>summary</th><th>differences</th></tr></thead><tbody>\n" +
           rows + "</tbody></table></section>\n";
}

std::string registry_section(workspace::Workspace& ws) {
    std::string out = "<section id=\"registry\"><h2>Model registry</h2>\n";
    auto names = registry::model_names(ws);
    if (names.empty()) return out + "<p>No model is registered (<code>cairn model register</code>).</p></section>\n";
    out += "<table><thead><tr><th>model</th><th>version</th><th>aliases</th><th>run</th><th>path</th><th>metrics</th><th>registered</th>"
           "</tr></thead><tbody>\n";
    for (const auto& name : names) {
        auto m = registry::load_model(ws, name);
        for (auto it = m.versions.rbegin(); it != m.versions.rend(); ++it) {
            const auto& v = *it;
            std::string metrics;
            for (const auto& [k, x] : v.metrics) metrics += fmt::format("{}{} = {}", metrics.empty() ? "" : ", ", esc(k), num(x));
            std::string aliases;
            for (const auto& a : v.aliases) aliases += fmt::format("<span class=\"alias\">{}</span> ", esc(a));
            out += fmt::format("<tr{}><td>{}</td><td>v{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                               v.deprecated ? " class=\"deprecated\"" : "", esc(name), v.number, v.deprecated ? " (deprecated)" : "",
                               aliases, esc(v.run_name.empty() ? v.run.substr(0, 8) : v.run_name), esc(v.path), metrics,
                               esc(run::format_time(v.registered_ms).substr(0, 19).replace(10, 1, " ")));
        }
    }
    return out + "</tbody></table></section>\n";
}

// Reference and current distributions of one column, on shared bins (from the profiles: every
// value for small columns, else the stored quantiles), or their top categories.
std::string histogram_svg(const table::ColumnProfile* ref, const table::ColumnProfile* cur) {
    const double W = 300, H = 120, left = 8, right = W - 8, top = 8, bottom = H - 22;
    std::string bars;
    std::string axis;
    auto fill_for = [](bool reference) { return reference ? "#1f77b4" : "#ff7f0e"; };
    if ((ref && ref->summary) || (cur && cur->summary)) {
        double lo = INFINITY, hi = -INFINITY;
        for (const auto* c : {ref, cur})
            if (c && c->summary) lo = std::min(lo, c->summary->min), hi = std::max(hi, c->summary->max);
        if (hi <= lo) hi = lo + 1;
        const std::size_t bins = 20;
        std::vector<double> share[2];
        double peak = 0;
        for (int side = 0; side < 2; ++side) {
            const auto* c = side == 0 ? ref : cur;
            share[side].assign(bins, 0);
            if (!c || !c->summary) continue;
            const auto& s = *c->summary;
            const auto& sample = s.sorted.empty() ? s.quantiles : s.sorted;
            for (double v : sample) {
                auto b = static_cast<std::size_t>(std::clamp((v - lo) / (hi - lo) * bins, 0.0, bins - 1.0));
                share[side][b] += 1.0 / static_cast<double>(sample.size());
            }
            for (double x : share[side]) peak = std::max(peak, x);
        }
        const double bw = (right - left) / bins;
        for (int side = 0; side < 2; ++side)
            for (std::size_t b = 0; b < bins; ++b) {
                double h = peak > 0 ? share[side][b] / peak * (bottom - top) : 0;
                if (h <= 0) continue;
                bars += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\" fill-opacity=\"0.55\">"
                                    "<title>{}: {:.1f}% in [{}, {})</title></rect>",
                                    left + bw * static_cast<double>(b) + (side ? bw / 2 : 0), bottom - h, bw / 2, h, fill_for(side == 0),
                                    side == 0 ? "reference" : "current", share[side][b] * 100, num(lo + (hi - lo) * b / bins),
                                    num(lo + (hi - lo) * (b + 1) / bins));
            }
        axis = fmt::format("<text x=\"{}\" y=\"{}\">{}</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>", left, H - 6, num(lo),
                           right, H - 6, num(hi));
    } else {
        // Categories: the reference's most frequent ones (up to 8), shares on both sides.
        std::vector<std::string> cats;
        for (const auto* c : {ref, cur})
            if (c && c->categories)
                for (const auto& [v, n] : c->categories->top)
                    if (cats.size() < 8 && std::find(cats.begin(), cats.end(), v) == cats.end()) cats.push_back(v);
        if (cats.empty()) return "<p class=\"hint\">no values to draw</p>";
        const double bw = (right - left) / static_cast<double>(cats.size());
        for (int side = 0; side < 2; ++side) {
            const auto* c = side == 0 ? ref : cur;
            if (!c || !c->categories) continue;
            double total = static_cast<double>(c->rows - c->missing);
            for (std::size_t i = 0; i < cats.size(); ++i) {
                double n = 0;
                for (const auto& [v, k] : c->categories->top)
                    if (v == cats[i]) n = static_cast<double>(k);
                double sh = total > 0 ? n / total : 0, h = sh * (bottom - top);
                bars += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\" fill-opacity=\"0.55\">"
                                    "<title>{} {}: {:.1f}%</title></rect>",
                                    left + bw * static_cast<double>(i) + (side ? bw / 2 : 0), bottom - h, bw / 2, h, fill_for(side == 0),
                                    side == 0 ? "reference" : "current", esc(cats[i]), sh * 100);
            }
        }
        for (std::size_t i = 0; i < cats.size(); ++i)
            axis += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>", left + bw * (static_cast<double>(i) + 0.5),
                                H - 6, esc(cats[i].substr(0, 10)));
    }
    return fmt::format("<svg class=\"hist\" width=\"{0:.0f}\" height=\"{1:.0f}\" viewBox=\"0 0 {0:.0f} {1:.0f}\" font-family=\"sans-serif\" "
                       "font-size=\"10\"><line x1=\"{2}\" x2=\"{3}\" y1=\"{4}\" y2=\"{4}\" stroke=\"#888888\"/>{5}<g fill=\"#444444\">{6}</g></svg>",
                       W, H, left, right, bottom, bars, axis);
}

std::string drift_section(workspace::Workspace& ws, const Options& o) {
    std::string out = "<section id=\"drift\"><h2>Drift</h2>\n";
    if (o.drift_current.empty())
        return out + "<p>No comparison asked for: <code>cairn report --drift CURRENT --against REFERENCE</code> adds one "
                     "(tables as <code>cairn drift</code> reads them).</p></section>\n";
    auto read = [&](const std::string& text) { return o.drift_table ? o.drift_table(text) : drift::profile_path(ws, o.cwd, text); };
    auto ref = read(o.drift_against);
    auto cur = read(o.drift_current);
    drift::Report rep = drift::compare(ref.profile, cur.profile, {});
    out += fmt::format("<p><b>{}</b> against <b>{}</b>: {} of {} columns drifted ({:.0f}%), <span class=\"{}\">{}</span>. "
                       "<span class=\"swatch ref\"></span> reference <span class=\"swatch cur\"></span> current</p>\n",
                       esc(o.drift_current), esc(o.drift_against), rep.drifted, rep.columns.size(), rep.share * 100,
                       rep.dataset_drift ? "bad" : "good", rep.dataset_drift ? "dataset drift" : "no dataset drift");
    out += "<div class=\"hists\">";
    for (const auto& c : rep.columns) {
        out += fmt::format("<figure class=\"hist\"><figcaption><b>{}</b> {} {} {} <span class=\"{}\">{}</span></figcaption>{}</figure>\n",
                           esc(c.name), esc(c.kind), esc(c.test), c.score ? num(*c.score) : std::string(),
                           c.drifted ? "bad" : c.warning ? "warn" : "good", esc(std::string(drift::to_string(c.status))),
                           histogram_svg(ref.profile.column(c.name), cur.profile.column(c.name)));
    }
    return out + "</div></section>\n";
}

} // namespace

Built build(workspace::Workspace& ws, const std::vector<RunData>& runs, const Options& o) {
    Built b;
    std::vector<run::SkippedRun> skipped;
    std::vector<run::RunRecord> all = run::list_runs(ws, &skipped);
    Columns cols = changed_columns(runs);
    // The parallel-coordinates metric: --metric, else the one most runs have (the first by name of those).
    std::string metric = o.metric;
    if (metric.empty()) {
        std::map<std::string, std::size_t> have;
        for (const auto& d : runs)
            for (const auto& [k, s] : d.record.metric_summary()) ++have[k];
        std::size_t best = 0;
        for (const auto& [k, n] : have)
            if (n > best) best = n, metric = k;
    }
    if (!o.metric.empty() && std::find(cols.metrics.begin(), cols.metrics.end(), o.metric) == cols.metrics.end())
        fail(ErrorKind::input, "--metric {}: none of the {} runs has this metric", o.metric, runs.size());
    std::string lineage_id = o.lineage_run.empty() && !runs.empty() ? runs.front().record.id : o.lineage_run;

    std::string body;
    body += runs_table(runs, cols);
    body += metric_charts(runs, cols, o, b.charts);
    if (!metric.empty()) body += parallel_coordinates(runs, cols, metric);
    std::vector<pipeline::Pipeline> pipelines;
    body += pipelines_section(ws, b.notes, pipelines);
    body += plots_section(ws, pipelines, b.notes, b.charts);
    if (!lineage_id.empty()) body += lineage_section(ws, all, lineage_id);
    body += reruns_section(runs, all);
    body += registry_section(ws);
    body += drift_section(ws, o);
    b.html = page(o.title, fmt::format("{} run{}{}", runs.size(), runs.size() == 1 ? "" : "s",
                                       o.generated.empty() ? std::string() : ", generated " + o.generated),
                  body);
    return b;
}

} // namespace cairn::report
