// cairn remote, push, pull with a directory data remote.
#include <fstream>
#include <set>

#include <catch2/catch.hpp>

#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

namespace {

// Every file under `dir` whose name is an object's (not a temp), as remote-relative keys.
std::vector<std::string> remote_objects(const stdfs::path& dir) {
    std::vector<std::string> out;
    if (!stdfs::exists(dir)) return out;
    for (const auto& e : stdfs::recursive_directory_iterator(dir))
        if (e.is_regular_file()) out.push_back(e.path().lexically_relative(dir).string());
    std::sort(out.begin(), out.end());
    return out;
}

std::string key_of(const std::string& id) { return Repo::object_rel(id).substr(std::string(".cairn/cache/").size()); }

} // namespace

TEST_CASE("remote add, list, modify and remove edit the config files", "[e2e][share]") {
    Repo repo;
    repo.ok({"remote", "add", "team", "../shared", "--default"});
    repo.ok({"remote", "add", "cloud", "s3://bucket/project"});
    repo.ok({"remote", "modify", "cloud", "endpoint", "http://127.0.0.1:9000"});
    repo.ok({"remote", "modify", "cloud", "path_style", "true"});
    repo.ok({"remote", "modify", "team", "url", "/mnt/team", "--local"});
    auto j = repo.ok({"remote", "list", "--json"}).json();
    CHECK(j["default"] == "team");
    REQUIRE(j["remotes"].size() == 2);
    CHECK(j["remotes"][0]["name"] == "team");
    CHECK(j["remotes"][0]["url"] == "/mnt/team");
    CHECK(j["remotes"][0]["kind"] == "directory");
    CHECK(j["remotes"][1]["kind"] == "s3");
    CHECK(j["remotes"][1]["endpoint"] == "http://127.0.0.1:9000");
    CHECK(j["remotes"][1]["path_style"] == true);
    // The committed file keeps its other settings and holds the committed URL; the local file
    // is never committed.
    std::string committed = repo.read(".cairn/config.yaml");
    CHECK(contains(committed, "type: reflink,copy"));
    CHECK(contains(committed, "../shared"));
    CHECK_FALSE(contains(committed, "/mnt/team"));
    repo.commit("config");
    CHECK(git_out(repo, {"ls-files", ".cairn"}).find("config.local.yaml") == std::string::npos);
    CHECK(git_out(repo, {"status", "--porcelain"}).empty());

    Result bad = repo.cairn({"remote", "modify", "cloud", "colour", "red"});
    CHECK(bad.code == 3);
    CHECK(contains(bad.err, "unknown key 'colour'"));
    bad = repo.cairn({"remote", "modify", "cloud", "secret_access_key", "abc"});
    CHECK(bad.code == 3);
    CHECK(contains(bad.err, "credential"));
    bad = repo.cairn({"remote", "add", "team", "/elsewhere"});
    CHECK(bad.code == 3);
    CHECK(contains(bad.err, "already exists"));

    repo.ok({"remote", "remove", "team"});
    j = repo.ok({"remote", "list", "--json"}).json();
    CHECK(j["remotes"].size() == 1);
    CHECK(j["default"].is_null());
    CHECK(repo.cairn({"remote", "remove", "team"}).code == 3);
}

TEST_CASE("credentials written into a config file are refused with the file and key", "[e2e][share]") {
    Repo repo;
    repo.write(".cairn/config.yaml", repo.read(".cairn/config.yaml") + "remotes:\n  s3:\n    url: s3://b\n    secret_access_key: abc\n");
    Result r = repo.cairn({"remote", "list"});
    CHECK(r.code == 3);
    CHECK(contains(r.err, ".cairn/config.yaml:"));
    CHECK(contains(r.err, "secret_access_key"));
    repo.write(".cairn/config.yaml", "version: 1\n");
    repo.write(".cairn/config.local.yaml", "remotes:\n  s3:\n    url: s3://b\n    token: abc\n");
    r = repo.cairn({"push"});
    CHECK(r.code == 3);
    CHECK(contains(r.err, ".cairn/config.local.yaml"));
    CHECK(contains(r.err, "token"));
}

TEST_CASE("push without a remote says how to add one", "[e2e][share]") {
    Repo repo;
    Result r = repo.cairn({"push"});
    CHECK(r.code == 3);
    CHECK(contains(r.err, "cairn remote add NAME URL --default"));
}

TEST_CASE("push and pull move data through a directory remote", "[e2e][share]") {
    cairn::test::TempDir shared;
    stdfs::path remote_dir = shared / "remote";
    Repo a;
    a.make_tree("data", 12, 4, 300);
    a.write("model.bin", "weights");
    a.ok({"add", "data", "model.bin"});
    a.ok({"remote", "add", "team", remote_dir.string(), "--default"});
    a.commit("data");
    // A remote directory nothing was pushed to yet: status says so; pull refuses to read it as empty.
    Result before = a.ok({"status", "--remote", "--json"});
    CHECK(before.json()["objects_not_pushed"].size() >= 14);
    CHECK(before.json()["remote_exists"] == false);
    CHECK(contains(before.err, "does not exist yet"));
    Repo early(false);
    early.git({"pull", "-q", a.root().string(), "HEAD"});
    early.ok({"init"});
    Result absent = early.cairn({"pull"});
    CHECK(absent.code == 4);
    CHECK(contains(absent.err, "does not exist"));
    CHECK_FALSE(stdfs::exists(remote_dir));
    // A misspelt git remote is refused before anything is uploaded.
    Result typo = a.cairn({"push", "--git-remote", "orgin"});
    CHECK(typo.code == 3);
    CHECK(contains(typo.err, "no git remote named 'orgin'"));
    CHECK_FALSE(stdfs::exists(remote_dir));
    Result pushed = a.ok({"push", "--json"});
    CHECK(a.ok({"status", "--remote", "team", "--json"}).json()["objects_not_pushed"].empty());
    auto j = pushed.json();
    CHECK(j["remote"] == "team");
    CHECK(j["objects"].get<int>() >= 14); // 12 files, 2 model.. trees
    CHECK(j["problems"].empty());
    auto keys = remote_objects(remote_dir);
    CHECK(keys.size() == j["objects"].get<std::size_t>());
    std::string model_id = sha256_id_of_file(a.path("model.bin"));
    CHECK(std::find(keys.begin(), keys.end(), key_of(model_id)) != keys.end());
    // Nothing to do the second time, found by one listing.
    Result again = a.ok({"push"});
    CHECK(contains(again.out, "pushed 0 objects"));
    CHECK(contains(again.out, "already there"));

    Repo b(false);
    b.git({"pull", "-q", a.root().string(), "HEAD"});
    b.ok({"init"});
    CHECK_FALSE(b.exists("model.bin"));
    CHECK(b.ok({"status", "--remote", "--json"}).json()["objects_not_pulled"].size() >= 1);
    Result pulled = b.ok({"pull", "--json"});
    CHECK(pulled.json()["objects"] == j["objects"]);
    b.ok({"checkout"});
    CHECK(b.read("model.bin") == "weights");
    CHECK(b.read("data/d1/f5") == a.read("data/d1/f5"));
    CHECK(contains(b.ok({"status"}).out, "up to date"));
    CHECK(contains(b.ok({"pull"}).out, "pulled 0 objects"));
}

TEST_CASE("pull refuses corrupt, truncated and missing remote objects and completes after repair", "[e2e][share]") {
    cairn::test::TempDir shared;
    stdfs::path remote_dir = shared / "remote";
    Repo a;
    a.write("one.bin", random_bytes(5000, 1));
    a.write("two.bin", random_bytes(5000, 2));
    a.write("three.bin", random_bytes(5000, 3));
    a.ok({"add", "one.bin", "two.bin", "three.bin"});
    a.ok({"remote", "add", "team", remote_dir.string(), "--default"});
    a.commit("data");
    a.ok({"push"});
    std::string one = sha256_id_of_file(a.path("one.bin"));
    std::string two = sha256_id_of_file(a.path("two.bin"));
    std::string three = sha256_id_of_file(a.path("three.bin"));
    auto remote_path = [&](const std::string& id) { return remote_dir / key_of(id); };
    stdfs::copy_file(remote_path(one), shared / "one.bak");
    stdfs::copy_file(remote_path(two), shared / "two.bak");
    stdfs::copy_file(remote_path(three), shared / "three.bak");
    for (const auto& id : {one, two}) stdfs::permissions(remote_path(id), stdfs::perms::owner_write, stdfs::perm_options::add);
    cairn::test::write_text(remote_path(one), random_bytes(5000, 9));   // corrupt
    stdfs::resize_file(remote_path(two), 100);                           // truncated
    stdfs::remove(remote_path(three));                                   // deleted

    Repo b(false);
    b.git({"pull", "-q", a.root().string(), "HEAD"});
    b.ok({"init"});
    Result r = b.cairn({"pull"});
    CHECK(r.code == 6);
    CHECK(contains(r.err, key_of(one)));
    CHECK(contains(r.err, "corrupt"));
    CHECK(contains(r.err, key_of(two)));
    CHECK(contains(r.err, key_of(three)));
    CHECK(contains(r.err, "missing"));
    for (const auto& id : {one, two, three}) CHECK_FALSE(b.exists(Repo::object_rel(id)));
    // Nothing half-written was left in the cache's temp area either.
    CHECK(remote_objects(b.path(".cairn/tmp")).empty());

    stdfs::remove(remote_path(one));
    stdfs::remove(remote_path(two));
    stdfs::copy_file(shared / "one.bak", remote_path(one));
    stdfs::copy_file(shared / "two.bak", remote_path(two));
    stdfs::copy_file(shared / "three.bak", remote_path(three));
    Result fixed = b.ok({"pull"});
    CHECK(contains(fixed.out, "pulled 3 objects"));
    b.ok({"checkout"});
    CHECK(b.read("two.bin") == a.read("two.bin"));
}

TEST_CASE("push of named runs and revisions sends their objects", "[e2e][share]") {
    cairn::test::TempDir shared;
    stdfs::path remote_dir = shared / "remote";
    Repo a;
    a.write("in.txt", "input");
    a.ok({"add", "in.txt"});
    a.commit("v1");
    a.write("in.txt", "input two");
    a.ok({"add", "in.txt"});
    a.commit("v2");
    a.ok({"remote", "add", "team", remote_dir.string(), "--default"});
    Result r = a.ok({"push", "--rev", "HEAD~1", "--json"});
    CHECK(r.json()["objects"] == 1);
    auto keys = remote_objects(remote_dir);
    REQUIRE(keys.size() == 1);
    CHECK(cairn::test::read_text(remote_dir / keys[0]) == "input");
    CHECK(a.cairn({"push", "--rev", "no-such-rev"}).code == 3);
}

TEST_CASE("checkout fetches missing objects from the default remote on demand", "[e2e][share]") {
    cairn::test::TempDir shared;
    stdfs::path remote_dir = shared / "remote";
    Repo a;
    a.make_tree("data", 6, 3, 200);
    a.ok({"add", "data"});
    a.ok({"remote", "add", "team", remote_dir.string(), "--default"});
    a.commit("data");
    a.ok({"push"});

    Repo b(false);
    b.git({"pull", "-q", a.root().string(), "HEAD"});
    b.ok({"init"});
    Result r = b.ok({"checkout"});
    CHECK(contains(r.err, "fetched"));
    CHECK(contains(r.err, "'team'"));
    CHECK(b.read("data/d1/f4") == a.read("data/d1/f4"));

    // Without a remote, the missing-object error says how to add one.
    Repo c(false);
    c.git({"pull", "-q", a.root().string(), "HEAD"});
    c.ok({"init"});
    c.ok({"remote", "remove", "team"});
    Result missing = c.cairn({"checkout"});
    CHECK(missing.code == 6);
    CHECK(contains(missing.err, "cairn remote add NAME URL --default"));
}

TEST_CASE("gc --remote lists unreferenced remote objects and deletes them only with --force", "[e2e][share]") {
    cairn::test::TempDir shared;
    stdfs::path remote_dir = shared / "remote";
    Repo a;
    a.write("keep.bin", "kept");
    a.write("old.bin", "old version");
    a.ok({"add", "keep.bin", "old.bin"});
    a.ok({"remote", "add", "team", remote_dir.string(), "--default"});
    a.commit("both");
    a.ok({"push"});
    std::string old_id = sha256_id_of_file(a.path("old.bin"));
    // old.bin's bytes are referenced by nothing once the branch tip no longer has its pointer.
    stdfs::remove(a.path("old.bin.cairn"));
    a.commit("keep only");
    auto listed = a.ok({"gc", "--remote", "team", "--json"}).json();
    REQUIRE(listed["unreferenced"].size() == 1);
    CHECK(listed["unreferenced"][0]["key"] == key_of(old_id));
    CHECK(listed["removed"] == false);
    CHECK(stdfs::exists(remote_dir / key_of(old_id)));
    a.ok({"gc", "--remote", "team", "--force"});
    CHECK_FALSE(stdfs::exists(remote_dir / key_of(old_id)));
    CHECK(stdfs::exists(remote_dir / key_of(sha256_id_of_file(a.path("keep.bin")))));
}

TEST_CASE("rerun fetches the old inputs it needs from the default remote on demand", "[e2e][share]") {
    cairn::test::TempDir shared;
    Repo a;
    a.write("in.txt", "one\ntwo\n");
    a.ok({"add", "in.txt"});
    a.write_script("count.sh", "#!/bin/sh\nwc -l < in.txt > out.txt\n");
    a.ok({"remote", "add", "team", (shared / "data").string(), "--default"});
    a.commit("v1");
    a.ok({"run", "-n", "count", "-d", "in.txt", "-o", "out.txt", "--", "./count.sh"});
    // HEAD moves on to other data: a clone's pull brings only that.
    a.write("in.txt", "one\ntwo\nthree\n");
    a.ok({"add", "in.txt"});
    a.commit("v2");
    a.ok({"push", "--all"});

    Repo b(false);
    b.git({"pull", "-q", a.root().string(), "HEAD"});
    b.ok({"init"});
    b.git({"fetch", "-q", a.root().string(), "refs/cairn/*:refs/cairn/*"});
    b.ok({"pull", "--data-only"});
    Result rerun = b.cairn({"rerun", "count"});
    INFO(rerun.out << rerun.err);
    CHECK(rerun.code == 0);
    CHECK(contains(rerun.err, "fetched"));
}

TEST_CASE("fsck --remote reads every remote object back and --repair fixes the corrupt ones", "[e2e][share]") {
    cairn::test::TempDir shared;
    stdfs::path remote_dir = shared / "remote";
    Repo a;
    a.write("x.bin", "the real x");
    a.write("y.bin", "the real y");
    a.ok({"add", "x.bin", "y.bin"});
    a.ok({"remote", "add", "team", remote_dir.string(), "--default"});
    a.commit("data");
    a.ok({"push"});
    std::string x = sha256_id_of_file(a.path("x.bin"));
    std::string y = sha256_id_of_file(a.path("y.bin"));
    auto damage = [&](const std::string& id, const std::string& bytes) {
        stdfs::path p = remote_dir / key_of(id);
        stdfs::create_directories(p.parent_path());
        stdfs::remove(p);
        std::ofstream(p) << bytes;
    };
    // x corrupted on the remote (this cache has a good copy); z an object this clone never had.
    damage(x, "bit rot");
    a.write("z.txt", "z as it was");
    std::string z = sha256_id_of_file(a.path("z.txt"));
    stdfs::remove(a.path("z.txt"));
    damage(z, "z, truncated");
    std::ofstream(remote_dir / "sha256" / "README") << "not an object";

    Result check = a.cairn({"fsck", "--remote", "team", "--json"});
    CHECK(check.code == 1);
    auto report = check.json();
    INFO(check.out);
    CHECK(report["objects"] == 3);
    REQUIRE(report["problems"].size() == 2);
    CHECK(report["problems"][0]["kind"] == "corrupt");
    std::set<std::string> bad{report["problems"][0]["key"].get<std::string>(), report["problems"][1]["key"].get<std::string>()};
    CHECK(bad == std::set<std::string>{key_of(x), key_of(z)});
    CHECK(report["stray"] == nlohmann::json::array({"sha256/README"}));
    // push alone trusts the names it lists: the corrupt x stays.
    a.ok({"push"});
    CHECK(cairn::test::read_text(remote_dir / key_of(x)) == "bit rot");

    Result repaired = a.cairn({"fsck", "--remote", "team", "--repair"});
    INFO(repaired.out << repaired.err);
    CHECK(repaired.code == 0);
    CHECK(contains(repaired.out, "all repaired"));
    CHECK(cairn::test::read_text(remote_dir / key_of(x)) == "the real x");
    CHECK_FALSE(stdfs::exists(remote_dir / key_of(z)));
    CHECK(cairn::test::read_text(remote_dir / key_of(y)) == "the real y");
    CHECK(stdfs::exists(remote_dir / "sha256" / "README"));
    auto again = a.ok({"fsck", "--remote", "team", "--json"}).json();
    CHECK(again["ok"] == true);
    CHECK(again["objects"] == 2);
    // Nothing was left in the cache's tmp/.
    CHECK(stdfs::is_empty(a.path(".cairn/tmp")));
}

TEST_CASE("a remote that refuses every object for good is one error with exit 5, not one per object", "[e2e][share]") {
    cairn::test::TempDir shared;
    stdfs::path remote_dir = shared / "remote";
    stdfs::create_directories(remote_dir);
    std::ofstream(remote_dir / "sha256") << "a file where the objects' directory should be";
    Repo a;
    a.make_tree("data", 6, 2, 40);
    a.ok({"add", "data"});
    a.ok({"remote", "add", "team", remote_dir.string(), "--default"});
    a.commit("data");
    Result r = a.cairn({"push", "--data-only"});
    INFO(r.err);
    CHECK(r.code == 5);
    CHECK(contains(r.err, "Not a directory"));
    std::size_t lines = std::count(r.err.begin(), r.err.end(), '\n');
    CHECK(lines == 1);
}
