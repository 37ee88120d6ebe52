// init, help, version, usage errors.
#include <sstream>

#include <catch2/catch.hpp>

#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

TEST_CASE("init outside a git repository fails with a hint, --git creates one", "[e2e][init]") {
    cairn::test::TempDir dir;
    Repo probe(false); // only for its environment
    Result r = run_process({CAIRN_EXE, "init"}, dir.path(), probe.env());
    CHECK(r.code == 4);
    CHECK(r.out.empty());
    CHECK(contains(r.err, "cairn: error: "));
    CHECK(contains(r.err, "cairn init --git"));
    CHECK_FALSE(stdfs::exists(dir / ".cairn"));

    r = run_process({CAIRN_EXE, "init", "--git"}, dir.path(), probe.env());
    REQUIRE(r.code == 0);
    CHECK(stdfs::is_directory(dir / ".git"));
    CHECK(stdfs::is_regular_file(dir / ".cairn/config.yaml"));
    CHECK(stdfs::is_regular_file(dir / ".cairn/.gitignore"));
    CHECK(stdfs::is_directory(dir / ".cairn/cache"));
    CHECK(stdfs::is_directory(dir / ".cairn/state"));
    CHECK(stdfs::is_directory(dir / ".cairn/tmp"));
}

TEST_CASE("init is idempotent and keeps an edited config", "[e2e][init]") {
    Repo repo;
    repo.write(".cairn/config.yaml", "version: 1\ncache:\n  type: copy\n");
    Result r = repo.ok({"init", "--json"});
    CHECK(r.json()["created_store"] == false);
    CHECK(repo.read(".cairn/config.yaml") == "version: 1\ncache:\n  type: copy\n");
    // Only config.yaml and .gitignore of the store are visible to git.
    Result st = repo.git({"status", "--porcelain", "--untracked-files=all"});
    CHECK(contains(st.out, ".cairn/config.yaml"));
    CHECK(contains(st.out, ".cairn/.gitignore"));
    CHECK_FALSE(contains(st.out, ".cairn/state"));
    CHECK_FALSE(contains(st.out, ".cairn/cache"));
}

TEST_CASE("commands outside an initialised store say so", "[e2e][init]") {
    Repo repo(false);
    Result r = repo.cairn({"status"});
    CHECK(r.code == 4);
    CHECK(contains(r.err, "cairn init"));
}

TEST_CASE("version, help and usage errors", "[e2e][cli]") {
    Repo repo(false);
    Result v = repo.cairn({"--version"});
    CHECK(v.code == 0);
    CHECK(contains(v.out, "cairn "));

    Result help = repo.cairn({"help"});
    CHECK(help.code == 0);
    for (const char* cmd : {"init", "add", "status", "checkout", "fsck", "gc"}) CHECK(contains(help.out, cmd));

    for (const char* cmd : {"init", "add", "status", "checkout", "fsck", "gc"}) {
        Result h = repo.cairn({cmd, "--help"});
        CHECK(h.code == 0);
        CHECK(contains(h.out, "Examples:"));
        Result h2 = repo.cairn({"help", cmd});
        CHECK(h2.out == h.out);
    }

    Result bad = repo.cairn({"frobnicate"});
    CHECK(bad.code == 2);
    CHECK(contains(bad.err, "cairn: error: "));
    Result bad_flag = repo.cairn({"status", "--no-such-flag"});
    CHECK(bad_flag.code == 2);
    Result none = repo.cairn({});
    CHECK(none.code == 2);
    Result bad_help = repo.cairn({"help", "frobnicate"});
    CHECK(bad_help.code == 2);
}

TEST_CASE("malformed config.yaml is a one-line error with file and line", "[e2e][init]") {
    Repo repo;
    repo.write(".cairn/config.yaml", "version: 1\ncache:\n  type: [reflink\n");
    Result r = repo.cairn({"status"});
    CHECK(r.code == 3);
    CHECK(contains(r.err, "cairn: error: .cairn/config.yaml:"));
    repo.write(".cairn/config.yaml", "version: 1\ncache:\n  type: teleport\n");
    r = repo.cairn({"status"});
    CHECK(r.code == 3);
    CHECK(contains(r.err, ".cairn/config.yaml:3: unknown link type 'teleport'"));
}

TEST_CASE("every command listed by cairn --help has its own --help", "[e2e][cli]") {
    cairn::test::TempDir dir;
    Result top = run_process({CAIRN_EXE, "--help"}, dir.path(), {{"PATH", "/usr/bin:/bin"}});
    REQUIRE(top.code == 0);
    auto at = top.out.find("Subcommands:");
    REQUIRE(at != std::string::npos);
    std::istringstream lines(top.out.substr(at));
    std::string line;
    std::getline(lines, line);
    int commands = 0;
    while (std::getline(lines, line) && !line.empty()) {
        std::istringstream words(line);
        std::string name;
        words >> name;
        if (name.empty() || name == "help") continue;
        ++commands;
        Result sub = run_process({CAIRN_EXE, name, "--help"}, dir.path(), {{"PATH", "/usr/bin:/bin"}});
        INFO(name);
        CHECK(sub.code == 0);
        CHECK(sub.out.find("cairn " + name) != std::string::npos);
    }
    CHECK(commands >= 17);
}
