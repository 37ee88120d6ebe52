#pragma once
// `.cairn/config.yaml`: committed settings. Unknown keys are kept out of the way (later versions
// add remotes, environment allow-lists, metric patterns); a malformed file is an error naming
// the file and line.

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <cstddef>
#include <vector>

#include "core/fs/link.hpp"

namespace cairn::workspace {

struct Config {
    int version = 1;
    // How cached bytes appear in the workspace, in order of preference.
    std::vector<fs::LinkType> link_types{fs::LinkType::reflink, fs::LinkType::copy};
    // Environment variables whose values `cairn run` records (others: names only). Values of
    // names that look like secrets are never recorded, even when listed.
    std::vector<std::string> env_allow{"PATH", "PYTHONPATH", "VIRTUAL_ENV", "CONDA_DEFAULT_ENV",
                                       "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "LANG", "TZ"};
    // Regular expressions for metrics printed on stdout (group 1 key, 2 value, optional 3 step);
    // nullopt: the built-in `key: value` pattern.
    std::optional<std::vector<std::string>> capture_patterns;
    // Also write the annotated git tags DVC's GTO reads for model versions and aliases
    // (`registry.gto`).
    bool registry_gto = false;
    // `executor:` (docs/format.md): where `cairn run` executes by default (local, slurm), the
    // array throttle of a sweep submitted to Slurm (0: none), and sbatch long options (name
    // without `--`, value) applied to every submission before `--slurm` ones.
    std::string executor_type = "local";
    std::size_t executor_max_parallel = 0;
    std::vector<std::pair<std::string, std::string>> slurm_options;

    // The text `cairn init` writes.
    [[nodiscard]] static std::string default_text();
    // Parses config text; `display` names the file in errors. Throws Error(input).
    [[nodiscard]] static Config parse(const std::string& text, const std::string& display);
    // Loads `path`; a missing file gives the defaults.
    [[nodiscard]] static Config load(const std::filesystem::path& path, const std::string& display);
};

} // namespace cairn::workspace
