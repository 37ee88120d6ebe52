#pragma once
// The HTML report: one self-contained file (inline SVG, inline CSS and script, no URL to fetch)
// with the runs table, metric history charts, a parallel-coordinates chart, the pipeline DAGs,
// a run's lineage, rerun verdicts, the model registry, a drift comparison and the pipeline
// files' `plots`. Charts are drawn by core/plot; the page reads without JavaScript.

#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/drift/profiles.hpp"
#include "core/plot/series.hpp"
#include "core/run/record.hpp"
#include "core/util/progress.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::report {

struct Options {
    std::string title = "cairn report";
    std::string metric;      // the parallel-coordinates metric ("": the first metric key)
    std::string lineage_run; // the run whose lineage is drawn (an id; "": the first run)
    // A drift comparison to show (`--drift CURRENT --against REF`); empty: none.
    std::string drift_current, drift_against;
    // How those two are read (the CLI passes `cairn drift`'s, which also takes RUN:PATH and
    // model:NAME@ALIAS); unset: drift::profile_path (paths and object ids).
    std::function<drift::ProfiledTable(const std::string&)> drift_table;
    std::filesystem::path cwd;
    std::size_t chart_points = 60000; // the points one metric chart keeps in all, over every run
    std::size_t columns = 600;        // pixel columns of a chart (a series keeps at most 4 a column)
    std::string generated;            // the time printed in the page ("" none: reproducible output)
};

// One metric series of one run, already cut to Options::columns (min/max per column).
struct RunData {
    run::RunRecord record; // as listed (params, summaries), without its metric points
    std::map<std::string, plot::Series> series;
};

// The pixel columns to cut each run's series to, for a report of `runs` runs whose charts keep
// `chart_points` points: 32, 150 or `max_columns`, the least that gives each run its share.
[[nodiscard]] std::size_t columns_for(std::size_t runs, std::size_t chart_points, std::size_t max_columns);

// The selected runs' series: read from each run's metrics.tsv in parallel, each series reduced
// to `columns` columns of its own range as it is read (memory stays small at any size). The cut
// series of a recorded run are kept in `.cairn/state/series/<commit>.<columns>` (a derived
// cache, see docs/format.md) and read from there the next time.
[[nodiscard]] std::vector<RunData> load_runs(workspace::Workspace& ws, const std::vector<run::RunRecord>& listed,
                                             std::size_t columns, util::Progress& progress);

// The whole series of `keys` of each listed run (x = step, or seconds since the run started),
// in listing order: read straight from metrics.tsv (no record built), in parallel; non-finite
// values left out (counted in Series::non_finite). For `cairn plot`, which downsamples them to
// the terminal's columns.
[[nodiscard]] std::vector<std::map<std::string, plot::Series>> read_full_series(workspace::Workspace& ws,
                                                                               const std::vector<run::RunRecord>& listed,
                                                                               const std::vector<std::string>& keys, plot::XAxis axis);

struct Built {
    std::string html;
    std::vector<std::string> notes; // sections left out and why (a pipeline that does not load, ...)
    std::size_t charts = 0;
};

// The report of `runs` (as load_runs() returns them; every run of the repository is read for
// lineage and reruns). Throws Error(input) for an unknown --lineage run or a drift table that
// cannot be read.
[[nodiscard]] Built build(workspace::Workspace& ws, const std::vector<RunData>& runs, const Options& options);

// A directed graph drawn in layers (sources on top), for DAGs and lineage. Node labels are
// escaped; `title` is the hover text.
struct GraphNode {
    std::string label, title, kind; // kind: "stage", "run", "data" (a CSS class)
};
[[nodiscard]] std::string graph_svg(const std::vector<GraphNode>& nodes, const std::vector<std::pair<std::size_t, std::size_t>>& edges);

} // namespace cairn::report
