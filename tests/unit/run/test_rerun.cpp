// The re-run tolerance rule.
#include <cmath>

#include <catch2/catch.hpp>

#include "core/run/rerun.hpp"

using namespace cairn;

TEST_CASE("metric verdicts: equal, within tolerance at the boundary, differs", "[rerun]") {
    CHECK(run::metric_verdict(1.0, 1.0, 0, 0) == "equal");
    CHECK(run::metric_verdict(std::nan(""), std::nan(""), 0, 0) == "equal");
    CHECK(run::metric_verdict(HUGE_VAL, HUGE_VAL, 0, 0) == "equal");
    CHECK(run::metric_verdict(HUGE_VAL, -HUGE_VAL, 1, 1) == "differs");
    CHECK(run::metric_verdict(1.0, std::nan(""), 1, 1) == "differs");
    CHECK(run::metric_verdict(1.0, 1.5, 0.5, 0) == "within tolerance"); // |0.5| <= 0.5 * |1|
    CHECK(run::metric_verdict(1.0, 1.5, 0.4999, 0) == "differs");
    CHECK(run::metric_verdict(1.0, 0.5, 0, 0.5) == "within tolerance");
    CHECK(run::metric_verdict(-2.0, -1.0, 0.5, 0) == "within tolerance"); // relative to |old|
    CHECK(run::metric_verdict(0.0, 1e-12, 1.0, 0) == "differs");         // rtol of zero is zero
    CHECK(run::metric_verdict(0.0, 1e-12, 0, 1e-9) == "within tolerance");
}
