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
