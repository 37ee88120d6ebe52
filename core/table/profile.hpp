#pragma once
// Column profiles of a table: what `cairn profile` prints and what drift checks compare. The
// JSON form (schema "cairn-profile/1") is described in docs/format.md ("Profiles").

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/table/table.hpp"

namespace cairn::table {

inline constexpr std::string_view k_profile_schema = "cairn-profile/1";
// Quantiles are kept at p = i / k_quantile_steps; columns with at most this many finite values
// keep all of them, sorted, instead.
inline constexpr std::size_t k_quantile_steps = 1000;
// Categorical columns keep exact counts of this many most frequent values.
inline constexpr std::size_t k_top_values = 256;

enum class Kind { numeric, categorical, constant };

[[nodiscard]] std::string_view to_string(Kind kind);

// Over the finite values of a numeric column (NaN and ±inf are only counted).
struct NumericSummary {
    std::uint64_t count = 0; // finite values; a summary exists only when count > 0
    double min = 0, max = 0, mean = 0;
    // Sample standard deviation (ddof = 1); none below 2 values, or beyond the double range.
    std::optional<double> std;
    // Exactly one of these is filled: every finite value sorted (count <= k_quantile_steps), or
    // the k_quantile_steps + 1 quantiles at p = i / k_quantile_steps.
    std::vector<double> sorted;
    std::vector<double> quantiles;
    // Decile bins: edges at the quantiles p = 0, 0.1, ..., 1; counts[i] values in
    // [edges[i], edges[i + 1]), the last bin closed.
    std::array<double, 11> edges{};
    std::array<std::uint64_t, 10> bin_counts{};

    // The quantile at p in [0, 1] with numpy's default (linear) method: exact from `sorted`,
    // interpolated between the stored quantiles otherwise (exact at p = i / k_quantile_steps).
    [[nodiscard]] double quantile(double p) const;
};

struct CategoricalSummary {
    // The k_top_values most frequent values with their counts, by count descending, then by
    // value bytes; `other` counts the values of every other category.
    std::vector<std::pair<std::string, std::uint64_t>> top;
    std::uint64_t other = 0;
};

struct ColumnProfile {
    std::string name;
    Kind kind = Kind::constant;
    // The inferred value type: true when every non-missing value is a number (an empty column too).
    bool numeric = true;
    // Cells by what they hold; rows = missing + the values. NaN and ±inf cells are values of
    // their column (numbers, or categories of a categorical one) and are counted here.
    std::uint64_t rows = 0, missing = 0, nan = 0, posinf = 0, neginf = 0;
    // Non-missing cells by type.
    std::uint64_t integers = 0, decimals = 0, strings = 0, booleans = 0, nested = 0;
    std::uint64_t distinct = 0; // distinct non-missing values (NaN, inf and -inf each one)
    std::optional<NumericSummary> summary;     // numeric columns with finite values
    std::optional<CategoricalSummary> categories; // categorical columns
};

struct Profile {
    Format format = Format::csv;
    std::string object; // "sha256:<hex>" of the bytes profiled, or empty when unknown
    std::uint64_t bytes = 0;
    std::uint64_t rows = 0;
    std::vector<ColumnProfile> columns;

    // The column named `name`, or null.
    [[nodiscard]] const ColumnProfile* column(std::string_view name) const;
};

// Reads `bytes` as `format` (read_table, with its errors) and profiles every column. A column
// is numeric when all its non-missing values are numbers, categorical otherwise, constant when
// it has fewer than two distinct values. `object` is recorded as given.
[[nodiscard]] Profile profile_table(std::string_view bytes, Format format, const std::string& display,
                                    const std::string& object = {});

// The profile as JSON text (schema k_profile_schema), numbers written to round-trip exactly.
[[nodiscard]] std::string to_json(const Profile& profile);

// Parses JSON written by to_json, strictly: another schema is Error(input) "<display>: profile
// schema '<s>' is not supported (a newer cairn wrote it?)"; a missing or mistyped field, or a
// summary inconsistent with its counts, is Error(input) naming it.
[[nodiscard]] Profile parse_profile(std::string_view text, const std::string& display);

} // namespace cairn::table
