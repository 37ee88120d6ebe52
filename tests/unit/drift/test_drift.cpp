// drift::compare on profiles of small tables: which test each column gets, columns on one side
// only, type changes, the missing-share warning, key columns and the dataset verdict.
#include <string>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "core/drift/drift.hpp"
#include "core/util/error.hpp"

using namespace cairn;

namespace {

table::Profile profile(const std::string& csv) { return table::profile_table(csv, table::Format::csv, "t.csv"); }

// n rows of: a number (i * step + shift), a category cycling through `cats`, a label.
std::string rows(int n, double shift, const std::vector<std::string>& cats, const std::string& header = "num,cat,label") {
    std::string out = header + "\n";
    for (int i = 0; i < n; ++i) out += fmt::format("{},{},{}\n", i * 0.5 + shift, cats[static_cast<std::size_t>(i) % cats.size()], i % 3 ? "a" : "b");
    return out;
}

const drift::ColumnResult& col(const drift::Report& r, const std::string& name) {
    for (const auto& c : r.columns)
        if (c.name == name) return c;
    FAIL("no column " << name);
    return r.columns.front();
}

} // namespace

TEST_CASE("drift compare: the same data is no drift, with the small-reference tests", "[drift]") {
    auto ref = profile(rows(200, 0, {"x", "y", "z"}));
    auto r = drift::compare(ref, ref, {});
    CHECK_FALSE(r.dataset_drift);
    CHECK(r.drifted == 0);
    CHECK(col(r, "num").test == "ks");
    CHECK(col(r, "num").score == Approx(1.0));
    CHECK(col(r, "cat").test == "chi2");
    CHECK(col(r, "label").test == "z");
    CHECK(col(r, "label").score == Approx(1.0));
    CHECK(*col(r, "num").psi == Approx(0.0).margin(1e-12));
}

TEST_CASE("drift compare: shifts, new categories, key columns and the drift share", "[drift]") {
    auto ref = profile(rows(200, 0, {"x", "y", "z"}));
    auto shifted = profile(rows(200, 40, {"x", "y", "z", "w"}));
    auto r = drift::compare(ref, shifted, {});
    CHECK(col(r, "num").status == drift::Status::drift);
    CHECK(col(r, "cat").status == drift::Status::drift); // w is expected 0 times
    CHECK(*col(r, "cat").score == 0);
    CHECK(col(r, "label").status == drift::Status::ok);
    CHECK(r.dataset_drift); // 2 of 3
    drift::Options o;
    o.drift_share = 0.9;
    CHECK_FALSE(drift::compare(ref, shifted, o).dataset_drift);
    o.key_columns = {"num"};
    auto keyed = drift::compare(ref, shifted, o);
    CHECK(keyed.dataset_drift);
    CHECK(keyed.key_drifted == std::vector<std::string>{"num"});
    // A threshold replaces the test's: no p-value is below 0.
    drift::Options none;
    none.threshold = 0.0;
    CHECK(drift::compare(ref, shifted, none).columns[0].status == drift::Status::ok);
    // Above 1 it cannot be meant for a p-value test; a distance may exceed 1.
    drift::Options above;
    above.threshold = 2.0;
    CHECK_THROWS_WITH(drift::compare(ref, shifted, above), Catch::Contains("above 1") && Catch::Contains("p-value"));
    above.num_test = drift::NumTest::wasserstein;
    above.cat_test = drift::CatTest::jensenshannon;
    CHECK_NOTHROW(drift::compare(ref, shifted, above));
}

TEST_CASE("drift compare: missing and new columns, type changes, missing values", "[drift]") {
    auto ref = profile(rows(100, 0, {"x", "y"}));
    auto other = profile(rows(100, 0, {"x", "y"}, "num,kind,label"));
    auto r = drift::compare(ref, other, {});
    CHECK(col(r, "cat").status == drift::Status::missing);
    CHECK(col(r, "kind").status == drift::Status::added);
    CHECK(col(r, "cat").drifted);
    CHECK(col(r, "kind").drifted);
    CHECK(r.columns.size() == 4);

    auto typed = profile(rows(100, 0, {"x", "y"}, "cat,num,label")); // num now holds x / y
    auto t = drift::compare(ref, typed, {});
    CHECK(col(t, "num").status == drift::Status::type_changed);
    CHECK(col(t, "num").kind == "numeric -> categorical");

    std::string holes = "num,cat,label\n";
    for (int i = 0; i < 100; ++i) holes += fmt::format("{},{},{}\n", i % 4 == 0 ? "" : fmt::format("{}", i * 0.5), i % 2 ? "x" : "y", i % 3 ? "a" : "b");
    auto m = drift::compare(ref, profile(holes), {});
    CHECK(col(m, "num").warning);
    CHECK(col(m, "num").note == "missing 0.0% -> 25.0%");
    CHECK(m.warnings == 1);
}

TEST_CASE("drift compare: larger references get the distances", "[drift]") {
    auto ref = profile(rows(3000, 0, {"x", "y", "z"}));
    auto cur = profile(rows(3000, 10, {"x", "y", "z"}));
    auto r = drift::compare(ref, cur, {});
    CHECK(col(r, "num").test == "wasserstein");
    CHECK(col(r, "num").approximate);
    // A shift of 10 against a std of about 433: W1 / std about 0.023.
    CHECK(*col(r, "num").score == Approx(10 / (0.5 * 3000 / std::sqrt(12.0))).epsilon(0.02));
    CHECK(col(r, "cat").test == "jensenshannon");
    CHECK(*col(r, "cat").score == Approx(0.0).margin(1e-12));
    CHECK_FALSE(r.dataset_drift);
}

TEST_CASE("drift compare: unknown columns and bad options are errors", "[drift]") {
    auto ref = profile(rows(50, 0, {"x", "y"}));
    drift::Options o;
    o.columns = {"nmu"};
    try {
        (void)drift::compare(ref, ref, o);
        FAIL("no error");
    } catch (const Error& e) {
        CHECK(std::string(e.what()) == "--columns: no column 'nmu' in either table (did you mean 'num'?)");
    }
    drift::Options all_out;
    all_out.exclude = {"num", "cat", "label"};
    CHECK_THROWS_AS(drift::compare(ref, ref, all_out), Error);
    drift::Options share;
    share.drift_share = 0;
    CHECK_THROWS_AS(drift::compare(ref, ref, share), Error);
}
