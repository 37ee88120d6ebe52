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

// Final names (not temps) of objects under a cache-shaped directory.
std::size_t count_objects(const stdfs::path& dir) {
    std::size_t n = 0;
    if (!stdfs::exists(dir / "sha256")) return 0;
    for (const auto& e : stdfs::recursive_directory_iterator(dir / "sha256"))
        if (e.is_regular_file() && e.path().filename().string().find(".cairn-tmp.") == std::string::npos) ++n;
    return n;
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

// Push and pull stage a batch of objects under temp names, make them durable at once, then rename
// them (docs/safety.md). Killed at any point of that (several times, at different moments of the
// staging, the sync and the renames of 3,000 objects), every final name holds a whole object;
// the temps are never counted as objects, and the next run sends exactly what is missing.
TEST_CASE("batched push and pull killed with SIGKILL never leave a final name with partial bytes", "[e2e][share][crash]") {
    cairn::test::TempDir shared;
    stdfs::path remote_dir = shared / "remote";
    Repo a;
    a.make_tree("many", 3000, 100, 1024, 9);
    a.ok({"add", "many"});
    a.ok({"remote", "add", "team", remote_dir.string(), "--default"});
    a.commit("data");
    std::size_t total = a.ok({"status", "--remote", "--json"}).json()["objects_not_pushed"].size();
    REQUIRE(total > 3000);

    for (int delay_ms : {10, 40, 80, 160, 320}) {
        auto child = a.spawn({"push", "--data-only", "-j", "4"});
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
        child->signal(SIGKILL);
        child->wait();
        INFO("push killed after " << delay_ms << " ms");
        require_objects_valid(remote_dir);
    }
    std::size_t there = count_objects(remote_dir);
    auto pushed = a.ok({"push", "--data-only", "--json"}).json();
    CHECK(pushed["objects"].get<std::size_t>() + there == total);
    CHECK(pushed["problems"].empty());
    require_objects_valid(remote_dir);
    CHECK(count_objects(remote_dir) == total);
    CHECK(a.ok({"status", "--remote", "--json"}).json()["objects_not_pushed"].empty());

    Repo b(false);
    b.git({"pull", "-q", a.root().string(), "HEAD"});
    b.ok({"init"});
    for (int delay_ms : {10, 40, 80, 160, 320}) {
        auto child = b.spawn({"pull", "--data-only", "-j", "4"});
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
        child->signal(SIGKILL);
        child->wait();
        INFO("pull killed after " << delay_ms << " ms");
        require_objects_valid(b.path(".cairn/cache"));
    }
    b.ok({"pull", "--data-only"});
    require_objects_valid(b.path(".cairn/cache"));
    CHECK(count_objects(b.path(".cairn/cache")) == total);
    b.ok({"checkout"});
    CHECK(b.read("many/d7/f712") == a.read("many/d7/f712"));
    CHECK(b.ok({"fsck", "--json"}).json()["ok"] == true);
}
