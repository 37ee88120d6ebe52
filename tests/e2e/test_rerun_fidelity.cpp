// Re-runs that must not blame non-determinism for what is plainly something else, and warnings
// about metric lines that cannot be read.
#include <catch2/catch.hpp>

#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

TEST_CASE("a re-run creates the directories its declared outputs go in", "[e2e][rerun]") {
    Repo repo;
    repo.write_script("train.sh", "#!/bin/sh\necho model > data/model.txt\n");
    repo.commit("train");
    // data/ exists in the work tree (made with mkdir), but git does not track an empty directory.
    stdfs::create_directories(repo.path("data"));
    repo.ok({"run", "-n", "t", "-o", "data/model.txt", "--", "./train.sh"});
    Result rerun = repo.cairn({"rerun", "t", "--json"});
    INFO(rerun.out << rerun.err);
    CHECK(rerun.code == 0);
    CHECK(rerun.json()["verdict"] == "reproduced");
}

TEST_CASE("when the re-run's exit code differs, the verdict says so first and shows the end of its log", "[e2e][rerun]") {
    Repo repo;
    // The command reads a file that is neither in git nor tracked by cairn: the re-run cannot see it.
    repo.write_script("train.sh", "#!/bin/sh\ncat notes.txt > out.txt\n");
    repo.write(".gitignore", "notes.txt\nout.txt\n");
    repo.commit("train");
    repo.write("notes.txt", "hand-made\n");
    repo.ok({"run", "-n", "t", "-o", "out.txt", "--", "./train.sh"});
    Result rerun = repo.cairn({"rerun", "t"});
    INFO(rerun.out << rerun.err);
    CHECK(rerun.code == 1);
    CHECK(contains(rerun.out, "the re-run exited 1 where the run exited 0; the end of its log:"));
    CHECK(contains(rerun.out, "notes.txt"));
    CHECK_FALSE(contains(rerun.out, "non-deterministic"));
    auto j = repo.cairn({"rerun", "t", "--json"}).json();
    CHECK(j["steps"][0]["nondeterministic"] == false);
    REQUIRE(!j["steps"][0]["log_tail"].empty());
    CHECK(contains(j["steps"][0]["log_tail"].back().get<std::string>(), "notes.txt"));
}

TEST_CASE("malformed lines in CAIRN_METRICS_FILE are counted in one warning naming the first", "[e2e][run]") {
    Repo repo;
    Result r = repo.ok({"run", "--", "sh", "-c",
                        "echo 'loss 0.5' >> \"$CAIRN_METRICS_FILE\"; echo 'loss: oops' >> \"$CAIRN_METRICS_FILE\"; "
                        "echo 'acc x y z w' >> \"$CAIRN_METRICS_FILE\"; echo 'acc 0.9' >> \"$CAIRN_METRICS_FILE\""});
    CHECK(contains(r.err, "cairn: warning: 2 line(s) of $CAIRN_METRICS_FILE"));
    CHECK(contains(r.err, "the first: line 2:"));
    auto run = repo.ok({"show", "last", "--json"}).json();
    CHECK(run["metrics"]["loss"]["last"] == 0.5);
    CHECK(run["metrics"]["acc"]["last"] == 0.9);
    // A good file gives no warning.
    CHECK_FALSE(contains(repo.ok({"run", "--", "sh", "-c", "echo 'a 1' >> \"$CAIRN_METRICS_FILE\""}).err, "warning"));
}
