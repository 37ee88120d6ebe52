// cairn apply: continuing from a recorded run.
#include <catch2/catch.hpp>

#include "core/util/strings.hpp"
#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

namespace {

std::string trim(const std::string& s) { return std::string(cairn::util::trim(s)); }

// gen.sh writes model.txt from p.txt; run "good" with p.txt = a, then p.txt = b is committed
// and run "later" overwrites model.txt.
void two_runs(const Repo& repo) {
    repo.write_script("gen.sh", "#!/bin/sh\necho \"model of $(cat p.txt)\" > model.txt\n");
    repo.write("p.txt", "a\n");
    repo.write(".gitignore", "model.txt\n");
    repo.commit("a");
    repo.ok({"run", "-n", "good", "-o", "model.txt", "--", "./gen.sh"});
    repo.write("p.txt", "b\n");
    repo.git({"commit", "-q", "-a", "-m", "b"});
    repo.ok({"run", "-n", "later", "-o", "model.txt", "--", "./gen.sh"});
    REQUIRE(repo.read("model.txt") == "model of b\n");
}

} // namespace

TEST_CASE("apply brings a run's code and outputs into the work tree without moving HEAD or the index", "[e2e][apply]") {
    Repo repo;
    two_runs(repo);
    std::string head = trim(repo.git({"rev-parse", "HEAD"}).out);
    std::string index = repo.read(".git/index");
    auto j = repo.ok({"apply", "good", "--json"}).json();
    CHECK(repo.read("model.txt") == "model of a\n");
    CHECK(repo.read("p.txt") == "a\n");
    CHECK(j["code_files"] == nlohmann::json::array({"p.txt"}));
    CHECK(j["outputs"] == nlohmann::json::array({"model.txt"}));
    CHECK(j["stash"].is_null());
    CHECK(trim(repo.git({"rev-parse", "HEAD"}).out) == head);
    CHECK(repo.read(".git/index") == index);
    CHECK(trim(repo.git({"status", "--porcelain"}).out) == "M p.txt");

    // --outputs-only leaves the code as it is.
    repo.git({"checkout", "--", "p.txt"});
    repo.ok({"apply", "later", "--outputs-only"});
    CHECK(repo.read("model.txt") == "model of b\n");
    repo.ok({"apply", "good", "--outputs-only"});
    CHECK(repo.read("model.txt") == "model of a\n");
    CHECK(repo.read("p.txt") == "b\n");
}

TEST_CASE("apply refuses to overwrite uncommitted work, and with --force saves it first", "[e2e][apply]") {
    Repo repo;
    two_runs(repo);
    repo.write_script("gen.sh", "#!/bin/sh\necho edited > model.txt\n"); // uncommitted edit
    repo.write("model.txt", "hand-made model\n");                // bytes in no run, not in the cache
    Result refused = repo.cairn({"apply", "good"});
    CHECK(refused.code == 3);
    CHECK(contains(refused.err, "would overwrite uncommitted changes"));
    CHECK(contains(refused.err, "gen.sh (uncommitted change)"));
    CHECK(contains(refused.err, "output model.txt"));
    CHECK(contains(refused.err, "--force"));
    // Nothing changed.
    CHECK(repo.read("gen.sh") == "#!/bin/sh\necho edited > model.txt\n");
    CHECK(repo.read("model.txt") == "hand-made model\n");
    CHECK(repo.read("p.txt") == "b\n");
    CHECK(repo.git({"rev-parse", "--verify", "-q", "refs/cairn/apply/stash"}).code != 0);

    Result forced = repo.cairn({"apply", "good", "--force"});
    INFO(forced.err);
    REQUIRE(forced.code == 0);
    CHECK(contains(forced.out, "saved your uncommitted work as refs/cairn/apply/stash"));
    CHECK(contains(forced.out, "cairn apply --undo"));
    CHECK(repo.read("model.txt") == "model of a\n");
    CHECK(repo.read("p.txt") == "a\n");
    CHECK(cairn::util::starts_with(repo.read("gen.sh"), "#!/bin/sh\necho \"model of"));
    // The edit is in the stash; the hand-made model is in the cache.
    CHECK(repo.git({"show", "refs/cairn/apply/stash:gen.sh"}).out == "#!/bin/sh\necho edited > model.txt\n");
    {
        repo.write("probe.txt", "hand-made model\n");
        std::string id = sha256_id_of_file(repo.path("probe.txt"));
        CHECK(repo.exists(Repo::object_rel(id)));
        CHECK(contains(forced.out, id));
    }
    // Getting the work back is plain git.
    REQUIRE(repo.git({"checkout", "refs/cairn/apply/stash", "--", "gen.sh"}).code == 0);
    CHECK(repo.read("gen.sh") == "#!/bin/sh\necho edited > model.txt\n");

    // A second forced apply keeps the first stash under another name.
    std::string first = trim(repo.git({"rev-parse", "refs/cairn/apply/stash"}).out);
    repo.ok({"apply", "later", "--force"});
    std::string second = trim(repo.git({"rev-parse", "refs/cairn/apply/stash"}).out);
    CHECK(second != first);
    CHECK(trim(repo.git({"rev-parse", "refs/cairn/apply/stash-" + first.substr(0, 12)}).out) == first);
    // gc keeps what the stashes need.
    repo.ok({"gc"});
    CHECK(repo.git({"fsck", "--strict"}).code == 0);
}

TEST_CASE("apply brings tracked data in line with the pointer files it brings in", "[e2e][apply]") {
    Repo repo;
    repo.write("data.txt", "version 1\n");
    repo.ok({"add", "data.txt"});
    repo.write_script("use.sh", "#!/bin/sh\ncat data.txt > used.txt\n");
    repo.write(".gitignore", "used.txt\ndata.txt\n");
    repo.commit("v1");
    repo.ok({"run", "-n", "v1", "-o", "used.txt", "--", "./use.sh"});
    repo.write("data.txt", "version 2\n");
    repo.ok({"add", "data.txt"});
    repo.git({"commit", "-q", "-a", "-m", "v2"});

    // Data edited by hand and not saved: in the way.
    repo.write("data.txt", "hand edit\n");
    Result refused = repo.cairn({"apply", "v1"});
    CHECK(refused.code == 3);
    CHECK(contains(refused.err, "tracked data data.txt"));
    CHECK(repo.read("data.txt") == "hand edit\n");

    repo.ok({"checkout", "--force"});
    REQUIRE(repo.read("data.txt") == "version 2\n");
    auto j = repo.ok({"apply", "v1", "--json"}).json();
    CHECK(j["pointers_changed"] == nlohmann::json::array({"data.txt.cairn"}));
    CHECK(j["data"] == nlohmann::json::array({"data.txt"}));
    CHECK(repo.read("data.txt") == "version 1\n");
    CHECK(repo.read("used.txt") == "version 1\n");
    CHECK(repo.ok({"status", "--json"}).json()["clean"] == true);
}

TEST_CASE("a refused apply changes nothing, not even outputs whose bytes are in the cache", "[e2e][apply]") {
    Repo repo;
    two_runs(repo); // model.txt holds "later"'s output, which the cache has
    repo.write("p.txt", "uncommitted\n");
    Result refused = repo.cairn({"apply", "good"});
    CHECK(refused.code == 3);
    CHECK(contains(refused.err, "p.txt (uncommitted change)"));
    CHECK(repo.read("model.txt") == "model of b\n");
    CHECK(repo.read("p.txt") == "uncommitted\n");
}
