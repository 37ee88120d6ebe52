// Real processes: kill -9 and Ctrl-C in the middle of add, and concurrent cairn processes.
#include <csignal>
#include <thread>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

namespace {

void require_store_valid(const Repo& repo) {
    Result fsck = repo.cairn({"fsck", "--json"});
    INFO(fsck.out << fsck.err);
    REQUIRE(fsck.code == 0);
    REQUIRE(fsck.json()["ok"] == true);
}

void reset_store(const Repo& repo) {
    stdfs::remove_all(repo.path(".cairn/cache"));
    stdfs::remove_all(repo.path(".cairn/state"));
    stdfs::remove_all(repo.path(".cairn/tmp"));
    for (const char* p : {"big.bin.cairn", "small.cairn"}) stdfs::remove(repo.path(p));
}

} // namespace

TEST_CASE("add killed with SIGKILL at any point leaves data intact and the store valid", "[e2e][crash]") {
    Repo repo;
    repo.write("big.bin", random_bytes(48u << 20, 7));
    repo.make_tree("small", 1500, 100, 1024, 3);
    std::string big_id = sha256_id_of_file(repo.path("big.bin"));
    std::string small_id = sha256_id_of_file(repo.path("small/d7/f777"));

    for (int delay_ms : {0, 2, 5, 10, 20, 40, 70, 110, 160, 250}) {
        reset_store(repo);
        repo.ok({"init"});
        auto child = repo.spawn({"add", "big.bin", "small"});
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
        child->signal(SIGKILL);
        child->wait();
        INFO("killed after " << delay_ms << " ms");
        // The user's data is untouched.
        CHECK(sha256_id_of_file(repo.path("big.bin")) == big_id);
        CHECK(sha256_id_of_file(repo.path("small/d7/f777")) == small_id);
        // The store is valid: every object matches its name, every pointer's objects exist.
        require_store_valid(repo);
        // A pointer is only ever written after its objects are in the cache.
        if (repo.exists("small.cairn")) {
            Result st = repo.ok({"status", "--json"});
            auto paths = st.json()["paths"];
            for (const auto& p : paths) CHECK(p["status"] != "not in cache");
        }
    }
    // A later add completes the work.
    repo.ok({"add", "big.bin", "small"});
    require_store_valid(repo);
    CHECK(contains(repo.ok({"status"}).out, "up to date"));
    CHECK(repo.ok({"gc", "--json"}).json()["removed"].empty());
}

TEST_CASE("Ctrl-C during add exits 130 and leaves no temp files in the store", "[e2e][crash]") {
    Repo repo;
    repo.write("big.bin", random_bytes(64u << 20, 9));
    auto child = repo.spawn({"add", "big.bin"});
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    child->signal(SIGINT);
    int code = child->wait();
    // Either it finished before the signal, or it stopped cleanly.
    CHECK((code == 130 || code == 0));
    if (code == 130) CHECK(stdfs::is_empty(repo.path(".cairn/tmp")));
    require_store_valid(repo);
}

TEST_CASE("two adds of overlapping data at once both finish correctly", "[e2e][concurrency]") {
    Repo repo;
    repo.make_tree("data", 600, 60, 2048, 5);
    for (int round = 0; round < 3; ++round) {
        repo.write("data/d" + std::to_string(round) + "/f" + std::to_string(round * 60), "round " + std::to_string(round));
        auto a = repo.spawn({"add", "data"});
        auto b = repo.spawn({"add", "data"});
        CHECK(a->wait() == 0);
        CHECK(b->wait() == 0);
        require_store_valid(repo);
        CHECK(contains(repo.ok({"status"}).out, "up to date"));
    }
    stdfs::remove_all(repo.path("data"));
    repo.make_tree("parts/p1", 200, 50, 512, 11);
    repo.make_tree("parts/p2", 200, 50, 512, 12);
    repo.make_tree("parts/p3", 200, 50, 512, 11); // same bytes as p1: shared objects
    auto a = repo.spawn({"add", "parts/p1", "parts/p2"});
    auto b = repo.spawn({"add", "parts/p2", "parts/p3"});
    CHECK(a->wait() == 0);
    CHECK(b->wait() == 0);
    require_store_valid(repo);
    Result st = repo.ok({"status", "parts", "--json"});
    CHECK(st.json()["paths"].size() == 3);
    CHECK(st.json()["clean"] == true);
}

TEST_CASE("gc running alongside add never removes what add is storing", "[e2e][concurrency]") {
    Repo repo;
    for (int round = 0; round < 3; ++round) {
        std::string dir = "batch" + std::to_string(round);
        repo.make_tree(dir, 400, 40, 1024, static_cast<unsigned>(100 + round));
        auto add = repo.spawn({"add", dir});
        auto gc = repo.spawn({"gc"});
        CHECK(add->wait() == 0);
        CHECK(gc->wait() == 0);
        require_store_valid(repo);
        stdfs::remove_all(repo.path(dir));
        repo.ok({"checkout", dir});
        CHECK(contains(repo.ok({"status"}).out, "up to date"));
    }
}

TEST_CASE("a run recorded from staging after its command ended follows the same failed rule", "[e2e][crash]") {
    // A live run's staging directory, copied aside, stands for one whose cairn died after the
    // command ended (its outcome written, its record not): the next reader records it.
    Repo repo;
    // It also ends once the test's directory is gone: nothing waits for it after its cairn is
    // killed (its staging says it ended, so crash recovery leaves it alone).
    repo.write_script("slow.sh", "#!/bin/sh\ntouch started\nwhile [ ! -e stop ] && [ -e slow.sh ]; do sleep 0.05; done\n");
    repo.commit("slow");
    auto child = repo.spawn({"run", "-n", "late", "-o", "model.bin", "--", "./slow.sh"});
    for (int i = 0; i < 3000 && !repo.exists("started"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    REQUIRE(repo.exists("started"));
    stdfs::path staging;
    for (const auto& e : stdfs::directory_iterator(repo.path(".cairn/runs")))
        if (e.is_directory() && e.path().filename().string()[0] != '.') staging = e.path();
    REQUIRE(!staging.empty());
    // Complete once the command's process group is recorded (written while the command starts).
    for (int i = 0; i < 3000 && !stdfs::exists(staging / "command"); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    REQUIRE(stdfs::exists(staging / "command"));
    stdfs::path aside = repo.root().parent_path() / "staging-copy";
    stdfs::copy(staging, aside, stdfs::copy_options::recursive);
    child->signal(SIGKILL);
    child->wait();
    repo.write("stop", ""); // the command, in a process group of its own, ends too
    stdfs::remove_all(staging);
    stdfs::copy(aside, staging, stdfs::copy_options::recursive);
    // The command ended with exit 0 (the outcome file is overwritten in place, as cairn does).
    std::string outcome = "status finished\nexit_code 0\nend_ms 1700000000000\n";
    outcome.resize(511, ' ');
    repo.write(stdfs::relative(staging / "outcome", repo.root()).string(), outcome + "\n");
    REQUIRE(repo.read(stdfs::relative(staging / "outputs.txt", repo.root()).string()) == "model.bin\n");

    auto runs = repo.ok({"ls", "--json"}).json();
    REQUIRE(runs.size() == 1);
    CHECK(runs[0]["name"] == "late");
    CHECK(runs[0]["status"] == "failed");
    CHECK(runs[0]["exit_code"] == 0);
    CHECK(runs[0]["reason"] == "declared output model.bin was not written");
    CHECK(!repo.exists(stdfs::relative(staging, repo.root()).string()));
}

TEST_CASE("gc during a run keeps the objects the run stored for its inputs and large files", "[e2e][gc][concurrency]") {
    Repo repo;
    // Untracked data given with -d, and a large untracked file: both go to the cache, named only
    // by the run (its staging directory, then its commit).
    repo.write_script("slow.sh", "#!/bin/sh\ntouch started\nwhile [ ! -e stop ]; do sleep 0.05; done\n");
    repo.write(".gitignore", "started\nstop\n");
    repo.commit("slow");
    repo.write("data/raw.csv", random_bytes(4096, 21));
    repo.write("big.bin", random_bytes((10u << 20) + 1, 22));
    const std::string raw_id = sha256_id_of_file(repo.path("data/raw.csv"));
    const std::string big_id = sha256_id_of_file(repo.path("big.bin"));
    auto child = repo.spawn({"run", "-n", "long", "-d", "data", "--", "./slow.sh"});
    for (int i = 0; i < 3000 && !repo.exists("started"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    REQUIRE(repo.exists("started"));
    repo.ok({"gc"});
    CHECK(repo.exists(Repo::object_rel(raw_id)));
    CHECK(repo.exists(Repo::object_rel(big_id)));
    repo.write("stop", "");
    REQUIRE(child->wait() == 0);
    repo.ok({"gc"});
    CHECK(repo.exists(Repo::object_rel(raw_id)));
    CHECK(repo.exists(Repo::object_rel(big_id)));
    CHECK(repo.ok({"fsck", "--json"}).json()["ok"] == true);
    stdfs::remove_all(repo.path("data"));
    CHECK(repo.cairn({"rerun", "long", "--dry-run"}).code == 0);
}
