// Metric points: the live line format, stdout scalars (ScalarCapture) and the metric files a
// command writes.
#include <cmath>
#include <map>
#include <string>

#include <catch2/catch.hpp>

#include "core/metrics/metrics.hpp"
#include "core/util/error.hpp"

using namespace cairn;

TEST_CASE("metric lines: explicit and automatic steps, non-finite values, errors", "[metrics]") {
    std::map<std::string, std::int64_t> next;
    auto p = metrics::parse_metric_line("loss 0.5", &next, 7, "t");
    CHECK(p->step == 0);
    CHECK(p->unix_ms == 7);
    CHECK(metrics::parse_metric_line("loss\t0.4", &next, 7, "t")->step == 1);
    CHECK(metrics::parse_metric_line("loss 0.3 10", &next, 7, "t")->step == 10);
    CHECK(metrics::parse_metric_line("loss 0.2 -", &next, 7, "t")->step == 11);
    CHECK(metrics::parse_metric_line("acc inf 1 123", &next, 7, "t")->unix_ms == 123);
    CHECK(std::isnan(metrics::parse_metric_line("acc nan", &next, 7, "t")->value));
    CHECK_FALSE(metrics::parse_metric_line("   ", &next, 7, "t"));
    CHECK_THROWS_WITH(metrics::parse_metric_line("acc", &next, 7, "file:3"), Catch::StartsWith("file:3:"));
    CHECK_THROWS_WITH(metrics::parse_metric_line("acc x", &next, 7, "t"), Catch::Contains("not a number"));
    CHECK_THROWS_WITH(metrics::parse_metric_line("acc 1 1.5", &next, 7, "t"), Catch::Contains("not an integer"));
    CHECK(metrics::parse_metric_line("acc 1", nullptr, 7, "t")->step == -1); // left for the recorder
    CHECK(metrics::parse_metric_line("acc 1 -", nullptr, 7, "t")->step == -1);
    CHECK(metrics::parse_metric_line("acc 1 4", nullptr, 7, "t")->step == 4);
    CHECK(metrics::format_value(-HUGE_VAL) == "-inf");
    CHECK(metrics::format_value(0.1) == "0.1");
}

TEST_CASE("stdout scalars in the style of Guild", "[metrics]") {
    metrics::ScalarCapture c;
    c.feed("epoch 1 starting\nloss: 0.5\nacc: 0.7 (step 3)\nstep: 10\nlos");
    c.feed("s: 0.25\nval/loss: 1e-2\nnote: not a number\nf1 :nan\n  lr: 0.3\nlast: 4");
    auto points = c.finish();
    REQUIRE(points.size() == 6);
    CHECK(points[0].key == "loss");
    CHECK(points[0].step == 0);
    CHECK(points[1].key == "acc");
    CHECK(points[1].step == 3);
    CHECK(points[2].key == "loss");
    CHECK(points[2].step == 10);
    CHECK(points[2].value == 0.25);
    CHECK(points[3].key == "val/loss");
    CHECK(points[4].key == "f1");
    CHECK(std::isnan(points[4].value));
    CHECK(points[5].key == "last"); // final line without a newline
}

TEST_CASE("metric files: JSON, YAML, CSV and TSV", "[metrics]") {
    auto json = metrics::read_metric_file(R"({"loss": 0.5, "eval": {"acc": 0.9, "f1": "0.8"}, "name": "x", "curve": [3, 2, 1]})",
                                      "m.json", 5);
    std::map<std::string, std::vector<std::pair<std::int64_t, double>>> series;
    for (const auto& p : json) series[p.key].push_back({p.step, p.value});
    CHECK(series["loss"] == std::vector<std::pair<std::int64_t, double>>{{0, 0.5}});
    CHECK(series["eval.acc"] == std::vector<std::pair<std::int64_t, double>>{{0, 0.9}});
    CHECK(series["eval.f1"] == std::vector<std::pair<std::int64_t, double>>{{0, 0.8}});
    CHECK(series["curve"] == std::vector<std::pair<std::int64_t, double>>{{0, 3}, {1, 2}, {2, 1}});
    CHECK(series.count("name") == 0);
    CHECK(json[0].unix_ms == 5);

    auto rows = metrics::read_metric_file("- {step: 10, loss: 1}\n- {step: 20, loss: 0.5}\n", "m.yaml", 0);
    REQUIRE(rows.size() == 2);
    CHECK(rows[1].step == 20);

    auto csv = metrics::read_metric_file("step,loss,acc\n1,0.5,0.7\n2,0.25,nan\n", "m.csv", 0);
    REQUIRE(csv.size() == 4);
    CHECK(csv[2].key == "loss");
    CHECK(csv[2].step == 2);
    CHECK(std::isnan(csv[3].value));
    auto tsv = metrics::read_metric_file("loss\tacc\n0.5\t0.7\n0.4\t0.8\n", "m.tsv", 0);
    REQUIRE(tsv.size() == 4);
    CHECK(tsv[2].step == 1); // no step column: rows count

    CHECK_THROWS_WITH(metrics::read_metric_file("a,b\n1\n", "m.csv", 0), Catch::StartsWith("m.csv:2:"));
    CHECK_THROWS_WITH(metrics::read_metric_file("{a: [", "m.json", 0), Catch::StartsWith("m.json:"));
}

TEST_CASE("metric names with control characters and steps near the integer limit are refused", "[metrics]") {
    using metrics::parse_metric_line;
    using metrics::read_metric_file;
    std::map<std::string, std::int64_t> next;
    CHECK_THROWS_WITH(parse_metric_line("l\x01oss 1", &next, 0, "m"), Catch::Contains("control character"));
    CHECK_THROWS_WITH(parse_metric_line("loss 1 9223372036854775807", &next, 0, "m"), Catch::Contains("out of range"));
    CHECK(parse_metric_line("loss 1 4611686018427387904", &next, 0, "m")->step == (std::int64_t{1} << 62));
    CHECK_THROWS_WITH(read_metric_file("{\"a\\tb\": 1}", "m.json", 0), Catch::Contains("control character"));
    CHECK_THROWS_WITH(read_metric_file("step,x\n9223372036854775807,1\n", "m.csv", 0), Catch::Contains("out of range"));
}

TEST_CASE("a pattern that backtracks exponentially runs in linear time on a long line", "[metrics][capture]") {
    // std::regex took minutes on this line (nested quantifiers, no match): RE2 does not backtrack.
    metrics::ScalarCapture c({"(a+)+b=([0-9]+)"});
    c.feed(std::string(30000, 'a') + "!\n");
    c.feed(std::string(30000, 'a') + "b=7\n");
    c.feed("aab=5\n");
    auto points = c.finish();
    REQUIRE(points.size() == 2);
    CHECK(points[0].key == std::string(30000, 'a'));
    CHECK(points[0].value == 7);
    CHECK(points[1].key == "aa");
    CHECK(points[1].value == 5);
}

TEST_CASE("capture patterns use RE2 syntax, invalid ones and too few groups are errors", "[metrics][capture]") {
    metrics::ScalarCapture c({R"(\[(\w+)\] = (\d+(?:\.\d+)?) @ (\d+))"});
    c.feed("[acc] = 0.5 @ 3\n");
    auto points = c.finish();
    REQUIRE(points.size() == 1);
    CHECK(points[0].step == 3);
    // Backreferences and lookaround are not RE2 (they need backtracking).
    for (std::string bad : {"(unclosed", R"((\w+)=(\d+)\1)", "(?=x)(a)(b)"}) {
        DYNAMIC_SECTION(bad) {
            CHECK_THROWS_WITH(metrics::ScalarCapture({bad}, "config.yaml: run.capture"),
                              Catch::Contains("config.yaml: run.capture: invalid pattern"));
        }
    }
    CHECK_THROWS_WITH(metrics::ScalarCapture({"(a)b"}), Catch::Contains("needs two groups"));
}

TEST_CASE("only lines that start with the key are captured by default", "[metrics][capture]") {
    metrics::ScalarCapture c;
    c.feed("config:\n  lr: 0.3\n\tepochs: 5\n    loss: 9\nloss: 0.5\n lr : 1\n");
    auto points = c.finish();
    REQUIRE(points.size() == 1);
    CHECK(points[0].key == "loss");
    CHECK(points[0].value == 0.5);
}

TEST_CASE("take() hands out each point once, lines over the limit are skipped whole", "[metrics][capture]") {
    metrics::ScalarCapture c;
    c.feed("loss: 1\nlo");
    auto first = c.take();
    REQUIRE(first.size() == 1);
    CHECK(c.take().empty());
    c.feed("ss: 2\n");
    auto second = c.take();
    REQUIRE(second.size() == 1);
    CHECK(second[0].step == 1);
    // A line longer than the limit could match on its first part: it is not matched at all.
    c.feed("acc: 3" + std::string(metrics::ScalarCapture::k_line_limit, '0') + "\nacc: 4\n");
    auto points = c.finish();
    REQUIRE(points.size() == 1);
    CHECK(points[0].value == 4);
}
