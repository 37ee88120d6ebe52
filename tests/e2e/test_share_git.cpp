// Run records through git: push to and pull from a bare repository over a file path and over
// `git daemon` on 127.0.0.1, then a fresh clone where `cairn ls` and `cairn rerun` work.
#include <arpa/inet.h>
#include <chrono>
#include <csignal>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

namespace {

int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    ::close(fd);
    return ntohs(addr.sin_port);
}

bool port_open(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

// A repository with data on a directory remote, one committed run, and `origin` set to `url`.
void make_project(Repo& a, const stdfs::path& data_remote, const std::string& url) {
    a.write("in.txt", "three\n");
    a.ok({"add", "in.txt"});
    a.write_script("count.sh", "#!/bin/sh\nwc -l < in.txt > out.txt\necho 'lines: 1'\n");
    a.ok({"remote", "add", "team", data_remote.string(), "--default"});
    a.commit("project");
    a.ok({"run", "-n", "count", "-d", "in.txt", "-o", "out.txt", "--", "./count.sh"});
    a.git({"remote", "add", "origin", url});
    a.git({"push", "-q", "origin", "HEAD:refs/heads/main"});
}

void check_clone(const stdfs::path& bare_url, const stdfs::path& data_remote, const std::string& url) {
    (void)data_remote;
    Repo b(false);
    b.git({"remote", "add", "origin", url});
    b.git({"pull", "-q", "origin", "main"});
    b.ok({"init"});
    auto pulled = b.ok({"pull", "--json"}).json();
    CHECK(pulled["refs"]["created"].size() >= 1);
    auto runs = b.ok({"ls", "--json"}).json();
    REQUIRE(runs.size() == 1);
    CHECK(runs[0]["name"] == "count");
    b.ok({"checkout"});
    CHECK(b.read("in.txt") == "three\n");
    Result rerun = b.cairn({"rerun", "count"});
    INFO(rerun.out << rerun.err);
    CHECK(rerun.code == 0);
    (void)bare_url;
}

} // namespace

TEST_CASE("push and pull run records through a bare repository on a file path", "[e2e][share][git]") {
    cairn::test::TempDir shared;
    stdfs::path bare = shared / "origin.git";
    REQUIRE(run_process({"git", "init", "-q", "--bare", bare.string()}, shared.path(), {{"PATH", std::getenv("PATH")}}).code == 0);
    Repo a;
    make_project(a, shared / "data", bare.string());
    auto pushed = a.ok({"push", "--all", "--json"}).json();
    CHECK(pushed["refs"]["created"].size() >= 1);
    CHECK(pushed["refs"]["conflicts"].empty());
    std::string remote_refs = run_process({"git", "--git-dir", bare.string(), "for-each-ref", "refs/cairn/"}, shared.path(),
                                          {{"PATH", std::getenv("PATH")}}).out;
    CHECK(contains(remote_refs, "refs/cairn/runs/"));
    // Nothing new the second time.
    auto again = a.ok({"push", "--json"}).json();
    CHECK(again["refs"]["created"].empty());
    check_clone(bare, shared / "data", bare.string());

    // A ref changed on both sides is reported and left alone on the remote.
    std::string before = remote_refs;
    a.ok({"tag", "count", "reviewed=yes"});
    Result conflict = a.cairn({"push"});
    // Tagging rewrites the run's commit with the same parents, so the remote's is not its
    // ancestor: a conflict, never an overwrite.
    CHECK(conflict.code == 1);
    CHECK(contains(conflict.err, "conflict"));
    CHECK(run_process({"git", "--git-dir", bare.string(), "for-each-ref", "refs/cairn/"}, shared.path(),
                      {{"PATH", std::getenv("PATH")}}).out == before);
}

TEST_CASE("push and pull run records through git daemon on 127.0.0.1", "[e2e][share][git]") {
    cairn::test::TempDir shared;
    stdfs::path base = shared / "srv";
    stdfs::create_directories(base);
    std::map<std::string, std::string> env{{"PATH", std::getenv("PATH")}, {"HOME", shared.path().string()}};
    REQUIRE(run_process({"git", "init", "-q", "--bare", (base / "p.git").string()}, shared.path(), env).code == 0);
    int port = free_port();
    Child daemon({"git", "daemon", "--reuseaddr", "--listen=127.0.0.1", "--port=" + std::to_string(port),
                  "--base-path=" + base.string(), "--export-all", "--enable=receive-pack", base.string()},
                 shared.path(), env);
    bool up = false;
    for (int i = 0; i < 500 && !up; ++i) {
        up = port_open(port);
        if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    REQUIRE(up);
    std::string url = "git://127.0.0.1:" + std::to_string(port) + "/p.git";
    Repo a;
    make_project(a, shared / "data", url);
    auto pushed = a.ok({"push", "--all", "--json"}).json();
    CHECK(pushed["refs"]["created"].size() >= 1);
    check_clone(base / "p.git", shared / "data", url);
    daemon.signal(SIGTERM);
    daemon.wait();
}

TEST_CASE("gc --remote --force keeps data that other clones pushed with branches and runs this clone never fetched",
          "[e2e][share][git]") {
    cairn::test::TempDir shared;
    stdfs::path bare = shared / "origin.git";
    stdfs::path data = shared / "data";
    REQUIRE(run_process({"git", "init", "-q", "--bare", bare.string()}, shared.path(), {{"PATH", std::getenv("PATH")}}).code == 0);
    Repo a;
    make_project(a, data, bare.string());
    a.ok({"push", "--all"});

    Repo b(false);
    b.git({"remote", "add", "origin", bare.string()});
    b.git({"pull", "-q", "origin", "main"});
    b.ok({"init"});
    b.ok({"pull"});

    // Meanwhile a pushes a directory on a new branch and a run with a new output; b fetches nothing.
    a.git({"checkout", "-q", "-b", "feature"});
    a.make_tree("images", 6, 3, 64, 7);
    a.ok({"add", "images"});
    a.commit("images");
    a.git({"push", "-q", "origin", "feature"});
    a.write_script("tag.sh", "#!/bin/sh\necho 'made on the feature branch' > out2.txt\n");
    a.commit("script");
    a.git({"push", "-q", "origin", "feature"});
    a.ok({"run", "-n", "second", "-o", "out2.txt", "--", "./tag.sh"});
    a.ok({"push", "--all"});
    std::string out2 = sha256_id_of_file(a.path("out2.txt"));
    std::string image = sha256_id_of_file(a.path("images/d0/f0"));
    auto key = [](const std::string& id) { return Repo::object_rel(id).substr(std::string(".cairn/cache/").size()); };
    REQUIRE(stdfs::exists(data / key(out2)));
    REQUIRE(stdfs::exists(data / key(image)));
    REQUIRE_FALSE(b.exists(Repo::object_rel(image)));

    // And an object nothing anywhere references.
    a.write("junk.bin", "referenced by nobody");
    std::string junk = sha256_id_of_file(a.path("junk.bin"));
    stdfs::create_directories((data / key(junk)).parent_path());
    stdfs::copy_file(a.path("junk.bin"), data / key(junk));

    auto listed = b.ok({"gc", "--remote", "team", "--json"}).json();
    INFO(listed.dump());
    REQUIRE(listed["unreferenced"].size() == 1);
    CHECK(listed["unreferenced"][0]["key"] == key(junk));
    CHECK(listed["git_remotes_checked"] == nlohmann::json::array({"origin"}));

    // A git remote that cannot be read blocks deletion: what was pushed there is unknown.
    b.git({"remote", "add", "gone", (shared / "no-such-repo.git").string()});
    Result blocked = b.cairn({"gc", "--remote", "team", "--force"});
    CHECK(blocked.code == 5);
    CHECK(contains(blocked.err, "nothing removed: cannot read git remote 'gone'"));
    CHECK(stdfs::exists(data / key(junk)));

    b.ok({"gc", "--remote", "team", "--force", "--git-remote", "origin"});
    CHECK_FALSE(stdfs::exists(data / key(junk)));
    CHECK(stdfs::exists(data / key(out2)));
    CHECK(stdfs::exists(data / key(image)));
    // The other clone can still get everything it pushed.
    Repo c(false);
    c.git({"remote", "add", "origin", bare.string()});
    c.git({"pull", "-q", "origin", "feature"});
    c.ok({"init"});
    c.ok({"pull"});
    c.ok({"checkout"});
    CHECK(c.read("images/d0/f0") == a.read("images/d0/f0"));
}
