// Reused run names (NAME is the latest, NAME~N the ones before), rerun --dry-run's exit status,
// apply --undo and checkout --object.
#include <catch2/catch.hpp>

#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

namespace {

// No re-run left a worktree behind.
bool rerun_dirs_empty(const Repo& repo) {
    if (!repo.exists(".cairn/tmp")) return true;
    for (const auto& e : stdfs::directory_iterator(repo.path(".cairn/tmp")))
        if (e.path().filename().string().rfind("rerun-", 0) == 0) return false;
    return true;
}

} // namespace

TEST_CASE("a reused name warns at run time and then names its latest run; NAME~N the earlier ones", "[e2e][undo]") {
    Repo repo;
    Result first = repo.cairn({"run", "-n", "base", "--", "true"});
    REQUIRE(first.code == 0);
    CHECK(!contains(first.err, "already used"));
    std::string old_id = repo.ok({"show", "last", "--json"}).json()["id"];

    Result second = repo.cairn({"run", "-n", "base", "--", "true"});
    REQUIRE(second.code == 0);
    CHECK(contains(second.err, "cairn: warning: the name 'base' is already used by run " + old_id.substr(0, 8)));
    CHECK(contains(second.err, "'base~1' the earlier one"));
    std::string new_id = repo.ok({"show", "last", "--json"}).json()["id"];
    REQUIRE(new_id != old_id);

    // NAME is the latest; the note goes to stderr and leaves --json stdout parseable.
    Result show = repo.cairn({"show", "base", "--json"});
    REQUIRE(show.code == 0);
    CHECK(show.json()["id"] == new_id);
    CHECK(contains(show.err, "'base' names 2 runs; using the latest, " + new_id.substr(0, 8)));
    CHECK(contains(show.err, "base~1  " + old_id.substr(0, 8)));

    // NAME~N counts back, with no note (it names one run exactly); past the end is an error.
    Result older = repo.cairn({"show", "base~1", "--json"});
    REQUIRE(older.code == 0);
    CHECK(older.json()["id"] == old_id);
    CHECK(older.err.empty());
    CHECK(repo.ok({"show", "base~0", "--json"}).json()["id"] == new_id);
    Result past = repo.cairn({"show", "base~2"});
    CHECK(past.code == 3);
    CHECK(contains(past.err, "only 2 run(s) are named 'base'"));
    Result junk = repo.cairn({"show", "base~x"});
    CHECK(junk.code == 3);
    CHECK(contains(junk.err, "expected base~N"));

    // Every command that takes a run resolves the same way.
    CHECK(repo.ok({"diff", "base~1", "base", "--json"}).out.size() > 0);
    Result ls = repo.cairn({"ls", "base~1", "--json"});
    REQUIRE(ls.code == 0);
    REQUIRE(ls.json().size() == 1);
    CHECK(ls.json()[0]["id"] == old_id);
    CHECK(repo.ok({"rerun", "base~1", "--dry-run", "--json"}).json()["steps"][0]["run"] == old_id);

    // A third run: the warning counts them and the note lists both others.
    Result third = repo.cairn({"run", "-n", "base", "--", "true"});
    REQUIRE(third.code == 0);
    CHECK(contains(third.err, "already used by 2 runs, the latest " + new_id.substr(0, 8)));
    CHECK(contains(third.err, "'base~1' to 'base~2' the earlier ones"));
    Result note = repo.cairn({"show", "base", "--json"});
    CHECK(contains(note.err, "base~1  " + new_id.substr(0, 8)));
    CHECK(contains(note.err, "base~2  " + old_id.substr(0, 8)));
    CHECK(repo.ok({"show", "base~2", "--json"}).json()["id"] == old_id);
}

TEST_CASE("a run named with a tilde is found by its own name first", "[e2e][undo]") {
    Repo repo;
    repo.ok({"run", "-n", "v", "--", "true"});
    repo.ok({"run", "-n", "v~1", "--", "true"});
    std::string tilde_id = repo.ok({"show", "last", "--json"}).json()["id"];
    CHECK(repo.ok({"show", "v~1", "--json"}).json()["id"] == tilde_id);
    CHECK(repo.ok({"show", "v", "--json"}).json()["id"] == repo.ok({"show", "last~1", "--json"}).json()["id"]);
}

TEST_CASE("rerun --dry-run prints the plan and exits as the re-run would when objects are missing", "[e2e][undo]") {
    Repo repo;
    repo.write_script("gen.sh", "#!/bin/sh\ncat in.txt > out.txt\n");
    repo.write(".gitignore", "in.txt\nout.txt\n");
    repo.commit();
    repo.write("in.txt", "input bytes\n");
    repo.ok({"run", "-n", "gen", "-d", "in.txt", "-o", "out.txt", "--", "./gen.sh"});
    CHECK(repo.cairn({"rerun", "gen", "--dry-run"}).code == 0);
    std::string in_id = repo.ok({"show", "gen", "--json"}).json()["inputs"]["in.txt"];
    stdfs::remove(repo.path(Repo::object_rel(in_id)));

    Result real = repo.cairn({"rerun", "gen"});
    REQUIRE(real.code == 6);
    Result dry = repo.cairn({"rerun", "gen", "--dry-run"});
    CHECK(dry.code == real.code);
    CHECK(contains(dry.out, "missing: "));
    CHECK(contains(dry.err, "cairn: error: 1 object(s) needed to re-run are missing"));
    CHECK(contains(dry.err, in_id.substr(0, 19)));
    Result json = repo.cairn({"rerun", "gen", "--dry-run", "--json"});
    CHECK(json.code == 6);
    auto j = json.json(); // the plan is still printed, and parseable
    CHECK(j["dry_run"] == true);
    REQUIRE(j["steps"][0]["missing"].size() == 1);
    CHECK(contains(j["steps"][0]["missing"][0].get<std::string>(), in_id.substr(0, 19)));
    CHECK(rerun_dirs_empty(repo));
}

TEST_CASE("fsck separates the kind of a problem from the pointer it names", "[e2e][undo]") {
    Repo repo;
    repo.write("data/raw/wine.csv", "a,b\n1,2\n");
    repo.ok({"add", "data/raw/wine.csv"});
    repo.write("data/raw/wine.csv.cairn", "# broken\nversion: 9\n");
    Result r = repo.cairn({"fsck"});
    CHECK(r.code == 1);
    INFO(r.out);
    CHECK(contains(r.out, "bad pointer "));
    CHECK(contains(r.out, " data/raw/wine.csv.cairn:2: pointer version 9 is not supported"));
    CHECK(!contains(r.out, "pointerdata/"));
}
