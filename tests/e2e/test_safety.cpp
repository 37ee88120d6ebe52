// Untrusted input: pointer files, tree objects, paths and symlinks.
#include <unistd.h>

#include <catch2/catch.hpp>

#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

namespace {

std::string pointer_text(const std::string& path, const std::string& id, const std::string& extra = "") {
    return "version: 1\npath: " + path + "\nhash: " + id + "\nsize: 4\n" + extra;
}

// Stores `bytes` as an object in the repo's cache, the way cairn would, and returns its id.
std::string store_object(const Repo& repo, const std::string& bytes) {
    repo.write("scratch.bin", bytes);
    std::string id = sha256_id_of_file(repo.path("scratch.bin"));
    stdfs::create_directories(repo.path(Repo::object_rel(id)).parent_path());
    stdfs::rename(repo.path("scratch.bin"), repo.path(Repo::object_rel(id)));
    return id;
}

} // namespace

TEST_CASE("pointer paths with .. or / are refused", "[e2e][safety]") {
    Repo repo;
    repo.write("f.txt", "data");
    repo.ok({"add", "f.txt"});
    std::string id = sha256_id_of_file(repo.path("f.txt"));
    stdfs::remove(repo.path("f.txt"));
    for (std::string evil : {"../../escaped", "/tmp/escaped", "sub/f.txt", ".."}) {
        DYNAMIC_SECTION(evil) {
            repo.write("f.txt.cairn", pointer_text(evil, id));
            for (const char* cmd : {"status", "checkout"}) {
                Result r = repo.cairn({cmd});
                CHECK(r.code == 3);
                CHECK(contains(r.err, "cairn: error: f.txt.cairn:2: "));
                CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
            }
            CHECK_FALSE(stdfs::exists(repo.root().parent_path().parent_path() / "escaped"));
            CHECK_FALSE(stdfs::exists("/tmp/escaped"));
        }
    }
}

TEST_CASE("malformed pointer YAML gives file:line and no crash", "[e2e][safety]") {
    Repo repo;
    struct Case {
        std::string text, expect;
    };
    std::vector<Case> cases = {
        {"version: 1\npath: [unclosed\n", "x.cairn:3: end of sequence flow not found"},
        {"- just\n- a list\n", "not a cairn pointer"},
        {"version: 1\npath: x\nsize: 1\n", "missing 'hash'"},
        {"version: 1\npath: x\nhash: md5:abc\nsize: 1\n", "x.cairn:3: malformed hash"},
        {"version: 1\npath: x\nhash: sha256:" + std::string(64, 'a') + "\nsize: lots\n", "x.cairn:4:"},
        {"version: 9\npath: x\nhash: sha256:" + std::string(64, 'a') + "\nsize: 1\n", "version 9 is not supported"},
        {"\t\x01garbage: [\n", "x.cairn:"},
    };
    for (const auto& c : cases) {
        repo.write("x.cairn", c.text);
        Result r = repo.cairn({"status"});
        INFO(c.text << "\n" << r.err);
        CHECK(r.code == 3);
        CHECK(contains(r.err, "cairn: error: "));
        CHECK(contains(r.err, c.expect));
    }
}

TEST_CASE("tree objects with unsafe names are refused before anything is written", "[e2e][safety]") {
    Repo repo;
    std::string file_id = store_object(repo, "pwned");
    std::string hex = file_id.substr(7);
    for (std::string name : {"..", "a/../../b", "."}) {
        DYNAMIC_SECTION(name) {
            std::string tree_id = store_object(repo, "cairn-tree 1\nf " + hex + " 5 1\t" + name + "\n");
            repo.write("data.cairn", pointer_text("data", tree_id, "files: 1\n"));
            Result r = repo.cairn({"checkout"});
            CHECK(r.code == 6);
            CHECK(contains(r.err, "unsafe entry name"));
            CHECK_FALSE(repo.exists("data"));
            CHECK_FALSE(repo.exists("b"));
        }
    }
}

TEST_CASE("paths outside the workspace and inside .git/.cairn are refused", "[e2e][safety]") {
    Repo repo;
    cairn::test::write_text(repo.root().parent_path() / "outside.txt", "secret");
    for (std::string evil : std::vector<std::string>{"../outside.txt", (repo.root().parent_path() / "outside.txt").string(), ".git/config",
                             ".cairn/config.yaml", "."}) {
        Result r = repo.cairn({"add", evil});
        INFO(evil << ": " << r.err);
        CHECK(r.code == 3);
        CHECK(contains(r.err, "cairn: error: "));
    }
}

TEST_CASE("symlinks leading out of the workspace are refused", "[e2e][safety]") {
    Repo repo;
    stdfs::path outside = repo.root().parent_path() / "outside";
    cairn::test::write_text(outside / "secret.txt", "secret");
    stdfs::create_directories(repo.path("data"));
    stdfs::create_symlink(outside / "secret.txt", repo.path("data/link.txt"));
    stdfs::create_symlink(outside, repo.path("linkdir"));

    Result direct = repo.cairn({"add", "data/link.txt"});
    CHECK(direct.code == 3);
    CHECK(contains(direct.err, "outside the workspace"));
    Result in_dir = repo.cairn({"add", "data"});
    CHECK(in_dir.code == 3);
    CHECK(contains(in_dir.err, "data/link.txt"));
    Result through = repo.cairn({"add", "linkdir/secret.txt"});
    CHECK(through.code == 3);

    // A committed symlink must not let checkout write outside: pointer behind a symlinked dir.
    repo.write("real/f.txt", "data");
    repo.ok({"add", "real/f.txt"});
    repo.write("linkdir2/.keep", "");
    stdfs::remove_all(repo.path("linkdir2"));
    stdfs::create_symlink(outside, repo.path("linkdir2"));
    cairn::test::write_text(outside / "f.txt.cairn", repo.read("real/f.txt.cairn"));
    Result r = repo.cairn({"checkout", "linkdir2/f.txt"});
    CHECK(r.code == 3);
    CHECK_FALSE(stdfs::exists(outside / "f.txt"));

    // A symlink inside the workspace to a file inside it is stored as that file's bytes.
    stdfs::create_symlink(repo.path("real/f.txt"), repo.path("inner.txt"));
    repo.ok({"add", "inner.txt"});
    CHECK(contains(repo.read("inner.txt.cairn"), sha256_id_of_file(repo.path("real/f.txt"))));
}
