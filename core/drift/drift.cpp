#include "core/drift/drift.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "core/drift/stats.hpp"
#include "core/util/error.hpp"
#include "core/util/strings.hpp"

namespace cairn::drift {
namespace {

using table::ColumnProfile;

constexpr double k_pvalue_threshold = 0.05;
constexpr double k_distance_threshold = 0.1;
// Evidently's floor for the reference's standard deviation when normalising Wasserstein.
constexpr double k_min_norm = 0.001;
constexpr const char* k_other = "\x01other"; // the bucket of the categories beyond a profile's top

bool has_values(const ColumnProfile& c) { return c.summary.has_value() || (c.categories && (!c.categories->top.empty() || c.categories->other > 0)); }

SideSummary summarise(const ColumnProfile& c) {
    SideSummary s;
    s.present = true;
    s.rows = c.rows;
    s.missing = c.missing;
    s.distinct = c.distinct;
    if (c.summary) {
        s.mean = c.summary->mean;
        s.std = c.summary->std;
        s.min = c.summary->min;
        s.max = c.summary->max;
    } else if (c.categories && !c.categories->top.empty()) {
        std::uint64_t all = c.categories->other;
        for (const auto& [value, count] : c.categories->top) all += count;
        s.top = c.categories->top.front().first;
        s.top_share = all ? static_cast<double>(c.categories->top.front().second) / static_cast<double>(all) : 0;
    }
    return s;
}

Sample sample_of(const table::NumericSummary& s) {
    if (!s.sorted.empty()) {
        Sample out;
        out.n = s.sorted.size();
        out.values = s.sorted;
        out.weights.assign(s.sorted.size(), 1.0);
        return out;
    }
    return quantile_sample(s.quantiles, s.count);
}

void numeric_tests(ColumnResult& r, const ColumnProfile& ref, const ColumnProfile& cur, const Options& o) {
    r.kind = "numeric";
    const Sample a = sample_of(*ref.summary), b = sample_of(*cur.summary);
    r.approximate = !a.exact || !b.exact;
    std::vector<double> edges(ref.summary->edges.begin(), ref.summary->edges.end());
    r.psi = psi(histogram(a, edges), histogram(b, edges));
    NumTest test = o.num_test;
    if (test == NumTest::automatic) test = ref.rows <= k_small_reference ? NumTest::ks : NumTest::wasserstein;
    switch (test) {
    case NumTest::automatic:
    case NumTest::ks:
        r.test = "ks";
        r.score = ks_2samp(a, b).pvalue;
        break;
    case NumTest::wasserstein: {
        r.test = "wasserstein";
        const double n = static_cast<double>(ref.summary->count);
        // Evidently divides by numpy's default (population) standard deviation.
        const double sd = ref.summary->std && n > 1 ? *ref.summary->std * std::sqrt((n - 1) / n) : 0;
        r.score = wasserstein(a, b) / std::max(sd, k_min_norm);
        r.higher_is_drift = true;
        break;
    }
    case NumTest::psi:
        r.test = "psi";
        r.score = r.psi;
        r.higher_is_drift = true;
        break;
    }
}

// Counts by category over the union of both sides' categories (sorted by value); the categories
// a profile keeps no exact count of share one bucket.
void categorical_tests(ColumnResult& r, const ColumnProfile& ref, const ColumnProfile& cur, const Options& o) {
    r.kind = "categorical";
    std::map<std::string, std::pair<double, double>> counts;
    auto add = [&counts](const ColumnProfile& c, bool second) {
        if (!c.categories) return;
        for (const auto& [value, count] : c.categories->top)
            (second ? counts[value].second : counts[value].first) += static_cast<double>(count);
        if (c.categories->other) (second ? counts[k_other].second : counts[k_other].first) += static_cast<double>(c.categories->other);
    };
    add(ref, false);
    add(cur, true);
    if ((ref.categories && ref.categories->other) || (cur.categories && cur.categories->other)) r.approximate = true;
    std::vector<double> rc, cc;
    double nr = 0, nc = 0;
    for (const auto& [value, c] : counts) {
        rc.push_back(c.first);
        cc.push_back(c.second);
        nr += c.first;
        nc += c.second;
    }
    r.psi = psi(rc, cc);
    CatTest test = o.cat_test;
    bool binary = false;
    if (test == CatTest::automatic) {
        test = ref.rows <= k_small_reference ? CatTest::chi2 : CatTest::jensenshannon;
        binary = test == CatTest::chi2 && counts.size() <= 2;
    }
    switch (test) {
    case CatTest::automatic:
    case CatTest::chi2:
        if (binary) {
            r.test = "z";
            r.score = z_test(rc.front(), nr, cc.front(), nc).pvalue;
        } else {
            r.test = "chi2";
            // Current counts against the reference's proportions scaled to the current size.
            std::vector<double> expected;
            for (double c : rc) expected.push_back(c * nc / nr);
            r.score = chisquare(cc, expected).pvalue;
        }
        break;
    case CatTest::jensenshannon:
        r.test = "jensenshannon";
        r.score = jensen_shannon(rc, cc);
        r.higher_is_drift = true;
        break;
    case CatTest::psi:
        r.test = "psi";
        r.score = r.psi;
        r.higher_is_drift = true;
        break;
    }
}

std::string share_text(double x) { return fmt::format("{:.1f}%", x * 100); }

ColumnResult compare_column(const std::string& name, const ColumnProfile* ref, const ColumnProfile* cur, const Options& o) {
    ColumnResult r;
    r.name = name;
    if (ref) r.reference = summarise(*ref);
    if (cur) r.current = summarise(*cur);
    if (!cur) {
        r.kind = ref->numeric ? "numeric" : "categorical";
        r.status = Status::missing;
        r.drifted = true;
        r.note = "not in the current table";
        return r;
    }
    if (!ref) {
        r.kind = cur->numeric ? "numeric" : "categorical";
        r.status = Status::added;
        r.drifted = true;
        r.note = "not in the reference";
        return r;
    }
    const bool ref_values = has_values(*ref), cur_values = has_values(*cur);
    if (ref_values && cur_values && ref->numeric != cur->numeric) {
        r.kind = std::string(ref->numeric ? "numeric" : "categorical") + " -> " + (cur->numeric ? "numeric" : "categorical");
        r.status = Status::type_changed;
        r.drifted = true;
        r.note = fmt::format("was {}, now {}", ref->numeric ? "numeric" : "categorical", cur->numeric ? "numeric" : "categorical");
        return r;
    }
    if (!ref_values || !cur_values) {
        r.kind = ref->numeric ? "numeric" : "categorical";
        r.status = Status::no_values;
        r.drifted = ref_values;
        r.warning = !ref_values;
        r.note = ref_values ? "no values in the current table" : "no values in the reference";
        return r;
    }
    if (ref->summary) numeric_tests(r, *ref, *cur, o);
    else categorical_tests(r, *ref, *cur, o);
    // A p-value is at most 1: a threshold above it would call every column drifted.
    if (o.threshold && !r.higher_is_drift && *o.threshold > 1)
        fail(ErrorKind::usage, "--threshold {} is above 1, but column '{}' is judged by a p-value ({} test): drift is p < threshold",
             *o.threshold, r.name, r.test);
    r.threshold = o.threshold ? *o.threshold : r.higher_is_drift ? k_distance_threshold : k_pvalue_threshold;
    r.drifted = r.higher_is_drift ? *r.score >= *r.threshold : *r.score < *r.threshold;
    r.status = r.drifted ? Status::drift : Status::ok;
    const double ms_ref = static_cast<double>(ref->missing) / static_cast<double>(std::max<std::uint64_t>(ref->rows, 1));
    const double ms_cur = static_cast<double>(cur->missing) / static_cast<double>(std::max<std::uint64_t>(cur->rows, 1));
    if (std::fabs(ms_ref - ms_cur) >= k_missing_share_warning) {
        r.warning = true;
        if (!r.drifted) r.status = Status::warn;
        r.note = fmt::format("missing {} -> {}", share_text(ms_ref), share_text(ms_cur));
    }
    return r;
}

} // namespace

std::string_view to_string(Status status) {
    switch (status) {
    case Status::ok: return "ok";
    case Status::drift: return "drift";
    case Status::warn: return "warn";
    case Status::missing: return "missing";
    case Status::added: return "new";
    case Status::type_changed: return "type changed";
    case Status::no_values: return "no values";
    }
    return "ok";
}

Report compare(const table::Profile& reference, const table::Profile& current, const Options& o) {
    if (!(o.drift_share > 0 && o.drift_share <= 1)) fail(ErrorKind::usage, "--drift-share must be in (0, 1], not {}", o.drift_share);
    if (o.threshold && !(*o.threshold >= 0 && std::isfinite(*o.threshold)))
        fail(ErrorKind::usage, "--threshold must be a non-negative number, not {}", *o.threshold);
    std::vector<std::string> names;
    std::set<std::string> seen;
    for (const auto& c : reference.columns)
        if (seen.insert(c.name).second) names.push_back(c.name);
    for (const auto& c : current.columns)
        if (seen.insert(c.name).second) names.push_back(c.name);
    auto check_known = [&names, &seen](const std::vector<std::string>& list, const char* flag) {
        for (const auto& n : list)
            if (!seen.count(n)) {
                std::string near = util::closest(n, names);
                fail(ErrorKind::input, "{}: no column '{}' in either table{}", flag, n, near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near));
            }
    };
    check_known(o.columns, "--columns");
    check_known(o.exclude, "--exclude");
    check_known(o.key_columns, "--key-columns");
    const std::set<std::string> only(o.columns.begin(), o.columns.end()), excluded(o.exclude.begin(), o.exclude.end()),
        keys(o.key_columns.begin(), o.key_columns.end());
    Report report;
    report.drift_share = o.drift_share;
    for (const auto& name : names) {
        const bool key = keys.count(name) > 0;
        if (!key && ((!only.empty() && !only.count(name)) || excluded.count(name))) continue;
        ColumnResult r = compare_column(name, reference.column(name), current.column(name), o);
        r.key = key;
        report.drifted += r.drifted;
        report.warnings += r.warning;
        if (key && r.drifted) report.key_drifted.push_back(name);
        report.columns.push_back(std::move(r));
    }
    if (report.columns.empty()) fail(ErrorKind::input, "no columns left to compare (--columns / --exclude)");
    report.share = static_cast<double>(report.drifted) / static_cast<double>(report.columns.size());
    report.dataset_drift = report.share >= o.drift_share || !report.key_drifted.empty();
    return report;
}

} // namespace cairn::drift
