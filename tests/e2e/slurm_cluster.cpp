#include "tests/e2e/slurm_cluster.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>

namespace cairn::e2e {
namespace {

std::string script() { return std::string(CAIRN_SOURCE_DIR) + "/tests/slurm/cluster.sh"; }

std::string base_path() {
    const char* p = std::getenv("PATH");
    return std::string(p ? p : "/usr/bin:/bin") + ":/usr/sbin:/sbin";
}

std::string read_conf(const stdfs::path& dir) {
    std::ifstream in(dir / "env");
    std::string line;
    const std::string prefix = "export SLURM_CONF=";
    while (std::getline(in, line))
        if (line.rfind(prefix, 0) == 0) return line.substr(prefix.size());
    return "";
}

// A cluster this binary started, stopped (by the pids in its directory) when the binary exits.
struct Own {
    stdfs::path dir;
    ~Own() {
        if (!dir.empty()) (void)run_process({script(), "stop", dir.string()}, "/", {{"PATH", base_path()}});
    }
};

SlurmCluster find_or_start() {
    SlurmCluster c;
    stdfs::path fixture(CAIRN_SLURM_DIR);
    if (stdfs::exists(fixture / "env")) {
        c.conf = read_conf(fixture);
        if (c.conf.empty()) c.skip = "the cluster's env file " + (fixture / "env").string() + " names no SLURM_CONF";
        return c;
    }
    static Own own;
    own.dir = stdfs::temp_directory_path() / ("cairn-slurm-" + std::to_string(::getpid()));
    Result r = run_process({script(), "start", own.dir.string()}, "/", {{"PATH", base_path()}});
    if (r.code != 0) {
        c.skip = "the Slurm test cluster did not start: " + r.err;
        return c;
    }
    if (r.out.rfind("SKIP: ", 0) == 0) {
        c.skip = r.out.substr(6);
        while (!c.skip.empty() && c.skip.back() == '\n') c.skip.pop_back();
        return c;
    }
    c.conf = read_conf(own.dir);
    if (c.conf.empty()) c.skip = "the Slurm test cluster wrote no env file";
    return c;
}

} // namespace

const SlurmCluster& slurm_cluster() {
    static const SlurmCluster c = find_or_start();
    return c;
}

bool use_slurm(Repo& repo) {
    const SlurmCluster& c = slurm_cluster();
    if (c.conf.empty()) {
        WARN("skipped: " << c.skip);
        return false;
    }
    repo.set_env("SLURM_CONF", c.conf);
    repo.set_env("PATH", repo.env().at("PATH") + ":/usr/sbin:/sbin");
    return true;
}

Result slurm_client(const std::vector<std::string>& argv) {
    return run_process(argv, "/", {{"PATH", base_path()}, {"SLURM_CONF", slurm_cluster().conf}});
}

} // namespace cairn::e2e
