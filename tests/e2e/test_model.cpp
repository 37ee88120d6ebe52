// The model registry: versions, aliases with history and compare-and-swap, deprecation, get,
// model:NAME@ALIAS as a run name, the dvc.yaml artifacts section, and GTO's tags.
#include <catch2/catch.hpp>

#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

namespace {

// A repository with tracked training data and two finished training runs (acc 0.81, then 0.9).
struct Trained {
    Repo repo;
    std::string first, second;
    Trained() {
        repo.write("data/train.csv", "x,y\n1,2\n");
        repo.ok({"add", "data/train.csv"});
        repo.commit("data");
        repo.write_script("train.sh", "#!/bin/sh\n(cat data/train.csv; echo \"$1\") > model.bin\necho \"acc: $1\"\n");
        repo.commit("code");
        first = repo.ok({"run", "--json", "-n", "train", "-d", "data/train.csv", "-o", "model.bin", "--", "./train.sh", "0.81"})
                    .json()["id"];
        second = repo.ok({"run", "--json", "-n", "train", "-d", "data/train.csv", "-o", "model.bin", "--", "./train.sh", "0.9"})
                     .json()["id"];
    }
};

} // namespace

TEST_CASE("model register makes numbered versions that record run, object, metrics and training data",
          "[e2e][model]") {
    Trained t;
    Result r1 = t.repo.ok({"model", "register", "churn", t.first.substr(0, 8), "-m", "baseline", "--json"});
    auto v1 = r1.json();
    CHECK(v1["version"] == "v1");
    CHECK(v1["run"] == t.first);
    CHECK(v1["path"] == "model.bin");
    CHECK(v1["description"] == "baseline");
    CHECK(v1["metrics"]["acc"] == Approx(0.81));
    REQUIRE(v1["trained_on"].size() == 1);
    CHECK(v1["trained_on"][0]["path"] == "data/train.csv");
    std::string data_id = t.repo.ok({"show", "train~1", "--json"}).json()["inputs"]["data/train.csv"];
    CHECK(v1["trained_on"][0]["object"] == data_id);
    CHECK(v1["size"] == t.repo.read(Repo::object_rel(v1["object"])).size());
    CHECK(v1["registered_by"] == "cairn test <test@example.com>"); // GIT_AUTHOR_NAME/EMAIL, as git takes them

    auto v2 = t.repo.ok({"model", "register", "churn", "train:model.bin", "--json"}).json();
    CHECK(v2["version"] == "v2");
    CHECK(v2["run"] == t.second);
    CHECK(v2["object"] != v1["object"]);

    // Stored as refs whose commits hold model.yaml.
    std::string refs = git_out(t.repo, {"for-each-ref", "--format=%(refname)", "refs/cairn/models/"});
    CHECK(refs == "refs/cairn/models/churn/versions/v1\nrefs/cairn/models/churn/versions/v2\n");
    std::string yaml = git_out(t.repo, {"show", "refs/cairn/models/churn/versions/v2:model.yaml"});
    CHECK(yaml.find("schema: cairn-model/1") == 0);
    CHECK(yaml.find("run: " + t.second) != std::string::npos);

    auto listed = t.repo.ok({"model", "ls", "--json"}).json();
    REQUIRE(listed.size() == 1);
    CHECK(listed[0]["name"] == "churn");
    CHECK(listed[0]["versions"] == 2);
    CHECK(listed[0]["latest"] == "v2");
    CHECK(t.repo.ok({"model", "ls", "churn", "--json"}).json().size() == 2);
    CHECK(t.repo.ok({"model", "show", "churn", "--json"}).json()["version"] == "v2");
    CHECK(t.repo.ok({"model", "show", "churn@v1", "--json"}).json()["run"] == t.first);
    Result unknown = t.repo.cairn({"model", "show", "churn@v7"});
    CHECK(unknown.code == 3);
    CHECK(unknown.err.find("has no version v7 (it has v1 to v2)") != std::string::npos);

    // gc keeps what a version names, after its run is deleted; rm says what is lost.
    Result removed = t.repo.cairn({"rm", t.first.substr(0, 8)});
    CHECK(removed.code == 0);
    CHECK(removed.err.find("churn@v1 registered from this run") != std::string::npos);
    CHECK(t.repo.cairn({"rm", t.second.substr(0, 8)}).err.find("churn@v2") != std::string::npos);
    t.repo.ok({"gc"});
    CHECK(t.repo.exists(Repo::object_rel(v1["object"])));
}

TEST_CASE("model aliases move with history, and model:NAME@ALIAS names the run", "[e2e][model]") {
    Trained t;
    t.repo.ok({"model", "register", "churn", t.first.substr(0, 8), "--alias", "staging"});
    t.repo.ok({"model", "register", "churn", t.second.substr(0, 8)});
    t.repo.ok({"model", "alias", "churn@prod", "v1"});
    Result moved = t.repo.ok({"model", "alias", "churn@prod", "churn@v2", "--json"});
    CHECK(moved.json()["previous"] == "v1");
    CHECK(moved.json()["version"] == "v2");
    t.repo.ok({"model", "alias", "--delete", "churn@staging"});

    auto shown = t.repo.ok({"model", "show", "churn@prod", "--history", "--json"}).json();
    CHECK(shown["version"] == "v2");
    CHECK(shown["aliases"] == nlohmann::json::array({"prod"}));
    auto history = shown["history"];
    REQUIRE(history.size() == 4);
    int prod_moves = 0, deletions = 0;
    for (const auto& e : history) {
        if (e["alias"] == "prod") ++prod_moves;
        if (e["version"].is_null()) {
            ++deletions;
            CHECK(e["alias"] == "staging");
            CHECK(e["previous"] == "v1");
        }
    }
    CHECK(prod_moves == 2);
    CHECK(deletions == 1);
    CHECK(t.repo.ok({"model", "ls", "--json"}).json()[0]["aliases"] == nlohmann::json({{"prod", "v2"}}));

    // Wherever a run is named.
    CHECK(t.repo.ok({"show", "model:churn@prod", "--json"}).json()["id"] == t.second);
    CHECK(t.repo.ok({"show", "model:churn@v1", "--json"}).json()["id"] == t.first);
    CHECK(t.repo.ok({"diff", "model:churn@v1", "model:churn@prod"}).code == 0);
    Result lineage = t.repo.ok({"lineage", "model:churn@prod", "--json"});
    CHECK(lineage.out.find("data/train.csv") != std::string::npos);
    Result rerun = t.repo.cairn({"rerun", "model:churn@prod"});
    CHECK(rerun.code == 0);

    Result unknown = t.repo.cairn({"show", "model:churn@prd"});
    CHECK(unknown.code == 3);
    CHECK(unknown.err.find("no alias 'prd' (did you mean 'prod'?)") != std::string::npos);
    Result typo = t.repo.cairn({"model", "show", "chrun"});
    CHECK(typo.code == 3);
    CHECK(typo.err.find("did you mean 'churn'?") != std::string::npos);
    CHECK(t.repo.cairn({"model", "alias", "churn@v3", "v1"}).err.find("reserved") != std::string::npos);
    CHECK(t.repo.cairn({"model", "alias", "churn@prod", "v9"}).err.find("no version v9") != std::string::npos);
    CHECK(t.repo.cairn({"model", "register", "../x", "train"}).code == 3);
}

TEST_CASE("moving an alias is a compare-and-swap: a move based on a stale view fails", "[e2e][model]") {
    Trained t;
    t.repo.ok({"model", "register", "churn", t.first.substr(0, 8)});
    t.repo.ok({"model", "register", "churn", t.second.substr(0, 8)});
    t.repo.ok({"model", "alias", "churn@prod", "v1"});
    // Several promotions at once: each either lands or fails with exit 7; none is lost silently.
    std::vector<std::unique_ptr<Child>> children;
    for (int i = 0; i < 6; ++i) children.push_back(t.repo.spawn({"model", "alias", "churn@prod", i % 2 ? "v1" : "v2"}));
    int landed = 0;
    for (auto& c : children) {
        int code = c->wait();
        CHECK((code == 0 || code == 7));
        if (code == 0) ++landed;
    }
    CHECK(landed >= 1);
    // The alias's history holds exactly the moves that landed, each from the one before it.
    auto history = t.repo.ok({"model", "show", "churn@prod", "--history", "--json"}).json()["history"];
    CHECK(static_cast<int>(history.size()) == landed + 1);
    std::string chain = git_out(t.repo, {"rev-list", "--count", "refs/cairn/models/churn/aliases/prod"});
    CHECK(std::stoi(chain) == landed + 1);
}

TEST_CASE("concurrent registrations of one model get distinct version numbers", "[e2e][model]") {
    Trained t;
    std::vector<std::unique_ptr<Child>> children;
    for (int i = 0; i < 5; ++i) children.push_back(t.repo.spawn({"model", "register", "churn", t.second.substr(0, 8)}));
    for (auto& c : children) CHECK(c->wait() == 0);
    auto versions = t.repo.ok({"model", "ls", "churn", "--json"}).json();
    REQUIRE(versions.size() == 5);
    for (int i = 0; i < 5; ++i) CHECK(versions[i]["version"] == "v" + std::to_string(i + 1));
}

TEST_CASE("model get writes the verified bytes, deprecate keeps a version but skips it as latest", "[e2e][model]") {
    Trained t;
    t.repo.ok({"model", "register", "churn", t.first.substr(0, 8)});
    t.repo.ok({"model", "register", "churn", t.second.substr(0, 8), "--alias", "prod"});
    std::string expected = t.repo.read("model.bin");
    t.repo.ok({"model", "get", "churn@prod", "-o", "served.bin"});
    CHECK(t.repo.read("served.bin") == expected);
    Result exists = t.repo.cairn({"model", "get", "churn@prod", "-o", "served.bin"});
    CHECK(exists.code == 3);
    CHECK(exists.err.find("-f") != std::string::npos);
    t.repo.ok({"model", "get", "churn@v1", "-o", "served.bin", "-f"});
    CHECK(t.repo.read("served.bin") != expected);

    // A corrupt object is refused, nothing is written.
    std::string object = t.repo.ok({"model", "show", "churn@prod", "--json"}).json()["object"];
    std::string rel = Repo::object_rel(object);
    stdfs::permissions(t.repo.path(rel), stdfs::perms::owner_write, stdfs::perm_options::add);
    t.repo.write(rel, "tampered");
    Result corrupt = t.repo.cairn({"model", "get", "churn@prod", "-o", "other.bin"});
    CHECK(corrupt.code == 6);
    CHECK_FALSE(t.repo.exists("other.bin"));

    CHECK(t.repo.cairn({"model", "deprecate", "churn@v2"}).err.find("still has alias prod") != std::string::npos);
    t.repo.ok({"model", "alias", "--delete", "churn@prod"});
    t.repo.ok({"model", "deprecate", "churn@v2", "-m", "leaks labels"});
    auto latest = t.repo.ok({"model", "show", "churn", "--json"}).json();
    CHECK(latest["version"] == "v1");
    // The listing (from the refs' names) agrees: two versions, v1 the latest, no alias left.
    auto listed = t.repo.ok({"model", "ls", "--json"}).json();
    REQUIRE(listed.size() == 1);
    CHECK(listed[0]["versions"] == 2);
    CHECK(listed[0]["latest"] == "v1");
    CHECK(listed[0]["aliases"] == nlohmann::json::object());
    auto v2 = t.repo.ok({"model", "show", "churn@v2", "--json"}).json();
    CHECK(v2["deprecated"] == true);
    CHECK(v2["deprecation"]["reason"] == "leaks labels");
    CHECK(t.repo.cairn({"model", "alias", "churn@prod", "v2"}).err.find("deprecated") != std::string::npos);
    CHECK(t.repo.cairn({"model", "deprecate", "churn@v2"}).code == 3);
}

TEST_CASE("model register without a run takes the latest writer of a dvc.yaml artifact", "[e2e][model]") {
    Trained t;
    t.repo.write("dvc.yaml", "stages:\n  noop:\n    cmd: 'true'\nartifacts:\n  churn:\n    path: model.bin\n    type: model\n");
    auto v = t.repo.ok({"model", "register", "churn", "--json"}).json();
    CHECK(v["run"] == t.second);
    Result missing = t.repo.cairn({"model", "register", "other"});
    CHECK(missing.code == 3);
    CHECK(missing.err.find("no artifact 'other'") != std::string::npos);
}

TEST_CASE("registry.gto writes the annotated tags GTO reads", "[e2e][model]") {
    Trained t;
    t.repo.write(".cairn/config.yaml", t.repo.read(".cairn/config.yaml") + "registry:\n  gto: true\n");
    t.repo.ok({"model", "register", "churn", t.first.substr(0, 8)});
    t.repo.ok({"model", "register", "churn", t.second.substr(0, 8), "--alias", "prod"});
    t.repo.ok({"model", "alias", "churn@prod", "v1"});
    t.repo.ok({"model", "alias", "--delete", "churn@prod"});
    t.repo.ok({"model", "deprecate", "churn@v2"});
    std::string tags = git_out(t.repo, {"tag", "-l"});
    CHECK(tags == "churn#prod!#3\nchurn#prod#1\nchurn#prod#2\nchurn@v1.0.0\nchurn@v2.0.0\nchurn@v2.0.0!\n");
    // Annotated, on the commit the run's code was based on.
    CHECK(git_out(t.repo, {"cat-file", "-t", "churn@v1.0.0"}) == "tag\n");
    std::string base = t.repo.ok({"show", t.first.substr(0, 8), "--json"}).json()["git"]["commit"];
    CHECK(git_out(t.repo, {"rev-list", "-n1", "churn@v1.0.0"}) == base + "\n");
    CHECK(git_out(t.repo, {"rev-list", "-n1", "churn#prod#2"}) == base + "\n");
    Result bad = t.repo.cairn({"model", "register", "Churn_2", t.first.substr(0, 8)});
    CHECK(bad.code == 3);
    CHECK(bad.err.find("GTO") != std::string::npos);
}
