// The record fields pipelines and sweeps set (stage, pipeline, sweep): absent on ordinary runs,
// filterable, sortable and shown when a record holds them.
#include <catch2/catch.hpp>

#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

namespace {

// Run `id`'s run.yaml with `lines` inserted after its experiment line, as a stage of a pipeline
// would have recorded it.
void plant_fields(const Repo& repo, const std::string& id, const std::string& lines) {
    std::string yaml = git_out(repo, {"show", "refs/cairn/runs/" + id + ":run.yaml"});
    std::size_t at = yaml.find("experiment:");
    REQUIRE(at != std::string::npos);
    at = yaml.find('\n', at) + 1;
    forge_record_file(repo, id, "run.yaml", yaml.substr(0, at) + lines + yaml.substr(at));
}

} // namespace

TEST_CASE("record fields: ordinary runs have no stage, pipeline or sweep, and filtering on them is no error",
          "[e2e][record_fields]") {
    Repo repo;
    repo.ok({"run", "-n", "a", "--", "true"});
    repo.ok({"run", "-n", "b", "--", "true"});

    Result none = repo.ok({"ls", "--filter", "stage = \"x\"", "--json"});
    CHECK(none.json().empty());
    CHECK(repo.ok({"ls", "--filter", "pipeline = \"dvc.yaml\" or sweep = \"s\"", "--json"}).json().empty());
    CHECK(repo.ok({"ls", "--filter", "exists(stage)", "--json"}).json().empty());
    CHECK(repo.ok({"ls", "--filter", "not exists(sweep)", "--json"}).json().size() == 2);
    CHECK(repo.ok({"ls", "--sort", "stage", "--json"}).json().size() == 2);

    auto listed = repo.ok({"ls", "--json"}).json();
    REQUIRE(listed.size() == 2);
    for (const auto& r : listed) {
        CHECK(r["stage"].is_null());
        CHECK(r["pipeline"].is_null());
        CHECK(r["sweep"].is_null());
    }
    auto shown = repo.ok({"show", "a", "--json"}).json();
    CHECK(shown["stage"].is_null());
    std::string yaml = git_out(repo, {"show", "refs/cairn/runs/" + std::string(shown["id"]) + ":run.yaml"});
    CHECK_FALSE(contains(yaml, "stage:"));
    CHECK_FALSE(contains(yaml, "pipeline:"));
    CHECK_FALSE(contains(yaml, "sweep:"));
}

TEST_CASE("record fields: a record that holds them is filtered, sorted and shown by them", "[e2e][record_fields]") {
    Repo repo;
    repo.ok({"run", "-n", "trained", "--", "true"});
    repo.ok({"run", "-n", "plain", "--", "true"});
    std::string id = repo.ok({"show", "trained", "--json"}).json()["id"];
    // Listed once with the old record, so that the index holds an entry for the old commit.
    REQUIRE(repo.ok({"ls", "--json"}).json().size() == 2);
    plant_fields(repo, id, "stage: train\npipeline: dvc.yaml\nsweep: grid-7\n");

    auto train = repo.ok({"ls", "--filter", "stage = \"train\" and pipeline = \"dvc.yaml\"", "--json"}).json();
    REQUIRE(train.size() == 1);
    CHECK(train[0]["id"] == id);
    CHECK(train[0]["stage"] == "train");
    CHECK(train[0]["pipeline"] == "dvc.yaml");
    CHECK(train[0]["sweep"] == "grid-7");
    CHECK(repo.ok({"ls", "--filter", "sweep = 'grid-7'", "--json"}).json().size() == 1);
    auto sorted = repo.ok({"ls", "--sort", "stage", "--json"}).json();
    REQUIRE(sorted.size() == 2);
    CHECK(sorted[0]["name"] == "trained"); // runs without a stage come last

    auto shown = repo.ok({"show", "trained", "--json"}).json();
    CHECK(shown["stage"] == "train");
    CHECK(shown["pipeline"] == "dvc.yaml");
    CHECK(shown["sweep"] == "grid-7");
    std::string text = repo.ok({"show", "trained"}).out;
    CHECK(contains(text, "stage:      train\n"));
    CHECK(contains(text, "pipeline:   dvc.yaml\n"));
    CHECK(contains(text, "sweep:      grid-7\n"));
    CHECK_FALSE(contains(repo.ok({"show", "plain"}).out, "stage:"));
}

TEST_CASE("record fields: an index written before them is rebuilt from the refs", "[e2e][record_fields]") {
    Repo repo;
    repo.ok({"run", "-n", "trained", "--", "true"});
    std::string id = repo.ok({"show", "trained", "--json"}).json()["id"];
    plant_fields(repo, id, "stage: train\n");
    std::string commit = git_out(repo, {"rev-parse", "refs/cairn/runs/" + id});
    commit.erase(commit.find_last_not_of('\n') + 1);
    // An older cairn's index entry for this very commit, without the stage.
    repo.write(".cairn/index/runs", "cairn-run-index 2\nR\t" + id + "\t" + commit +
                                        "\na\tname\ttrained\na\tstatus\tfinished\na\tstart_ms\t1\n");
    auto listed = repo.ok({"ls", "--filter", "stage = 'train'", "--json"}).json();
    REQUIRE(listed.size() == 1);
    CHECK(listed[0]["stage"] == "train");
    CHECK(repo.read(".cairn/index/runs").rfind("cairn-run-index 3\n", 0) == 0);
}

TEST_CASE("record fields: a stage holding a control character is refused when read", "[e2e][record_fields]") {
    Repo repo;
    repo.ok({"run", "-n", "bad", "--", "true"});
    std::string id = repo.ok({"show", "bad", "--json"}).json()["id"];
    plant_fields(repo, id, "stage: \"tr\\x1bain\"\n");
    Result r = repo.cairn({"show", id.substr(0, 8)});
    CHECK(r.code != 0);
    CHECK(contains(r.err, "'stage' must be a string without control characters"));
}
