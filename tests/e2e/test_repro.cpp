// cairn repro: staleness, order, the run cache, failures, kill -9 and Ctrl-C, retraining.
#include <algorithm>
#include <csignal>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include "core/util/strings.hpp"
#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;
using nlohmann::json;

namespace {

std::string replaced(std::string text, const std::string& from, const std::string& to) {
    auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    return text.replace(at, from.size(), to);
}

// prepare -> train -> evaluate, in plain sh: train's "model" is its data and lr; evaluate's
// metric is the model's size.
void three_stages(const Repo& repo) {
    repo.write("data/raw.csv", "a,b\n1,2\n3,4\n");
    repo.write("params.yaml", "train:\n  lr: 0.1\n  epochs: 3\nprepare:\n  split: 0.2\n");
    repo.write_script("prepare.sh", "#!/bin/sh\nmkdir -p prepared\ntail -n +2 data/raw.csv > prepared/rows.csv\n"
                                    "echo $$ >> prepare.calls\n");
    repo.write_script("train.sh", "#!/bin/sh\n{ cat prepared/rows.csv; grep 'lr:' params.yaml; } > model.bin\n"
                                  "echo $$ >> train.calls\n");
    repo.write_script("evaluate.sh", "#!/bin/sh\nprintf '{\"size\": %s}\\n' $(wc -c < model.bin) > metrics.json\n");
    repo.write("cairn.yaml", R"(stages:
  prepare:
    cmd: ./prepare.sh
    deps:
    - data/raw.csv
    - prepare.sh
    params:
    - prepare.split
    outs:
    - prepared
  train:
    cmd: ./train.sh
    deps:
    - prepared
    - train.sh
    params:
    - train.lr
    outs:
    - model.bin
  evaluate:
    cmd: ./evaluate.sh
    deps:
    - model.bin
    - evaluate.sh
    metrics:
    - metrics.json:
        cache: false
)");
    repo.write(".gitignore", "*.calls\n");
    repo.commit();
}

json repro_json(const Repo& repo, std::vector<std::string> args = {}) {
    args.insert(args.begin(), {"repro", "--json"});
    Result r = repo.cairn(args);
    INFO(r.err);
    REQUIRE(r.code == 0);
    return r.json();
}

std::map<std::string, std::string> outcomes(const json& report) {
    std::map<std::string, std::string> out;
    for (const auto& s : report["stages"]) out[s["stage"]] = s["outcome"];
    return out;
}

// Waits (up to 20 s) for a stage's command to have written `rel`; false if it never did.
bool wait_for_file(const Repo& repo, const std::string& rel) {
    for (int i = 0; i < 2000 && !repo.exists(rel); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return repo.exists(rel);
}

int lines(const Repo& repo, const std::string& rel) {
    if (!repo.exists(rel)) return 0;
    std::string text = repo.read(rel);
    return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

std::map<std::string, std::vector<std::string>> status_reasons(const Repo& repo) {
    json j = repo.ok({"status", "--json"}).json();
    std::map<std::string, std::vector<std::string>> out;
    for (const auto& s : j["stages"]) {
        auto& v = out[s["stage"]];
        for (const auto& r : s["reasons"]) v.push_back(r["text"]);
        if (s["outcome"] == "up to date") v.push_back("up to date");
    }
    return out;
}

} // namespace

TEST_CASE("repro runs every stage in order once, records each as a run and locks the state", "[repro]") {
    Repo repo;
    three_stages(repo);
    json first = repro_json(repo);
    CHECK(outcomes(first) == std::map<std::string, std::string>{{"prepare", "ran"}, {"train", "ran"}, {"evaluate", "ran"}});
    REQUIRE(first["stages"].size() == 3);
    CHECK(first["stages"][0]["stage"] == "prepare");
    CHECK(first["stages"][2]["stage"] == "evaluate");
    CHECK(repo.read("metrics.json") == "{\"size\": 18}\n");

    // Each stage is a run with its stage and pipeline fields; filters find them.
    json train_runs = repo.ok({"ls", "--json", "--filter", "stage = \"train\""}).json();
    REQUIRE(train_runs.size() == 1);
    CHECK(train_runs[0]["pipeline"] == "cairn.yaml");
    CHECK(train_runs[0]["name"] == "train");
    // The metric file of evaluate is read into its run.
    json eval = repo.ok({"show", "evaluate", "--json"}).json();
    CHECK(eval["metrics"]["size"]["last"] == 18);

    // The lock: sorted stages, sha256 ids that match the bytes, the params referenced.
    std::string lock = repo.read("cairn.lock");
    CHECK(cairn::util::starts_with(lock, "schema: cairn-lock/1\n"));
    CHECK(contains(lock, sha256_id_of_file(repo.path("model.bin"))));
    CHECK(contains(lock, "train.lr: 0.1"));
    CHECK(lock.find("  evaluate:") < lock.find("  prepare:"));
    // Outputs are ignored by git, except the one not cached.
    std::string ignored = repo.read(".gitignore");
    CHECK(contains(ignored, "/prepared"));
    CHECK(contains(ignored, "/model.bin"));
    CHECK_FALSE(contains(ignored, "metrics.json"));

    // Nothing changed: nothing runs, no new run is recorded.
    Result again = repo.ok({"repro"});
    CHECK(contains(again.out, "up to date"));
    CHECK(repo.ok({"ls", "--json"}).json().size() == 3);
    CHECK(lines(repo, "train.calls") == 1);
    CHECK(repo.read("cairn.lock") == lock);
}

TEST_CASE("each cause of staleness is named by status and re-runs exactly what it touches", "[repro]") {
    Repo repo;
    three_stages(repo);
    repro_json(repo);
    CHECK(status_reasons(repo)["train"] == std::vector<std::string>{"up to date"});

    SECTION("a dependency's bytes") {
        repo.write("data/raw.csv", "a,b\n1,2\n3,4\n5,6\n");
        auto reasons = status_reasons(repo);
        CHECK(reasons["prepare"] == std::vector<std::string>{"dependency data/raw.csv modified"});
        CHECK(reasons["train"] == std::vector<std::string>{"upstream stage prepare is stale"});
        CHECK(outcomes(repro_json(repo)) ==
              std::map<std::string, std::string>{{"prepare", "ran"}, {"train", "ran"}, {"evaluate", "ran"}});
    }
    SECTION("a param value") {
        repo.write("params.yaml", "train:\n  lr: 0.01\n  epochs: 3\nprepare:\n  split: 0.2\n");
        auto reasons = status_reasons(repo);
        CHECK(reasons["prepare"] == std::vector<std::string>{"up to date"});
        CHECK(reasons["train"] == std::vector<std::string>{"param train.lr changed (0.1 -> 0.01)"});
        CHECK(outcomes(repro_json(repo)) ==
              std::map<std::string, std::string>{{"prepare", "up to date"}, {"train", "ran"}, {"evaluate", "ran"}});
        CHECK(lines(repo, "prepare.calls") == 1);
    }
    SECTION("a param the stage does not reference changes nothing") {
        repo.write("params.yaml", "train:\n  lr: 0.1\n  epochs: 30\nprepare:\n  split: 0.2\n");
        CHECK(outcomes(repro_json(repo)) ==
              std::map<std::string, std::string>{{"prepare", "up to date"}, {"train", "up to date"}, {"evaluate", "up to date"}});
    }
    SECTION("the command") {
        std::string yaml = repo.read("cairn.yaml");
        repo.write("cairn.yaml", replaced(yaml, "cmd: ./evaluate.sh", "cmd: ./evaluate.sh && true"));
        CHECK(status_reasons(repo)["evaluate"] == std::vector<std::string>{"command changed"});
        CHECK(outcomes(repro_json(repo)) ==
              std::map<std::string, std::string>{{"prepare", "up to date"}, {"train", "up to date"}, {"evaluate", "ran"}});
    }
    SECTION("a deleted output is restored from the run cache, not re-made") {
        std::string model = repo.read("model.bin");
        stdfs::remove(repo.path("model.bin"));
        CHECK(status_reasons(repo)["train"] == std::vector<std::string>{"output model.bin deleted"});
        Result r = repo.ok({"repro"});
        CHECK(contains(r.err, "stage train: restored from run"));
        CHECK(repo.read("model.bin") == model);
        CHECK(lines(repo, "train.calls") == 1);
    }
    SECTION("a modified output") {
        repo.write("model.bin", "tampered\n");
        CHECK(status_reasons(repo)["train"] == std::vector<std::string>{"output model.bin modified"});
        json j = repro_json(repo);
        CHECK(outcomes(j)["train"] == "restored");
        CHECK(outcomes(j)["evaluate"] == "up to date");
        CHECK(repo.read("metrics.json") == "{\"size\": 18}\n");
    }
    SECTION("--force runs even up-to-date stages; --dry-run changes nothing") {
        std::string lock = repo.read("cairn.lock");
        repo.write("data/raw.csv", "x\n");
        Result dry = repo.ok({"repro", "--dry-run"});
        CHECK(contains(dry.out, "would run prepare: dependency data/raw.csv modified"));
        CHECK(repo.read("cairn.lock") == lock);
        CHECK(lines(repo, "prepare.calls") == 1);
        repo.write("data/raw.csv", "a,b\n1,2\n3,4\n");
        json forced = repro_json(repo, {"--force", "--single-item", "train"});
        CHECK(outcomes(forced) == std::map<std::string, std::string>{{"train", "ran"}});
        CHECK(lines(repo, "train.calls") == 2);
    }
}

TEST_CASE("the run cache restores outputs of an earlier run with the same command, inputs and params", "[repro]") {
    Repo repo;
    three_stages(repo);
    repro_json(repo);
    std::string first_train = repo.ok({"ls", "--json", "--filter", "stage = \"train\""}).json()[0]["id"];
    std::string model_01 = repo.read("model.bin");
    repo.write("params.yaml", "train:\n  lr: 0.2\n  epochs: 3\nprepare:\n  split: 0.2\n");
    CHECK(outcomes(repro_json(repo))["train"] == "ran");
    CHECK(repo.read("model.bin") != model_01);
    repo.write("params.yaml", "train:\n  lr: 0.1\n  epochs: 3\nprepare:\n  split: 0.2\n");
    Result back = repo.ok({"repro"});
    CHECK(contains(back.err, "stage train: restored from run " + first_train.substr(0, 8)));
    CHECK(repo.read("model.bin") == model_01);
    CHECK(lines(repo, "train.calls") == 2);
    // --no-run-cache runs it again.
    repo.write("params.yaml", "train:\n  lr: 0.2\n  epochs: 3\nprepare:\n  split: 0.2\n");
    json j = repro_json(repo, {"--no-run-cache"});
    CHECK(outcomes(j)["train"] == "ran");
    CHECK(lines(repo, "train.calls") == 3);
}

TEST_CASE("a failing stage stops its dependents, --keep-going lets independent branches on", "[repro]") {
    Repo repo;
    repo.write("cairn.yaml", R"(stages:
  bad:
    cmd: echo broken >&2; exit 3
    outs:
    - bad.out
  after_bad:
    cmd: cp bad.out after.out
    deps:
    - bad.out
    outs:
    - after.out
  good:
    cmd: echo fine > good.out
    outs:
    - good.out
)");
    repo.commit();
    Result stop = repo.cairn({"repro", "--json"});
    CHECK(stop.code == 1);
    auto o = outcomes(stop.json());
    CHECK(o["bad"] == "failed");
    CHECK(o["after_bad"] == "skipped");
    CHECK(o["good"] == "skipped");
    CHECK_FALSE(repo.exists("good.out"));
    CHECK_FALSE(repo.exists("cairn.lock"));
    json failed = repo.ok({"ls", "--json", "--filter", "stage = \"bad\""}).json();
    REQUIRE(failed.size() == 1);
    CHECK(failed[0]["status"] == "failed");

    Result going = repo.cairn({"repro", "--json", "--keep-going"});
    CHECK(going.code == 1);
    o = outcomes(going.json());
    CHECK(o["bad"] == "failed");
    CHECK(o["after_bad"] == "skipped");
    CHECK(o["good"] == "ran");
    CHECK(repo.read("good.out") == "fine\n");
    // The lock keeps the good stage only.
    std::string lock = repo.read("cairn.lock");
    CHECK(contains(lock, "  good:"));
    CHECK_FALSE(contains(lock, "  bad:"));
}

TEST_CASE("repro with --jobs runs independent stages at the same time", "[repro]") {
    Repo repo;
    // Each stage waits (up to 20 s) for the other to have started: in series the first one
    // would give up and fail.
    repo.write_script("meet.sh", "#!/bin/sh\ntouch $1.started\ni=0\nwhile [ ! -f $2.started ]; do\n"
                                 "  i=$((i+1)); [ $i -gt 400 ] && exit 9; sleep 0.05\ndone\necho $1 > $1.out\n");
    repo.write("cairn.yaml", R"(stages:
  left:
    cmd: ./meet.sh left right
    outs:
    - left.out
  right:
    cmd: ./meet.sh right left
    outs:
    - right.out
  join:
    cmd: cat left.out right.out > both.out
    deps: [left.out, right.out]
    outs: [both.out]
)");
    repo.write(".gitignore", "*.started\n");
    repo.commit();
    Result r = repo.cairn({"repro", "--jobs", "2", "--json"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK(outcomes(r.json()) == std::map<std::string, std::string>{{"left", "ran"}, {"right", "ran"}, {"join", "ran"}});
    CHECK(repo.read("both.out") == "left\nright\n");
    std::string lock = repo.read("cairn.lock");
    CHECK(contains(lock, "  left:"));
    CHECK(contains(lock, "  right:"));
    CHECK(contains(lock, "  join:"));
    CHECK(repo.ok({"ls", "--json"}).json().size() == 3);
}

TEST_CASE("kill -9 in the middle of a repro leaves a valid lock, the next repro completes", "[repro]") {
    Repo repo;
    repo.write("cairn.yaml", R"(stages:
  first:
    cmd: echo one > one.out
    outs: [one.out]
  second:
    cmd: touch second.started; while [ ! -f go ]; do sleep 0.05; done; cat one.out > two.out
    deps: [one.out]
    outs: [two.out]
)");
    repo.write(".gitignore", "go\nsecond.started\n");
    repo.commit();
    auto child = repo.spawn({"repro"});
    REQUIRE(wait_for_file(repo, "second.started"));
    child->signal(SIGKILL);
    CHECK(child->wait() == 128 + SIGKILL);
    repo.write("go", "");
    // The orphaned command may end on its own before the next cairn stops it; either way the
    // lock names the first stage only.
    std::string lock = repo.read("cairn.lock");
    CHECK(contains(lock, "  first:"));
    CHECK_FALSE(contains(lock, "  second:"));
    stdfs::remove(repo.path("second.started"));
    json j = repro_json(repo);
    CHECK(outcomes(j) == std::map<std::string, std::string>{{"first", "up to date"}, {"second", "ran"}});
    CHECK(repo.read("two.out") == "one\n");
    // The killed execution is on record as crashed.
    json second = repo.ok({"ls", "--json", "--filter", "stage = \"second\""}).json();
    REQUIRE(second.size() == 2);
    std::set<std::string> statuses = {second[0]["status"], second[1]["status"]};
    CHECK(statuses == std::set<std::string>{"crashed", "finished"});
}

TEST_CASE("Ctrl-C stops the repro: the stage is recorded interrupted, later ones never start", "[repro]") {
    Repo repo;
    repo.write("cairn.yaml", R"(stages:
  slow:
    cmd: touch slow.started; while true; do sleep 0.05; done
    outs: [slow.out]
  later:
    cmd: echo x > later.out
    deps: [slow.out]
    outs: [later.out]
)");
    repo.write(".gitignore", "slow.started\n");
    repo.commit();
    auto child = repo.spawn({"repro"});
    REQUIRE(wait_for_file(repo, "slow.started"));
    child->signal(SIGINT);
    CHECK(child->wait() == 130);
    CHECK_FALSE(repo.exists("later.out"));
    json runs = repo.ok({"ls", "--json"}).json();
    REQUIRE(runs.size() == 1);
    CHECK(runs[0]["status"] == "interrupted");
    CHECK_FALSE(repo.exists("cairn.lock"));
}

TEST_CASE("outputs that do not persist are removed before their stage runs, persist keeps them", "[repro]") {
    Repo repo;
    repo.write("cairn.yaml", R"(stages:
  grow:
    cmd: echo line >> log.out; echo line >> kept.out; echo ${size} > size.out
    deps: [size.txt]
    outs:
    - log.out
    - kept.out:
        persist: true
    - size.out
vars:
  - size: 3
)");
    repo.write("size.txt", "1\n");
    repo.commit();
    repo.ok({"repro"});
    repo.write("size.txt", "2\n");
    Result r = repo.ok({"repro"});
    CHECK(contains(r.err, "removing output log.out before running (its bytes are in the cache)"));
    CHECK(repo.read("log.out") == "line\n");
    CHECK(repo.read("kept.out") == "line\nline\n");
    CHECK(repo.read("size.out") == "3\n");
}

TEST_CASE("retraining: new data makes exactly the affected stages stale, lineage traces the new model to it", "[repro]") {
    Repo repo;
    three_stages(repo);
    // The raw data is tracked by cairn, as a team's dataset would be.
    repo.git({"rm", "-q", "--cached", "data/raw.csv"});
    repo.ok({"add", "data/raw.csv"});
    repo.commit("track data");
    repro_json(repo);
    std::string old_train = repo.ok({"ls", "--json", "--filter", "stage = \"train\""}).json()[0]["id"];

    repo.write("data/raw.csv", "a,b\n1,2\n3,4\n5,6\n7,8\n");
    repo.ok({"add", "data/raw.csv"});
    Result st = repo.ok({"status"});
    CHECK(contains(st.out, "prepare"));
    CHECK(contains(st.out, "dependency data/raw.csv modified"));
    json j = repro_json(repo);
    CHECK(outcomes(j) == std::map<std::string, std::string>{{"prepare", "ran"}, {"train", "ran"}, {"evaluate", "ran"}});
    std::string new_train = repo.ok({"ls", "--json", "--filter", "stage = \"train\"", "-n", "1"}).json()[0]["id"];
    CHECK(new_train != old_train);

    json diff = repo.ok({"diff", old_train, new_train, "--json"}).json();
    CHECK(contains(diff.dump(), "prepared"));
    json eval_diff = repo.ok({"diff", "evaluate~1", "evaluate", "--json"}).json();
    CHECK(contains(eval_diff.dump(), "size"));

    json lineage = repo.ok({"lineage", "model.bin", "--format", "json"}).json();
    std::string text = lineage.dump();
    CHECK(contains(text, new_train));
    CHECK(contains(text, sha256_id_of_file(repo.path("data/raw.csv"))));
}

TEST_CASE("repro errors: an unknown stage, a missing dependency, no pipeline", "[repro]") {
    Repo repo;
    Result none = repo.cairn({"repro"});
    CHECK(none.code == 3);
    CHECK(contains(none.err, "cairn: error: no cairn.yaml or dvc.yaml"));
    repo.write("cairn.yaml", "stages:\n  train:\n    cmd: cat in.txt > out.txt\n    deps: [in.txt]\n    outs: [out.txt]\n");
    repo.commit();
    Result unknown = repo.cairn({"repro", "trian"});
    CHECK(unknown.code == 3);
    CHECK(contains(unknown.err, "no stage 'trian' in cairn.yaml (did you mean 'train'?)"));
    Result missing = repo.cairn({"repro", "--json"});
    CHECK(missing.code == 1);
    CHECK(contains(missing.out, "dependency in.txt does not exist"));
    CHECK(repo.ok({"ls", "--json"}).json().empty());
}

TEST_CASE("repro -S sweeps a stage: one trial per value, each in its own worktree, the work tree untouched", "[repro][sweep]") {
    Repo repo;
    repo.write("params.yaml", "# tuned by hand\ntrain:\n  lr: 0.1   # learning rate\n  bs: 8\n");
    repo.write("data.txt", "1 2 3\n");
    repo.ok({"add", "data.txt"});
    repo.write("cairn.yaml", R"(stages:
  prep:
    cmd: cat data.txt > prep.txt; echo ran >> "$CAIRN_RUN_DIR/../prep.calls"
    deps: [data.txt]
    outs: [prep.txt]
  train:
    cmd: >-
      lr=$(grep 'lr:' params.yaml | awk '{print $2}'); echo "acc: $lr"; cat prep.txt > model.txt; echo $lr >> model.txt
    deps: [prep.txt]
    params: [train.lr]
    outs: [model.txt]
)");
    repo.commit();
    std::string params_before = repo.read("params.yaml");
    Result r = repo.cairn({"repro", "-S", "train.lr=0.1,0.2,0.3", "train", "--json"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    json j = r.json();
    std::string sweep = j["sweep"];
    REQUIRE(j["trials"].size() == 3);
    for (const auto& t : j["trials"]) CHECK(t["status"] == "finished");
    CHECK(j["trials"][2]["metrics"]["acc"] == 0.3);
    // The user's files are as they were: params, lock, outputs.
    CHECK(repo.read("params.yaml") == params_before);
    CHECK_FALSE(repo.exists("cairn.lock"));
    CHECK_FALSE(repo.exists("model.txt"));
    // The upstream stage ran once; the later trials restored it from the run cache.
    CHECK(lines(repo, ".cairn/runs/prep.calls") == 1);
    json trials = repo.ok({"ls", "--json", "--filter", "sweep = \"" + sweep + "\" and stage = \"train\""}).json();
    REQUIRE(trials.size() == 3);
    json best = repo.ok({"ls", "--json", "--filter", "sweep = \"" + sweep + "\" and stage = \"train\"", "--sort",
                         "-metrics.acc", "-n", "1"}).json();
    REQUIRE(best.size() == 1);
    CHECK(best[0]["id"] == j["trials"][2]["run"]);
    // Each trial's run read the value it was given, from the params file it edited byte for byte.
    json shown = repo.ok({"show", best[0]["id"], "--json"}).json();
    CHECK(contains(shown["params"].dump(), "0.3"));
    // apply brings the best trial's model and value into the work tree.
    repo.ok({"apply", best[0]["id"].get<std::string>(), "--force"});
    CHECK(repo.read("model.txt") == "1 2 3\n0.3\n");
    CHECK(repo.read("params.yaml") == "# tuned by hand\ntrain:\n  lr: 0.3   # learning rate\n  bs: 8\n");

    Result two = repo.cairn({"repro", "-S", "train.lr=1,2"});
    CHECK(two.code == 2);
    CHECK(contains(two.err, "name the one stage to sweep"));
}

TEST_CASE("two repros of one pipeline at once: the second waits, and the stage runs once", "[repro]") {
    Repo repo;
    repo.write("cairn.yaml", R"(stages:
  slow:
    cmd: echo start >> calls; while [ ! -f go ]; do sleep 0.05; done; echo $$ > model.bin; echo $$ >> model.bin
    outs: [model.bin]
)");
    repo.write(".gitignore", "calls\ngo\n");
    repo.commit();
    auto first = repo.spawn({"repro"});
    for (int i = 0; i < 2000 && lines(repo, "calls") < 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    REQUIRE(lines(repo, "calls") == 1);
    auto second = repo.spawn({"repro"});
    // Without the lock the second starts the same stage: give it the chance to.
    for (int i = 0; i < 200 && lines(repo, "calls") < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    repo.write("go", "");
    CHECK(first->wait() == 0);
    CHECK(second->wait() == 0);
    CHECK(lines(repo, "calls") == 1);
    std::string model = repo.read("model.bin");
    auto nl = model.find('\n');
    CHECK(model.substr(0, nl + 1) == model.substr(nl + 1));
    CHECK(repo.ok({"ls", "--json"}).json().size() == 1);
}

TEST_CASE("a pipeline file other than cairn.yaml/dvc.yaml has its own lock file", "[repro]") {
    Repo repo;
    repo.write("cairn.yaml", "stages:\n  a:\n    cmd: echo a > a.out\n    outs: [a.out]\n");
    repo.write("other.yaml", "stages:\n  a:\n    cmd: echo b > b.out\n    outs: [b.out]\n");
    repo.commit();
    repo.ok({"repro"});
    repo.ok({"repro", "-f", "other.yaml"});
    CHECK(contains(repo.read("cairn.lock"), "a.out"));
    CHECK(contains(repo.read("other.lock"), "b.out"));
    CHECK(contains(repo.ok({"repro"}).out, "up to date"));
    CHECK(contains(repo.ok({"repro", "-f", "other.yaml"}).out, "up to date"));
}

TEST_CASE("a cached output that git tracks is refused before the stage runs", "[repro]") {
    Repo repo;
    repo.write("src/util.py", "print('mine')\n");
    repo.write("cairn.yaml", "stages:\n  a:\n    cmd: echo x > src/util.py\n    outs: [src/util.py]\n");
    repo.commit();
    Result r = repo.cairn({"repro", "--json"});
    CHECK(r.code == 1);
    CHECK(contains(r.out, "output src/util.py is tracked by git"));
    CHECK(repo.read("src/util.py") == "print('mine')\n");
    CHECK_FALSE(repo.exists("src/.gitignore"));
}

TEST_CASE("cairn repro inside a sweep trial is refused, pointing at repro -S", "[repro][sweep]") {
    Repo repo;
    repo.write("params.yaml", "a: 1\n");
    repo.write("cairn.yaml", "stages:\n  s:\n    cmd: echo x > s.out\n    params: [a]\n    outs: [s.out]\n");
    repo.commit();
    Result r = repo.cairn({"run", "-p", "a=1,2", "--json", "--", CAIRN_EXE, "repro"});
    CHECK(r.code == 1);
    CHECK(contains(r.err, "cairn repro STAGE -S KEY=VALUES"));
    json runs = repo.ok({"ls", "--json"}).json();
    CHECK(runs.size() == 2); // the two trials, failed; no stage run vanished into a worktree
    for (const auto& run : runs) CHECK(run["status"] == "failed");
}

TEST_CASE("Ctrl-C of a stage whose outputs exist still records the run as interrupted", "[repro]") {
    Repo repo;
    repo.make_tree("out", 50, 10, 100);
    repo.write("cairn.yaml", R"(stages:
  slow:
    cmd: touch slow.started; while true; do sleep 0.05; done
    outs:
    - out:
        persist: true
)");
    repo.write(".gitignore", "slow.started\nout/\n");
    repo.commit();
    auto child = repo.spawn({"repro"});
    REQUIRE(wait_for_file(repo, "slow.started"));
    child->signal(SIGINT);
    CHECK(child->wait() == 130);
    // Recorded by the repro itself: nothing is left staged for the next command to recover.
    for (const auto& e : stdfs::directory_iterator(repo.path(".cairn/runs")))
        CHECK_FALSE(e.is_directory());
    json runs = repo.ok({"ls", "--json"}).json();
    REQUIRE(runs.size() == 1);
    CHECK(runs[0]["status"] == "interrupted");
}

TEST_CASE("a stage's malformed metrics file is a warning, the repro goes on", "[repro]") {
    Repo repo;
    repo.write("cairn.yaml", "stages:\n  k:\n    cmd: echo '{bad' > bad.json\n    metrics: [bad.json]\n"
                             "  z:\n    cmd: echo z > z.out\n    outs: [z.out]\n");
    repo.commit();
    Result r = repo.cairn({"repro", "--json"});
    INFO(r.err);
    CHECK(r.code == 0);
    CHECK(contains(r.err, "recorded without the metrics of"));
    CHECK(outcomes(r.json()) == std::map<std::string, std::string>{{"k", "ran"}, {"z", "ran"}});
}

TEST_CASE("a missing params file is an error naming the pipeline file, line and stage", "[repro]") {
    Repo repo;
    SECTION("a file named in params") {
        repo.write("cairn.yaml", "stages:\n  train:\n    cmd: echo hi\n    params:\n      - missing.yaml: [lr]\n");
        for (const auto& cmd : {"status", "repro"}) {
            Result r = repo.cairn({cmd});
            CHECK(r.code == 3);
            CHECK(r.err == "cairn: error: cairn.yaml:5: stage 'train': params: params file 'missing.yaml' does not exist\n");
        }
    }
    SECTION("the default params.yaml") {
        repo.write("cairn.yaml", "stages:\n  prepare:\n    cmd: echo ran > prepared\n    outs: [prepared]\n"
                                 "  train:\n    cmd: echo hi\n    params: [lr]\n");
        Result r = repo.cairn({"repro"});
        CHECK(r.code == 3);
        CHECK(contains(r.err, "cairn: error: cairn.yaml:7: stage 'train': params: params file 'params.yaml' does not exist"));
        // Checked before any stage runs.
        CHECK_FALSE(repo.exists("prepared"));
        CHECK(repo.ok({"ls", "--json"}).json().empty());
    }
    SECTION("a malformed params file") {
        repo.write("bad.yaml", "a: [\n");
        repo.write("cairn.yaml", "stages:\n  train:\n    cmd: echo hi\n    params:\n      - bad.yaml: [lr]\n");
        Result r = repo.cairn({"status"});
        CHECK(r.code == 3);
        CHECK(contains(r.err, "cairn: error: cairn.yaml:5: stage 'train': params: bad.yaml:"));
    }
    SECTION("a params file an earlier stage writes is only missing until it runs") {
        repo.write_script("gen.sh", "#!/bin/sh\nmkdir -p conf\necho 'lr: 1' > conf/p.yaml\n");
        repo.write("cairn.yaml", "stages:\n  gen:\n    cmd: ./gen.sh\n    outs: [conf]\n"
                                 "  train:\n    cmd: echo hi\n    params:\n      - conf/p.yaml: [lr]\n");
        auto reasons = status_reasons(repo);
        CHECK(std::count(reasons["train"].begin(), reasons["train"].end(),
                         "param conf/p.yaml missing (the params file does not exist)") == 1);
        CHECK(outcomes(repro_json(repo)) == std::map<std::string, std::string>{{"gen", "ran"}, {"train", "ran"}});
        CHECK(contains(repo.read("cairn.lock"), "conf/p.yaml:\n        lr: 1"));
    }
}

TEST_CASE("a frozen stage whose command or dependencies changed is reported as such, never run", "[repro]") {
    Repo repo;
    three_stages(repo);
    repro_json(repo);
    std::string yaml = repo.read("cairn.yaml");
    repo.write("cairn.yaml", replaced(yaml, "    cmd: ./train.sh\n", "    cmd: ./train.sh --fast\n    frozen: true\n"));
    repo.write("train.sh", repo.read("train.sh") + "# edited\n");
    std::string lock = repo.read("cairn.lock");

    json status = repo.ok({"status", "--json"}).json();
    json train;
    for (const auto& s : status["stages"])
        if (s["stage"] == "train") train = s;
    CHECK(train["outcome"] == "frozen");
    std::vector<std::string> reasons;
    for (const auto& r : train["reasons"]) reasons.push_back(r["text"]);
    CHECK(reasons == std::vector<std::string>{"command changed", "dependency train.sh modified"});

    Result text = repo.ok({"status"});
    CHECK(contains(text.out, "  train: frozen (changed: command changed; dependency train.sh modified)\n"));
    CHECK_FALSE(contains(text.out, "is up to date"));

    Result repro = repo.ok({"repro"});
    CHECK(contains(repro.err, "stage train: frozen, not run (changed: command changed; dependency train.sh modified)"));
    CHECK(contains(repro.out, "  train: frozen (changed: command changed; dependency train.sh modified)\n"));
    CHECK_FALSE(contains(repro.out, "is up to date"));
    CHECK(lines(repo, "train.calls") == 1);
    CHECK(repo.read("cairn.lock") == lock);
    CHECK(outcomes(repro_json(repo))["train"] == "frozen");

    // Unchanged and frozen is simply up to date.
    repo.write("cairn.yaml", replaced(yaml, "    cmd: ./train.sh\n", "    cmd: ./train.sh\n    frozen: true\n"));
    repo.write("train.sh", replaced(repo.read("train.sh"), "# edited\n", ""));
    CHECK(contains(repo.ok({"repro"}).out, "Pipeline cairn.yaml is up to date (3 stages)."));
}

TEST_CASE("runs of one stage share its name without a warning, a run of another kind is warned of", "[repro]") {
    Repo repo;
    three_stages(repo);
    repro_json(repo);
    repo.write("params.yaml", "train:\n  lr: 0.01\n  epochs: 3\nprepare:\n  split: 0.2\n");
    repro_json(repo);
    REQUIRE(repo.ok({"ls", "--json", "--filter", "stage = \"train\""}).json().size() == 2);
    Result show = repo.ok({"show", "train"});
    CHECK_FALSE(contains(show.err, "names 2 runs"));
    Result diff = repo.ok({"diff", "train~1", "train"});
    CHECK_FALSE(contains(diff.err, "names"));

    repo.ok({"run", "-n", "train", "--", "true"});
    Result mixed = repo.ok({"show", "train"});
    CHECK(contains(mixed.err, "'train' names 3 runs; using the latest"));
}

TEST_CASE("a sweep's table tells a param and a metric of one name apart", "[repro][sweep]") {
    Repo repo;
    repo.write("params.yaml", "acc: 0.5\nlr: 0.1\n");
    // The stage prints `acc: <its param acc doubled>`: a metric named like the param it sweeps.
    repo.write("cairn.yaml", R"yaml(stages:
  train:
    cmd: >-
      a=$(grep 'acc:' params.yaml | awk '{print $2}'); echo "acc: $((a * 2))"; echo "$a" > model.txt
    params: [acc, lr]
    outs: [model.txt]
)yaml");
    repo.commit();
    Result r = repo.cairn({"repro", "-S", "acc=1,2", "-S", "lr=0.1", "train"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    // The stage's own output comes first (stdout), the table last.
    REQUIRE(r.out.find("\ntrial ") != std::string::npos);
    std::string table = r.out.substr(r.out.find("\ntrial ") + 1);
    std::string header = table.substr(0, table.find('\n'));
    CHECK(contains(header, "params.acc"));
    CHECK(contains(header, "metrics.acc"));
    CHECK(contains(header, " lr"));
    CHECK_FALSE(contains(header, "params.lr"));
    // The rows hold the value given and the metric reported, under their own headers.
    std::string row = table.substr(table.find('\n') + 1);
    row = row.substr(0, row.find('\n'));
    auto column = [&](const std::string& name) {
        std::size_t at = header.find(name);
        REQUIRE(at != std::string::npos);
        return row.substr(at, row.find(' ', at) - at);
    };
    CHECK(column("params.acc") == "1");
    CHECK(column("metrics.acc") == "2");
}

TEST_CASE("a dependency that cairn tracks but is not checked out says so and names the checkout", "[repro]") {
    Repo repo;
    repo.write("data/raw.csv", "a,b\n1,2\n");
    repo.write("images/cat.png", "meow\n");
    repo.ok({"add", "data/raw.csv", "images"});
    repo.write("cairn.yaml", "stages:\n  prepare:\n    cmd: cat data/raw.csv images/cat.png > prepared.csv\n"
                             "    deps: [data/raw.csv, images/cat.png]\n    outs: [prepared.csv]\n");
    repo.commit();
    // A fresh clone before `cairn checkout`: the pointers are there, the data is not.
    stdfs::remove(repo.path("data/raw.csv"));
    stdfs::remove_all(repo.path("images"));

    auto reasons = status_reasons(repo);
    CHECK(reasons["prepare"] == std::vector<std::string>{
                                    "dependency data/raw.csv missing (tracked by data/raw.csv.cairn, not checked out: "
                                    "run 'cairn checkout data/raw.csv')",
                                    "dependency images/cat.png missing (tracked by images.cairn, not checked out: run "
                                    "'cairn checkout images')",
                                    "not in the lock file (never run)"});
    Result r = repo.cairn({"repro"});
    CHECK(r.code == 1);
    CHECK(contains(r.err, "stage prepare: failed (dependency data/raw.csv is tracked by data/raw.csv.cairn but its data "
                          "is not in the workspace: run 'cairn checkout data/raw.csv')"));
    CHECK_FALSE(contains(r.err, "no stage before it writes it"));

    repo.ok({"checkout", "data/raw.csv", "images"});
    repo.ok({"repro"});
    CHECK(repo.read("prepared.csv") == "a,b\n1,2\nmeow\n");
}

TEST_CASE("a full repro drops the lock entries of stages removed from the pipeline file", "[repro]") {
    Repo repo;
    repo.write("cairn.yaml", "stages:\n  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n"
                             "  old:\n    cmd: echo o > o.txt\n    outs: [o.txt]\n");
    repro_json(repo);
    // dvc.yaml beside it locks to the same cairn.lock: its stages are not "removed".
    repo.write("dvc.yaml", "stages:\n  d:\n    cmd: echo d > d.txt\n    outs: [d.txt]\n");
    repro_json(repo, {"-f", "dvc.yaml"});
    REQUIRE(contains(repo.read("cairn.lock"), "\n  old:\n"));
    REQUIRE(contains(repo.read("cairn.lock"), "\n  d:\n"));
    repo.write("cairn.yaml", "stages:\n  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n");

    json status = repo.ok({"status", "--json"}).json();
    CHECK(status["removed_stages"] == json::array({"old"}));
    CHECK(contains(repo.ok({"status"}).out, "cairn.lock has entries of stages no longer in cairn.yaml: old"));

    // A repro of chosen stages, or a dry run, leaves the other entries alone.
    repro_json(repo, {"a"});
    repo.ok({"repro", "--dry-run"});
    CHECK(contains(repo.read("cairn.lock"), "\n  old:\n"));

    Result r = repo.ok({"repro"});
    CHECK(contains(r.err, "cairn.lock: removed the entry of stage old (no longer in cairn.yaml)"));
    CHECK(contains(r.out, "Removed from cairn.lock the entries of stages no longer in cairn.yaml: old."));
    std::string lock = repo.read("cairn.lock");
    CHECK_FALSE(contains(lock, "\n  old:\n"));
    CHECK(contains(lock, "\n  a:\n"));
    CHECK(contains(lock, "\n  d:\n"));
    CHECK(repo.ok({"status", "--json"}).json()["removed_stages"].empty());
    CHECK(repro_json(repo)["removed_from_lock"].empty());
}

TEST_CASE("repro -S writes a value where cairn run -p would: every file holding it, else under its mapping",
          "[repro][sweep][params]") {
    Repo repo;
    repo.write("params.yaml", "train:\n  lr: 0.1\nseed: 1\n");
    repo.write("config/model.yaml", "model:\n  depth: 50\nseed: 1\n");
    repo.write("cairn.yaml", R"(stages:
  train:
    cmd: cat params.yaml config/model.yaml > model.txt
    params:
    - train.lr
    - config/model.yaml:
    outs: [model.txt]
)");
    repo.commit();
    Result r = repo.cairn({"repro", "-S", "model.dropout=0.1,0.2", "-S", "seed=7", "train", "--json"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    json j = r.json();
    REQUIRE(j["trials"].size() == 2);
    std::string second = j["trials"][1]["run"];
    json shown = repo.ok({"show", second, "--json"}).json();
    CHECK(shown["params"]["model.dropout"] == 0.2);
    CHECK(shown["params"]["seed"] == 7);
    // The trial's command read the value from the file that has `model:` (not a new `model:` in
    // params.yaml), and `seed` from both files that hold it.
    repo.ok({"apply", second, "--force"});
    CHECK(repo.read("model.txt") == "train:\n  lr: 0.1\nseed: 7\nmodel:\n  depth: 50\n  dropout: 0.2\nseed: 7\n");
    CHECK(repo.read("config/model.yaml") == "model:\n  depth: 50\n  dropout: 0.2\nseed: 7\n");
    CHECK(repo.read("params.yaml") == "train:\n  lr: 0.1\nseed: 7\n");

    // -S and -p split KEY=VALUE alike.
    Result bad = repo.cairn({"repro", "-S", "=1", "train"});
    CHECK(bad.code == 2);
    CHECK(contains(bad.err, "-S '=1' must be KEY=VALUE"));
    Result bad_run = repo.cairn({"run", "-p", "=1", "--", "true"});
    CHECK(bad_run.code == 2);
    CHECK(contains(bad_run.err, "parameter '=1' must be KEY=VALUE"));
}
