// Names, tree objects and nesting that come from stored data: every reader refuses the same
// things (git's verify_path rules, the strict tree grammar, the depth limit), fsck reports them,
// gc keeps what it cannot read, and nothing is written first.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <set>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "core/hash/hash.hpp"
#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

namespace {

// Stores `bytes` as a cache object, the way cairn would, and returns its id. Hashes in-process
// (the deep-tree test stores 30,000 objects).
std::string store(const Repo& repo, const std::string& bytes) {
    std::string id = cairn::hash::hash_bytes(bytes).id();
    stdfs::path object = repo.path(Repo::object_rel(id));
    stdfs::create_directories(object.parent_path());
    std::ofstream(object, std::ios::binary) << bytes;
    return id;
}

// Puts the temp directories made meanwhile on tmpfs when there is one: 30,000 small files on a
// disk that parallel tests keep syncing cost a minute, on tmpfs two seconds.
class OnTmpfs {
  public:
    OnTmpfs() {
        if (const char* old = std::getenv("TMPDIR")) m_old = old;
        if (::access("/dev/shm", W_OK) == 0) ::setenv("TMPDIR", "/dev/shm", 1);
    }
    ~OnTmpfs() {
        if (m_old)
            ::setenv("TMPDIR", m_old->c_str(), 1);
        else
            ::unsetenv("TMPDIR");
    }
    OnTmpfs(const OnTmpfs&) = delete;
    OnTmpfs& operator=(const OnTmpfs&) = delete;

  private:
    std::optional<std::string> m_old;
};

std::string hex(const std::string& id) {
    return id.substr(7);
}

std::string entry(char kind, const std::string& id, std::uint64_t size, std::uint64_t files,
                  const std::string& name) {
    return std::string(1, kind) + " " + hex(id) + " " + std::to_string(size) + " " +
           std::to_string(files) + "\t" + name + "\n";
}

void write_pointer(const Repo& repo, const std::string& name, const std::string& id,
                   std::uint64_t size, std::uint64_t files) {
    repo.write(name + ".cairn", "version: 1\npath: " + name + "\nhash: " + id +
                                    "\nsize: " + std::to_string(size) +
                                    "\nfiles: " + std::to_string(files) + "\n");
}

std::size_t lines(const std::string& s) {
    return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

bool has_problem(const nlohmann::json& fsck, const std::string& kind, const std::string& object) {
    for (const auto& p : fsck["problems"])
        if (p["kind"] == kind && p["object"] == object) return true;
    return false;
}

std::set<std::string> removed_by_gc(const Result& r) {
    std::set<std::string> out;
    for (const auto& x : r.json()["removed"])
        out.insert(x["object"].get<std::string>());
    return out;
}

} // namespace

TEST_CASE("a tree entry named .git in any spelling is refused by every reader", "[e2e][names]") {
    // What `git status` inside the checked-out directory would run.
    const std::string config = "[core]\n\tfsmonitor = touch pwned\n";
    for (std::string name : {".git", ".GIT", ".Git.", "git~1", ".git::$INDEX_ALLOCATION",
                             ".g\xE2\x80\x8Cit", "\xEF\xBB\xBF.git", ".cairn", ".CAIRN"}) {
        DYNAMIC_SECTION(name) {
            Repo repo;
            std::string config_id = store(repo, config);
            std::string head_id = store(repo, "ref: refs/heads/main\n");
            std::string inner = store(repo, "cairn-tree 1\n" + entry('f', head_id, 21, 1, "HEAD") +
                                                entry('f', config_id, config.size(), 1, "config"));
            std::string top =
                store(repo, "cairn-tree 1\n" + entry('d', inner, config.size() + 21, 2, name));
            write_pointer(repo, "d", top, config.size() + 21, 2);

            for (const char* cmd : {"status", "checkout"}) {
                Result r = repo.cairn({cmd});
                INFO(cmd << ": " << r.err);
                CHECK(r.code == 6);
                CHECK(contains(r.err, "unsafe entry name"));
                CHECK(contains(r.err, top));
                CHECK(lines(r.err) == 1);
            }
            CHECK_FALSE(repo.exists("d"));

            Result fsck = repo.cairn({"fsck", "--json"});
            CHECK(fsck.code == 1);
            CHECK(has_problem(fsck.json(), "unparseable tree", top));

            // gc cannot read the tree, so it keeps everything the tree's text names.
            Result gc = repo.ok({"gc", "--json"});
            auto unparseable = gc.json()["unparseable_trees"];
            REQUIRE(unparseable.size() == 1);
            CHECK(unparseable[0]["object"] == top);
            CHECK(contains(unparseable[0]["reason"].get<std::string>(), "unsafe entry name"));
            CHECK(gc.json()["removed"].empty());
            for (const auto& id : {top, inner, config_id, head_id})
                CHECK(repo.exists(Repo::object_rel(id)));
            Result text = repo.ok({"gc"});
            CHECK(contains(text.err, "cairn: warning: tree object " + top));
        }
    }
}

TEST_CASE("a pointer whose path is a spelling of .git is refused", "[e2e][names]") {
    Repo repo;
    std::string id = store(repo, "cairn-tree 1\n");
    for (std::string name : {".GIT", ".git", "git~1", ".cairn"}) {
        DYNAMIC_SECTION(name) {
            write_pointer(repo, name, id, 0, 0);
            for (const char* cmd : {"status", "checkout"}) {
                Result r = repo.cairn({cmd});
                INFO(cmd << ": " << r.err);
                CHECK(r.code == 3);
                CHECK(contains(r.err, name + ".cairn:2: unsafe path"));
                CHECK(lines(r.err) == 1);
            }
            if (name != ".git" && name != ".cairn") CHECK_FALSE(repo.exists(name));
            Result fsck = repo.cairn({"fsck", "--json"});
            CHECK(fsck.code == 1);
            CHECK(fsck.json()["problems"][0]["kind"] == "bad pointer");
            stdfs::remove(repo.path(name + ".cairn"));
        }
    }
}

TEST_CASE("add refuses data holding a name every reader would refuse", "[e2e][names]") {
    Repo repo;
    struct Case {
        std::string rel, expect;
    };
    std::vector<Case> cases = {
        {"data/sub/.git/HEAD", "'data/sub/.git' is a git repository"},
        {"data/sub/.GIT/HEAD",
         "'data/sub/.GIT' has a name cairn refuses to store (a spelling of .git)"},
        {"data/.git",
         "'data/.git' has a name cairn refuses to store"}, // a gitfile (worktree, submodule)
        {"data/GIT~1/x", "'data/GIT~1' has a name cairn refuses to store"},
        {"data/.cairn/config.yaml",
         "'data/.cairn' has a name cairn refuses to store (a spelling of .cairn)"},
    };
    for (const auto& c : cases) {
        DYNAMIC_SECTION(c.rel) {
            repo.write("data/ok.txt", "fine");
            repo.write(c.rel, "gitdir: elsewhere\n");
            Result r = repo.cairn({"add", "data"});
            INFO(r.err);
            CHECK(r.code == 3);
            CHECK(contains(r.err, c.expect));
            CHECK(lines(r.err) == 1);
            CHECK_FALSE(repo.exists("data.cairn"));
            stdfs::remove_all(repo.path("data"));
        }
    }
    repo.write("top/.Git/x", "x");
    Result direct = repo.cairn({"add", "top/.Git"});
    CHECK(direct.code == 3);
    CHECK(contains(direct.err, "a spelling of .git"));
    CHECK_FALSE(repo.exists("top/.Git.cairn"));

    // Names git allows stay allowed.
    repo.write("fine/.gitignore", "x\n");
    repo.write("fine/.github/workflow.yml", "on: push\n");
    repo.write("fine/git~2", "y");
    repo.ok({"add", "fine"});
}

TEST_CASE("a tree object that does not parse is never written out as a file", "[e2e][names]") {
    // A run output whose bytes start like a tree: apply and rerun treat it as one, and refuse it.
    for (std::string bad :
         std::vector<std::string>{"cairn-tree 1\nf " + std::string(64, 'a') + " 5 1\t.git\n",
                                  "cairn-tree 2\nsomething newer\n"}) {
        DYNAMIC_SECTION(bad.substr(0, 12)) {
            Repo repo;
            repo.write("tree.txt", bad);
            repo.write_script("gen.sh", "#!/bin/sh\ncp tree.txt out\n");
            repo.commit();
            repo.ok({"run", "-n", "hostile", "-o", "out", "--", "./gen.sh"});
            stdfs::remove(repo.path("out"));
            Result r = repo.cairn({"apply", "hostile", "--outputs-only"});
            INFO(r.err);
            CHECK(r.code == 6);
            CHECK(contains(r.err, "cairn: error: output out: tree object "));
            CHECK(lines(r.err) == 1);
            CHECK_FALSE(repo.exists("out"));
            Result rerun = repo.cairn({"rerun", "hostile"});
            INFO(rerun.err);
            CHECK(rerun.code == 6);
            CHECK(contains(rerun.err, "tree object"));

            Result fsck = repo.cairn({"fsck", "--json"});
            CHECK(fsck.code == 1);
            std::string id = sha256_id_of_file(repo.path("tree.txt"));
            REQUIRE(has_problem(fsck.json(), "unparseable tree", id));
            for (const auto& p : fsck.json()["problems"])
                if (p["object"] == id)
                    CHECK(contains(p["detail"].get<std::string>(), "run record outputs.yaml"));
        }
    }
}

TEST_CASE("a genuine data file that starts like a tree object checks out as a file",
          "[e2e][names]") {
    Repo repo;
    std::string text = "cairn-tree 1\nthis is documentation, not a tree\n";
    repo.write("notes.txt", text);
    repo.ok({"add", "notes.txt"});
    stdfs::remove(repo.path("notes.txt"));
    repo.ok({"checkout"});
    CHECK(repo.read("notes.txt") == text);
    // Its pointer says it is a file, so fsck does not call it a broken tree; gc keeps it.
    repo.ok({"fsck"});
    Result gc = repo.ok({"gc", "--json"});
    CHECK(gc.json()["removed"].empty());
    CHECK(repo.exists(Repo::object_rel(sha256_id_of_file(repo.path("notes.txt")))));
}

TEST_CASE("fsck and gc use the strict tree parser", "[e2e][names]") {
    Repo repo;
    std::string a = store(repo, "a");
    std::string b = store(repo, "b");
    struct Case {
        std::string label, tree, reason;
    };
    std::vector<Case> cases = {
        {"newer version", "cairn-tree 2\n" + entry('f', a, 1, 1, "a"), "upgrade cairn"},
        {"dot-dot", "cairn-tree 1\n" + entry('f', a, 1, 1, "../a"), "unsafe entry name"},
        {"duplicate", "cairn-tree 1\n" + entry('f', a, 1, 1, "a") + entry('f', b, 1, 1, "a"),
         "strictly increasing"},
        {"unsorted", "cairn-tree 1\n" + entry('f', a, 1, 1, "b") + entry('f', b, 1, 1, "a"),
         "strictly increasing"},
        {"bad header", "cairn-tree one\n" + entry('f', a, 1, 1, "a"), "unsupported tree format"},
    };
    for (const auto& c : cases) {
        DYNAMIC_SECTION(c.label) {
            std::string tree = store(repo, c.tree);
            write_pointer(repo, "data", tree, 2, 2);
            Result status = repo.cairn({"status"});
            CHECK(status.code == 6);
            CHECK(contains(status.err, c.reason));
            Result fsck = repo.cairn({"fsck", "--json"});
            CHECK(fsck.code == 1);
            REQUIRE(has_problem(fsck.json(), "unparseable tree", tree));
            for (const auto& p : fsck.json()["problems"])
                if (p["object"] == tree) CHECK(contains(p["detail"].get<std::string>(), c.reason));
            Result human = repo.cairn({"fsck"});
            CHECK(contains(human.out, "unparseable tree"));

            Result gc = repo.ok({"gc", "--json"});
            std::set<std::string> removed = removed_by_gc(gc);
            for (const auto& id : {a, b}) {
                if (!contains(c.tree, hex(id))) continue;
                CHECK(removed.count(id) == 0);
                CHECK(repo.exists(Repo::object_rel(id)));
            }
            REQUIRE(gc.json()["unparseable_trees"].size() == 1);
            CHECK(gc.json()["unparseable_trees"][0]["object"] == tree);
            stdfs::remove(repo.path("data.cairn"));
            // Unreachable now: fsck still reports it, and gc may collect it.
            CHECK(has_problem(repo.cairn({"fsck", "--json"}).json(), "unparseable tree", tree));
            repo.ok({"gc"});
            a = store(repo, "a");
            b = store(repo, "b");
        }
    }
}

TEST_CASE("a tree nested 30000 levels deep is refused before anything is written", "[e2e][names]") {
    Repo repo = [] {
        OnTmpfs tmpfs;
        return Repo();
    }();
    std::string file = store(repo, "deep!");
    std::string id = store(repo, "cairn-tree 1\n" + entry('f', file, 5, 1, "f"));
    std::vector<std::string> trees{id};
    for (int i = 0; i < 30000; ++i) {
        id = store(repo, "cairn-tree 1\n" + entry('d', id, 5, 1, "a"));
        trees.push_back(id);
    }
    write_pointer(repo, "deep", id, 5, 1);

    for (const char* cmd : {"status", "checkout"}) {
        Result r = repo.cairn({cmd});
        INFO(cmd << ": " << r.err);
        CHECK(r.code == 6);
        CHECK(contains(r.err, "deep"));
        CHECK(contains(r.err, "more than 255 levels"));
        CHECK(lines(r.err) == 1);
    }
    CHECK_FALSE(repo.exists("deep"));

    Result fsck = repo.cairn({"fsck", "--json"});
    CHECK(fsck.code == 1);
    REQUIRE(fsck.json()["problems"].size() == 1);
    CHECK(fsck.json()["problems"][0]["kind"] == "too deep");
    CHECK(fsck.json()["problems"][0]["object"] == id);
    CHECK(contains(fsck.json()["problems"][0]["detail"].get<std::string>(), "255"));

    // A dry run: the same walk, without the sync a real gc makes of 30,000 freshly written files.
    Result gc = repo.ok({"gc", "--dry-run", "--json"});
    CHECK(gc.json()["removed"].empty());
    CHECK(gc.json()["kept"] == 30002);
    REQUIRE(gc.json()["unparseable_trees"].size() == 1);
    CHECK(contains(gc.json()["unparseable_trees"][0]["reason"].get<std::string>(), "255"));
    CHECK(repo.exists(Repo::object_rel(file)));
    CHECK(repo.exists(Repo::object_rel(trees.front())));
}

TEST_CASE("add stores 255 nested directories and refuses a 256th", "[e2e][names]") {
    Repo repo;
    std::string rel = "data";
    for (int i = 0; i < 255; ++i)
        rel += "/a";
    repo.write(rel + "/f.txt", "bottom");
    repo.ok({"add", "data"});
    stdfs::remove_all(repo.path("data"));
    repo.ok({"checkout"});
    CHECK(repo.read(rel + "/f.txt") == "bottom");
    CHECK(repo.ok({"fsck", "--json"}).json()["ok"] == true);

    repo.write(rel + "/a/g.txt", "too deep");
    Result r = repo.cairn({"add", "data"});
    CHECK(r.code == 3);
    CHECK(contains(r.err, "nested more than 255 directory levels"));
    CHECK(lines(r.err) == 1);
}
