// Sweep expansion: -p values into axes, grids, seeded random trials, trial names.
#include <functional>
#include <set>

#include <catch2/catch.hpp>

#include "core/params/params.hpp"
#include "core/sweep/expand.hpp"
#include "core/util/error.hpp"

using namespace cairn;
using sweep::Axis;

namespace {

std::vector<std::string> values(const std::string& key, const std::string& value) {
    return sweep::parse_axis(key, value).values;
}

bool usage_error(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e.kind() == ErrorKind::usage;
    }
    return false;
}

} // namespace

TEST_CASE("a -p value with an unquoted comma is a list, quoted commas stay one value", "[sweep]") {
    CHECK(values("lr", "0.1,0.01, 0.001") == std::vector<std::string>{"0.1", "0.01", "0.001"});
    CHECK_FALSE(sweep::parse_axis("lr", "0.1").varies());
    CHECK(values("lr", "0.1") == std::vector<std::string>{"0.1"});
    // One quoted value: one value, its quotes kept so that it is typed as the string inside them.
    Axis quoted = sweep::parse_axis("k", "\"a,b\"");
    CHECK_FALSE(quoted.varies());
    CHECK(params::parse_param("k", quoted.values.at(0)).text == "a,b");
    CHECK(values("k", "x,'a,b',\"c\"") == std::vector<std::string>{"x", "'a,b'", "\"c\""});
    CHECK(values("k", " spaced value ") ==
          std::vector<std::string>{" spaced value "}); // a single value as given
    CHECK(usage_error([] { (void)sweep::parse_axis("k", "a,,b"); }));
    CHECK(usage_error([] { (void)sweep::parse_axis("k", "a,"); }));
    // A function name not known is a typo (unifrom(0,1)), not two string values; quoted, it is a string.
    CHECK(usage_error([] { (void)sweep::parse_axis("k", "f(1)"); }));
    CHECK(values("k", "\"f(1)\"") == std::vector<std::string>{"\"f(1)\""});
}

TEST_CASE("range, linspace and logspace expand to typed values", "[sweep]") {
    CHECK(values("n", "range(1,4)") == std::vector<std::string>{"1", "2", "3"});
    CHECK(values("n", "range(0, 10, 4)") == std::vector<std::string>{"0", "4", "8"});
    CHECK(values("n", "range(3,0,-1)") == std::vector<std::string>{"3", "2", "1"});
    CHECK(values("x", "range(0,1,0.25)") == std::vector<std::string>{"0.0", "0.25", "0.5", "0.75"});
    CHECK(values("x", "linspace(0,1,5)") ==
          std::vector<std::string>{"0.0", "0.25", "0.5", "0.75", "1.0"});
    CHECK(values("x", "linspace(2,2,1)") == std::vector<std::string>{"2.0"});
    CHECK(values("x", "logspace(-3,-1,3)") == std::vector<std::string>{"0.001", "0.01", "0.1"});
    CHECK(params::parse_param("x", values("x", "linspace(0,1,3)").front()).type == "float");
    CHECK(params::parse_param("n", values("n", "range(1,3)").front()).type == "int");
    CHECK(sweep::parse_axis("x", "linspace(0,1,2)").varies());
    CHECK(usage_error([] { (void)sweep::parse_axis("n", "range(1,1)"); }));   // empty
    CHECK(usage_error([] { (void)sweep::parse_axis("n", "range(1,5,0)"); })); // step 0
    CHECK(usage_error([] { (void)sweep::parse_axis("n", "range(1)"); }));
    CHECK(usage_error([] { (void)sweep::parse_axis("n", "range(a,3)"); }));
    CHECK(usage_error([] { (void)sweep::parse_axis("n", "linspace(0,1,0)"); }));
    CHECK(usage_error([] { (void)sweep::parse_axis("n", "linspace(0,1,2.5)"); }));
    CHECK(usage_error(
        [] { (void)sweep::parse_axis("n", "range(0,1000000000)"); })); // over k_max_values
    CHECK(usage_error([] { (void)sweep::parse_axis("x", "loguniform(0,1)"); }));
    CHECK(usage_error([] { (void)sweep::parse_axis("x", "uniform(1,1)"); }));
    CHECK(usage_error([] { (void)sweep::parse_axis("x", "randint(1.5,3)"); }));
    CHECK(sweep::parse_axis("x", "uniform(0,1)").kind == Axis::Kind::uniform);
    CHECK(sweep::parse_axis("x", "uniform(0,1)").varies());
}

TEST_CASE("a grid is every combination, the first axis slowest", "[sweep]") {
    auto trials =
        sweep::expand_grid({sweep::parse_axis("lr", "0.1,0.01,0.001"),
                            sweep::parse_axis("batch", "32,64"), sweep::parse_axis("fixed", "x")});
    REQUIRE(trials.size() == 6);
    CHECK(trials[0] == sweep::Trial{{"lr", "0.1"}, {"batch", "32"}, {"fixed", "x"}});
    CHECK(trials[1] == sweep::Trial{{"lr", "0.1"}, {"batch", "64"}, {"fixed", "x"}});
    CHECK(trials[5] == sweep::Trial{{"lr", "0.001"}, {"batch", "64"}, {"fixed", "x"}});
    CHECK(sweep::expand_grid({}).size() == 1);
    CHECK(usage_error([] { (void)sweep::expand_grid({sweep::parse_axis("x", "uniform(0,1)")}); }));
    CHECK(usage_error([] {
        (void)sweep::expand_grid({sweep::parse_axis("x", "1,2"), sweep::parse_axis("x", "3")});
    }));
    CHECK(usage_error([] {
        (void)sweep::expand_grid(
            {sweep::parse_axis("a", "range(0,1000)"), sweep::parse_axis("b", "range(0,1000)")});
    }));
}

TEST_CASE("random trials: same seed same trials, in range, pinned values", "[sweep]") {
    std::vector<Axis> axes = {sweep::parse_axis("lr", "loguniform(1e-4,1e-1)"),
                              sweep::parse_axis("drop", "uniform(0,0.5)"),
                              sweep::parse_axis("layers", "randint(2,4)"),
                              sweep::parse_axis("opt", "adam,sgd")};
    auto a = sweep::expand_random(axes, 200, 42);
    CHECK(a == sweep::expand_random(axes, 200, 42));
    CHECK(a != sweep::expand_random(axes, 200, 43));
    std::set<std::string> layers, opts;
    for (const auto& t : a) {
        REQUIRE(t.size() == 4);
        double lr = std::stod(t[0].second), drop = std::stod(t[1].second);
        CHECK(lr >= 1e-4);
        CHECK(lr < 1e-1);
        CHECK(drop >= 0);
        CHECK(drop < 0.5);
        CHECK(params::parse_param("drop", t[1].second).type == "float");
        CHECK(params::parse_param("layers", t[2].second).type == "int");
        layers.insert(t[2].second);
        opts.insert(t[3].second);
    }
    CHECK(layers == std::set<std::string>{"2", "3", "4"}); // both ends included
    CHECK(opts == std::set<std::string>{"adam", "sgd"});
    // The draws are cairn's own, not a standard library's distributions: these values hold on
    // every platform (a change here breaks `--seed` reproducibility for users).
    auto pinned = sweep::expand_random({sweep::parse_axis("u", "uniform(0,1)"),
                                        sweep::parse_axis("n", "randint(1,100)"),
                                        sweep::parse_axis("c", "a,b,c")},
                                       2, 7);
    CHECK(pinned ==
          std::vector<sweep::Trial>{{{"u", "0.754385304152858"}, {"n", "51"}, {"c", "a"}},
                                    {{"u", "0.8919131767124763"}, {"n", "22"}, {"c", "a"}}});
    CHECK(usage_error([&] { (void)sweep::expand_random(axes, 0, 1); }));
    // A randint spanning all 64 bits is not a division by zero.
    CHECK(sweep::expand_random(
              {sweep::parse_axis("n", "randint(-9223372036854775808,9223372036854775807)")}, 3, 1)
              .size() == 3);
}

TEST_CASE("trial names from a template", "[sweep]") {
    sweep::Trial t{{"lr", "0.1"}, {"batch", "32"}, {"s", "'x'"}};
    CHECK(sweep::trial_name("lr{lr}-b{batch}", t, 3) == "lr0.1-b32");
    CHECK(sweep::trial_name("run{trial}-{s}-{other}", t, 3) == "run3-x-{other}");
    CHECK(sweep::trial_name("base", t, 3) == "base-3");
    CHECK(sweep::trial_name("", t, 3).empty());
}
