// cairn fsck and cairn gc.
#include <set>
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

namespace {

void corrupt(const Repo& repo, const std::string& id, const std::string& bytes) {
    stdfs::path object = repo.path(Repo::object_rel(id));
    ::chmod(object.c_str(), 0644);
    cairn::test::write_text(object, bytes);
}

} // namespace

TEST_CASE("fsck: clean store, corrupt object, missing object", "[e2e][fsck]") {
    Repo repo;
    repo.make_tree("data", 5, 5, 100);
    repo.write("solo.txt", "solo");
    repo.ok({"add", "data", "solo.txt"});
    Result clean = repo.ok({"fsck", "--json"});
    CHECK(clean.json()["ok"] == true);
    CHECK(clean.json()["objects"] == 8); // 5 files + solo.txt, 2 trees
    CHECK(clean.json()["problems"].empty());

    std::string victim = sha256_id_of_file(repo.path("data/d0/f2"));
    corrupt(repo, victim, "bit rot");
    std::string solo = sha256_id_of_file(repo.path("solo.txt"));
    stdfs::remove(repo.path(Repo::object_rel(solo)));

    Result bad = repo.cairn({"fsck", "--json"});
    CHECK(bad.code == 1);
    auto problems = bad.json()["problems"];
    bool saw_corrupt = false, saw_missing = false;
    for (const auto& p : problems) {
        if (p["kind"] == "corrupt" && p["object"] == victim) saw_corrupt = true;
        if (p["kind"] == "missing" && p["object"] == solo && p["detail"] == "solo.txt") saw_missing = true;
    }
    CHECK(saw_corrupt);
    CHECK(saw_missing);
    // fsck never deletes: the corrupt object is still there.
    CHECK(repo.exists(Repo::object_rel(victim)));
    Result human = repo.cairn({"fsck"});
    CHECK(human.code == 1);
    CHECK(contains(human.out, "corrupt"));
    CHECK(contains(human.out, victim));
}

TEST_CASE("a corrupt object is never handed to the user by checkout", "[e2e][fsck][checkout]") {
    for (std::string type : {"copy", "hardlink", "symlink"}) {
        DYNAMIC_SECTION(type) {
            Repo repo;
            repo.write(".cairn/config.yaml", "version: 1\ncache:\n  type: " + type + "\n");
            repo.write("data/a.txt", "the real bytes");
            repo.ok({"add", "data"});
            std::string id = sha256_id_of_file(repo.path("data/a.txt"));
            corrupt(repo, id, "evil bytes");
            stdfs::remove(repo.path("data/a.txt"));
            Result r = repo.cairn({"checkout"});
            CHECK(r.code == 6);
            CHECK(contains(r.err, "corrupt"));
            CHECK(contains(r.err, id));
            CHECK_FALSE(repo.exists("data/a.txt"));
        }
    }
}

TEST_CASE("gc keeps what branches, tags, the index, the workspace and refs/cairn name", "[e2e][gc]") {
    Repo repo;
    auto add_version = [&](const std::string& content) {
        repo.write("f.txt", content);
        repo.ok({"add", "f.txt"});
        return sha256_id_of_file(repo.path("f.txt"));
    };
    std::string on_branch = add_version("committed on a branch");
    repo.git({"add", "-A"});
    repo.git({"commit", "-q", "-m", "v1"});
    repo.git({"branch", "keep"});
    std::string on_tag = add_version("tagged");
    repo.git({"commit", "-q", "-am", "v2"});
    repo.git({"tag", "v2"});
    std::string garbage = add_version("never committed, then replaced");
    std::string staged = add_version("staged in the index");
    repo.git({"add", "f.txt.cairn"});
    std::string run_data = add_version("referenced by a run record");
    // A run record under refs/cairn/ that mentions the id (the runs issue writes these).
    repo.write("record/outputs.yaml", "model.bin: " + run_data + "\n");
    std::string blob = repo.git({"hash-object", "-w", "record/outputs.yaml"}).out.substr(0, 40);
    std::string tree = run_process({"sh", "-c", "printf '100644 blob " + blob + "\\toutputs.yaml\\n' | git mktree"},
                                   repo.root(), repo.env())
                           .out.substr(0, 40);
    std::string commit = repo.git({"commit-tree", tree, "-m", "run"}).out.substr(0, 40);
    REQUIRE(repo.git({"update-ref", "refs/cairn/runs/0123456789abcdef0123456789abcdef", commit}).code == 0);
    stdfs::remove_all(repo.path("record"));
    std::string current = add_version("in the workspace now"); // the index still holds 'staged'
    // Move main back to v1 so that only the tag keeps v2's object.
    REQUIRE(repo.git({"update-ref", "refs/heads/main", "refs/heads/keep"}).code == 0);

    Result dry = repo.ok({"gc", "--dry-run", "--json"});
    std::set<std::string> would;
    auto removed = dry.json()["removed"];
    for (const auto& r : removed) would.insert(r["object"].get<std::string>());
    CHECK(would.count(garbage) == 1);
    CHECK(would.count(on_branch) == 0);
    CHECK(would.count(on_tag) == 0);
    CHECK(would.count(run_data) == 0);
    CHECK(would.count(current) == 0);
    CHECK(would.count(staged) == 0);
    CHECK(repo.exists(Repo::object_rel(garbage))); // dry run removed nothing

    Result r = repo.ok({"gc"});
    CHECK(contains(r.out, "removed " + garbage));
    CHECK(contains(r.out, "freed"));
    CHECK_FALSE(repo.exists(Repo::object_rel(garbage)));
    for (const auto& kept : {on_branch, on_tag, run_data, current, staged})
        CHECK(repo.exists(Repo::object_rel(kept)));
    CHECK(repo.ok({"fsck", "--json"}).json()["ok"] == true);
}

TEST_CASE("gc keeps every object of a tracked directory and sweeps leftover temp files", "[e2e][gc]") {
    Repo repo;
    repo.make_tree("data", 20, 5, 32);
    repo.ok({"add", "data"});
    repo.write(".cairn/tmp/object.cairn-tmp.abc123", "left by a killed add");
    Result r = repo.ok({"gc", "--json"});
    CHECK(r.json()["removed"].empty());
    CHECK(r.json()["kept"] == 25); // 20 files + 4 sub-trees + top
    CHECK(r.json()["temp_files"] == 1);
    CHECK_FALSE(repo.exists(".cairn/tmp/object.cairn-tmp.abc123"));
    stdfs::remove_all(repo.path("data"));
    repo.ok({"checkout"});
    CHECK(contains(repo.ok({"status"}).out, "up to date"));
}

TEST_CASE("gc forgets stat cache entries of files that no longer exist", "[e2e][gc]") {
    Repo repo;
    repo.write("data/a.txt", "a");
    repo.write("data/b.txt", "b");
    repo.ok({"add", "data"});
    CHECK(contains(repo.read(".cairn/state/stat"), "data/a.txt"));
    stdfs::remove(repo.path("data/a.txt"));
    auto r = repo.ok({"gc", "--json"}).json();
    CHECK(r["state_entries"] == 1);
    CHECK_FALSE(contains(repo.read(".cairn/state/stat"), "data/a.txt"));
    CHECK(contains(repo.read(".cairn/state/stat"), "data/b.txt"));
    CHECK(repo.ok({"gc", "--dry-run", "--json"}).json()["state_entries"] == 0);
}
