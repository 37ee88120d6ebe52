// cairn apply: a run's parameter values (-p overrides) brought into its parameter files.
#include <catch2/catch.hpp>

#include "core/util/strings.hpp"
#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

namespace {

const std::string k_params = "# training set-up\n"
                             "train:\n"
                             "  lr: 0.1      # learning rate\n"
                             "  epochs: 3\n"
                             "model: 'resnet'  # quoted on purpose\n";

// params.yaml committed; train.sh copies what it reads to seen.yaml (an output), so a test can
// compare the applied file with the bytes the run's command read.
void setup(const Repo& repo) {
    repo.write("params.yaml", k_params);
    repo.write_script("train.sh", "#!/bin/sh\ncp params.yaml seen.yaml\n");
    repo.write(".gitignore", "seen.yaml\n");
    repo.commit("set-up");
}

std::string trim(const std::string& s) {
    return std::string(cairn::util::trim(s));
}

nlohmann::json value(const std::string& text, const std::string& type) {
    return {{"value", text}, {"type", type}};
}

} // namespace

TEST_CASE("apply writes a run's -p values into params.yaml, byte for byte what the command read",
          "[e2e][apply][params]") {
    Repo repo;
    setup(repo);
    repo.ok({"run", "-n", "fast", "-p", "train.lr=0.01", "-p", "model=vit", "-p", "train.seed=7",
             "-o", "seen.yaml", "--", "./train.sh"});
    std::string seen = repo.read("seen.yaml");
    REQUIRE(seen != k_params);
    REQUIRE(repo.read("params.yaml") == k_params); // put back when the command ended
    std::filesystem::remove(repo.path("seen.yaml"));

    Result text = repo.cairn({"apply", "fast"});
    INFO(text.err);
    REQUIRE(text.code == 0);
    // Only the three values changed: comments, quoting style and order are kept.
    CHECK(repo.read("params.yaml") == seen);
    CHECK(cairn::util::starts_with(
        seen, "# training set-up\ntrain:\n  lr: 0.01      # learning rate\n  epochs: 3\n"));
    CHECK(contains(seen, "model: 'vit'  # quoted on purpose\n"));
    CHECK(contains(seen, "seed: 7"));
    CHECK(repo.read("seen.yaml") == seen);
    CHECK(contains(text.out, "params.yaml: train.lr 0.1 -> 0.01\n"));
    CHECK(contains(text.out, "params.yaml: model \"resnet\" -> \"vit\"\n"));
    CHECK(contains(text.out, "params.yaml: train.seed (absent) -> 7\n"));
    CHECK(contains(text.out, "3 parameter value(s)"));
    CHECK(trim(repo.git({"status", "--porcelain"}).out) == "M params.yaml");

    // The JSON lists the changes; a second apply finds nothing to change and nothing in the way.
    repo.git({"checkout", "--", "params.yaml"});
    auto j = repo.ok({"apply", "fast", "--json"}).json();
    CHECK(j["param_files"] == nlohmann::json::array({"params.yaml"}));
    REQUIRE(j["params"].size() == 3);
    CHECK(j["params"][0] == nlohmann::json({{"file", "params.yaml"},
                                            {"key", "model"},
                                            {"from", value("resnet", "string")},
                                            {"to", value("vit", "string")}}));
    CHECK(j["params"][1] == nlohmann::json({{"file", "params.yaml"},
                                            {"key", "train.lr"},
                                            {"from", value("0.1", "float")},
                                            {"to", value("0.01", "float")}}));
    CHECK(j["params"][2] == nlohmann::json({{"file", "params.yaml"},
                                            {"key", "train.seed"},
                                            {"from", nullptr},
                                            {"to", value("7", "int")}}));
    CHECK(repo.read("params.yaml") == seen);
    auto again = repo.ok({"apply", "fast", "--json"}).json();
    CHECK(again["params"] == nlohmann::json::array());
    CHECK(again["param_files"] == nlohmann::json::array());
    CHECK(again["stash"].is_null());
    CHECK(repo.read("params.yaml") == seen);

    // --outputs-only leaves the parameter files alone.
    repo.git({"checkout", "--", "params.yaml"});
    auto outputs = repo.ok({"apply", "fast", "--outputs-only", "--json"}).json();
    CHECK(outputs["params"] == nlohmann::json::array());
    CHECK(repo.read("params.yaml") == k_params);
}

TEST_CASE("apply of a run whose values the file already holds changes nothing",
          "[e2e][apply][params]") {
    Repo repo;
    setup(repo);
    repo.ok({"run", "-n", "plain", "-o", "seen.yaml", "--", "./train.sh"});
    // A -p value equal to the file's is no change either.
    repo.ok({"run", "-n", "same", "-p", "train.lr=0.1", "-o", "seen.yaml", "--", "./train.sh"});
    for (const char* run : {"plain", "same"}) {
        Result r = repo.cairn({"apply", run});
        INFO(r.err);
        REQUIRE(r.code == 0);
        CHECK_FALSE(contains(r.out, "params.yaml:"));
        CHECK(contains(r.out, "0 parameter value(s)"));
        CHECK(repo.read("params.yaml") == k_params);
        CHECK(trim(repo.git({"status", "--porcelain"}).out).empty());
    }
}

TEST_CASE("apply refuses to overwrite uncommitted changes in a parameter file, --force saves them "
          "and --undo puts them back",
          "[e2e][apply][params]") {
    Repo repo;
    setup(repo);
    repo.ok({"run", "-n", "fast", "-p", "train.lr=0.01", "-o", "seen.yaml", "--", "./train.sh"});
    std::string seen = repo.read("seen.yaml");
    const std::string edited = "# training set-up\n"
                               "train:\n"
                               "  lr: 0.1      # learning rate\n"
                               "  epochs: 30   # my uncommitted edit\n"
                               "model: 'resnet'  # quoted on purpose\n";
    repo.write("params.yaml", edited);

    Result refused = repo.cairn({"apply", "fast"});
    CHECK(refused.code == 3);
    CHECK(contains(refused.err, "would overwrite uncommitted changes"));
    CHECK(contains(refused.err, "params.yaml (uncommitted change)"));
    CHECK(repo.read("params.yaml") == edited);
    CHECK(repo.git({"rev-parse", "--verify", "-q", "refs/cairn/apply/stash"}).code != 0);

    auto j = repo.ok({"apply", "fast", "--force", "--json"}).json();
    CHECK(j["stash"]["ref"] == "refs/cairn/apply/stash");
    // The snapshot's file with the run's value: the work tree holds what the run read.
    CHECK(repo.read("params.yaml") == seen);
    CHECK(j["param_files"] == nlohmann::json::array({"params.yaml"}));
    REQUIRE(j["params"].size() == 2);
    CHECK(j["params"][0]["key"] == "train.epochs");
    CHECK(j["params"][0]["from"] == value("30", "int"));
    CHECK(j["params"][0]["to"] == value("3", "int"));
    CHECK(j["params"][1]["key"] == "train.lr");

    // An edit since the apply is in the way of --undo.
    repo.write("params.yaml", seen + "# later\n");
    Result undo_refused = repo.cairn({"apply", "--undo"});
    CHECK(undo_refused.code == 3);
    CHECK(contains(undo_refused.err, "params.yaml (changed since the apply)"));
    CHECK(repo.read("params.yaml") == seen + "# later\n");
    repo.write("params.yaml", seen);

    auto undone = repo.ok({"apply", "--undo", "--json"}).json();
    CHECK(undone["param_files"] == nlohmann::json::array({"params.yaml"}));
    CHECK(undone["code_files"] == nlohmann::json::array());
    CHECK(repo.read("params.yaml") == edited);
    CHECK(repo.git({"rev-parse", "--verify", "-q", "refs/cairn/apply/stash"}).code != 0);
}

TEST_CASE("apply --undo restores a parameter file git ignores, and apply skips one that is gone",
          "[e2e][apply][params]") {
    Repo repo;
    repo.write("conf.yaml", "lr: 0.1\n");
    repo.write_script("train.sh", "#!/bin/sh\ncat conf.yaml > seen.yaml\n");
    repo.write(".gitignore", "seen.yaml\nconf.yaml\n");
    repo.commit("set-up");
    repo.ok({"run", "-n", "fast", "--params", "conf.yaml", "-p", "lr=0.01", "-o", "seen.yaml", "--",
             "./train.sh"});
    REQUIRE(repo.read("seen.yaml") == "lr: 0.01\n");

    // Not in git, so any content is an uncommitted change; --force keeps it in the cache.
    repo.write("conf.yaml", "lr: 0.5\n");
    CHECK(repo.cairn({"apply", "fast"}).code == 3);
    repo.ok({"apply", "fast", "--force"});
    CHECK(repo.read("conf.yaml") == "lr: 0.01\n");
    repo.ok({"gc"}); // the saved bytes are kept
    repo.ok({"apply", "--undo"});
    CHECK(repo.read("conf.yaml") == "lr: 0.5\n");

    std::filesystem::remove(repo.path("conf.yaml"));
    Result skipped = repo.cairn({"apply", "fast"});
    INFO(skipped.err);
    CHECK(skipped.code == 0);
    CHECK(contains(skipped.err, "warning: parameter file conf.yaml of run"));
    CHECK(contains(skipped.err, "is not in the work tree"));
    CHECK_FALSE(repo.exists("conf.yaml"));
}
