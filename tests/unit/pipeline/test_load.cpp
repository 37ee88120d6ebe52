#include <catch2/catch.hpp>

#include "core/pipeline/pipeline.hpp"
#include "core/util/error.hpp"
#include "core/workspace/workspace.hpp"
#include "tests/support/temp_dir.hpp"

using namespace cairn;
using namespace cairn::pipeline;

namespace {

class Fixture {
  public:
    Fixture() { (void)workspace::init(m_dir.path(), true); }
    void write(const std::string& rel, const std::string& text) const {
        test::write_text(m_dir / rel, text);
    }
    [[nodiscard]] Pipeline load_file(const std::string& rel = "dvc.yaml") const {
        auto ws = workspace::Workspace::discover(m_dir.path());
        return pipeline::load(ws, rel);
    }
    [[nodiscard]] Pipeline load_text(const std::string& text,
                                     const std::string& rel = "dvc.yaml") const {
        write(rel, text);
        return load_file(rel);
    }
    [[nodiscard]] std::string error_of(const std::string& text,
                                       const std::string& rel = "dvc.yaml") const {
        try {
            (void)load_text(text, rel);
        } catch (const Error& e) {
            CHECK(e.kind() == ErrorKind::input);
            return e.what();
        }
        FAIL("loaded: " << text);
        return "";
    }
    [[nodiscard]] workspace::Workspace ws() const {
        return workspace::Workspace::discover(m_dir.path());
    }

  private:
    test::TempDir m_dir;
};

std::vector<std::string> names(const Pipeline& p) {
    std::vector<std::string> out;
    for (const auto& s : p.stages)
        out.push_back(s.name);
    return out;
}

} // namespace

TEST_CASE("params in all three forms, merged per file as DVC merges them", "[pipeline][load]") {
    Fixture f;
    Pipeline p = f.load_text(R"(stages:
  train:
    cmd: python train.py
    wdir: src
    params:
      - lr
      - epochs
      - config/train.json:
          - model.depth
      - all.toml:
      - lr
)");
    const Stage& s = p.stages.at(0);
    REQUIRE(s.params.size() == 3);
    CHECK(s.params[0].file == "src/params.yaml");
    CHECK(s.params[0].written == "params.yaml");
    CHECK(s.params[0].keys == std::vector<std::string>{"lr", "epochs"});
    CHECK(s.params[0].mark.line == 6);
    CHECK(s.params[1].file == "src/config/train.json");
    CHECK(s.params[1].keys == std::vector<std::string>{"model.depth"});
    CHECK(s.params[2].file == "src/all.toml");
    CHECK(s.params[2].all);
    CHECK(s.params[2].keys.empty());
    CHECK(s.wdir == "src");

    // params.yaml named whole: its bare keys are not listed separately.
    Pipeline whole =
        f.load_text("stages:\n  a:\n    cmd: x\n    params: [lr, {params.yaml: null}]\n");
    REQUIRE(whole.stages[0].params.size() == 1);
    CHECK(whole.stages[0].params[0].all);
}

TEST_CASE("outs, metrics and plots with their options", "[pipeline][load]") {
    Fixture f;
    Pipeline p = f.load_text(R"(stages:
  train:
    cmd:
      - python prep.py
      - python train.py
    deps: [data/raw, train.py]
    outs:
      - model.pkl
      - logs:
          cache: false
          persist: true
          desc: training logs
          remote: store
          push: false
    metrics:
      - metrics.json:
          cache: false
    plots:
      - plots/loss.csv:
          x: step
          y: loss
          template: linear
          title: Loss
    frozen: true
    always_changed: true
    desc: Train the model
    meta: {owner: me}
)");
    const Stage& s = p.stages.at(0);
    CHECK(s.cmd == std::vector<std::string>{"python prep.py", "python train.py"});
    REQUIRE(s.deps.size() == 2);
    CHECK(s.deps[0].path == "data/raw");
    CHECK(s.deps[0].mark.line == 6);
    REQUIRE(s.outs.size() == 4);
    CHECK(s.outs[0].path == "model.pkl");
    CHECK(s.outs[0].cache);
    CHECK(s.outs[1].path == "logs");
    CHECK_FALSE(s.outs[1].cache);
    CHECK(s.outs[1].persist);
    CHECK_FALSE(s.outs[1].push);
    CHECK(s.outs[1].desc == "training logs");
    CHECK(s.outs[1].remote == "store");
    CHECK(s.outs[1].mark.line == 9);
    CHECK(s.outs[2].kind == Output::Kind::metric);
    CHECK_FALSE(s.outs[2].cache);
    CHECK(s.outs[3].kind == Output::Kind::plot);
    CHECK(s.outs[3].plot_options.at("x") == "step");
    CHECK(s.outs[3].plot_options.at("title") == "Loss");
    CHECK(s.frozen);
    CHECK(s.always_changed);
    CHECK(s.desc == "Train the model");
    CHECK(p.lock_file == "cairn.lock");
}

TEST_CASE("the DVC get-started pipeline, as its tutorial writes dvc.yaml", "[pipeline][load]") {
    Fixture f;
    f.write(
        "params.yaml",
        "prepare:\n  split: 0.20\n  seed: 20170428\nfeaturize:\n  max_features: 100\n  ngrams: 1\n"
        "train:\n  seed: 20170428\n  n_est: 50\n  min_split: 0.01\n");
    Pipeline p = f.load_text(R"(stages:
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
- Confusion-Matrix:
    template: confusion
    x: actual
    y:
      eval/plots/sklearn/cm/train.json: predicted
      eval/plots/sklearn/cm/test.json: predicted
- eval/importance.png
artifacts:
  text-classification:
    path: model.pkl
    type: model
    desc: Detect sentiment from text
)");
    CHECK(names(p) == std::vector<std::string>{"prepare", "featurize", "train", "evaluate"});
    CHECK(p.metrics.at(0).path == "eval/metrics.json");
    REQUIRE(p.plots.size() == 3);
    CHECK(p.plots[0].written == "ROC");
    CHECK(p.plots[0].plot_options.at("template") == "simple");
    CHECK(p.artifacts.at("text-classification") == "model.pkl");
    Graph g = build_graph(p);
    CHECK(g.upstream[1] == std::vector<std::size_t>{0});
    CHECK(g.upstream[3] == std::vector<std::size_t>{1, 2});
    CHECK(g.order == std::vector<std::size_t>{0, 1, 2, 3});
    CHECK(with_upstream(g, 2) == std::vector<std::size_t>{0, 1, 2});
    auto params = read_params(f.ws(), "params.yaml");
    CHECK(lookup(params, "prepare.split")->get<double>() == 0.2);
    CHECK(lookup(params, "train.seed")->get<std::int64_t>() == 20170428);
    CHECK(leaf_keys(params).size() == 7);
}

TEST_CASE(
    "foreach over a list, a list of mappings, a mapping and an interpolated list (DVC's examples)",
    "[pipeline][load]") {
    Fixture f;
    f.write("params.yaml", "models:\n  us:\n    epochs: 10\n  uk:\n    epochs: 3\nfiles: [a, b]\n");
    Pipeline p = f.load_text(R"(stages:
  cleanups:
    foreach:
      - raw1
      - labels1
    do:
      cmd: clean.py "${item}"
      outs:
        - ${item}.cln
  train:
    foreach:
      - epochs: 3
        thresh: 10
      - epochs: 10
        thresh: 15
    do:
      cmd: python train.py ${item.epochs} ${item.thresh}
      outs: ["model-${item.epochs}"]
  build:
    foreach: ${models}
    do:
      cmd: python train.py '${key}' ${item.epochs}
      outs:
        - model-${key}.hdf5
  copy:
    foreach: ${files}
    do:
      cmd: cp ${item} out/${item}
      outs: ["out/${item}"]
)");
    CHECK(names(p) == std::vector<std::string>{"cleanups@raw1", "cleanups@labels1", "train@0",
                                               "train@1", "build@us", "build@uk", "copy@a",
                                               "copy@b"});
    CHECK(p.stages[0].cmd.at(0) == "clean.py \"raw1\"");
    CHECK(p.stages[1].outs.at(0).path == "labels1.cln");
    CHECK(p.stages[3].cmd.at(0) == "python train.py 10 15");
    CHECK(p.stages[4].cmd.at(0) == "python train.py 'us' 10");
    CHECK(p.stages[5].outs.at(0).path == "model-uk.hdf5");
    CHECK(p.stages[7].outs.at(0).path == "out/b");
    CHECK(p.stages[2].mark.line == 10); // the group's key
}

TEST_CASE("matrix: the cartesian product, named as DVC names it", "[pipeline][load]") {
    Fixture f;
    f.write("params.yaml", "features: [f1, f2]\n");
    Pipeline p = f.load_text(R"(stages:
  train:
    matrix:
      model: [cnn, xgb]
      feature: ${features}
    cmd: ./train.py --feature ${item.feature} ${item.model} ${key}
    outs:
      - ${item.model}-${item.feature}.pkl
  tune:
    matrix:
      cfg:
        - {name: small, lr: 0.1}
        - {name: large, lr: 0.01}
      seed: [1]
    cmd: tune ${item.cfg.name} ${item.cfg.lr} ${item.seed}
)");
    CHECK(names(p) == std::vector<std::string>{"train@cnn-f1", "train@cnn-f2", "train@xgb-f1",
                                               "train@xgb-f2", "tune@cfg0-1", "tune@cfg1-1"});
    CHECK(p.stages[1].cmd.at(0) == "./train.py --feature f2 cnn cnn-f2");
    CHECK(p.stages[2].outs.at(0).path == "xgb-f1.pkl");
    CHECK(p.stages[5].cmd.at(0) == "tune large 0.01 1");
}

TEST_CASE("vars: inline mappings, params files with key selection, params.yaml by default",
          "[pipeline][load]") {
    Fixture f;
    f.write("params.yaml", "lr: 0.1\n");
    f.write("conf/custom.yaml", "model: {name: cnn}\nunused: 1\n");
    f.write("conf/data.json", R"({"data": {"dir": "raw"}, "other": 2})");
    f.write("conf/t.toml", "[train]\nepochs = 5\n");
    Pipeline p = f.load_text(R"(vars:
  - conf/custom.yaml:model
  - conf/data.json
  - conf/t.toml
  - desc: Reusable description
    sizes: [1, 2]
stages:
  a:
    cmd: run ${model.name} ${lr} ${data.dir} ${train.epochs} ${sizes[1]}
    desc: ${desc}
    wdir: conf
    vars:
      - local: here
    deps: ["${local}.txt"]
)");
    CHECK(p.stages[0].cmd.at(0) == "run cnn 0.1 raw 5 2");
    CHECK(p.stages[0].desc == "Reusable description");
    CHECK(p.stages[0].deps.at(0).path == "conf/here.txt");
    CHECK_THAT(f.error_of("vars: [conf/custom.yaml:model]\nstages:\n  a:\n    cmd: ${unused}\n"),
               Catch::Contains("dvc.yaml:4: stage 'a': cmd: could not find 'unused'"));
    CHECK_THAT(f.error_of("vars: [conf/custom.yaml:nope]\nstages: {}\n"),
               Catch::Contains("dvc.yaml:1: vars: could not find 'nope' in 'conf/custom.yaml'"));
    CHECK_THAT(f.error_of("vars:\n  - lr: 2\nstages: {}\n"),
               Catch::Contains("dvc.yaml:2: vars: cannot redefine 'lr' from 'vars[0]' as it "
                               "already exists in 'params.yaml'"));
    CHECK_THAT(f.error_of("vars:\n  - conf/${x}.yaml\nstages: {}\n"),
               Catch::Contains("dvc.yaml:2: vars: interpolating is not allowed"));
}

TEST_CASE("params files: YAML, JSON, TOML, Python refused", "[pipeline][load]") {
    Fixture f;
    f.write("p.yaml", "a: {b: 007}\nc: '1'\nd: [1, 2]\ne: ~\n");
    f.write("p.json", R"({"a": {"b": 1.5}, "list": [{"x": 1}]})");
    f.write("p.toml", "title = \"t\"\n[a]\nb = 2\n");
    f.write("bad.json", "{\n  \"a\": 1,\n}\n");
    f.write("bad.toml", "a = 1\nb = = 2\n");
    f.write("p.py", "A = 1\n");
    auto ws = f.ws();
    auto y = read_params(ws, "p.yaml");
    CHECK(lookup(y, "a.b")->get<std::int64_t>() == 7);
    CHECK(lookup(y, "c")->get<std::string>() == "1");
    CHECK(lookup(y, "e")->is_null());
    CHECK(lookup(y, "missing") == nullptr);
    CHECK(leaf_keys(y) == std::vector<std::string>{"a.b", "c", "d", "e"});
    auto j = read_params(ws, "p.json");
    CHECK(lookup(j, "list[0].x")->get<int>() == 1);
    auto t = read_params(ws, "p.toml");
    CHECK(lookup(t, "a.b")->get<int>() == 2);
    CHECK_THROWS_WITH(read_params(ws, "bad.json"), Catch::StartsWith("bad.json:3:"));
    CHECK_THROWS_WITH(read_params(ws, "bad.toml"), Catch::StartsWith("bad.toml:2:"));
    CHECK_THROWS_WITH(read_params(ws, "p.py"),
                      Catch::Contains("Python params files are not supported"));
    CHECK_THROWS_WITH(read_params(ws, "none.yaml"), Catch::Contains("'none.yaml' does not exist"));
    CHECK_THAT(f.error_of("stages:\n  a:\n    cmd: x\n    params:\n      - p.py: [A]\n"),
               Catch::Contains(
                   "dvc.yaml:5: stage 'a': params: 'p.py': Python params files are not supported"));
}

TEST_CASE("errors name the file, line and stage", "[pipeline][load]") {
    Fixture f;
    CHECK(f.error_of("stages:\n  train:\n    cmd: x\n    dep: [y]\n") ==
          "dvc.yaml:4: stage 'train': unknown key 'dep' in a stage (did you mean 'deps'?)");
    CHECK_THAT(f.error_of("stage:\n  a: {cmd: x}\n"),
               Catch::StartsWith("dvc.yaml:1: unknown key 'stage'"));
    CHECK_THAT(f.error_of("stages:\n  a:\n    deps: [x]\n"),
               Catch::StartsWith("dvc.yaml:2: stage 'a': missing 'cmd'"));
    CHECK_THAT(f.error_of("stages:\n  a:\n    cmd: x\n    outs:\n      - y:\n          cache: "
                          "false\n          persit: true\n"),
               Catch::StartsWith("dvc.yaml:5: stage 'a': unknown key 'persit'"));
    CHECK_THAT(f.error_of("stages:\n  a:\n    cmd: x\n    frozen: yes\n"),
               Catch::StartsWith("dvc.yaml:4: stage 'a': frozen: expected true or false"));
    // A missing interpolation key, in a generated stage too.
    CHECK_THAT(f.error_of("stages:\n  a:\n    foreach: [1, 2]\n    do:\n      cmd: x\n      outs: "
                          "[\"${itme}\"]\n"),
               Catch::StartsWith("dvc.yaml:6: stage 'a@1': outs: could not find 'itme'"));
    CHECK_THAT(f.error_of("stages:\n  a:\n    foreach: ${nothing}\n    do: {cmd: x}\n"),
               Catch::StartsWith("dvc.yaml:3: stage 'a': foreach: could not find 'nothing'"));
    // Two stages writing one output, or one inside another's.
    CHECK(f.error_of(
              "stages:\n  a:\n    cmd: x\n    outs: [out]\n  b:\n    cmd: y\n    outs: [out]\n") ==
          "dvc.yaml:7: stage 'b': output 'out' is also an output of stage 'a' (dvc.yaml:4)");
    CHECK(
        f.error_of("stages:\n  a:\n    cmd: x\n    outs: [out]\n  b:\n    cmd: y\n    outs: "
                   "[out/sub]\n") ==
        "dvc.yaml:7: stage 'b': output 'out/sub' is inside output 'out' of stage 'a' (dvc.yaml:4)");
    // A cycle.
    CHECK(f.error_of("stages:\n  a:\n    cmd: x\n    deps: [b.out]\n    outs: [a.out]\n  b:\n    "
                     "cmd: y\n    deps: [a.out/f]\n"
                     "    outs: [b.out]\n") == "dvc.yaml:2: stage 'a': dependency cycle: a -> b -> "
                                               "a ('a' depends on 'b.out' from 'b', 'b' depends on "
                                               "'a.out/f' from 'a')");
    CHECK_THAT(f.error_of("stages:\n  a:\n    cmd: x\n    deps: [o]\n    outs: [o]\n"),
               Catch::Contains("dependency cycle: a -> a"));
    // Paths outside the workspace, absolute, in .git or .cairn.
    CHECK_THAT(f.error_of("stages:\n  a:\n    cmd: x\n    outs: [../up]\n"),
               Catch::StartsWith("dvc.yaml:4: stage 'a': outs: '../up' is outside the workspace"));
    CHECK_THAT(f.error_of("stages:\n  a:\n    cmd: x\n    deps: [/etc/passwd]\n"),
               Catch::StartsWith("dvc.yaml:4: stage 'a': deps: '/etc/passwd' is an absolute path"));
    CHECK_THAT(f.error_of("stages:\n  a:\n    cmd: x\n    wdir: ..\n    outs: [o]\n"),
               Catch::StartsWith("dvc.yaml:4: stage 'a': wdir:"));
    CHECK_THAT(f.error_of("stages:\n  a:\n    cmd: x\n    outs: [.cairn/cache]\n"),
               Catch::Contains("inside .cairn/"));
    CHECK_THAT(f.error_of("stages:\n  a:\n    cmd: x\n    outs: [sub/.GIT/x]\n"),
               Catch::Contains("a spelling of .git"));
    // Interpolating a mapping or a list into a string.
    f.write("params.yaml", "m: {a: 1}\nl: [1, 2]\n");
    CHECK_THAT(f.error_of("stages:\n  a:\n    cmd: x\n    deps: [\"${m}\"]\n"),
               Catch::StartsWith("dvc.yaml:4: stage 'a': deps: '${m}' is a mapping"));
    CHECK_THAT(f.error_of("stages:\n  a:\n    cmd: x ${l}\n"),
               Catch::StartsWith("dvc.yaml:3: stage 'a': cmd: '${l}' is a list"));
    // Stage names.
    CHECK_THAT(f.error_of("stages:\n  a@b:\n    cmd: x\n"), Catch::Contains("cannot contain '@'"));
    CHECK_THAT(f.error_of("stages: [a]\n"),
               Catch::StartsWith("dvc.yaml:1: 'stages' must be a mapping"));
    CHECK_THAT(f.error_of("stages:\n  a:\n    cmd: [x\n"), Catch::StartsWith("dvc.yaml:"));
}

TEST_CASE("an output that a cairn add pointer tracks is refused", "[pipeline][load]") {
    Fixture f;
    f.write("data/raw.cairn", "placeholder\n");
    f.write("models/best.cairn", "placeholder\n");
    CHECK_THAT(
        f.error_of("stages:\n  a:\n    cmd: x\n    outs: [data/raw]\n"),
        Catch::StartsWith(
            "dvc.yaml:4: stage 'a': output 'data/raw' is tracked by `cairn add` (data/raw.cairn)"));
    CHECK_THAT(f.error_of("stages:\n  a:\n    cmd: x\n    outs: [models]\n"),
               Catch::Contains("(models/best.cairn)"));
    CHECK_THAT(f.error_of("stages:\n  a:\n    cmd: x\n    outs: [data/raw/part]\n"),
               Catch::Contains("(data/raw.cairn)"));
    // As a dependency it is fine.
    CHECK(f.load_text("stages:\n  a:\n    cmd: x\n    deps: [data/raw]\n").stages.size() == 1);
}

TEST_CASE("a pipeline file in a subdirectory: paths relative to it and the stage's wdir",
          "[pipeline][load]") {
    Fixture f;
    f.write("sub/params.yaml", "n: 4\n");
    Pipeline p = f.load_text(
        "stages:\n  a:\n    cmd: x ${n}\n    wdir: w\n    deps: [../in]\n    outs: [out]\n",
        "sub/dvc.yaml");
    CHECK(p.wdir == "sub");
    CHECK(p.lock_file == "sub/cairn.lock");
    CHECK(p.stages[0].wdir == "sub/w");
    CHECK(p.stages[0].cmd.at(0) == "x 4");
    CHECK(p.stages[0].deps.at(0).path == "sub/in");
    CHECK(p.stages[0].outs.at(0).path == "sub/w/out");
    CHECK(p.stages[0].params.empty());
}
