#pragma once
// The one-node Slurm cluster of the [slurm] tests (tests/slurm/cluster.sh). Under ctest a fixture
// starts it once per test run in CAIRN_SLURM_DIR; a test binary run by hand without it starts one
// of its own on first use and stops it when it exits.

#include <string>

#include "tests/e2e/harness.hpp"

namespace cairn::e2e {

struct SlurmCluster {
    std::string conf; // SLURM_CONF for the clients; empty when there is no cluster
    std::string skip; // why there is none
};

// The cluster, started on first use when the fixture did not start it.
[[nodiscard]] const SlurmCluster& slurm_cluster();

// Points `repo`'s commands at the cluster (SLURM_CONF, /usr/sbin on PATH) and returns true; or
// WARNs "skipped: ..." with the reason and returns false.
[[nodiscard]] bool use_slurm(Repo& repo);

// Runs a Slurm client (squeue, scontrol, sbatch) against the cluster.
[[nodiscard]] Result slurm_client(const std::vector<std::string>& argv);

} // namespace cairn::e2e
