#pragma once
// Sweeps: `-p KEY=VALUES` parsed into axes, and axes expanded into trials, as a grid (every
// combination) or a seeded random search. Described for users in docs/guide-sweeps.md.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cairn::sweep {

// The values one `-p` option gives its key.
struct Axis {
    enum class Kind {
        list,       // `a,b,c`, `range(..)`, `linspace(..)`, `logspace(..)`, or a single value
        uniform,    // `uniform(a,b)`: a float in [a, b)
        loguniform, // `loguniform(a,b)`: a float whose logarithm is uniform in [log a, log b), 0 <
                    // a < b
        randint,    // `randint(a,b)`: an integer in [a, b], both ends included (as Python's
                    // random.randint)
    };
    std::string key;
    Kind kind = Kind::list;
    std::vector<std::string> values; // list: each value as `-p` text (typed by params::parse_param)
    double low = 0, high = 0;        // the bounds of a distribution
    std::int64_t int_low = 0, int_high = 0; // randint's, exactly
    std::string text;                       // the value as given, for messages

    // More than one value, or a distribution: this key makes the run a sweep.
    [[nodiscard]] bool varies() const { return kind != Kind::list || values.size() > 1; }
};

// Parses the VALUE of `-p KEY=VALUE`. An unquoted comma separates values (`0.1,0.01`); a value in
// single or double quotes is one value whatever it holds (`'"a,b"'`, kept with its quotes so that
// it stays a string). A whole value of the form `range(a,b[,step])` (b excluded, as Python's),
// `linspace(a,b,n)` (n values from a to b, both included), `logspace(a,b,n)` (10^x for x in
// linspace(a,b,n), as numpy's), `uniform(a,b)`, `loguniform(a,b)` or `randint(a,b)` is that
// function. Integers stay integers (`range(1,4)` is 1,2,3); float values are written so that they
// read back as floats (`linspace(0,1,3)` is 0.0,0.5,1.0). Throws Error(usage) naming the key for
// a malformed function, an empty range, or more than k_max_values values.
[[nodiscard]] Axis parse_axis(const std::string& key, const std::string& value);

inline constexpr std::size_t k_max_values = 100000; // per axis, and trials per sweep

// One trial: the `-p` KEY=VALUE pairs of its run, in the order of the axes.
using Trial = std::vector<std::pair<std::string, std::string>>;

// Every combination of the axes' values, the first axis varying slowest (as itertools.product).
// Throws Error(usage) for a distribution (it needs --random), a key given twice, or more than
// k_max_values trials.
[[nodiscard]] std::vector<Trial> expand_grid(const std::vector<Axis>& axes);

// `count` trials drawn at random: each list axis picks one of its values with equal chance, each
// distribution draws from itself, axis by axis in order, from one std::mt19937_64 seeded with
// `seed`. The draws are written out here (not std:: distributions, which differ between standard
// libraries), so the same seed gives the same trials on every platform: a double in [0, 1) is
// the top 53 bits of a draw times 2^-53; an integer below n rejects draws at or above the largest
// multiple of n, then takes the remainder. (loguniform's exp/log come from the C library, whose
// results may differ in the last bit between libraries.) Throws Error(usage) for a key given
// twice, count 0 or more than k_max_values.
[[nodiscard]] std::vector<Trial> expand_random(const std::vector<Axis>& axes, std::size_t count,
                                               std::uint64_t seed);

// A trial's run name from `name_template`: `{KEY}` is the trial's value of KEY and `{trial}` its
// number (1-based); a template without `{` gets `-{trial}` appended, so that trials stay apart.
// "" for an empty template.
[[nodiscard]] std::string trial_name(const std::string& name_template, const Trial& trial,
                                     std::size_t number);

} // namespace cairn::sweep
