#pragma once
// Data drift: the columns of a current table compared with those of a reference, from their
// profiles, with Evidently's default tests (docs/reference.md, "cairn drift"), and the dataset
// verdict.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/table/profile.hpp"

namespace cairn::drift {

enum class NumTest { automatic, ks, wasserstein, psi };
enum class CatTest { automatic, chi2, jensenshannon, psi };

// References of at most this many rows get the statistical tests (K-S, chi-squared, z); larger
// ones the distances (normalised Wasserstein, Jensen-Shannon), as Evidently chooses.
inline constexpr std::uint64_t k_small_reference = 1000;
// A change of the missing share by this much (absolute) is a warning.
inline constexpr double k_missing_share_warning = 0.1;

struct Options {
    std::vector<std::string> columns;     // only these (empty: every column of either table)
    std::vector<std::string> exclude;     // not these
    std::vector<std::string> key_columns; // any of these drifting is dataset drift (always compared)
    NumTest num_test = NumTest::automatic;
    CatTest cat_test = CatTest::automatic;
    std::optional<double> threshold; // replaces the chosen test's default threshold
    double drift_share = 0.5;
};

enum class Status {
    ok,
    drift,        // the test says so
    warn,         // not drifted, but the missing share changed by k_missing_share_warning or more
    missing,      // in the reference only: drifted
    added,        // in the current table only: drifted
    type_changed, // numeric on one side, categorical on the other: drifted
    no_values,    // no value to compare on one side: drifted when the reference has values
};

[[nodiscard]] std::string_view to_string(Status status); // ok drift warn missing new "type changed" "no values"

// What one side of a column looks like, for the report.
struct SideSummary {
    bool present = false;
    std::uint64_t rows = 0, missing = 0;
    std::optional<double> mean, std, min, max; // numeric
    std::optional<std::string> top;            // categorical: the most frequent value
    double top_share = 0;                      // its share of the non-missing values
    std::uint64_t distinct = 0;
};

struct ColumnResult {
    std::string name;
    std::string kind; // "numeric", "categorical", or "" when the column is on one side only
    std::string test; // "ks", "wasserstein", "psi", "chi2", "z", "jensenshannon", or ""
    std::optional<double> score, threshold;
    std::optional<double> psi; // reported alongside
    bool higher_is_drift = false; // score >= threshold is drift (distances), else score < threshold (p-values)
    bool approximate = false;     // computed from quantiles, not from every value
    bool key = false;
    bool drifted = false;
    bool warning = false;
    Status status = Status::ok;
    std::string note; // why, for the statuses other than ok and drift; the missing share change
    SideSummary reference, current;
};

struct Report {
    std::vector<ColumnResult> columns; // reference order, then the columns only the current table has
    std::size_t drifted = 0, warnings = 0;
    double share = 0; // drifted / columns
    double drift_share = 0.5;
    bool dataset_drift = false;
    std::vector<std::string> key_drifted;
};

// Compares `current` with `reference`. Throws Error(input) when --columns, --exclude or
// --key-columns name a column neither table has, or when no column is left to compare;
// Error(usage) for a drift share or threshold out of range.
[[nodiscard]] Report compare(const table::Profile& reference, const table::Profile& current, const Options& options);

} // namespace cairn::drift
