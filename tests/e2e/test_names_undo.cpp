// Reused run names (NAME is the latest, NAME~N the ones before), rerun --dry-run's exit status,
// apply --undo and checkout --object.
#include <catch2/catch.hpp>

#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

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
