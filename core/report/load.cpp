// Reading the selected runs' series for the report, each cut to the chart's columns as read.
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/report/report.hpp"
#include "core/run/store.hpp"
#include "core/util/parallel.hpp"

namespace cairn::report {

std::vector<RunData> load_runs(workspace::Workspace& ws, const std::vector<run::RunRecord>& listed, std::size_t columns,
                               util::Progress& progress) {
    std::vector<RunData> out(listed.size());
    progress.begin("Reading runs", listed.size());
    util::parallel_for(listed.size(), [&](std::size_t i) {
        const run::RunRecord& r = listed[i];
        RunData& d = out[i];
        d.record = r;
        d.record.summary = r.metric_summary();
        d.record.metrics.clear();
        std::map<std::string, plot::Series> full;
        plot::Series* current = nullptr;
        std::string current_key;
        auto add = [&](std::string_view key, std::int64_t step, double value) {
            if (!std::isfinite(value)) return;
            if (!current || key != current_key) {
                current_key = std::string(key);
                current = &full[current_key];
            }
            current->x.push_back(static_cast<double>(step));
            current->y.push_back(value);
        };
        if (r.commit.empty()) { // in progress: the listing holds what it logged so far
            for (const auto& p : r.metrics) add(p.key, p.step, p.value);
        } else {
            auto text = ws.repo().read_blob(r.commit, "metrics.tsv");
            if (text)
                run::scan_metrics_tsv(*text, std::string(run::k_ref_prefix) + r.id + ":metrics.tsv",
                                      [&](std::string_view key, std::int64_t step, double value, std::int64_t) { add(key, step, value); });
        }
        for (auto& [key, s] : full) {
            s.run = r.id;
            s.label = r.name.empty() ? r.id.substr(0, 8) : r.name;
            plot::Range xr{std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()};
            for (double x : s.x) xr.lo = std::min(xr.lo, x), xr.hi = std::max(xr.hi, x);
            d.series[key] = plot::reduce(s, xr, columns);
        }
        progress.advance(1, 0);
    });
    progress.end();
    return out;
}

} // namespace cairn::report
