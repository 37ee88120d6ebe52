#pragma once
// The run filter language of `cairn ls --filter` (MLflow-like) and sort keys of `--sort`.
//
//   expr    = or ; or = and *("or" and) ; and = unary *("and" unary)
//   unary   = "not" unary / "(" expr ")" / "exists" "(" field ")" / operand op operand
//   operand = field / agg "(" field ")" / number / 'string' / "string" / true / false
//   agg     = "min" / "max" / "count" / "last"
//   field   = ("metrics" / "params" / "tags" / "attributes") "." name / attribute
//   op      = "=" / "!=" / "<" / "<=" / ">" / ">=" / "like" / "ilike"
//
// A bare `metrics.KEY` is the metric's last value. Names may be `backquoted` to hold any
// character. A comparison with a field a run does not have is false.

#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/run/record.hpp"

namespace cairn::query {

// A value a field takes for one run.
using Value = std::variant<std::monostate, double, std::string, bool>;

// A field reference, optionally aggregated: metrics.acc, min(metrics.loss), params.lr, status.
struct FieldRef {
    std::string scope; // "metrics", "params", "tags", "attributes"
    std::string name;
    std::string aggregate; // "", "min", "max", "count", "last"
    [[nodiscard]] Value eval(const run::RunRecord& run) const;
    [[nodiscard]] std::string text() const;
};

// How deeply parentheses and `not` may nest in a filter; deeper is a usage error naming the limit.
inline constexpr int k_max_filter_depth = 100;

// Parses a field reference as used by --sort and --columns. Throws Error(usage).
[[nodiscard]] FieldRef parse_field(const std::string& text);

class Filter {
public:
    // Parses an expression; a syntax error, or nesting deeper than k_max_filter_depth, is
    // Error(usage) pointing at the column.
    [[nodiscard]] static Filter parse(const std::string& text);
    [[nodiscard]] bool matches(const run::RunRecord& run) const;

    struct Node;

private:
    std::shared_ptr<const Node> m_root;
};

struct SortKey {
    FieldRef field;
    bool descending = false;
};
// "-metrics.acc" -> descending. Throws Error(usage).
[[nodiscard]] SortKey parse_sort_key(const std::string& text);

// Sorts runs by the keys in order; runs lacking a key's value come last for that key.
void sort_runs(std::vector<run::RunRecord>& runs, const std::vector<SortKey>& keys);

// SQL LIKE: % any run, _ one character; case-insensitive when `fold`.
[[nodiscard]] bool like(const std::string& text, const std::string& pattern, bool fold);

} // namespace cairn::query
