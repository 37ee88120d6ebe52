// The run filter language (`cairn ls --filter`) and sort keys (`--sort`, `--columns`): parsing,
// then evaluating against a few runs, which must never throw. Input: the expression text.

#include <cmath>

#include "core/query/filter.hpp"
#include "tests/fuzz/fuzz.hpp"

using namespace cairn;

namespace {

std::vector<run::RunRecord> make_runs() {
    run::RunRecord a;
    a.id = "6fcfa4d9ea62ddde4193e4c70371a36e";
    a.name = "baseline";
    a.experiment = "lr-sweep";
    a.stage = "train";
    a.pipeline = "dvc.yaml";
    a.sweep = "grid-1";
    a.status = "finished";
    a.start_ms = 1764266000000;
    a.end_ms = 1764266000732;
    a.user = "alice";
    a.host = "build-01";
    a.tags = {{"team", "a"}, {"odd key", "x y"}};
    a.params = {{"lr", "float", "0.1"},
                {"epochs", "int", "3"},
                {"model", "string", "resnet"},
                {"aug", "bool", "true"}};
    a.metrics = {{"acc", 0, 0.5, 1},
                 {"acc", 1, 0.9, 2},
                 {"loss", 0, std::nan(""), 3},
                 {"loss", 1, -INFINITY, 4}};
    run::RunRecord b;
    b.id = "00000000000000000000000000000001";
    b.status = "crashed";
    b.exit_code = -1;
    b.reproduces = a.id;
    run::RunRecord c;
    c.id = "ffffffffffffffffffffffffffffffff";
    c.summary = std::map<std::string, metrics::MetricSummary>{{"acc", {0.7, 0.1, 0.8, 4, 5}}};
    return {a, b, c};
}

// Evaluation of a parsed filter or sort has no failure mode: any exception is a finding.
template <typename Body> void must_not_throw(const char* what, Body&& body) {
    try {
        body();
    } catch (const std::exception& e) {
        fuzz::property_failed("filter", std::string(what) + " threw: " + e.what());
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::vector<run::RunRecord> k_runs = make_runs();
    std::string input = fuzz::bytes(data, size);
    fuzz::run_one("filter", [&] {
        query::Filter filter = query::Filter::parse(input);
        must_not_throw("Filter::matches", [&] {
            for (const auto& r : k_runs)
                (void)filter.matches(r);
        });
    });
    fuzz::run_one("filter", [&] {
        query::SortKey key = query::parse_sort_key(input);
        must_not_throw("sort_runs", [&] {
            std::vector<run::RunRecord> runs = k_runs;
            query::sort_runs(runs, {key});
            for (const auto& r : k_runs)
                (void)key.field.eval(r);
        });
    });
    return 0;
}
