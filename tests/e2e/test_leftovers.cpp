// What a killed cairn leaves behind (temp files beside the user's files), concurrent adds that
// overlap, git-tracked paths given to add, and `status --staged` for pre-commit hooks.
#include <chrono>
#include <csignal>
#include <random>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "core/fs/atomic_file.hpp"
#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

namespace {

// Temp files directly in a directory of the work tree.
std::vector<std::string> temps_in(const Repo& repo, const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& e : stdfs::directory_iterator(repo.path(dir)))
        if (contains(e.path().filename().string(), ".cairn-tmp."))
            out.push_back(e.path().filename().string());
    return out;
}

// Waits until a temp file shows up in `dir` (the moment to kill), or the child is done.
bool wait_for_temp(const Repo& repo, const std::string& dir, const Child& child) {
    for (int i = 0; i < 20000; ++i) {
        if (!temps_in(repo, dir).empty()) return true;
        siginfo_t info{};
        if (::waitid(P_PID, static_cast<id_t>(child.pid()), &info, WEXITED | WNOHANG | WNOWAIT) !=
                0 ||
            info.si_pid != 0)
            return false; // done (still to be reaped by Child::wait)
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return false;
}

std::string git_view(const Repo& repo) {
    return repo.git({"status", "--porcelain", "--untracked-files=all"}).out;
}

// A temp name as a process `pid` of this host would have made it.
std::string temp_of(const std::string& stem, long long pid) {
    return fmt::format("{}.cairn-tmp.{}-{}-0123456789ab", stem, pid, cairn::fs::host_tag());
}

long long dead_pid() {
    pid_t pid = ::fork();
    if (pid == 0) ::_exit(0);
    ::waitpid(pid, nullptr, 0);
    return pid;
}

} // namespace

TEST_CASE("checkout --force killed with SIGKILL leaves no temp in git's view, and the next command "
          "removes it",
          "[e2e][leftovers]") {
    Repo repo;
    repo.write("big.bin", random_bytes(64u << 20, 11));
    std::string id = sha256_id_of_file(repo.path("big.bin"));
    repo.ok({"add", "big.bin"});
    repo.commit("track big.bin");
    std::mt19937 rng(8);
    int killed_with_temp = 0;
    for (int round = 0; round < 6; ++round) {
        repo.write("big.bin", "edited\n"); // checkout --force rewrites all of it
        auto child = repo.spawn({"checkout", "--force"});
        // Half the rounds kill as soon as the temp exists; the others at a seeded moment.
        if (round % 3 != 2) {
            wait_for_temp(repo, "", *child);
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 60));
        }
        child->signal(SIGKILL);
        child->wait();
        std::vector<std::string> left = temps_in(repo, "");
        killed_with_temp += left.empty() ? 0 : 1;
        INFO("round " << round << ", temps left: " << left.size());
        CHECK_FALSE(contains(git_view(repo), "cairn-tmp"));
        if (round % 2 == 0) {
            repo.ok({"checkout", "--force"}); // the next command writing there removes it
        } else {
            auto gc = repo.ok({"gc", "--json"}).json();
            CHECK(gc["temp_files"] >= left.size()); // and any in .cairn/
            CHECK(temps_in(repo, "").empty());
            repo.ok({"checkout", "--force"});
        }
        CHECK(temps_in(repo, "").empty());
        CHECK(sha256_id_of_file(repo.path("big.bin")) == id);
        CHECK(contains(repo.ok({"status"}).out, "up to date"));
    }
    CHECK(killed_with_temp > 0);
}

TEST_CASE("apply killed with SIGKILL does not block the next apply, which removes the temp",
          "[e2e][leftovers]") {
    Repo repo;
    repo.write_script("train.sh",
                      "#!/bin/sh\nmkdir -p out\nhead -c 33554432 /dev/urandom > out/model.bin\n"
                      "echo notes > out/notes.txt\n");
    repo.commit("train");
    repo.ok({"run", "-n", "good", "-o", "out", "--", "./train.sh"});
    std::string id = sha256_id_of_file(repo.path("out/model.bin"));
    std::mt19937 rng(9);
    int killed_with_temp = 0;
    for (int round = 0; round < 5; ++round) {
        stdfs::remove(repo.path("out/model.bin"));
        auto child = repo.spawn({"apply", "good"});
        if (round % 3 != 2) {
            wait_for_temp(repo, "out", *child);
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 80));
        }
        child->signal(SIGKILL);
        child->wait();
        std::vector<std::string> left = temps_in(repo, "out");
        killed_with_temp += left.empty() ? 0 : 1;
        INFO("round " << round << ", temps left: " << left.size());
        CHECK_FALSE(contains(git_view(repo), "cairn-tmp"));
        if (round % 2 == 1) {
            CHECK(repo.ok({"gc", "--json"}).json()["temp_files"] >= left.size());
            CHECK(temps_in(repo, "out").empty());
        }
        Result again = repo.cairn({"apply", "good"});
        INFO(again.err);
        REQUIRE(again.code == 0);
        CHECK(temps_in(repo, "out").empty());
        CHECK(sha256_id_of_file(repo.path("out/model.bin")) == id);
    }
    CHECK(killed_with_temp > 0);
}

TEST_CASE("temp files never count as data, and only dead creators' ones are removed",
          "[e2e][leftovers]") {
    Repo repo;
    repo.make_tree("data", 4, 2, 100, 5);
    repo.ok({"add", "data"});
    // A live cairn's temp (this test process stands in for it), a dead one's, another host's.
    std::string live = "data/d0/" + temp_of("f0", ::getpid());
    std::string dead = "data/d0/" + temp_of("f1", dead_pid());
    std::string other = "data/d0/f1.cairn-tmp.1-" +
                        std::string(cairn::fs::host_tag() == "00000000" ? "1" : "0") +
                        "0000000-0123456789ab";
    std::string beside = temp_of("data.cairn", dead_pid());
    for (const auto& p : {live, dead, other, beside})
        repo.write(p, "partial");
    CHECK(contains(repo.ok({"status"}).out, "up to date"));
    repo.ok({"status", "--check"});
    CHECK_FALSE(contains(git_view(repo), "cairn-tmp"));
    repo.ok({"checkout"}); // refused before: "data not in the cache"
    CHECK(repo.exists(live));
    CHECK(repo.exists(other));
    CHECK_FALSE(repo.exists(dead));
    CHECK_FALSE(repo.exists(beside));
    // Re-adding leaves temps out of the tree.
    auto j = repo.ok({"add", "data", "--json"}).json();
    CHECK(j["paths"][0]["changed"] == false);
    CHECK(repo.ok({"gc", "--json"}).json()["temp_files"] == 0); // the live and the foreign one stay
    CHECK(repo.exists(live));
}

TEST_CASE(
    "the git-ignore rule for temps is in info/exclude, restored when missing, in the common dir",
    "[e2e][leftovers]") {
    Repo repo;
    CHECK(contains(repo.read(".git/info/exclude"), "\n*.cairn-tmp.*\n"));
    repo.write(temp_of("params.yaml", ::getpid()), "lr: 1\n");
    CHECK_FALSE(contains(git_view(repo), "cairn-tmp"));

    // Set up by an older cairn, or edited by the user: the next command puts the rule back, once.
    repo.write(".git/info/exclude", "*.log");
    repo.ok({"status"});
    repo.ok({"status"});
    std::string exclude = repo.read(".git/info/exclude");
    CHECK(exclude.rfind("*.log\n", 0) == 0);
    CHECK(exclude.find("*.cairn-tmp.*") == exclude.rfind("*.cairn-tmp.*"));
    CHECK_FALSE(contains(git_view(repo), "cairn-tmp"));

    // A linked worktree reads info/exclude from the common dir.
    repo.commit("init");
    stdfs::remove(repo.path(".git/info/exclude"));
    REQUIRE(repo.git({"worktree", "add", "-q", "../linked"}).code == 0);
    repo.ok({"status"}, "../linked");
    CHECK(contains(repo.read(".git/info/exclude"), "*.cairn-tmp.*"));
    repo.write("../linked/" + temp_of("x", ::getpid()), "t");
    Result linked = run_process({"git", "status", "--porcelain", "--untracked-files=all"},
                                repo.path("../linked"), repo.env());
    CHECK(linked.code == 0);
    CHECK_FALSE(contains(linked.out, "cairn-tmp"));
}

TEST_CASE("a file name near NAME_MAX can be checked out", "[e2e][leftovers]") {
    Repo repo;
    std::string name = "data/" + std::string(250, 'n');
    repo.write(name, "long");
    repo.ok({"add", "data"});
    stdfs::remove(repo.path(name));
    repo.ok({"checkout"}); // ENAMETOOLONG before temp names were cut
    CHECK(repo.read(name) == "long");
    CHECK(temps_in(repo, "data").empty());
}

TEST_CASE("concurrent adds of a directory and a path inside it never both track",
          "[e2e][leftovers]") {
    for (int round = 0; round < 4; ++round) {
        Repo repo;
        repo.make_tree("data", 400, 40, 2048, static_cast<unsigned>(round + 1));
        auto outer = repo.spawn({"add", "data"});
        auto inner = repo.spawn({"add", "data/d3"});
        int outer_code = outer->wait();
        int inner_code = inner->wait();
        INFO("round " << round << ": add data -> " << outer_code << ", add data/d3 -> "
                      << inner_code);
        CHECK((outer_code == 0) != (inner_code == 0));
        CHECK(repo.exists("data.cairn") != repo.exists("data/d3.cairn"));
        repo.ok({"status", "--check"});
    }
}

TEST_CASE("add refuses what git already tracks, with the git rm --cached hint",
          "[e2e][leftovers]") {
    Repo repo;
    repo.write("table.csv", "a,b\n");
    repo.write("dir/x.txt", "x");
    repo.write("dir/sub/y.txt", "y");
    repo.commit("in git");
    Result file = repo.cairn({"add", "table.csv"});
    CHECK(file.code == 3);
    CHECK(contains(file.err, "'table.csv' is tracked by git"));
    CHECK(contains(file.err, "git rm -r --cached 'table.csv'"));
    Result dir = repo.cairn({"add", "dir"});
    CHECK(dir.code == 3);
    CHECK(contains(dir.err, "'dir' contains files tracked by git (dir/sub/y.txt, dir/x.txt)"));
    CHECK(contains(dir.err, "git rm -r --cached 'dir'"));
    CHECK_FALSE(repo.exists("table.csv.cairn"));
    CHECK_FALSE(repo.exists("dir.cairn"));
    // Staged but not committed counts too; once removed from the index, add works.
    repo.write("new.bin", "n");
    repo.git({"add", "new.bin"});
    CHECK(repo.cairn({"add", "new.bin"}).code == 3);
    // Only the path and what is below it: a sibling sharing the prefix is not in the way.
    repo.write("dir2/z.txt", "z");
    repo.write("dirz", "z");
    repo.commit("siblings");
    repo.git({"rm", "-q", "-r", "--cached", "dir", "new.bin"});
    repo.ok({"add", "dir", "new.bin"});
}

TEST_CASE("status --staged compares the data with the staged pointers and names the one to git add",
          "[e2e][leftovers]") {
    Repo repo;
    repo.write("data.bin", "v1");
    repo.ok({"add", "data.bin"});
    repo.commit("v1");
    repo.ok({"status", "--check", "--staged"});

    // Re-added but not staged: the commit would record v1's pointer with v2's data.
    repo.write("data.bin", "v2");
    repo.ok({"add", "data.bin"});
    repo.ok({"status", "--check"}); // the work tree's pointer matches
    Result staged = repo.cairn({"status", "--check", "--staged"});
    CHECK(staged.code == 1);
    CHECK(contains(staged.out, "not staged:"));
    CHECK(contains(staged.out, "git add data.bin.cairn"));
    auto j = repo.cairn({"status", "--staged", "--json"}).json();
    CHECK(j["clean"] == false);
    CHECK(j["paths"][0]["status"] == "not staged");
    CHECK(j["paths"][0]["pointer"] == "data.bin.cairn");
    repo.git({"add", "data.bin.cairn"});
    repo.ok({"status", "--check", "--staged"});

    // Changed and not re-added: plainly modified.
    repo.write("data.bin", "v3");
    Result modified = repo.cairn({"status", "--check", "--staged", "data.bin"});
    CHECK(modified.code == 1);
    CHECK(contains(modified.out, "modified:"));
    // A path with no staged pointer.
    repo.write("other.bin", "o");
    repo.ok({"add", "other.bin"});
    CHECK(repo.cairn({"status", "--staged", "other.bin"}).code == 3);
}
