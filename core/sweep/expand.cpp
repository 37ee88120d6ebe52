#include "core/sweep/expand.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <set>

#include <fmt/format.h>

#include "core/metrics/metrics.hpp"
#include "core/params/params.hpp"
#include "core/run/record.hpp"
#include "core/util/error.hpp"
#include "core/util/strings.hpp"

namespace cairn::sweep {
namespace {

// Splits at commas outside single or double quotes; quotes stay in the pieces.
std::vector<std::string> split_unquoted(const std::string& text) {
    std::vector<std::string> out(1);
    char quote = 0;
    for (char c : text) {
        if (quote) {
            if (c == quote) quote = 0;
        } else if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == ',') {
            out.emplace_back();
            continue;
        }
        out.back() += c;
    }
    return out;
}

// A float's text that reads back as a float (`1` would be an int): `1.0`, `0.25`, `1e-05`.
std::string float_text(double v) {
    std::string s = metrics::format_value(v);
    if (s.find_first_of(".eEn") == std::string::npos) s += ".0"; // "nan", "inf" hold an 'n'
    return s;
}

struct Call {
    std::string name;
    std::vector<params::Param> args;
};

std::optional<Call> parse_call(const std::string& key, const std::string& value) {
    static const std::set<std::string> k_functions = {"range",   "linspace",   "logspace",
                                                      "uniform", "loguniform", "randint"};
    auto open = value.find('(');
    if (open == std::string::npos || value.back() != ')') return std::nullopt;
    std::string name(util::trim(std::string_view(value).substr(0, open)));
    if (!k_functions.count(name)) {
        // `unifrom(0,1)` is a typo, not the string values "unifrom(0" and "1)".
        bool word = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; });
        if (word)
            fail(ErrorKind::usage, "-p {}={}: unknown function '{}' (known: range, linspace, logspace, uniform, loguniform, "
                 "randint; quote the value to pass it as a string: '\"{}\"')", key, value, name, value);
        return std::nullopt;
    }
    Call call{name, {}};
    std::string inner = value.substr(open + 1, value.size() - open - 2);
    for (const auto& piece : util::split(inner, ',')) {
        std::string arg(util::trim(piece));
        params::Param p = params::resolve_param(key, arg);
        if (!params::param_number(p) || !std::isfinite(*params::param_number(p)))
            fail(ErrorKind::usage, "-p {}={}: '{}' is not a finite number", key, value, arg);
        call.args.push_back(std::move(p));
    }
    return call;
}

void check_count(const std::string& key, const std::string& value, double n) {
    if (!(n <= static_cast<double>(k_max_values)))
        fail(ErrorKind::usage, "-p {}={}: more than {} values", key, value, k_max_values);
}

Axis function_axis(const std::string& key, const std::string& value, const Call& call) {
    Axis axis;
    axis.key = key;
    axis.text = value;
    auto num = [&](std::size_t i) { return *params::param_number(call.args[i]); };
    auto all_int = [&] {
        for (const auto& a : call.args)
            if (a.type != "int") return false;
        return true;
    };
    auto arity = [&](std::size_t lo, std::size_t hi, const char* form) {
        if (call.args.size() < lo || call.args.size() > hi)
            fail(ErrorKind::usage, "-p {}={}: expected {}", key, value, form);
    };
    if (call.name == "range") {
        arity(2, 3, "range(START, STOP[, STEP]) (STOP excluded)");
        double start = num(0), stop = num(1), step = call.args.size() == 3 ? num(2) : 1;
        if (step == 0) fail(ErrorKind::usage, "-p {}={}: the step cannot be 0", key, value);
        double n = std::ceil((stop - start) / step);
        check_count(key, value, n);
        bool ints = all_int();
        for (std::size_t i = 0; static_cast<double>(i) < n; ++i) {
            // From the index, not by adding steps: no drift over many values.
            if (ints) {
                std::int64_t s = *params::param_integer(call.args[0]);
                std::int64_t d = call.args.size() == 3 ? *params::param_integer(call.args[2]) : 1;
                axis.values.push_back(std::to_string(s + static_cast<std::int64_t>(i) * d));
            } else {
                axis.values.push_back(float_text(start + static_cast<double>(i) * step));
            }
        }
    } else if (call.name == "linspace" || call.name == "logspace") {
        bool log = call.name == "logspace";
        arity(3, 3,
              log ? "logspace(START, STOP, COUNT): 10^x for COUNT values x from START to STOP"
                  : "linspace(START, STOP, COUNT): COUNT values from START to STOP, both included");
        auto count = params::param_integer(call.args[2]);
        if (!count || *count < 1)
            fail(ErrorKind::usage, "-p {}={}: COUNT must be a whole number of at least 1", key,
                 value);
        check_count(key, value, static_cast<double>(*count));
        double start = num(0), stop = num(1);
        for (std::int64_t i = 0; i < *count; ++i) {
            // The last value is STOP itself, not START plus rounded steps.
            double x = *count == 1       ? start
                       : i == *count - 1 ? stop
                                         : start + (stop - start) * static_cast<double>(i) /
                                                       static_cast<double>(*count - 1);
            axis.values.push_back(float_text(log ? std::pow(10.0, x) : x));
        }
    } else {
        arity(2, 2, fmt::format("{}(LOW, HIGH)", call.name).c_str());
        axis.low = num(0);
        axis.high = num(1);
        if (call.name == "randint") {
            if (!all_int())
                fail(ErrorKind::usage, "-p {}={}: randint takes whole numbers", key, value);
            axis.kind = Axis::Kind::randint;
            axis.int_low = *params::param_integer(call.args[0]);
            axis.int_high = *params::param_integer(call.args[1]);
            if (axis.int_low > axis.int_high)
                fail(ErrorKind::usage, "-p {}={}: LOW is above HIGH", key, value);
        } else {
            axis.kind = call.name == "uniform" ? Axis::Kind::uniform : Axis::Kind::loguniform;
            if (!(axis.low < axis.high))
                fail(ErrorKind::usage, "-p {}={}: LOW must be below HIGH", key, value);
            if (axis.kind == Axis::Kind::loguniform && axis.low <= 0)
                fail(ErrorKind::usage, "-p {}={}: loguniform needs 0 < LOW < HIGH", key, value);
        }
        return axis;
    }
    if (axis.values.empty()) fail(ErrorKind::usage, "-p {}={}: gives no values", key, value);
    return axis;
}

// A double in [0, 1): the top 53 bits of a draw.
double unit(std::mt19937_64& rng) {
    return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

// An integer in [0, n), n > 0, without the bias of a plain remainder.
std::uint64_t below(std::mt19937_64& rng, std::uint64_t n) {
    std::uint64_t limit =
        std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % n;
    std::uint64_t x;
    do
        x = rng();
    while (x >= limit);
    return x % n;
}

void check_keys(const std::vector<Axis>& axes) {
    std::set<std::string> seen;
    for (const auto& a : axes)
        if (!seen.insert(a.key).second) fail(ErrorKind::usage, "parameter '{}' given twice", a.key);
}

} // namespace

Axis parse_axis(const std::string& key, const std::string& value) {
    std::string trimmed(util::trim(value));
    if (auto call = parse_call(key, trimmed)) return function_axis(key, trimmed, *call);
    Axis axis;
    axis.key = key;
    axis.text = value;
    std::vector<std::string> pieces = split_unquoted(value);
    if (pieces.size() == 1) {
        axis.values.push_back(value); // as given: a single value is today's `-p`
        return axis;
    }
    check_count(key, value, static_cast<double>(pieces.size()));
    for (auto& piece : pieces) {
        std::string v(util::trim(piece));
        if (v.empty())
            fail(ErrorKind::usage,
                 "-p {}={}: an empty value in the list (quote a value holding a comma: "
                 "'{}=\"a,b\"')",
                 key, value, key);
        axis.values.push_back(std::move(v));
    }
    return axis;
}

std::vector<Trial> expand_grid(const std::vector<Axis>& axes) {
    check_keys(axes);
    double total = 1;
    for (const auto& a : axes) {
        if (a.kind != Axis::Kind::list)
            fail(ErrorKind::usage,
                 "-p {}={}: a distribution needs --random K (how many trials to draw)", a.key,
                 a.text);
        total *= static_cast<double>(a.values.size());
    }
    if (total > static_cast<double>(k_max_values))
        fail(ErrorKind::usage, "the grid has {} trials, more than {} (use --random K to sample it)",
             total, k_max_values);
    std::vector<Trial> out(1);
    for (const auto& a : axes) {
        std::vector<Trial> next;
        next.reserve(out.size() * a.values.size());
        for (const auto& t : out)
            for (const auto& v : a.values) {
                next.push_back(t);
                next.back().emplace_back(a.key, v);
            }
        out = std::move(next);
    }
    return out;
}

std::vector<Trial> expand_random(const std::vector<Axis>& axes, std::size_t count,
                                 std::uint64_t seed) {
    check_keys(axes);
    if (count == 0 || count > k_max_values)
        fail(ErrorKind::usage, "--random takes a number of trials from 1 to {}", k_max_values);
    std::mt19937_64 rng(seed);
    std::vector<Trial> out(count);
    for (auto& trial : out) {
        for (const auto& a : axes) {
            std::string v;
            switch (a.kind) {
            case Axis::Kind::list:
                v = a.values.size() == 1 ? a.values.front() : a.values[below(rng, a.values.size())];
                break;
            case Axis::Kind::uniform:
                v = float_text(a.low + (a.high - a.low) * unit(rng));
                break;
            case Axis::Kind::loguniform:
                v = float_text(
                    std::exp(std::log(a.low) + (std::log(a.high) - std::log(a.low)) * unit(rng)));
                break;
            case Axis::Kind::randint: {
                std::int64_t lo = a.int_low, hi = a.int_high;
                std::uint64_t span =
                    static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo) + 1;
                std::uint64_t pick =
                    span == 0 ? rng() : below(rng, span); // span 0: the whole 64-bit range
                v = std::to_string(
                    static_cast<std::int64_t>(static_cast<std::uint64_t>(lo) + pick));
                break;
            }
            }
            trial.emplace_back(a.key, std::move(v));
        }
    }
    return out;
}

std::string trial_name(const std::string& name_template, const Trial& trial, std::size_t number) {
    if (name_template.empty()) return "";
    std::string tmpl =
        name_template.find('{') == std::string::npos ? name_template + "-{trial}" : name_template;
    std::vector<params::Param> values;
    for (const auto& [k, v] : trial)
        values.push_back(params::parse_param(k, v));
    bool has_trial = false;
    for (const auto& p : values)
        has_trial |= p.key == "trial";
    if (!has_trial) values.push_back({"trial", "int", std::to_string(number)});
    return params::substitute_params({tmpl}, values).front();
}

} // namespace cairn::sweep
