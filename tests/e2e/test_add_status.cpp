// cairn add and cairn status.
#include <sys/stat.h>
#include <sys/time.h>

#include <catch2/catch.hpp>

#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

TEST_CASE("add a file: object, pointer, gitignore, read-only cache", "[e2e][add]") {
    Repo repo;
    repo.write("data/train.csv", "a,b\n1,2\n");
    Result r = repo.ok({"add", "data/train.csv", "--json"});
    auto j = r.json();
    std::string id = sha256_id_of_file(repo.path("data/train.csv"));
    REQUIRE(j["paths"].size() == 1);
    CHECK(j["paths"][0]["hash"] == id);
    CHECK(j["paths"][0]["type"] == "file");
    CHECK(j["paths"][0]["size"] == 8);
    CHECK(j["new_objects"] == 1);

    std::string object = Repo::object_rel(id);
    REQUIRE(repo.exists(object));
    CHECK(repo.read(object) == "a,b\n1,2\n");
    struct stat st {};
    REQUIRE(::stat(repo.path(object).c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0444);

    std::string pointer = repo.read("data/train.csv.cairn");
    CHECK(contains(pointer, "path: train.csv"));
    CHECK(contains(pointer, "hash: " + id));
    CHECK(contains(pointer, "size: 8"));
    CHECK(contains(repo.read("data/.gitignore"), "/train.csv\n"));
    // git now sees the pointer but ignores the data.
    Result gs = repo.git({"status", "--porcelain", "--untracked-files=all"});
    CHECK(contains(gs.out, "data/train.csv.cairn"));
    CHECK_FALSE(contains(gs.out, "data/train.csv\n"));
    // The workspace copy is still there and unchanged (default link type: reflink, else copy).
    CHECK(repo.read("data/train.csv") == "a,b\n1,2\n");

    // Adding again changes nothing and does not duplicate the ignore entry.
    Result again = repo.ok({"add", "data/train.csv", "--json"});
    CHECK(again.json()["paths"][0]["changed"] == false);
    CHECK(again.json()["new_objects"] == 0);
    CHECK(repo.read("data/.gitignore") == "/train.csv\n");
}

TEST_CASE("add from a subdirectory resolves paths relative to it", "[e2e][add]") {
    Repo repo;
    repo.write("sub/dir/f.txt", "x");
    repo.ok({"add", "f.txt"}, "sub/dir");
    CHECK(repo.exists("sub/dir/f.txt.cairn"));
    Result r = repo.ok({"status", "--json"}, "sub");
    CHECK(r.json()["paths"][0]["path"] == "sub/dir/f.txt");
}

TEST_CASE("add a directory: tree objects per directory level", "[e2e][add]") {
    Repo repo;
    repo.make_tree("data/imgs", 30, 10, 100);
    repo.write("data/imgs/deep/a/b/c.bin", "deep");
    Result r = repo.ok({"add", "data/imgs", "--json"});
    auto p = r.json()["paths"][0];
    CHECK(p["type"] == "directory");
    CHECK(p["files"] == 31);
    CHECK(p["size"] == 30 * 100 + 4);
    // 31 files + trees: top, d0, d1, d2, deep, deep/a, deep/a/b = 7 trees.
    CHECK(r.json()["new_objects"] == 38);

    // The top tree lists its entries in name order, one line each.
    std::string top = repo.read(Repo::object_rel(p["hash"].get<std::string>()));
    CHECK(top.rfind("cairn-tree 1\n", 0) == 0);
    CHECK(contains(top, "\td0\n"));
    CHECK(contains(top, "\tdeep\n"));

    // Changing one deep file rewrites only that file and the trees on its path.
    repo.write("data/imgs/deep/a/b/c.bin", "DEEP");
    Result again = repo.ok({"add", "data/imgs", "--json"});
    CHECK(again.json()["new_objects"] == 5); // c.bin, b, a, deep, top
    CHECK(again.json()["paths"][0]["changed"] == true);
}

TEST_CASE("add refuses nested and pointer paths, and missing ones", "[e2e][add]") {
    Repo repo;
    repo.write("data/x/y.txt", "y");
    repo.ok({"add", "data/x"});
    Result inside = repo.cairn({"add", "data/x/y.txt"});
    CHECK(inside.code == 3);
    CHECK(contains(inside.err, "already tracked"));
    Result outer = repo.cairn({"add", "data"});
    CHECK(outer.code == 3);
    CHECK(contains(outer.err, "contains tracked data"));
    Result pointer = repo.cairn({"add", "data/x.cairn"});
    CHECK(pointer.code == 3);
    Result missing = repo.cairn({"add", "nope"});
    CHECK(missing.code == 3);
    CHECK(contains(missing.err, "'nope' does not exist"));
}

TEST_CASE("status: unchanged, modified with per-file detail, deleted, not in cache", "[e2e][status]") {
    Repo repo;
    repo.make_tree("data/imgs", 6, 3, 50);
    repo.write("data/one.txt", "one");
    repo.write("data/two.txt", "two");
    repo.ok({"add", "data/imgs", "data/one.txt", "data/two.txt"});

    Result clean = repo.ok({"status"});
    CHECK(contains(clean.out, "up to date"));
    Result check_clean = repo.cairn({"status", "--check"});
    CHECK(check_clean.code == 0);
    CHECK(check_clean.out.empty());

    repo.write("data/imgs/d0/f0", "changed");
    repo.write("data/imgs/d1/new", "new");
    stdfs::remove(repo.path("data/imgs/d1/f4"));
    stdfs::remove(repo.path("data/one.txt"));
    // Remove two.txt's object from the cache.
    std::string two_id = sha256_id_of_file(repo.path("data/two.txt"));
    stdfs::remove(repo.path(Repo::object_rel(two_id)));

    Result st = repo.ok({"status", "--json"});
    auto j = st.json();
    CHECK(j["clean"] == false);
    std::map<std::string, nlohmann::json> by_path;
    for (const auto& p : j["paths"]) by_path[p["path"]] = p;
    REQUIRE(by_path.size() == 3);
    CHECK(by_path["data/imgs"]["status"] == "modified");
    CHECK(by_path["data/imgs"]["added"] == nlohmann::json::array({"data/imgs/d1/new"}));
    CHECK(by_path["data/imgs"]["modified"] == nlohmann::json::array({"data/imgs/d0/f0"}));
    CHECK(by_path["data/imgs"]["deleted"] == nlohmann::json::array({"data/imgs/d1/f4"}));
    CHECK(by_path["data/one.txt"]["status"] == "deleted");
    CHECK(by_path["data/two.txt"]["status"] == "not in cache");

    Result check = repo.cairn({"status", "--check"});
    CHECK(check.code == 1);
    CHECK(contains(check.out, "modified:"));
    CHECK(contains(check.out, "data/imgs/d0/f0"));
    CHECK_FALSE(contains(check.out, "Use 'cairn add"));

    // Limited to one path.
    Result one = repo.ok({"status", "data/one.txt", "--json"});
    CHECK(one.json()["paths"].size() == 1);
}

TEST_CASE("status sees a same-size rewrite even when the mtime is put back", "[e2e][status]") {
    Repo repo;
    repo.write("f.txt", "aaaa");
    // An old mtime so that the stat cache entry is not racily clean.
    struct timeval old[2] = {{1000000000, 0}, {1000000000, 0}};
    REQUIRE(::utimes(repo.path("f.txt").c_str(), old) == 0);
    repo.ok({"add", "f.txt"});
    CHECK(contains(repo.ok({"status"}).out, "up to date"));
    repo.write("f.txt", "bbbb");
    REQUIRE(::utimes(repo.path("f.txt").c_str(), old) == 0);
    Result r = repo.ok({"status", "--json"});
    CHECK(r.json()["paths"][0]["status"] == "modified");
}

TEST_CASE("status is quick to say nothing is tracked", "[e2e][status]") {
    Repo repo;
    Result r = repo.ok({"status", "--json"});
    CHECK(r.json()["paths"].empty());
    CHECK(r.json()["clean"] == true);
    CHECK(contains(repo.ok({"status"}).out, "No data tracked"));
}

TEST_CASE("a directory whose sub-tree is missing from the cache is 'not in cache'", "[e2e][status]") {
    Repo repo;
    repo.write("data/sub/a.txt", "a");
    repo.write("data/top.txt", "t");
    repo.ok({"add", "data"});
    // Find the sub-tree: the top tree's line for "sub".
    std::string pointer = repo.read("data.cairn");
    std::string top_id = pointer.substr(pointer.find("sha256:"), 71);
    std::string top = repo.read(Repo::object_rel(top_id));
    std::size_t line = top.find("\tsub\n");
    REQUIRE(line != std::string::npos);
    std::string sub_id = "sha256:" + top.substr(top.rfind('\n', line) + 3, 64);
    stdfs::remove(repo.path(Repo::object_rel(sub_id)));
    Result st = repo.ok({"status", "--json"});
    CHECK(st.json()["paths"][0]["status"] == "not in cache");
    stdfs::remove_all(repo.path("data"));
    Result co = repo.cairn({"checkout"});
    CHECK(co.code == 6);
    CHECK(contains(co.err, sub_id));
    Result fsck = repo.cairn({"fsck", "--json"});
    CHECK(fsck.code == 1);
    CHECK(contains(fsck.out, sub_id));
}

TEST_CASE("odd file names survive pointers, .gitignore and checkout", "[e2e][add]") {
    Repo repo;
    std::vector<std::string> names = {"~", "null", "yes", "123", " lead", "trail ", "#hash", "!bang", "*star",
                                      "a:b", "tab\tx", "it's", "ünï"};
    std::vector<std::string> args = {"add"};
    for (const auto& n : names) {
        repo.write(n, "content of " + n);
        args.push_back(n);
    }
    repo.ok(args);
    // git ignores every data file and sees every pointer.
    Result gs = repo.git({"status", "--porcelain", "-z", "--untracked-files=all"});
    for (const auto& n : names) {
        INFO(n);
        CHECK(contains(gs.out, "?? " + n + ".cairn"));
        CHECK_FALSE(contains(gs.out, std::string("?? ") + n + '\0'));
    }
    for (const auto& n : names) stdfs::remove(repo.path(n));
    repo.ok({"checkout"});
    for (const auto& n : names) CHECK(repo.read(n) == "content of " + n);
    CHECK(repo.ok({"status", "--json"}).json()["clean"] == true);
}

TEST_CASE("file names that are not UTF-8 do not break JSON output", "[e2e][status]") {
    Repo repo;
    std::string name = "lat\xe9n.txt"; // Latin-1, invalid as UTF-8
    repo.write(name, "bytes");
    repo.ok({"add", name});
    Result r = repo.ok({"status", "--json"});
    auto j = r.json(); // parses: invalid bytes were replaced
    CHECK(j["paths"].size() == 1);
    CHECK(j["clean"] == true);
}
