// The operating loop of docs/guide-models.md as one script: train through a two-step lineage,
// register, promote, check drift against what prod was trained on, re-evaluate on new data,
// retrain, register v2, move the alias.
#include <cmath>
#include <cstdint>
#include <string>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

namespace {

// `rows` values of N(mean, 1) in a one-column CSV, from a fixed generator (SplitMix64 and
// Box-Muller), so that the data and every verdict are the same everywhere.
std::string normal_csv(std::uint64_t seed, int rows, double mean) {
    auto next = [&seed] {
        std::uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return static_cast<double>((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
    };
    std::string out = "x\n";
    for (int i = 0; i < rows; ++i) {
        double u = next(), v = next();
        out += fmt::format("{:.6f}\n", mean + std::sqrt(-2 * std::log(1 - u)) * std::cos(6.283185307179586 * v));
    }
    return out;
}

} // namespace

TEST_CASE("the operating loop: register, promote, drift, re-evaluate, retrain, promote again", "[e2e][model][loop]") {
    Repo repo;
    repo.write("data/raw.csv", normal_csv(1, 300, 0));
    repo.write("data/test.csv", normal_csv(2, 200, 0));
    repo.ok({"add", "data"});
    // prepare: raw -> features (the data train reads); train: features -> model (the mean);
    // evaluate: accuracy = share of test rows within 1.5 of the model's mean.
    repo.write_script("prepare.sh", "#!/bin/sh\nmkdir -p work && cp data/raw.csv work/features.csv\n");
    repo.write_script("train.sh", "#!/bin/sh\nawk 'NR > 1 { s += $1; n++ } END { print s / n }' work/features.csv > model.txt\n");
    repo.write_script("evaluate.sh", "#!/bin/sh\nm=$(cat model.txt)\n"
                                     "awk -v m=\"$m\" 'NR > 1 { n++; d = $1 - m; if (d < 1.5 && d > -1.5) k++ } "
                                     "END { print \"accuracy: \" k / n }' data/test.csv\necho ok > eval.txt\n");
    repo.commit("code and data");
    auto run = [&](const std::vector<std::string>& args) { return repo.ok(args).json()["id"].get<std::string>(); };
    std::string prepare = run({"run", "--json", "-n", "prepare", "-d", "data/raw.csv", "-o", "work/features.csv", "--", "./prepare.sh"});
    std::string train = run({"run", "--json", "-n", "train", "-d", "work/features.csv", "-o", "model.txt", "--", "./train.sh"});
    std::string eval = run({"run", "--json", "-n", "evaluate", "-d", "model.txt", "-d", "data/test.csv", "-o", "eval.txt", "--",
                            "./evaluate.sh"});

    // Register and promote; the version knows its training data and where that came from.
    auto v1 = repo.ok({"model", "register", "churn", train.substr(0, 8), "--alias", "prod", "--json"}).json();
    REQUIRE(v1["trained_on"].size() == 1);
    CHECK(v1["trained_on"][0]["path"] == "work/features.csv");
    CHECK(v1["trained_on"][0]["producer"] == prepare);
    // Two steps of lineage from the prod model's run back to the raw data.
    Result lineage = repo.ok({"lineage", "model:churn@prod", "--json"});
    CHECK(lineage.out.find("run:" + prepare) != std::string::npos);
    CHECK(lineage.out.find("data/raw.csv") != std::string::npos);

    // Nightly: today's data like the training data -> exit 0; shifted -> exit 1.
    repo.write("incoming/today.csv", normal_csv(3, 250, 0));
    repo.write("incoming/shifted.csv", normal_csv(4, 250, 3));
    CHECK(repo.cairn({"drift", "incoming/today.csv", "--against", "model:churn@prod"}).code == 0);
    Result drifted = repo.cairn({"drift", "incoming/shifted.csv", "--against", "model:churn@prod", "--json"});
    CHECK(drifted.code == 1);
    CHECK(drifted.json()["reference"]["path"] == "work/features.csv");

    // Re-evaluate the prod model's evaluation on the new test data: degraded, exit 1.
    repo.write("incoming/test.csv", normal_csv(5, 200, 3));
    CHECK(repo.cairn({"rerun", eval.substr(0, 8), "--with", "data/test.csv=incoming/test.csv", "--max-rel-drop", "accuracy=0.05"})
              .code == 1);
    CHECK(repo.cairn({"rerun", eval.substr(0, 8), "--with", "data/test.csv=incoming/today.csv", "--max-rel-drop", "accuracy=0.1"})
              .code == 0);

    // Retrain on the new data, register v2, move prod: the shifted data is now what prod knows.
    repo.write("data/raw.csv", normal_csv(6, 300, 3));
    repo.ok({"add", "data"});
    repo.commit("new data");
    run({"run", "--json", "-n", "prepare", "-d", "data/raw.csv", "-o", "work/features.csv", "--", "./prepare.sh"});
    std::string retrained = run({"run", "--json", "-n", "train", "-d", "work/features.csv", "-o", "model.txt", "--", "./train.sh"});
    repo.ok({"model", "register", "churn", retrained.substr(0, 8)});
    repo.ok({"model", "alias", "churn@prod", "v2"});
    CHECK(repo.ok({"show", "model:churn@prod", "--json"}).json()["id"] == retrained);
    CHECK(repo.cairn({"drift", "incoming/shifted.csv", "--against", "model:churn@prod"}).code == 0);
    CHECK(repo.cairn({"drift", "incoming/today.csv", "--against", "model:churn@prod"}).code == 1);
    auto history = repo.ok({"model", "show", "churn@prod", "--history", "--json"}).json()["history"];
    REQUIRE(history.size() == 2);
    CHECK(history[0]["previous"] == "v1");
    CHECK(history[0]["version"] == "v2");
}
