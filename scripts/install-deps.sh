#!/usr/bin/env bash
# Installs the Debian 12 packages cairn needs to build and test, skipping those already present.
# Usage: scripts/install-deps.sh [--bench]   (--bench adds the reference tools bench/ compares with)
set -euo pipefail

packages=(g++ cmake ninja-build pkg-config git python3
          libcli11-dev libyaml-cpp-dev libgit2-dev libssl-dev libfmt-dev catch2 nlohmann-json3-dev libre2-dev libtomlplusplus-dev libfast-float-dev
          clang libclang-rt-dev  # clang and libFuzzer: the fuzz targets of tests/fuzz/
          python3-numpy python3-scipy  # test-only oracles: profile and drift statistics
          bc  # the evaluation script of the re-evaluation tests
          pre-commit  # the pre-commit framework, which runs .pre-commit-hooks.yaml in the hooks tests
          libcurl4-openssl-dev curl  # S3: libcurl's headers (loaded at run time), curl --aws-sigv4 in the tests
          chromium  # the browser test of the HTML report (tests/e2e/test_report.cpp)
          slurm-wlm munge)  # a one-node Slurm cluster for the [slurm] tests (tests/slurm/cluster.sh)
# Node.js and npm run s3rver, the S3 server of the tests (tests/s3rver/setup.sh): from Debian,
# unless a node is already on PATH.
command -v node >/dev/null || packages+=(nodejs npm)
if [[ "${1:-}" == "--bench" ]]; then
    packages+=(git-annex openssl coreutils hyperfine datalad python3-pandas)
fi

missing=()
for pkg in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "installing: ${missing[*]}" >&2
sudo=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "scripts/install-deps.sh: run as root or install sudo" >&2; exit 1; }
    sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
