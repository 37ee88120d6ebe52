// kill -9 during push and pull: no partial object under a final name on either side, and a
// second run completes.
#include <chrono>
#include <csignal>
#include <thread>

#include <catch2/catch.hpp>

#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

namespace {

// Every object file under a cache-shaped directory (`sha256/ab/<62 hex>`) holds the bytes its
// name says; temp files are allowed (they are never read as objects).
void require_objects_valid(const stdfs::path& dir) {
    if (!stdfs::exists(dir / "sha256")) return;
    for (const auto& e : stdfs::recursive_directory_iterator(dir / "sha256")) {
        if (!e.is_regular_file()) continue;
        std::string name = e.path().filename().string();
        if (name.find(".cairn-tmp.") != std::string::npos) continue;
        std::string id = "sha256:" + e.path().parent_path().filename().string() + name;
        INFO(e.path());
        REQUIRE(sha256_id_of_file(e.path()) == id);
    }
}

} // namespace

TEST_CASE("push and pull killed with SIGKILL leave no partial object and complete when run again", "[e2e][share][crash]") {
    cairn::test::TempDir shared;
    stdfs::path remote_dir = shared / "remote";
    Repo a;
    a.write("big.bin", random_bytes(24u << 20, 5));
    a.make_tree("small", 600, 50, 2048, 4);
    a.ok({"add", "big.bin", "small"});
    a.ok({"remote", "add", "team", remote_dir.string(), "--default"});
    a.commit("data");

    for (int delay_ms : {0, 5, 20, 60, 150}) {
        auto child = a.spawn({"push", "-j", "2"});
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
        child->signal(SIGKILL);
        child->wait();
        INFO("push killed after " << delay_ms << " ms");
        require_objects_valid(remote_dir);
    }
    a.ok({"push"});
    require_objects_valid(remote_dir);
    CHECK(contains(a.ok({"push"}).out, "pushed 0 objects"));

    Repo b(false);
    b.git({"pull", "-q", a.root().string(), "HEAD"});
    b.ok({"init"});
    for (int delay_ms : {0, 5, 20, 60, 150}) {
        auto child = b.spawn({"pull", "-j", "2"});
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
        child->signal(SIGKILL);
        child->wait();
        INFO("pull killed after " << delay_ms << " ms");
        require_objects_valid(b.path(".cairn/cache"));
    }
    b.ok({"pull"});
    b.ok({"checkout"});
    CHECK(sha256_id_of_file(b.path("big.bin")) == sha256_id_of_file(a.path("big.bin")));
    CHECK(contains(b.ok({"status"}).out, "up to date"));
    CHECK(b.ok({"fsck", "--json"}).json()["ok"] == true);
}
