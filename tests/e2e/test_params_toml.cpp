// Parameter files in TOML (issue 10): recorded by pipeline stages and by `cairn run --params` as
// YAML ones are, overridden in place for the command and restored after, swept and applied.
#include <algorithm>

#include <catch2/catch.hpp>

#include "core/util/strings.hpp"
#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;
using nlohmann::json;

namespace {

json params_of(const Repo& repo, const std::string& run) { return repo.ok({"show", run, "--json"}).json()["params"]; }

std::string run_of_stage(const Repo& repo, const std::string& stage) {
    json runs = repo.ok({"ls", "--json", "--filter", "stage = \"" + stage + "\""}).json();
    REQUIRE(runs.size() == 1);
    return runs[0]["id"];
}

} // namespace

TEST_CASE("a stage's TOML params file is recorded in its run exactly as a YAML one is", "[e2e][params][repro]") {
    Repo repo;
    repo.write("params.yaml", "lr: 1e-3\nepochs: 3\nmodel:\n  name: resnet\n  depth: 50\n");
    repo.write("params.toml", "lr = 1e-3\nepochs = 3\n\n[model]\nname = 'resnet'\ndepth = 50\n");
    repo.write("cairn.yaml", R"(stages:
  from_yaml:
    cmd: cat params.yaml > yaml.out
    params:
    - lr
    outs: [yaml.out]
  from_toml:
    cmd: cat params.toml > toml.out
    params:
    - params.toml:
      - lr
    outs: [toml.out]
)");
    repo.commit();
    repo.ok({"repro"});
    json yaml = params_of(repo, run_of_stage(repo, "from_yaml"));
    json toml = params_of(repo, run_of_stage(repo, "from_toml"));
    CHECK(toml == yaml);
    CHECK(toml["lr"] == 0.001);
    CHECK(toml["model.depth"] == 50);
    CHECK(toml["model.name"] == "resnet");
    // The record keeps the number's text as written, as it does for YAML.
    std::string recorded = repo.git({"show", "refs/cairn/runs/" + run_of_stage(repo, "from_toml") + ":params.yaml"}).out;
    CHECK(contains(recorded, "lr: 1e-3\n"));
}

TEST_CASE("repro -S sweeps a value of a TOML params file, apply writes the chosen one back in place",
          "[e2e][params][repro][sweep]") {
    Repo repo;
    const std::string original = "# tuned by hand\n[train]\nlr = 0.1   # learning rate\nbs = 8\n";
    repo.write("params.toml", original);
    repo.write("cairn.yaml", R"(stages:
  train:
    cmd: grep '^lr' params.toml > model.txt
    params:
    - params.toml:
      - train.lr
    outs: [model.txt]
)");
    repo.commit();
    Result r = repo.cairn({"repro", "-S", "train.lr=0.2,0.3", "train", "--json"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    json j = r.json();
    REQUIRE(j["trials"].size() == 2);
    for (const auto& t : j["trials"]) CHECK(t["status"] == "finished");
    CHECK(repo.read("params.toml") == original);
    std::string best = j["trials"][1]["run"];
    json p = params_of(repo, best);
    CHECK(p["train.lr"] == 0.3);
    CHECK(p["train.bs"] == 8);
    repo.ok({"apply", best, "--force"});
    CHECK(repo.read("params.toml") == "# tuned by hand\n[train]\nlr = 0.3   # learning rate\nbs = 8\n");
    CHECK(repo.read("model.txt") == "lr = 0.3   # learning rate\n");
}

TEST_CASE("run --params FILE.toml -p: the value is written in place for the command, recorded, and restored",
          "[e2e][params]") {
    Repo repo;
    const std::string original = "# settings\nseed = 1\nname = 'base'  # literal\n\n[train]\nlr = 0.1  # rate\n"
                                 "when = 2024-01-01\n\n# the model\n[model]\ndepth = 50\nopt = { beta = 0.9 }\n";
    repo.write("conf/p.toml", original);
    repo.commit();
    Result r = repo.ok({"run", "--params", "conf/p.toml", "-p", "train.lr=1e-4", "-p", "name=wide",
                        "-p", "model.depth=101", "-p", "train.bs=16", "-p", "train.when=2024-02-01", "--", "sh", "-c",
                        "cat conf/p.toml > seen.toml; echo \"$CAIRN_PARAM_TRAIN_LR\" > env.txt"});
    CHECK(contains(r.err, "'train.bs' is not in conf/p.toml"));
    // Only the bytes of the values changed; the added key goes at the end of its table.
    CHECK(repo.read("seen.toml") == "# settings\nseed = 1\nname = 'wide'  # literal\n\n[train]\nlr = 1e-4  # rate\n"
                                    "when = 2024-02-01\nbs = 16\n\n# the model\n[model]\ndepth = 101\n"
                                    "opt = { beta = 0.9 }\n");
    CHECK(repo.read("conf/p.toml") == original);
    CHECK(repo.read("env.txt") == "1e-4\n");
    json p = params_of(repo, "last");
    CHECK(p["train.lr"] == 0.0001);
    CHECK(p["train.bs"] == 16);
    CHECK(p["name"] == "wide");
    CHECK(p["model.depth"] == 101);
    CHECK(p["model.opt.beta"] == 0.9);
    CHECK(p["seed"] == 1);
    CHECK(p["train.when"] == "2024-02-01");

    // A string that TOML would read as another type is written quoted; the command reads a string.
    repo.ok({"run", "--params", "conf/p.toml", "-p", "seed='7'", "--", "sh", "-c", "cat conf/p.toml > seen.toml"});
    CHECK(contains(repo.read("seen.toml"), "seed = \"7\"\n"));
    CHECK(params_of(repo, "last")["seed"] == "7");
}

TEST_CASE("an override a TOML file cannot hold in place is a one-line error and nothing runs", "[e2e][params]") {
    Repo repo;
    const std::string original = "train.lr = 0.1\n[model]\nopt = { beta = 0.9 }\nlayers = [1, 2]\n";
    repo.write("p.toml", original);
    repo.commit();
    for (const char* bad : {"model.opt.gamma=1", "train.bs=8", "model.layers=3"}) {
        INFO(bad);
        Result r = repo.cairn({"run", "--params", "p.toml", "-p", bad, "--", "touch", "ran"});
        CHECK(r.code != 0);
        CHECK(cairn::util::starts_with(r.err, "cairn: error: p.toml"));
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
        CHECK_FALSE(repo.exists("ran"));
        CHECK(repo.read("p.toml") == original);
    }
    CHECK(repo.ok({"ls", "--json"}).json().empty());
    // A malformed file names its line.
    repo.write("p.toml", "a = 1\nb = = 2\n");
    Result r = repo.cairn({"run", "--params", "p.toml", "--", "true"});
    CHECK(r.code != 0);
    CHECK(contains(r.err, "cairn: error: p.toml:2:"));
}
