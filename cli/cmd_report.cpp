// cairn plot | report: metric charts in the terminal (braille) or as SVG, and the
// self-contained HTML report.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/app.hpp"
#include "cli/drift_reference.hpp"
#include "cli/output.hpp"
#include "core/fs/atomic_file.hpp"
#include "core/plot/chart.hpp"
#include "core/plot/series.hpp"
#include "core/plot/series_cache.hpp"
#include "core/query/filter.hpp"
#include "core/report/report.hpp"
#include "core/run/store.hpp"
#include "core/util/error.hpp"
#include "core/util/parallel.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::cli {
namespace {

// How plot and report choose runs: the named ones (in the order given), else every run;
// then --filter, --sort and -n as `cairn ls` applies them.
struct Selection {
    std::vector<std::string> runs;
    std::string filter;
    std::vector<std::string> sort;
    std::optional<std::int64_t> limit;
};

void add_selection_options(CLI::App* cmd, Selection& s) {
    cmd->add_option("--filter", s.filter, "Only runs matching EXPR (the `cairn ls --filter` language)");
    cmd->add_option("--sort", s.sort, "Sort by KEY (metrics.acc, params.lr, start, ...); -KEY for descending")
        ->allow_extra_args(false);
    cmd->add_option("-n,--limit", s.limit, "At most N runs")->check(whole_number(1, 1'000'000'000));
}

// The chosen runs, as listed (summaries only; view_run() loads their series).
std::vector<run::RunRecord> select_runs(workspace::Workspace& ws, const Selection& s) {
    std::optional<query::Filter> filter;
    if (!s.filter.empty()) filter = query::Filter::parse(s.filter);
    std::vector<query::SortKey> keys;
    for (const auto& k : s.sort) keys.push_back(query::parse_sort_key(k));
    std::vector<run::SkippedRun> skipped;
    auto all = run::list_runs(ws, &skipped);
    for (const auto& sk : skipped) print_warning("skipping " + sk.reason);
    std::vector<run::RunRecord> runs;
    const bool none_recorded = all.empty();
    if (s.runs.empty()) {
        runs = std::move(all);
    } else {
        std::set<std::string> seen;
        for (const auto& name : s.runs) {
            std::string note;
            const auto& r = run::find_run(all, run_name_arg(ws, name), skipped, &note);
            if (!note.empty()) print_warning(note);
            if (seen.insert(r.id).second) runs.push_back(r);
        }
    }
    if (filter) runs.erase(std::remove_if(runs.begin(), runs.end(), [&](const auto& r) { return !filter->matches(r); }), runs.end());
    query::sort_runs(runs, keys);
    if (s.limit && runs.size() > static_cast<std::size_t>(*s.limit)) runs.resize(static_cast<std::size_t>(*s.limit));
    if (runs.empty())
        throw Error(ErrorKind::input, none_recorded ? "no runs recorded yet (use 'cairn run -- <command>')"
                                                                    : "no run matches the filter");
    return runs;
}

// The file an -o/--svg option names, checked before any work: "" and a directory are usage
// errors (not a rename error naming a temp file), a missing parent directory cannot be written.
std::filesystem::path output_file(const Context& ctx, const std::string& option, const std::string& text) {
    if (text.empty()) throw Error(ErrorKind::usage, option + ": needs a file name, not an empty one");
    std::filesystem::path target = ctx.cwd / text;
    std::error_code ec;
    if (text.back() == '/' || std::filesystem::is_directory(target, ec))
        throw Error(ErrorKind::usage, fmt::format("{} {}: is a directory; name a file (such as {})", option, printable(text),
                                                  printable((std::filesystem::path(text) / (option == "--svg" ? "chart.svg" : "report.html")).string())));
    if (auto parent = target.parent_path(); !std::filesystem::is_directory(parent, ec))
        throw Error(ErrorKind::io, fmt::format("{} {}: cannot write there: the directory {} does not exist", option, printable(text),
                                               printable(std::filesystem::path(text).parent_path().string())));
    return target;
}

void register_plot(CLI::App& app, Context& ctx) {
    struct Options {
        Selection sel;
        std::vector<std::string> keys;
        std::string x = "step", svg;
        std::size_t smooth = 0;
        bool log_y = false, json = false;
        std::optional<std::size_t> width, height;
        bool svg_given = false;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("plot", "Draw metric series of runs as a chart in the terminal (or as SVG)");
    cmd->add_option("runs", o->sel.runs, "The runs (id prefix, name, last, last~N); default: every run, or --filter's");
    // One key per -m, so that `plot -m loss RUN` reads RUN as a run.
    cmd->add_option("-m,--metric", o->keys, "The metric to draw (repeat for one chart per metric)")
        ->required()
        ->allow_extra_args(false);
    cmd->add_option("--x", o->x, "The x axis: step (default) or time (seconds since the run started)")
        ->check(CLI::Validator(
            [](std::string& v) -> std::string { return v == "step" || v == "time" ? "" : "expected step or time, not '" + v + "'"; },
            "step|time"));
    cmd->add_option("--smooth", o->smooth, "Moving average over a trailing window of N points")->check(whole_number(0, 1'000'000'000));
    cmd->add_flag("--log-y", o->log_y, "Logarithmic y axis (values <= 0 are left out, with a note)");
    cmd->add_option("--width", o->width, "Chart width: terminal cells (default: the terminal's width), or SVG pixels (720)")
        ->check(whole_number(1, 4000));
    cmd->add_option("--height", o->height, "Chart height: terminal rows (default 16), or SVG pixels (360)")->check(whole_number(1, 4000));
    auto* svg_option = cmd->add_option("--svg", o->svg, "Write the chart as a standalone SVG file instead (several -m: one file, charts stacked)");
    cmd->add_flag("--json", o->json, "Print the downsampled series as JSON")->excludes(svg_option);
    add_selection_options(cmd, o->sel);
    cmd->footer("Examples:\n  cairn plot last -m loss\n  cairn plot --filter \"params.lr > 0\" -m loss -m acc --smooth 10\n"
                "  cairn plot a b -m loss --log-y --svg loss.svg\n"
                "Series are downsampled to the chart's columns keeping each column's min and max, so spikes show.\n"
                "Colours on a terminal (not with NO_COLOR); otherwise each run has a marker symbol (* + o x ...).");
    cmd->callback([o, &ctx, svg_option] {
        o->svg_given = svg_option->count() > 0; // `--svg ""` too: a usage error, not a chart in the terminal
        // A key given twice is one chart (each series is moved into the chart of its key).
        std::vector<std::string> unique_keys;
        for (const auto& k : o->keys)
            if (std::find(unique_keys.begin(), unique_keys.end(), k) == unique_keys.end()) unique_keys.push_back(k);
        o->keys = std::move(unique_keys);
        std::filesystem::path svg_target;
        if (o->svg_given) svg_target = output_file(ctx, "--svg", o->svg);
        auto ws = workspace::Workspace::discover(ctx.cwd);
        auto listed = select_runs(ws, o->sel);
        auto all_series = report::read_full_series(ws, listed, o->keys, o->x == "time" ? plot::XAxis::time : plot::XAxis::step);
        const auto axis = o->x == "time" ? plot::XAxis::time : plot::XAxis::step;
        const bool color = use_color(stdout);
        std::size_t term_w = terminal_width().value_or(80);
        std::vector<plot::Chart> charts;
        for (const auto& key : o->keys) {
            plot::Chart chart;
            chart.title = key;
            chart.x_label = axis == plot::XAxis::step ? "step" : "time (s)";
            chart.log_y = o->log_y;
            chart.integer_x = axis == plot::XAxis::step;
            std::vector<std::string> lacking, with_non_finite;
            std::size_t dropped = 0, non_finite = 0;
            for (std::size_t i = 0; i < listed.size(); ++i) {
                auto found = all_series[i].find(key);
                if (found != all_series[i].end() && found->second.non_finite) {
                    non_finite += found->second.non_finite;
                    with_non_finite.push_back(fmt::format("{} ({})", listed[i].name.empty() ? listed[i].id.substr(0, 8) : listed[i].name,
                                                          found->second.non_finite));
                }
                if (found == all_series[i].end() || found->second.x.empty()) {
                    lacking.push_back(listed[i].name.empty() ? listed[i].id.substr(0, 8) : listed[i].name);
                    continue;
                }
                plot::Series s = std::move(found->second);
                s.style = i; // the run's position in the selection: one look in every chart
                plot::smooth(s, o->smooth);
                if (o->log_y) dropped += plot::to_log10(s);
                if (!o->json && !o->svg_given) s.label = printable(s.label);
                chart.series.push_back(std::move(s));
            }
            if (chart.series.empty() || std::all_of(chart.series.begin(), chart.series.end(), [](const auto& s) { return s.x.empty(); })) {
                if (listed.size() == 1)
                    throw Error(ErrorKind::input, fmt::format("run {} has no {}metric '{}'", listed[0].id.substr(0, 8),
                                                              dropped ? "positive values of " : "", key));
                throw Error(ErrorKind::input,
                            fmt::format("none of the {} runs has {}metric '{}'", listed.size(), dropped ? "positive values of " : "", key));
            }
            if (!lacking.empty())
                print_warning(fmt::format("metric '{}': skipping {} run{} without it: {}", key, lacking.size(),
                                          lacking.size() == 1 ? "" : "s", fmt::join(lacking, ", ")));
            if (non_finite)
                print_warning(fmt::format("metric '{}': {} nan or inf value{} left out: {}", key, non_finite, non_finite == 1 ? "" : "s",
                                          fmt::join(with_non_finite, ", ")));
            if (dropped)
                print_warning(fmt::format("metric '{}': {} value{} <= 0 left out of the log scale", key, dropped, dropped == 1 ? "" : "s"));
            if (!o->json && !o->svg_given) chart.title = printable(key);
            charts.push_back(std::move(chart));
        }
        if (o->json) {
            const std::size_t columns = o->width.value_or(term_w > 12 ? term_w - 12 : 68) * 2;
            nlohmann::json out = nlohmann::json::array();
            for (const auto& c : charts) {
                nlohmann::json series = nlohmann::json::array();
                auto xr = plot::x_range(c.series);
                for (const auto& s : c.series) {
                    auto r = plot::reduce(s, xr, columns);
                    nlohmann::json pts = nlohmann::json::array();
                    for (std::size_t i = 0; i < r.x.size(); ++i)
                        pts.push_back({r.x[i], o->log_y ? std::pow(10.0, r.y[i]) : r.y[i]});
                    series.push_back({{"run", s.run}, {"name", s.label}, {"points", s.x.size()}, {"non_finite", s.non_finite}, {"data", pts}});
                }
                out.push_back({{"metric", c.title}, {"x", o->x}, {"log_y", o->log_y}, {"smooth", o->smooth}, {"series", series}});
            }
            print_json(out);
            return;
        }
        if (o->svg_given) {
            std::string svg;
            plot::SvgStyle style;
            style.width = static_cast<int>(o->width.value_or(720));
            style.height = static_cast<int>(o->height.value_or(360));
            if (charts.size() == 1) {
                svg = plot::render_svg(charts[0], style);
            } else { // stacked: one outer SVG holding each chart at its offset
                style.standalone = false;
                std::vector<std::string> parts;
                int total = 0;
                for (const auto& c : charts) {
                    std::string part = plot::render_svg(c, style);
                    auto h_at = part.find("height=\"") + 8;
                    int h = std::stoi(part.substr(h_at));
                    part.insert(4, fmt::format(" y=\"{}\"", total));
                    total += h;
                    parts.push_back(std::move(part));
                }
                svg = fmt::format("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" "
                                  "height=\"{1}\" viewBox=\"0 0 {0} {1}\">\n",
                                  style.width, total);
                for (const auto& p : parts) svg += p;
                svg += "</svg>\n";
            }
            fs::write_file_atomic(svg_target, svg);
            std::cerr << fmt::format("wrote {} ({} chart{}, {} bytes)\n", printable(o->svg), charts.size(), charts.size() == 1 ? "" : "s",
                                     svg.size());
            return;
        }
        plot::TextStyle style;
        style.color = color;
        style.height = o->height.value_or(16);
        style.width = o->width.value_or(term_w > 20 ? term_w - 12 : 8);
        for (std::size_t i = 0; i < charts.size(); ++i) std::cout << (i ? "\n" : "") << plot::render_text(charts[i], style);
    });
}

void register_report_command(CLI::App& app, Context& ctx) {
    struct Options {
        Selection sel;
        std::string output, title = "cairn report", metric, lineage, drift, against;
        bool json = false;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("report", "Write one self-contained HTML page of runs, charts, pipelines, lineage and models");
    cmd->add_option("runs", o->sel.runs, "The runs (id prefix, name, last, last~N); default: every run, or --filter's");
    cmd->add_option("-o,--output", o->output, "The HTML file to write")->required();
    cmd->add_option("--title", o->title, "The page's title (default: cairn report)");
    cmd->add_option("--metric", o->metric, "The metric of the parallel-coordinates chart (default: the one most runs have)");
    cmd->add_option("--lineage", o->lineage, "The run whose lineage is drawn (default: the first run of the report)");
    auto* drift = cmd->add_option("--drift", o->drift, "Add a drift section: this table (path, object id, RUN:PATH, model:NAME@ALIAS) ...");
    auto* against = cmd->add_option("--against", o->against, "... compared with this reference table (path, object id, RUN:PATH, model:NAME@ALIAS), as `cairn drift` does");
    drift->needs(against);
    against->needs(drift);
    cmd->add_flag("--json", o->json, "Print what was written as JSON (file, bytes, runs, charts, notes)");
    add_selection_options(cmd, o->sel);
    cmd->footer("Examples:\n  cairn report -o report.html\n  cairn report --filter \"params.lr > 0.01\" --sort -metrics.acc -n 50 -o best.html\n"
                "  cairn report a b --title \"lr sweep\" --lineage b --drift data/new.csv --against data/train.csv -o r.html\n"
                "The page needs no network (no URL is fetched). Open it with #sort=-metrics.acc to start sorted.");
    cmd->callback([o, &ctx] {
        const std::filesystem::path target = output_file(ctx, "-o", o->output);
        auto ws = workspace::Workspace::discover(ctx.cwd);
        auto listed = select_runs(ws, o->sel);
        report::Options opts;
        opts.title = o->title;
        opts.metric = o->metric;
        opts.cwd = ctx.cwd;
        opts.drift_current = o->drift;
        opts.drift_against = o->against;
        opts.drift_table = [&ws, &ctx](const std::string& text) {
            std::string what;
            return reference_table(ws, ctx.cwd, text, what);
        };
        opts.generated = run::format_time(std::chrono::duration_cast<std::chrono::milliseconds>(
                                              std::chrono::system_clock::now().time_since_epoch()).count()).substr(0, 16).replace(10, 1, " ") + " UTC";
        if (!o->lineage.empty()) {
            std::vector<run::SkippedRun> skipped;
            auto all = run::list_runs(ws, &skipped);
            opts.lineage_run = run::find_run(all, run_name_arg(ws, o->lineage), skipped).id;
        }
        StderrProgress progress;
        auto runs = report::load_runs(ws, listed, report::columns_for(listed.size(), opts.chart_points, opts.columns), progress);
        auto built = report::build(ws, runs, opts);
        fs::write_file_atomic(target, built.html);
        for (const auto& n : built.notes) print_warning(n);
        if (o->json) {
            print_json({{"file", o->output}, {"bytes", built.html.size()}, {"runs", runs.size()}, {"charts", built.charts}, {"notes", built.notes}});
            return;
        }
        std::cout << fmt::format("wrote {}: {} run{}, {} chart{}, {} KB\n", printable(o->output), runs.size(), runs.size() == 1 ? "" : "s",
                                 built.charts, built.charts == 1 ? "" : "s", (built.html.size() + 1023) / 1024);
    });
}

// `cairn fill-series-cache` (hidden, for bench/report.sh): fills the chart series cache of
// every recorded run that lacks one, from its metrics.tsv, exactly as the recorder does when it
// records a run (plot::fill_series_cache). Runs written by other means than cairn's recorder
// (git fast-import in the bench, runs fetched from a remote) have none.
void register_fill_series_cache(CLI::App& app, Context& ctx) {
    auto json = std::make_shared<bool>(false);
    auto* cmd = app.add_subcommand("fill-series-cache", "Fill the chart series cache of recorded runs (for benchmarks)");
    cmd->group(""); // hidden from `cairn help`
    cmd->add_flag("--json", *json, "Print the counts as JSON");
    cmd->callback([json, &ctx] {
        auto ws = workspace::Workspace::discover(ctx.cwd);
        auto runs = run::list_runs(ws);
        std::vector<const run::RunRecord*> todo;
        for (const auto& r : runs) {
            if (r.commit.empty()) continue;
            bool all = true;
            for (std::size_t columns : plot::k_cut_columns) all &= std::filesystem::is_regular_file(plot::series_cache_path(ws, r.commit, columns));
            if (!all) todo.push_back(&r);
        }
        std::atomic<std::size_t> failed{0};
        StderrProgress progress;
        progress.begin("Cutting series", todo.size());
        util::parallel_for(todo.size(), [&](std::size_t i) {
            auto text = ws.repo().read_blob(todo[i]->commit, "metrics.tsv");
            if (!plot::fill_series_cache(ws, todo[i]->commit, text ? *text : std::string())) ++failed;
            progress.advance(1, 0);
        });
        progress.end();
        if (*json) {
            print_json({{"runs", runs.size()}, {"filled", todo.size() - failed}, {"failed", failed.load()}});
            return;
        }
        std::cout << fmt::format("filled the series cache of {} run{} ({} failed, {} had one)\n", todo.size() - failed,
                                 todo.size() - failed == 1 ? "" : "s", failed.load(), runs.size() - todo.size());
    });
}

} // namespace

void register_report(CLI::App& app, Context& ctx) {
    register_plot(app, ctx);
    register_report_command(app, ctx);
    register_fill_series_cache(app, ctx);
}

} // namespace cairn::cli
