#include <catch2/catch.hpp>

#include "core/executor/slurm.hpp"
#include "core/util/error.hpp"
#include "core/workspace/config.hpp"

using namespace cairn;

namespace {

std::string usage_error(const std::string& text) {
    try {
        (void)executor::parse_option(text);
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::usage);
        return e.what();
    }
    FAIL("no error for " << text);
    return "";
}

std::string config_error(const std::string& text) {
    try {
        (void)workspace::Config::parse(text, "config.yaml");
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::input);
        return e.what();
    }
    FAIL("no error for " << text);
    return "";
}

} // namespace

TEST_CASE("slurm options OPT=VALUE take any sbatch long option and refuse what cairn sets", "[executor]") {
    CHECK(executor::parse_option("time=10:00") == std::pair<std::string, std::string>{"time", "10:00"});
    CHECK(executor::parse_option("cpus-per-task=4").first == "cpus-per-task");
    CHECK(executor::parse_option("--gres=gpu:1") == std::pair<std::string, std::string>{"gres", "gpu:1"});
    CHECK(executor::parse_option("comment=a=b").second == "a=b");
    CHECK(executor::parse_option("exclusive=").second.empty());
    CHECK_THAT(usage_error("time"), Catch::Contains("expected OPT=VALUE"));
    CHECK_THAT(usage_error("=5"), Catch::Contains("expected OPT=VALUE"));
    CHECK_THAT(usage_error("Time=5"), Catch::Contains("is not an sbatch long option"));
    CHECK_THAT(usage_error("ti me=5"), Catch::Contains("is not an sbatch long option"));
    CHECK_THAT(usage_error("t;rm=5"), Catch::Contains("is not an sbatch long option"));
    for (const char* reserved : {"array=0-3", "output=x", "error=y", "chdir=/", "wrap=true", "parsable=1"})
        CHECK_THAT(usage_error(reserved), Catch::Contains("sets the sbatch option"));
}

TEST_CASE("the executor section of config.yaml: type, max_parallel, slurm options, unknown keys refused", "[executor]") {
    auto c = workspace::Config::parse("executor:\n  type: slurm\n  max_parallel: 8\n  slurm:\n    partition: gpu\n"
                                      "    time: \"1:00:00\"\n",
                                      "config.yaml");
    CHECK(c.executor_type == "slurm");
    CHECK(c.executor_max_parallel == 8);
    REQUIRE(c.slurm_options.size() == 2);
    CHECK(c.slurm_options[0] == std::pair<std::string, std::string>{"partition", "gpu"});
    CHECK(c.slurm_options[1] == std::pair<std::string, std::string>{"time", "1:00:00"});
    CHECK(workspace::Config::parse("", "config.yaml").executor_type == "local");
    CHECK_THAT(config_error("executor:\n  partiton: gpu\n"), Catch::Contains("unknown key 'executor.partiton'"));
    CHECK_THAT(config_error("executor:\n  type: pbs\n"), Catch::Contains("local or slurm"));
    CHECK_THAT(config_error("executor:\n  max_parallel: 0\n"), Catch::Contains("positive"));
    CHECK_THAT(config_error("executor:\n  slurm: gpu\n"), Catch::Contains("mapping of sbatch options"));
    CHECK_THAT(config_error("executor:\n  slurm:\n    Bad_Name: 1\n"), Catch::Contains("sbatch long option"));
    CHECK_THAT(config_error("executor: [slurm]\n"), Catch::Contains("'executor' must be a mapping"));
}

TEST_CASE("final Slurm job states", "[executor]") {
    for (const char* s : {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY"})
        CHECK(executor::is_final_state(s));
    for (const char* s : {"PENDING", "RUNNING", "COMPLETING", "CONFIGURING", "SUSPENDED", ""})
        CHECK_FALSE(executor::is_final_state(s));
}
