#include <cmath>

#include <catch2/catch.hpp>

#include "core/query/filter.hpp"
#include "core/util/error.hpp"

using namespace cairn;

namespace {

run::RunRecord make_run(const std::string& name, double acc, const std::string& model, double lr) {
    run::RunRecord r;
    r.id = std::string(32, 'a');
    r.name = name;
    r.status = "finished";
    r.start_ms = 1000;
    r.end_ms = 3500;
    r.params = {params::parse_param("model", model), params::parse_param("lr", std::to_string(lr)), params::parse_param("deep", "true")};
    r.metrics = {{"acc", 0, acc / 2, 0}, {"acc", 1, acc, 0}, {"val/loss", 0, 1 - acc, 0}};
    r.tags = {{"stage", "prod-1"}};
    return r;
}

bool match(const std::string& expr, const run::RunRecord& r) { return query::Filter::parse(expr).matches(r); }

} // namespace

TEST_CASE("filter comparisons, logic and precedence", "[query]") {
    auto r = make_run("baseline", 0.9, "resnet", 0.1);
    CHECK(match("metrics.acc > 0.5", r));
    CHECK_FALSE(match("metrics.acc < 0.5", r));
    CHECK(match("metrics.acc >= 0.9 and metrics.acc <= 0.9", r));
    CHECK(match("params.model = 'resnet'", r));
    CHECK(match("params.model != \"vgg\"", r));
    CHECK(match("params.lr = 0.1", r));
    CHECK(match("params.lr = '0.1'", r)); // a quoted number compares as a number
    CHECK(match("params.deep = true", r));
    CHECK(match("status = 'finished' and name = 'baseline'", r));
    CHECK(match("attributes.duration = 2.5", r));
    CHECK(match("metrics.acc < 0.1 or params.model = 'resnet'", r));
    CHECK_FALSE(match("metrics.acc < 0.1 or params.model = 'vgg' and metrics.acc > 0", r));
    CHECK(match("(metrics.acc < 0.1 or params.model = 'resnet') and metrics.acc > 0", r));
    CHECK(match("not metrics.acc < 0.1", r));
    CHECK(match("min(metrics.acc) = 0.45 and max(metrics.acc) = 0.9 and count(metrics.acc) = 2", r));
    CHECK(match("metrics.`val/loss` < 0.2", r));
    CHECK(match("exists(params.lr) and not exists(params.nope)", r));
    CHECK_FALSE(match("params.nope = 1", r)); // missing fields never match...
    CHECK_FALSE(match("metrics.nope > 0", r));
    CHECK(match("count(metrics.nope) = 0", r));
    CHECK(match("tags.stage like 'prod%'", r));
    CHECK(match("name ilike 'BASE%'", r));
    CHECK_FALSE(match("name like 'BASE%'", r));
    CHECK(match("name like 'b_seline'", r));
}

TEST_CASE("filter syntax errors point at the column", "[query]") {
    auto error_of = [](const std::string& expr) -> std::string {
        try {
            (void)query::Filter::parse(expr);
        } catch (const Error& e) {
            CHECK(e.kind() == ErrorKind::usage);
            return e.what();
        }
        FAIL("accepted: " << expr);
        return "";
    };
    CHECK_THAT(error_of("metrics.acc >"), Catch::Contains("expected a value") && Catch::Contains("column 14"));
    CHECK_THAT(error_of("metrics.acc 0.5"), Catch::Contains("expected an operator") && Catch::Contains("column 13"));
    CHECK_THAT(error_of("(metrics.acc > 1"), Catch::Contains("expected ')'"));
    CHECK_THAT(error_of("bogus = 1"), Catch::Contains("unknown field 'bogus'") && Catch::Contains("column 1"));
    CHECK_THAT(error_of("name = 'open"), Catch::Contains("unterminated string") && Catch::Contains("column 8"));
    CHECK_THAT(error_of("name like 3"), Catch::Contains("'string' pattern"));
    CHECK_THAT(error_of("min(params.lr) > 1"), Catch::Contains("metrics only"));
    CHECK_THAT(error_of("metrics.acc > 1 extra"), Catch::Contains("unexpected 'extra'"));
    CHECK_THAT(error_of("a ! b"), Catch::Contains("column"));
}

TEST_CASE("sorting runs by keys, missing values last", "[query]") {
    std::vector<run::RunRecord> runs = {make_run("a", 0.5, "x", 0.1), make_run("b", 0.9, "y", 0.2),
                                        make_run("c", 0.7, "x", 0.3)};
    runs[2].metrics.clear();
    query::sort_runs(runs, {query::parse_sort_key("-metrics.acc")});
    CHECK(runs[0].name == "b");
    CHECK(runs[1].name == "a");
    CHECK(runs[2].name == "c"); // no acc: last
    query::sort_runs(runs, {query::parse_sort_key("params.model"), query::parse_sort_key("-params.lr")});
    CHECK(runs[0].name == "c");
    CHECK(runs[1].name == "a");
    CHECK(runs[2].name == "b");
    CHECK_THROWS_AS(query::parse_sort_key("nope"), Error);
    CHECK(query::like("abc", "a%c", false));
    CHECK(query::like("", "%", false));
    CHECK_FALSE(query::like("abc", "a_", false));
}

TEST_CASE("filter on the run a re-run reproduces", "[query]") {
    auto original = make_run("orig", 0.5, "x", 0.1);
    auto rerun = make_run("again", 0.5, "x", 0.1);
    rerun.reproduces = "6fcfa4d9ea62ddde4193e4c70371a36e";
    CHECK(match("exists(reproduces)", rerun));
    CHECK_FALSE(match("exists(reproduces)", original));
    CHECK(match("reproduces like \"6fcf%\"", rerun));
    CHECK_FALSE(match("reproduces = \"6fcf\"", rerun));
}

TEST_CASE("filter nesting is bounded, long and/or chains are not nesting", "[query]") {
    auto r = make_run("baseline", 0.9, "resnet", 0.1);
    auto usage_error = [](const std::string& expr) -> std::string {
        try {
            (void)query::Filter::parse(expr);
        } catch (const Error& e) {
            CHECK(e.kind() == ErrorKind::usage);
            return e.what();
        }
        FAIL("parsed: " << expr.substr(0, 40));
        return "";
    };
    auto repeat = [](const std::string& s, int n) {
        std::string out;
        for (int i = 0; i < n; ++i) out += s;
        return out;
    };
    const int limit = query::k_max_filter_depth;
    // At the limit: accepted and evaluated.
    CHECK(match(repeat("(", limit) + "status = 'finished'" + repeat(")", limit), r));
    CHECK(match(repeat("not ", limit) + "status = 'finished'", r)); // an even number of nots
    CHECK(match(repeat("not (", limit / 2) + "status = 'finished'" + repeat(")", limit / 2), r));
    // Past it (the crash: 10,000 parentheses or 30,000 nots overflowed the stack).
    for (const auto& deep : {repeat("(", 10000) + "status = 'finished'" + repeat(")", 10000),
                             repeat("(", 10000), repeat("not ", 30000) + "status = 'x'",
                             repeat("(not ", limit / 2 + 1) + "status = 'x'" + repeat(")", limit / 2 + 1)}) {
        std::string message = usage_error(deep);
        CHECK_THAT(message, Catch::Contains("nested deeper than " + std::to_string(limit) + " levels"));
        CHECK(message.size() < 400); // a window of the expression, not all of it
    }
    // 50,000 clauses side by side: one level, evaluated without deep recursion.
    std::string chain = "status = 'x'" + repeat(" or status = 'x'", 50000) + " or status = 'finished'";
    CHECK(match(chain, r));
    std::string all = "status = 'finished'" + repeat(" and status = 'finished'", 50000);
    CHECK(match(all, r));
    CHECK_FALSE(match(all + " and status = 'x'", r));
}


TEST_CASE("stage, pipeline and sweep are bare attributes, absent on ordinary runs", "[query]") {
    auto plain = make_run("plain", 0.5, "resnet", 0.1);
    auto staged = make_run("staged", 0.7, "resnet", 0.1);
    staged.stage = "train";
    staged.pipeline = "dvc.yaml";
    staged.sweep = "s1";
    CHECK(match("stage = 'train'", staged));
    CHECK(match("attributes.stage = 'train' and pipeline = \"dvc.yaml\" and sweep = 's1'", staged));
    CHECK(match("stage like 'tr%'", staged));
    CHECK(match("exists(sweep)", staged));
    CHECK_FALSE(match("stage = 'x'", plain));
    CHECK_FALSE(match("stage = ''", plain)); // empty means absent
    CHECK_FALSE(match("exists(stage)", plain));
    CHECK_FALSE(match("exists(pipeline) or exists(sweep)", plain));
    // tags.stage is a tag, not the attribute.
    CHECK(match("tags.stage = 'prod-1'", plain));

    std::vector<run::RunRecord> runs = {staged, plain};
    runs[0].stage = "b";
    runs.push_back(make_run("a-stage", 0.1, "x", 0.1));
    runs.back().stage = "a";
    query::sort_runs(runs, {query::parse_sort_key("stage")});
    CHECK(runs[0].name == "a-stage");
    CHECK(runs[1].name == "staged");
    CHECK(runs[2].name == "plain"); // no stage: last
    query::sort_runs(runs, {query::parse_sort_key("-sweep")});
    CHECK(runs[0].name == "staged");
}
