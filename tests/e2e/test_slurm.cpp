// `--executor slurm` against the one-node test cluster (tests/slurm/cluster.sh), tag [slurm].
// Nothing here asserts timing: every wait polls the scheduler with a timeout.

#include <chrono>
#include <functional>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include "tests/e2e/harness.hpp"
#include "tests/e2e/slurm_cluster.hpp"

using namespace cairn::e2e;

namespace {

// Polls `scontrol show job ID` until the job has ended (or 120 s pass); returns its state.
std::string wait_job(const std::string& id) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    std::string state;
    while (std::chrono::steady_clock::now() < until) {
        Result r = slurm_client({"scontrol", "show", "job", id, "-o"});
        auto p = r.out.find("JobState=");
        state = p == std::string::npos ? "" : r.out.substr(p + 9, r.out.find(' ', p) - p - 9);
        if (state == "COMPLETED" || state == "FAILED" || state == "CANCELLED" || state == "TIMEOUT" ||
            state == "NODE_FAIL" || state == "OUT_OF_MEMORY")
            return state;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return state;
}

} // namespace

TEST_CASE("the test cluster runs a batch job", "[slurm]") {
    Repo repo;
    if (!use_slurm(repo)) return;
    Result r = slurm_client({"sbatch", "--parsable", "-o", (repo.root() / "out.txt").string(), "--wrap",
                             "echo ran-on-$SLURMD_NODENAME"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    std::string id = r.out.substr(0, r.out.find_first_of(";\n"));
    CHECK(wait_job(id) == "COMPLETED");
    CHECK(contains(repo.read("out.txt"), "ran-on-"));
}

namespace {

// Polls `cairn ls --json` until `done(runs)` holds (or 180 s pass); returns the last listing.
nlohmann::json wait_runs(const Repo& repo, const std::function<bool(const nlohmann::json&)>& done) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(180);
    nlohmann::json runs;
    while (std::chrono::steady_clock::now() < until) {
        Result r = repo.cairn({"ls", "--json"});
        REQUIRE(r.code == 0);
        runs = r.json();
        if (done(runs)) return runs;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return runs;
}

const nlohmann::json* find_run(const nlohmann::json& runs, const std::string& id) {
    for (const auto& r : runs)
        if (r["id"] == id) return &r;
    return nullptr;
}

bool recorded(const nlohmann::json& runs, const std::vector<std::string>& ids) {
    for (const auto& id : ids) {
        const nlohmann::json* r = find_run(runs, id);
        if (!r) return false;
        std::string s = (*r)["status"];
        if (s == "queued" || s == "running") return false;
    }
    return true;
}

} // namespace

TEST_CASE("a run submitted to Slurm is queued, then recorded with its job id and node", "[slurm]") {
    Repo repo;
    if (!use_slurm(repo)) return;
    repo.write_script("train.sh", "#!/bin/sh\necho \"acc: 0.75\"\necho trained > model.txt\n");
    repo.commit();
    Result sub = repo.ok({"run", "--executor", "slurm", "--slurm", "time=5", "-n", "on-slurm", "-o", "model.txt",
                          "--json", "--", "./train.sh"});
    nlohmann::json j = sub.json();
    REQUIRE(j["runs"].size() == 1);
    std::string id = j["runs"][0];
    std::string job = j["job"];
    // Listed at once (queued, running or already recorded), without asking Slurm.
    nlohmann::json ls = repo.ok({"ls", "--json"}).json();
    const nlohmann::json* listed = find_run(ls, id);
    REQUIRE(listed);
    std::string first = (*listed)["status"];
    CHECK((first == "queued" || first == "running" || first == "finished"));
    CHECK((*listed)["name"] == "on-slurm");

    nlohmann::json runs = wait_runs(repo, [&](const nlohmann::json& r) { return recorded(r, {id}); });
    const nlohmann::json* r = find_run(runs, id);
    REQUIRE(r);
    CHECK((*r)["status"] == "finished");
    nlohmann::json show = repo.ok({"show", id, "--json"}).json();
    CHECK(show["executor"]["type"] == "slurm");
    CHECK(show["executor"]["job_id"] == job);
    CHECK(show["executor"]["node"] != "");
    CHECK(show["executor"]["partition"] == "debug");
    CHECK(show["executor"]["request.time"] == "5");
    CHECK(show["metrics"]["acc"]["last"] == 0.75);
    CHECK(show["outputs"].contains("model.txt"));
    // The snapshot is the code at submission: the run's commit's first parent.
    CHECK(show["git"]["snapshot"] == git_out(repo, {"rev-parse", "HEAD"}).substr(0, 40));
}

TEST_CASE("a sweep submitted to Slurm is one job array, every trial recorded, the best found by ls --sort", "[slurm]") {
    Repo repo;
    if (!use_slurm(repo)) return;
    repo.write("params.yaml", "x: 0\n");
    repo.commit();
    Result sub = repo.cairn({"run", "--executor", "slurm", "--wait", "--json", "-p", "x=1,2,3,4,5,6,7,8", "-j", "4",
                             "--", "sh", "-c", "echo \"score: {x}\""});
    INFO(sub.err);
    REQUIRE(sub.code == 0);
    nlohmann::json j = sub.json();
    REQUIRE(j["trials"].size() == 8);
    std::string sweep = j["sweep"];
    std::set<std::string> jobs;
    for (const auto& t : j["trials"]) CHECK(t["status"] == "finished");
    nlohmann::json runs = repo.ok({"ls", "--json", "--sort", "-metrics.score"}).json();
    REQUIRE(runs.size() == 8);
    CHECK(runs[0]["params"]["x"] == 8);
    std::set<std::string> indexes;
    for (const auto& r : runs) {
        CHECK(r["sweep"] == sweep);
        CHECK(r["status"] == "finished");
        jobs.insert(r["executor"]["array_job_id"].get<std::string>());
        indexes.insert(r["executor"]["array_index"].get<std::string>());
    }
    CHECK(jobs.size() == 1); // one array
    CHECK(indexes.size() == 8);
}

TEST_CASE("cairn cancel of a queued sweep records every trial cancelled", "[slurm]") {
    Repo repo;
    if (!use_slurm(repo)) return;
    repo.commit();
    // Held back an hour by Slurm: queued for the whole test.
    Result sub = repo.ok({"run", "--executor", "slurm", "--slurm", "begin=now+3600", "--json", "-p", "x=1,2,3", "--",
                          "sh", "-c", "echo {x}"});
    nlohmann::json j = sub.json();
    std::string sweep = j["sweep"], job = j["job"];
    nlohmann::json runs = repo.ok({"ls", "--json"}).json();
    REQUIRE(runs.size() == 3);
    for (const auto& r : runs) CHECK(r["status"] == "queued");
    Result c = repo.cairn({"cancel", "--sweep", sweep.substr(0, 8), "--json"});
    INFO(c.err);
    REQUIRE(c.code == 0);
    CHECK(c.json()["cancelled"].size() == 3);
    runs = repo.ok({"ls", "--json"}).json();
    REQUIRE(runs.size() == 3);
    for (const auto& r : runs) CHECK(r["status"] == "cancelled");
    CHECK(wait_job(job) == "CANCELLED");
}

TEST_CASE("a run Slurm kills at its time limit is recorded crashed with Slurm's reason", "[slurm]") {
    Repo repo;
    if (!use_slurm(repo)) return;
    repo.commit();
    Result sub = repo.ok({"run", "--executor", "slurm", "--slurm", "time=0:02", "--json", "--", "sleep", "600"});
    std::string id = sub.json()["runs"][0];
    // Committed as interrupted first (SIGTERM), then rewritten as crashed: wait for the rewrite.
    nlohmann::json runs = wait_runs(repo, [&](const nlohmann::json& r) {
        const nlohmann::json* x = find_run(r, id);
        return recorded(r, {id}) && x && (*x)["status"] != "interrupted";
    });
    const nlohmann::json* r = find_run(runs, id);
    REQUIRE(r);
    CHECK((*r)["status"] == "crashed");
    CHECK(contains((*r)["reason"].get<std::string>(), "TIMEOUT"));
}

TEST_CASE("the slurm executor says what is wrong: no sbatch, a refused job, a bad option", "[slurm]") {
    Repo repo;
    if (!use_slurm(repo)) return;
    repo.commit();
    Result bad = repo.cairn({"run", "--executor", "slurm", "--slurm", "Bad_Opt=1", "--", "true"});
    CHECK(bad.code == 2);
    CHECK(contains(bad.err, "is not an sbatch long option"));
    Result reserved = repo.cairn({"run", "--executor", "slurm", "--slurm", "array=0-3", "--", "true"});
    CHECK(reserved.code == 2);
    Result refused = repo.cairn({"run", "--executor", "slurm", "--slurm", "partition=nosuchpartition", "--", "true"});
    CHECK(refused.code == 3);
    CHECK(contains(refused.err, "Slurm refused the job"));
    CHECK(contains(refused.err, "partition"));
    CHECK(repo.ok({"ls", "--json"}).json().empty());
    // A PATH without Slurm's clients, as on a machine that is not a login node.
    stdfs::create_directories(repo.path("nobin"));
    repo.set_env("PATH", repo.path("nobin").string());
    Result missing = repo.cairn({"run", "--executor", "slurm", "--", "true"});
    CHECK(missing.code == 4);
    CHECK(contains(missing.err, "sbatch not found"));
}

TEST_CASE("cairn cancel of a running run stops it and records it cancelled", "[slurm]") {
    Repo repo;
    if (!use_slurm(repo)) return;
    repo.commit();
    Result sub = repo.ok({"run", "--executor", "slurm", "--json", "-n", "long", "--", "sleep", "600"});
    std::string id = sub.json()["runs"][0];
    nlohmann::json runs = wait_runs(repo, [&](const nlohmann::json& r) {
        const nlohmann::json* x = find_run(r, id);
        return x && (*x)["status"] != "queued";
    });
    REQUIRE(find_run(runs, id));
    REQUIRE((*find_run(runs, id))["status"] == "running");
    Result c = repo.cairn({"cancel", "long", "--json"});
    INFO(c.err);
    REQUIRE(c.code == 0);
    CHECK(c.json()["stopping"].size() == 1);
    // The task commits its run as interrupted (its command got SIGTERM), then rewrites the status
    // once it has seen the cancel marker: wait for that second step (wait_runs has a timeout).
    runs = wait_runs(repo, [&](const nlohmann::json& r) {
        const nlohmann::json* x = find_run(r, id);
        return recorded(r, {id}) && x && (*x)["status"] != "interrupted";
    });
    REQUIRE(find_run(runs, id));
    CHECK((*find_run(runs, id))["status"] == "cancelled");
    // Ended: nothing more to cancel.
    CHECK(repo.cairn({"cancel", id}).code == 3);
}
