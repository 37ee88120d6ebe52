// cairn checkout, including link types.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

TEST_CASE("checkout restores deleted and modified data that is in the cache", "[e2e][checkout]") {
    Repo repo;
    repo.make_tree("data", 8, 4, 64);
    repo.write("model.bin", "weights");
    repo.ok({"add", "data", "model.bin"});
    std::string original = repo.read("data/d0/f1");

    stdfs::remove_all(repo.path("data/d1"));
    stdfs::remove(repo.path("model.bin"));
    Result r = repo.ok({"checkout", "--json"});
    CHECK(repo.read("model.bin") == "weights");
    CHECK(repo.exists("data/d1/f7"));
    CHECK(contains(repo.ok({"status"}).out, "up to date"));

    // Switch between two committed versions with git + cairn checkout.
    repo.git({"add", "-A"});
    repo.git({"commit", "-q", "-m", "v1"});
    repo.write("data/d0/f1", "version two");
    repo.ok({"add", "data"});
    repo.git({"commit", "-q", "-am", "v2"});
    repo.git({"checkout", "-q", "HEAD~1", "--", "data.cairn"});
    repo.ok({"checkout"});
    CHECK(repo.read("data/d0/f1") == original);
    repo.git({"checkout", "-q", "HEAD", "--", "data.cairn"});
    repo.ok({"checkout", "data"});
    CHECK(repo.read("data/d0/f1") == "version two");
}

TEST_CASE("checkout removes files the pointer does not list when their bytes are cached", "[e2e][checkout]") {
    Repo repo;
    repo.write("data/a.txt", "alpha");
    repo.ok({"add", "data"});
    // A copy of already-cached bytes under a new name is safe to remove.
    repo.write("data/copy.txt", "alpha");
    repo.write("data/sub/also.txt", "alpha");
    Result r = repo.ok({"checkout", "--json"});
    CHECK(r.json()["paths"][0]["removed"] == 2);
    CHECK_FALSE(repo.exists("data/copy.txt"));
    CHECK_FALSE(repo.exists("data/sub"));
    CHECK(repo.read("data/a.txt") == "alpha");
}

TEST_CASE("checkout refuses to discard unsaved data, naming it, unless --force", "[e2e][checkout]") {
    Repo repo;
    repo.write("data/a.txt", "alpha");
    repo.write("data/b.txt", "beta");
    repo.ok({"add", "data"});
    repo.write("data/a.txt", "my unsaved edit");
    repo.write("data/new.txt", "unsaved new file");
    stdfs::remove(repo.path("data/b.txt"));

    Result r = repo.cairn({"checkout"});
    CHECK(r.code == 3);
    CHECK(contains(r.err, "data/a.txt (modified)"));
    CHECK(contains(r.err, "data/new.txt"));
    CHECK(contains(r.err, "--force"));
    // Nothing was touched: not even the deleted file was restored.
    CHECK(repo.read("data/a.txt") == "my unsaved edit");
    CHECK(repo.exists("data/new.txt"));
    CHECK_FALSE(repo.exists("data/b.txt"));

    repo.ok({"checkout", "--force"});
    CHECK(repo.read("data/a.txt") == "alpha");
    CHECK(repo.read("data/b.txt") == "beta");
    CHECK_FALSE(repo.exists("data/new.txt"));
}

TEST_CASE("checkout replaces a directory by a file and back", "[e2e][checkout]") {
    Repo repo;
    repo.write("thing", "a file");
    repo.ok({"add", "thing"});
    stdfs::remove(repo.path("thing"));
    repo.write("thing/inside", "a file"); // same bytes: in the cache
    repo.ok({"checkout"});
    CHECK(repo.read("thing") == "a file");
}

TEST_CASE("link types hardlink and symlink: read-only workspace files backed by the cache", "[e2e][checkout]") {
    for (std::string type : {"hardlink", "symlink"}) {
        DYNAMIC_SECTION(type) {
            Repo repo;
            repo.write(".cairn/config.yaml", "version: 1\ncache:\n  type: " + type + ",copy\n");
            repo.write("data/a.txt", "alpha");
            struct stat before {};
            REQUIRE(::stat(repo.path("data/a.txt").c_str(), &before) == 0);
            repo.ok({"add", "data"});
            std::string object = repo.path(Repo::object_rel(sha256_id_of_file(repo.path("data/a.txt")))).string();
            struct stat ws {}, obj {};
            REQUIRE(::lstat(repo.path("data/a.txt").c_str(), &ws) == 0);
            REQUIRE(::stat(object.c_str(), &obj) == 0);
            if (type == "hardlink") {
                CHECK(ws.st_ino == obj.st_ino);
                CHECK(ws.st_ino == before.st_ino); // adopted into the cache: no bytes copied
                CHECK((ws.st_mode & 0222) == 0);
            } else {
                CHECK(S_ISLNK(ws.st_mode));
                CHECK(stdfs::read_symlink(repo.path("data/a.txt")) == object);
            }
            CHECK(contains(repo.ok({"status"}).out, "up to date"));
            stdfs::remove(repo.path("data/a.txt"));
            repo.ok({"checkout"});
            CHECK(repo.read("data/a.txt") == "alpha");
            CHECK(contains(repo.ok({"status"}).out, "up to date"));
        }
    }
}

TEST_CASE("checkout of an object missing from the cache names it", "[e2e][checkout]") {
    Repo repo;
    repo.write("f.txt", "bytes");
    repo.ok({"add", "f.txt"});
    std::string id = sha256_id_of_file(repo.path("f.txt"));
    stdfs::remove(repo.path(Repo::object_rel(id)));
    stdfs::remove(repo.path("f.txt"));
    Result r = repo.cairn({"checkout"});
    CHECK(r.code == 6);
    CHECK(contains(r.err, id));
    CHECK(contains(r.err, "missing from the cache"));
    CHECK_FALSE(repo.exists("f.txt"));
}

TEST_CASE("checkout restores every path it can when another one's object is missing", "[e2e][checkout]") {
    Repo repo;
    repo.write("a.txt", "kept a");
    repo.write("lost.txt", "lost bytes");
    repo.make_tree("set", 4, 2, 50);
    repo.ok({"add", "a.txt", "lost.txt", "set"});
    std::string lost = sha256_id_of_file(repo.path("lost.txt"));
    std::string set_file = repo.read("set/d1/f3");
    stdfs::remove(repo.path(Repo::object_rel(lost)));
    for (const auto& p : {"a.txt", "lost.txt"}) stdfs::remove(repo.path(p));
    stdfs::remove_all(repo.path("set"));
    Result r = repo.cairn({"checkout"});
    CHECK(r.code == 6);
    CHECK(contains(r.err, lost));
    CHECK(contains(r.err, "the other 2 path(s) were restored"));
    CHECK(repo.read("a.txt") == "kept a");
    CHECK(repo.read("set/d1/f3") == set_file);
    CHECK_FALSE(repo.exists("lost.txt"));
}

TEST_CASE("checkout recreates empty tracked directories and says so", "[e2e][checkout]") {
    Repo repo;
    stdfs::create_directories(repo.path("empty/inner"));
    repo.ok({"add", "empty"});
    stdfs::remove_all(repo.path("empty"));
    CHECK(repo.ok({"status", "--json"}).json()["paths"][0]["status"] == "deleted");
    Result r = repo.ok({"checkout"});
    CHECK(contains(r.out, "restored empty (0 written, 0 removed, 2 directories created)"));
    CHECK(stdfs::is_directory(repo.path("empty/inner")));
    CHECK(contains(repo.ok({"checkout"}).out, "already matches"));
}
