// Pipeline files (cairn.yaml, or dvc.yaml as DVC writes it) and `cairn dag`.
#include <catch2/catch.hpp>

#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

namespace {

// The pipeline of DVC's "get started" tutorial, as its dvc.yaml reads.
const char* k_get_started = R"(stages:
  prepare:
    cmd: python src/prepare.py data/data.xml
    deps:
    - data/data.xml
    - src/prepare.py
    params:
    - prepare.seed
    - prepare.split
    outs:
    - data/prepared
  featurize:
    cmd: python src/featurization.py data/prepared data/features
    deps:
    - data/prepared
    - src/featurization.py
    params:
    - featurize.max_features
    - featurize.ngrams
    outs:
    - data/features
  train:
    cmd: python src/train.py data/features model.pkl
    deps:
    - data/features
    - src/train.py
    params:
    - train.seed
    - train.n_est
    - train.min_split
    outs:
    - model.pkl
  evaluate:
    cmd: python src/evaluate.py model.pkl data/features
    deps:
    - data/features
    - model.pkl
    - src/evaluate.py
    outs:
    - eval
metrics:
- eval/metrics.json
plots:
- ROC:
    template: simple
    x: fpr
    y:
      eval/plots/sklearn/roc/train.json: tpr
      eval/plots/sklearn/roc/test.json: tpr
- eval/plots/images/importance.png
)";

} // namespace

TEST_CASE("cairn dag reads the get-started dvc.yaml as written", "[pipeline][dag]") {
    Repo repo;
    repo.write("dvc.yaml", k_get_started);
    repo.write("params.yaml", "prepare:\n  split: 0.20\n  seed: 20170428\n");
    repo.write("data/data.xml", "<xml/>\n");
    repo.ok({"add", "data/data.xml"}); // tracked data as a dependency is fine

    auto json = repo.ok({"dag", "--json"}).json();
    CHECK(json["file"] == "dvc.yaml");
    REQUIRE(json["stages"].size() == 4);
    CHECK(json["stages"][0]["name"] == "prepare");
    CHECK(json["stages"][0]["cmd"][0] == "python src/prepare.py data/data.xml");
    CHECK(json["stages"][0]["outs"][0] == "data/prepared");
    CHECK(json["stages"][3]["name"] == "evaluate");
    CHECK(json["stages"][3]["upstream"] == nlohmann::json::array({"featurize", "train"}));
    CHECK(
        json["edges"] ==
        nlohmann::json::parse(
            R"([["prepare","featurize"],["featurize","train"],["featurize","evaluate"],["train","evaluate"]])"));

    std::string tree = repo.ok({"dag"}).out;
    CHECK(tree ==
          "evaluate\n├── featurize\n│   └── prepare\n└── train\n    └── featurize (see above)\n");
    CHECK(repo.ok({"dag", "train"}).out == "train\n└── featurize\n    └── prepare\n");

    std::string dot = repo.ok({"dag", "--format", "dot"}).out;
    CHECK(contains(dot, "digraph pipeline {"));
    CHECK(contains(dot, "\"featurize\" -> \"train\";"));
    std::string mermaid = repo.ok({"dag", "--format", "mermaid"}).out;
    CHECK(contains(mermaid, "flowchart TD"));
    CHECK(contains(mermaid, "s1 --> s2"));
}

TEST_CASE("cairn.yaml is used before dvc.yaml, and -f names another file", "[pipeline][dag]") {
    Repo repo;
    repo.write("dvc.yaml", "stages:\n  from_dvc:\n    cmd: x\n");
    CHECK(repo.ok({"dag", "--json"}).json()["stages"][0]["name"] == "from_dvc");
    repo.write("cairn.yaml", "stages:\n  from_cairn:\n    cmd: x\n");
    CHECK(repo.ok({"dag", "--json"}).json()["stages"][0]["name"] == "from_cairn");
    repo.write("sub/other.yaml", "stages:\n  other:\n    cmd: x\n    outs: [o]\n");
    auto json = repo.ok({"dag", "-f", "other.yaml", "--json"}, "sub").json();
    CHECK(json["file"] == "sub/other.yaml");
    CHECK(json["stages"][0]["outs"][0] == "sub/o");
    auto missing = repo.cairn({"dag", "-f", "nope.yaml"});
    CHECK(missing.code == 3);
    CHECK(contains(missing.err, "pipeline file 'nope.yaml' does not exist"));
}

TEST_CASE("cairn dag without a pipeline file, or with an unknown stage", "[pipeline][dag]") {
    Repo repo;
    auto none = repo.cairn({"dag"});
    CHECK(none.code == 3);
    CHECK(contains(none.err, "cairn: error: no cairn.yaml or dvc.yaml"));
    repo.write("cairn.yaml", "stages:\n  train:\n    cmd: x\n  build:\n    foreach: [a, b]\n    "
                             "do:\n      cmd: b ${item}\n");
    auto unknown = repo.cairn({"dag", "trian"});
    CHECK(unknown.code == 3);
    CHECK(contains(unknown.err, "no stage 'trian' in cairn.yaml (did you mean 'train'?)"));
    // A foreach group's name selects the stages it generated.
    auto group = repo.ok({"dag", "build", "--json"}).json();
    REQUIRE(group["stages"].size() == 2);
    CHECK(group["stages"][1]["name"] == "build@b");
    CHECK(group["stages"][1]["cmd"][0] == "b b");
}

TEST_CASE("pipeline file errors reach the user with file, line and stage", "[pipeline][dag]") {
    Repo repo;
    auto error_of = [&](const std::string& text) {
        repo.write("cairn.yaml", text);
        auto r = repo.cairn({"dag"});
        CHECK(r.code == 3);
        CHECK(r.out.empty());
        return r.err;
    };
    CHECK(error_of("stages:\n  a:\n    cmd: x\n    outz: [o]\n") ==
          "cairn: error: cairn.yaml:4: stage 'a': unknown key 'outz' in a stage (did you mean "
          "'outs'?)\n");
    // DVC's keys are abbreviations: the long or misspelled word still finds its key.
    CHECK(error_of("stages:\n  a:\n    comand: x\n") ==
          "cairn: error: cairn.yaml:3: stage 'a': unknown key 'comand' in a stage (did you mean "
          "'cmd'?)\n");
    CHECK(contains(error_of("stages:\n  a:\n    cmd: x\n    dependencies: [d]\n"),
                   "cairn.yaml:4: stage 'a': unknown key 'dependencies' in a stage (did you mean "
                   "'deps'?)"));
    CHECK(contains(error_of("stages:\n  a:\n    cmd: x ${missing.key}\n"),
                   "cairn.yaml:3: stage 'a': cmd: could not find 'missing.key'"));
    CHECK(contains(error_of("stages:\n  a:\n    cmd: x\n    deps: [b]\n    outs: [a]\n  b:\n    "
                            "cmd: y\n    deps: [a]\n"
                            "    outs: [b]\n"),
                   "cairn.yaml:2: stage 'a': dependency cycle: a -> b -> a"));
    CHECK(contains(
        error_of("stages:\n  a:\n    cmd: x\n    outs: [o]\n  b:\n    cmd: y\n    outs: [o]\n"),
        "cairn.yaml:7: stage 'b': output 'o' is also an output of stage 'a' (cairn.yaml:4)"));
    CHECK(error_of("stages:\n  a:\n    cmd: x\n    outs:\n      - model.bin\n      - model.bin\n") ==
          "cairn: error: cairn.yaml:6: stage 'a': outs: 'model.bin' is already an output of this stage "
          "(line 5)\n");
    CHECK(contains(error_of("stages:\n  a:\n    cmd: x\n    outs: [m, m]\n"),
                   "cairn.yaml:4: stage 'a': outs: 'm' is already an output of this stage (line 4)"));
    CHECK(contains(error_of("stages:\n  a:\n    cmd: x\n    outs: [m]\n    metrics: [m]\n"),
                   "cairn.yaml:5: stage 'a': metrics: 'm' is already an output of this stage (line 4)"));
    CHECK(contains(error_of("stages:\n  a:\n    cmd: x\n    outs: [../../etc]\n"),
                   "cairn.yaml:4: stage 'a': outs: '../../etc' is outside the workspace"));
    repo.write("data.csv", "a,b\n");
    repo.ok({"add", "data.csv"});
    CHECK(contains(
        error_of("stages:\n  a:\n    cmd: x\n    outs:\n      - data.csv\n"),
        "cairn.yaml:5: stage 'a': output 'data.csv' is tracked by `cairn add` (data.csv.cairn)"));
    CHECK(contains(
        error_of("stages:\n  a:\n    cmd: x\n    params:\n      - conf.py:\n"),
        "cairn.yaml:5: stage 'a': params: 'conf.py': Python params files are not supported"));
}

TEST_CASE("vars, foreach and matrix expand as DVC expands them", "[pipeline][dag]") {
    Repo repo;
    repo.write("params.yaml", "models:\n  us: {lr: 0.1}\n  uk: {lr: 1e-5}\nsizes: [16, 32]\n");
    repo.write("cfg.toml", "[opt]\nname = \"adam\"\n");
    repo.write("cairn.yaml", R"(vars:
  - cfg.toml
  - dataset: iris
stages:
  train:
    foreach: ${models}
    do:
      cmd: train --region ${key} --lr ${item.lr} --data ${dataset} --opt ${opt.name}
      outs:
        - models/${key}.bin
  sweep:
    matrix:
      size: ${sizes}
      act: [relu, tanh]
    cmd: sweep ${item.size} ${item.act}
    deps:
      - models/us.bin
)");
    auto json = repo.ok({"dag", "--json"}).json();
    std::vector<std::string> names;
    for (const auto& s : json["stages"])
        names.push_back(s["name"]);
    CHECK(names == std::vector<std::string>{"train@us", "train@uk", "sweep@16-relu",
                                            "sweep@16-tanh", "sweep@32-relu", "sweep@32-tanh"});
    CHECK(json["stages"][1]["cmd"][0] == "train --region uk --lr 1e-05 --data iris --opt adam");
    CHECK(json["stages"][2]["upstream"] == nlohmann::json::array({"train@us"}));
}
