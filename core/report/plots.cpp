// The pipeline files' `plots`, drawn as `dvc plots show` draws them (DVC's dvc/render/converter/
// vega.py: y columns of one or several files, x a column of the same rows or the row number).
// A problem never makes a plot vanish or change silently: it becomes a note.
#include "core/report/plots.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "core/fs/file.hpp"
#include "core/plot/chart.hpp"
#include "core/table/table.hpp"
#include "core/util/error.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/yaml_util.hpp"

namespace cairn::report {
namespace {

using Json = nlohmann::ordered_json;
using plot::xml_escape;

// A plot's data file as columns, one cell per row: a number (nan and inf kept, to be counted
// when left out), or nullopt where the row has no number.
struct Table {
    std::vector<std::string> columns; // in the file's order
    std::map<std::string, std::vector<std::optional<double>>> cells;
    std::size_t rows = 0;
};

std::optional<double> number_of_text(std::string_view text) {
    auto c = table::classify(text);
    switch (c.cls) {
    case table::TextClass::integer:
    case table::TextClass::decimal:
    case table::TextClass::nan:
    case table::TextClass::posinf:
    case table::TextClass::neginf: return c.number;
    default: return std::nullopt;
    }
}

class Collect : public table::TableSink {
public:
    explicit Collect(Table& t) : m_t(t) {}
    void column(std::string_view name) override {
        m_names.emplace_back(name);
        m_t.columns.emplace_back(name);
        m_t.cells[m_names.back()].resize(m_t.rows);
    }
    void value(std::size_t column, const table::Value& v) override {
        std::optional<double> n;
        if (v.type == table::Value::Type::number) n = v.number;
        else if (v.type == table::Value::Type::text) n = number_of_text(v.text);
        auto& cells = m_t.cells[m_names.at(column)];
        cells.resize(m_t.rows + 1);
        cells[m_t.rows] = n;
    }
    bool end_row() override {
        ++m_t.rows;
        for (auto& [k, c] : m_t.cells) c.resize(m_t.rows);
        return true;
    }

private:
    Table& m_t;
    std::vector<std::string> m_names;
};

// DVC's datapoints of a JSON/YAML file: every list of records found at the top or under
// mappings (not inside records), merged by position.
void records_of(const YAML::Node& node, std::vector<YAML::Node>& lists, const std::string& where, int depth) {
    if (depth > 64) fail(ErrorKind::input, "{}: nested deeper than 64 levels", where);
    if (node.IsSequence()) {
        lists.push_back(node);
        return;
    }
    if (node.IsMap())
        for (const auto& kv : node) {
            if (kv.second.IsMap()) records_of(kv.second, lists, where, depth + 1);
            else if (kv.second.IsSequence()) lists.push_back(kv.second);
        }
}

Table read_data(const std::string& text, const std::string& file) {
    Table t;
    if (auto format = table::format_from_name(file); format && *format != table::Format::npy) {
        Collect sink(t);
        table::read_table(text, *format, file, sink);
        return t;
    }
    YAML::Node root = workspace::parse_yaml(text, file);
    std::vector<YAML::Node> lists;
    records_of(root, lists, file, 0);
    for (const auto& list : lists) {
        bool records = list.size() > 0;
        for (const auto& item : list) records &= item.IsMap();
        if (!records) continue;
        std::size_t i = 0;
        for (const auto& item : list) {
            for (const auto& kv : item) {
                if (!kv.first.IsScalar() || !kv.second.IsScalar()) continue;
                const std::string& key = kv.first.Scalar();
                auto [it, fresh] = t.cells.try_emplace(key);
                if (fresh) t.columns.push_back(key);
                if (it->second.size() <= i) it->second.resize(i + 1);
                it->second[i] = number_of_text(kv.second.Scalar());
            }
            ++i;
        }
        t.rows = std::max(t.rows, i);
    }
    for (auto& [k, c] : t.cells) c.resize(t.rows);
    if (t.rows == 0) fail(ErrorKind::input, "{}: no records to draw (a JSON or YAML file needs a list of records)", file);
    return t;
}

bool is_image(const std::string& file) {
    std::string lower = file;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const char* ext : {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"})
        if (util::ends_with(lower, ext)) return true;
    return false;
}

std::string text_of(const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

struct Source {
    std::string file, field;
};

// The (file, column) pairs of an `x` or `y` property: a column or a list of them (of
// `default_file`), or a mapping of files to column(s).
std::vector<Source> sources_of(const Json& v, const std::string& default_file) {
    std::vector<Source> out;
    auto add = [&](const std::string& file, const Json& c) {
        if (c.is_array())
            for (const auto& e : c) out.push_back({file, text_of(e)});
        else
            out.push_back({file, text_of(c)});
    };
    if (v.is_object())
        for (const auto& [f, c] : v.items()) add(f, c);
    else if (!v.is_null())
        add(default_file, v);
    return out;
}

struct Entry {
    std::string id;   // the file, or the plot's name (top-level entries whose y maps files)
    std::string file; // workspace-relative; "" for a named plot
    std::string from; // "the top-level plots of dvc.yaml", "stage 'train' of dvc.yaml"
    Json props = Json::object();
};

std::string join_columns(const Table& t) {
    std::string out;
    for (const auto& c : t.columns) out += (out.empty() ? "" : ", ") + c;
    return out.empty() ? std::string("none") : out;
}

// One entry drawn as an SVG figure, or "" when nothing could be drawn; its problems go to `said`.
std::string draw(workspace::Workspace& ws, const Entry& e, std::vector<std::string>& said) {
    auto prop = [&](const char* k) {
        auto it = e.props.find(k);
        return it == e.props.end() ? std::string() : text_of(*it);
    };
    const std::string templ = prop("template");
    static const std::set<std::string> k_lines = {"", "linear", "simple", "smooth"};
    if (!k_lines.count(templ) && templ != "scatter") {
        said.push_back(fmt::format("template '{}' is not drawn by cairn report (it draws linear, simple, smooth and scatter); left out", templ));
        return {};
    }
    const Json y = e.props.contains("y") ? e.props["y"] : Json();
    const Json x = e.props.contains("x") ? e.props["x"] : Json();
    std::vector<Source> ys = sources_of(y, e.file), xs = sources_of(x, e.file);
    const bool x_per_file = x.is_object();

    // Every file the entry names, read once.
    std::map<std::string, std::optional<Table>> tables;
    auto table_of = [&](const std::string& file) -> const Table* {
        auto [it, fresh] = tables.try_emplace(file);
        if (!fresh) return it->second ? &*it->second : nullptr;
        try {
            if (is_image(file)) fail(ErrorKind::input, "{}: an image; cairn report draws only data files", file);
            auto text = fs::read_file_if_exists(ws.root() / file);
            if (!text) fail(ErrorKind::input, "{}: not written yet", file);
            it->second = read_data(*text, file);
        } catch (const Error& err) {
            said.push_back(err.what());
        }
        return it->second ? &*it->second : nullptr;
    };
    if (ys.empty()) { // as DVC: the file's last column (here: the last that holds a number, not x nor step)
        const Table* t = table_of(e.file);
        if (!t) return {};
        std::string x_field = xs.size() == 1 && !x_per_file ? xs[0].field : std::string();
        for (auto it = t->columns.rbegin(); it != t->columns.rend(); ++it) {
            const auto& c = t->cells.at(*it);
            if (*it == x_field || *it == "step") continue;
            if (std::any_of(c.begin(), c.end(), [](const auto& v) { return v.has_value(); })) {
                ys.push_back({e.file, *it});
                break;
            }
        }
        if (ys.empty()) {
            said.push_back(fmt::format("{}: no column of numbers to draw (its columns: {})", e.file, join_columns(*t)));
            return {};
        }
    }
    // x pairs with y: one x for every y (a column name applies in each y's own file), or one per y.
    if (xs.size() > 1 && xs.size() != ys.size()) {
        said.push_back(fmt::format("{} x columns for {} y columns: give one x, or one for each y; left out", xs.size(), ys.size()));
        return {};
    }
    std::set<std::string> y_files, y_fields, x_fields;
    for (const auto& s : ys) y_files.insert(s.file), y_fields.insert(s.field);

    plot::Chart chart;
    chart.dots = templ == "scatter";
    std::size_t non_finite = 0;
    bool row_numbers = false;
    for (std::size_t i = 0; i < ys.size(); ++i) {
        const Source& ysrc = ys[i];
        const Table* t = table_of(ysrc.file);
        if (!t) continue;
        auto ycol = t->cells.find(ysrc.field);
        if (ycol == t->cells.end()) {
            said.push_back(fmt::format("y column '{}' is not in {} (its columns: {})", ysrc.field, ysrc.file, join_columns(*t)));
            continue;
        }
        const std::vector<std::optional<double>>* xcol = nullptr;
        std::string x_name;
        if (!xs.empty()) {
            Source xsrc = xs.size() == 1 ? xs[0] : xs[i];
            if (!x_per_file) xsrc.file = ysrc.file;
            const Table* xt = table_of(xsrc.file);
            if (!xt) continue;
            auto it = xt->cells.find(xsrc.field);
            if (it == xt->cells.end()) {
                said.push_back(fmt::format("x column '{}' is not in {} (its columns: {}); {} drawn against the row number", xsrc.field,
                                           xsrc.file, join_columns(*xt), ysrc.field));
                row_numbers = true;
            } else if (xt->rows != t->rows) {
                said.push_back(fmt::format("x column '{}' of {} has {} rows and y column '{}' of {} has {}: left out", xsrc.field, xsrc.file,
                                           xt->rows, ysrc.field, ysrc.file, t->rows));
                continue;
            } else {
                xcol = &it->second;
                x_name = xsrc.field;
            }
        } else if (auto step = t->cells.find("step"); step != t->cells.end() && ysrc.field != "step") {
            xcol = &step->second;
            x_name = "step";
        } else {
            row_numbers = true;
        }
        if (!x_name.empty()) x_fields.insert(x_name);
        plot::Series s;
        s.run = e.id;
        s.label = y_files.size() > 1 && y_fields.size() > 1 ? ysrc.file + ": " + ysrc.field : y_files.size() > 1 ? ysrc.file : ysrc.field;
        for (std::size_t r = 0; r < t->rows; ++r) {
            const auto& yv = ycol->second[r];
            if (!yv) continue;
            std::optional<double> xv = xcol ? (*xcol)[r] : std::optional<double>(static_cast<double>(r));
            if (!xv) continue;
            if (!std::isfinite(*yv) || !std::isfinite(*xv)) {
                ++non_finite;
                continue;
            }
            s.x.push_back(*xv);
            s.y.push_back(*yv);
        }
        if (s.x.empty()) {
            said.push_back(fmt::format("y column '{}' of {} holds no numbers to draw", ysrc.field, ysrc.file));
            continue;
        }
        chart.series.push_back(std::move(s));
    }
    if (non_finite) said.push_back(fmt::format("{} point{} with nan or inf left out", non_finite, non_finite == 1 ? "" : "s"));
    if (chart.series.empty()) {
        said.push_back("nothing to draw; left out");
        return {};
    }
    chart.title = prop("title").empty() ? e.id : prop("title");
    chart.x_label = !prop("x_label").empty() ? prop("x_label")
                    : x_fields.size() == 1 && !row_numbers ? *x_fields.begin()
                    : x_fields.empty()                    ? std::string("row")
                                                          : std::string("x");
    chart.y_label = !prop("y_label").empty() ? prop("y_label") : y_fields.size() == 1 ? *y_fields.begin() : std::string("y");
    chart.integer_x = x_fields.empty() || (x_fields.size() == 1 && *x_fields.begin() == "step");
    plot::SvgStyle style;
    style.width = 600;
    style.height = 300;
    style.standalone = false;
    std::string files;
    for (const auto& f : y_files) files += (files.empty() ? "" : ", ") + f;
    return fmt::format("<figure class=\"plot\" data-file=\"{}\">{}<figcaption>{}</figcaption></figure>\n", xml_escape(e.id),
                       plot::render_svg(chart, style), xml_escape(files));
}

} // namespace

std::string plots_section(workspace::Workspace& ws, const std::vector<pipeline::Pipeline>& pipelines, std::vector<std::string>& notes,
                          std::size_t& charts) {
    // One chart per file (DVC would draw a file given both at the top level and as a stage's
    // plot twice, once per definition): the first definition's options, then the others' for
    // what it leaves unset, top-level entries first since they are the presentation's.
    std::vector<Entry> entries;
    std::vector<std::pair<std::string, std::string>> twice; // id, what was merged
    auto add = [&](Entry e) {
        for (auto& known : entries)
            if (known.id == e.id && known.file == e.file) {
                for (const auto& [k, v] : e.props.items())
                    if (!known.props.contains(k)) known.props[k] = v;
                twice.emplace_back(e.id, fmt::format("in {} and in {}: drawn once, with the options of the first", known.from, e.from));
                return;
            }
        entries.push_back(std::move(e));
    };
    for (const auto& p : pipelines)
        for (const auto& o : p.plots) {
            Entry e{o.path.empty() ? o.written : o.path, o.path, "the top-level plots of " + p.file, Json::object()};
            for (const auto& [k, v] : o.plot_options) e.props[k] = v;
            add(std::move(e));
        }
    for (const auto& p : pipelines)
        for (const auto& st : p.stages)
            for (const auto& o : st.outs)
                if (o.kind == pipeline::Output::Kind::plot) {
                    Entry e{o.path, o.path, fmt::format("stage '{}' of {}", st.name, p.file), Json::object()};
                    for (const auto& [k, v] : o.plot_options) e.props[k] = v;
                    add(std::move(e));
                }
    std::string out = "<section id=\"plots\"><h2>Pipeline plots</h2>\n";
    if (entries.empty()) return out + "<p>No <code>plots</code> in the pipeline files.</p></section>\n";
    std::string figures, said_html;
    auto say = [&](const std::string& id, const std::string& what) {
        notes.push_back(fmt::format("plot {}: {}", id, what));
        said_html += fmt::format("<p class=\"note\">plot <b>{}</b>: {}</p>\n", xml_escape(id), xml_escape(what));
    };
    for (const auto& [id, what] : twice) say(id, what);
    for (const auto& e : entries) {
        std::vector<std::string> said;
        std::string figure = draw(ws, e, said);
        for (const auto& s : said) say(e.id, s);
        if (!figure.empty()) figures += figure, ++charts;
    }
    return out + said_html + "<div class=\"charts\">" + figures + "</div></section>\n";
}

} // namespace cairn::report
