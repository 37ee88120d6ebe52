// The lineage index: producers and consumers of objects, and which producer a consumer read.
#include <catch2/catch.hpp>

#include "core/run/lineage.hpp"

using namespace cairn;

namespace {

run::RunRecord make_run(const std::string& id, std::int64_t start, std::int64_t end,
                        std::map<std::string, std::string> inputs, std::map<std::string, std::string> outputs,
                        const std::string& reproduces = "") {
    run::RunRecord r;
    r.id = id;
    r.start_ms = start;
    r.end_ms = end;
    r.inputs = std::move(inputs);
    r.outputs = std::move(outputs);
    r.reproduces = reproduces;
    return r;
}

} // namespace

TEST_CASE("lineage index: producers and consumers by object, producer chosen for a consumer", "[lineage]") {
    // Newest first, as list_runs gives them.
    std::vector<run::RunRecord> runs = {
        make_run("rerun2", 500, 510, {{"x", "sha256:raw"}}, {{"mid", "sha256:mid"}}, "prod1"),
        make_run("use", 300, 310, {{"mid", "sha256:mid"}}, {{"out", "sha256:out"}}),
        make_run("prod2", 350, 360, {{"x", "sha256:raw"}}, {{"mid", "sha256:mid"}}),
        make_run("prod1", 100, 110, {{"x", "sha256:raw"}}, {{"mid", "sha256:mid"}}),
    };
    run::LineageIndex index(runs);
    CHECK(index.producers("sha256:mid").size() == 3);
    CHECK(index.consumers("sha256:raw").size() == 3);
    CHECK(index.consumers("sha256:nothing").empty());
    const run::RunRecord* use = &index.runs()[1];
    REQUIRE(use->id == "use");
    // For "use": prod2 finished after it started, rerun2 too; prod1 is the one it read.
    CHECK(index.producer_for("sha256:mid", use)->id == "prod1");
    // Without a consumer: originals before re-runs, newest first.
    CHECK(index.producer_for("sha256:mid", nullptr)->id == "prod2");
    CHECK(index.producer_for("sha256:out", nullptr)->id == "use");
    CHECK(index.producer_for("sha256:raw", nullptr) == nullptr);
    CHECK(index.writers_of_path("mid").size() == 3);
}
