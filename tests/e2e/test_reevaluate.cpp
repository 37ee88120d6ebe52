// Re-evaluation on new data: cairn rerun RUN --with OLD=NEW judged by MLflow-style thresholds.
#include <catch2/catch.hpp>

#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

namespace {

// An evaluation run whose accuracy is the share of lines of test.csv that say "ok", and whose
// loss is the share that do not.
struct Evaluated {
    Repo repo;
    std::string id;
    Evaluated() {
        repo.write("data/test.csv", "ok\nok\nok\nok\n");
        repo.write_script("eval.sh", "#!/bin/sh\nn=$(wc -l < data/test.csv); k=$(grep -c '^ok$' data/test.csv)\n"
                                     "echo \"accuracy: $(echo \"$k / $n\" | bc -l)\"\n"
                                     "echo \"loss: $(echo \"($n - $k) / $n\" | bc -l)\"\n"
                                     "echo \"$k/$n\" > report.txt\n");
        repo.commit("eval");
        id = repo.ok({"run", "--json", "-n", "eval", "-d", "data/test.csv", "-o", "report.txt", "--", "./eval.sh"}).json()["id"];
    }
};

} // namespace

TEST_CASE("rerun --with: held when the metric stays within the threshold, degraded (exit 1) when not",
          "[e2e][reevaluate]") {
    if (run_process({"sh", "-c", "command -v bc"}, "/", {{"PATH", "/usr/bin:/bin"}}).code != 0) {
        WARN("skipped: bc is not installed");
        return;
    }
    Evaluated e;
    e.repo.write("new/same.csv", "ok\nok\nok\nok\nok\n");
    e.repo.write("new/worse.csv", "ok\nok\nok\nbad\n");

    Result held = e.repo.cairn({"rerun", "eval", "--with", "data/test.csv=new/same.csv", "--max-rel-drop", "accuracy=0.05", "--json"});
    CHECK(held.code == 0);
    auto h = held.json();
    CHECK(h["verdict"] == "held");
    auto step = h["steps"].back();
    REQUIRE(step["substituted"].size() == 1);
    CHECK(step["substituted"][0]["key"] == "data/test.csv");
    REQUIRE(step["judged"].size() == 1);
    CHECK(step["judged"][0]["verdict"] == "held");
    CHECK(step["judged"][0]["new"] == Approx(1.0));
    // The work tree's file is untouched; the re-run is recorded, linked to the original.
    CHECK(e.repo.read("data/test.csv") == "ok\nok\nok\nok\n");
    auto rerun_record = e.repo.ok({"show", step["rerun"].get<std::string>(), "--json"}).json();
    CHECK(rerun_record["reproduces"] == e.id);
    std::string new_id = e.repo.ok({"show", "last", "--json"}).json()["inputs"]["data/test.csv"];
    CHECK(new_id == step["substituted"][0]["new"]);

    Result degraded = e.repo.cairn({"rerun", e.id.substr(0, 8), "--with", "data/test.csv=new/worse.csv", "--max-rel-drop",
                                    "accuracy=0.05", "--max-drop", "loss=0.1"});
    CHECK(degraded.code == 1);
    CHECK(degraded.out.find("verdict: degraded") != std::string::npos);
    CHECK(degraded.out.find("dropped by 25% (more than 5%)") != std::string::npos); // accuracy 1 -> 0.75
    CHECK(degraded.out.find("rose by 0.25 (more than 0.1)") != std::string::npos);  // loss: lower is better

    // --json has the substituted input's drift under the degraded step: a one-column table whose
    // category shares changed (ok 4/4 -> 3/4).
    Result degraded_json = e.repo.cairn({"rerun", e.id.substr(0, 8), "--with", "data/test.csv=new/worse.csv", "--max-rel-drop",
                                         "accuracy=0.05", "--json"});
    CHECK(degraded_json.code == 1);
    auto dj = degraded_json.json();
    CHECK(dj["verdict"] == "degraded");
    auto input_drift = dj["steps"].back()["input_drift"];
    REQUIRE(input_drift.size() == 1);
    CHECK(input_drift[0]["path"] == "data/test.csv");
    CHECK(input_drift[0]["substituted"] == dj["steps"].back()["substituted"][0]["new"]);
    CHECK(input_drift[0]["error"].is_null());
    REQUIRE(input_drift[0]["drift"]["columns"].size() == 1);
    CHECK(input_drift[0]["drift"]["columns"][0]["name"] == "ok");
    CHECK(input_drift[0]["drift"]["columns"][0]["current"]["distinct"] == 2);
    CHECK(h["steps"].back().count("input_drift") == 0); // held: not computed

    // Within an absolute threshold large enough.
    CHECK(e.repo.cairn({"rerun", e.id.substr(0, 8), "--with", "data/test.csv=new/worse.csv", "--max-drop", "accuracy=0.3"}).code == 0);
    // --higher-is-better overrides the name rule.
    CHECK(e.repo.cairn({"rerun", e.id.substr(0, 8), "--with", "data/test.csv=new/worse.csv", "--max-drop", "loss=0.1",
                        "--higher-is-better", "loss"})
              .code == 0);

    Result wrong = e.repo.cairn({"rerun", e.id.substr(0, 8), "--with", "data/tset.csv=new/worse.csv"});
    CHECK(wrong.code == 3);
    CHECK(wrong.err.find("did not read data/tset.csv (did you mean data/test.csv?)") != std::string::npos);
    CHECK(e.repo.cairn({"rerun", e.id.substr(0, 8), "--with", "data/test.csv=new/absent.csv"}).code == 3);
    CHECK(e.repo.cairn({"rerun", e.id.substr(0, 8), "--max-drop", "accuracy=0.1"}).code == 2);
    CHECK(e.repo.cairn({"rerun", e.id.substr(0, 8), "--with", "data/test.csv=new/worse.csv", "--max-drop", "accuracy=-1"}).code == 2);
}
