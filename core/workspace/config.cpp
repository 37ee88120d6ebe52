#include "core/workspace/config.hpp"

#include <yaml-cpp/yaml.h>

#include "core/fs/file.hpp"
#include "core/util/error.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/yaml_util.hpp"

namespace cairn::workspace {

std::string Config::default_text() {
    return "# cairn configuration. Commit this file; see docs/reference.md#configuration.\n"
           "version: 1\n"
           "cache:\n"
           "  # How cached data appears in the workspace, in order of preference:\n"
           "  # reflink, hardlink, symlink or copy. Linked files are read-only.\n"
           "  type: reflink,copy\n"
           "run:\n"
           "  # Environment variables whose values runs record (all others: names only).\n"
           "  # Values of names containing TOKEN, SECRET, PASSWORD, PASSWD, KEY, CREDENTIAL or AUTH\n"
           "  # (not AUTHOR or AUTHORITY) are never recorded, listed here or not.\n"
           "  env: [PATH, PYTHONPATH, VIRTUAL_ENV, CONDA_DEFAULT_ENV, CUDA_VISIBLE_DEVICES, OMP_NUM_THREADS, LANG, TZ]\n";
}

Config Config::parse(const std::string& text, const std::string& display) {
    YAML::Node root = parse_yaml(text, display);
    Config config;
    if (!root || root.IsNull()) return config;
    if (!root.IsMap()) fail(ErrorKind::input, "{}: expected a mapping at the top level", where(display, root));
    try {
        if (YAML::Node version = root["version"]) {
            if (!version.IsScalar() || version.Scalar() != "1")
                fail(ErrorKind::input, "{}: config version {} is not supported by this cairn (expected 1)",
                     where(display, version), version.IsScalar() ? version.Scalar() : "(not a number)");
            config.version = 1;
        }
        if (YAML::Node cache = root["cache"]) {
            if (!cache.IsMap()) fail(ErrorKind::input, "{}: 'cache' must be a mapping", where(display, cache));
            if (YAML::Node type = cache["type"]) {
                if (!type.IsScalar())
                    fail(ErrorKind::input, "{}: 'cache.type' must be a list such as reflink,copy", where(display, type));
                config.link_types = fs::parse_link_types(type.as<std::string>(), where(display, type));
            }
        }
        auto names = [&](const YAML::Node& list, const char* field, const char* what) {
            std::vector<std::string> out;
            if (!list.IsSequence()) fail(ErrorKind::input, "{}: '{}' must be a list of {}", where(display, list), field, what);
            for (const auto& item : list) {
                if (!item.IsScalar())
                    fail(ErrorKind::input, "{}: '{}' must be a list of {}", where(display, item), field, what);
                out.push_back(item.Scalar());
            }
            return out;
        };
        if (YAML::Node run = root["run"]) {
            if (!run.IsMap()) fail(ErrorKind::input, "{}: 'run' must be a mapping", where(display, run));
            if (YAML::Node env = run["env"]) config.env_allow = names(env, "run.env", "names");
            if (YAML::Node capture = run["capture"]) config.capture_patterns = names(capture, "run.capture", "patterns");
        }
        if (YAML::Node registry = root["registry"]) {
            if (!registry.IsMap()) fail(ErrorKind::input, "{}: 'registry' must be a mapping", where(display, registry));
            if (YAML::Node gto = registry["gto"]) {
                if (!gto.IsScalar() || (gto.Scalar() != "true" && gto.Scalar() != "false"))
                    fail(ErrorKind::input, "{}: 'registry.gto' must be true or false", where(display, gto));
                config.registry_gto = gto.Scalar() == "true";
            }
        }
        if (YAML::Node executor = root["executor"]) {
            if (!executor.IsMap()) fail(ErrorKind::input, "{}: 'executor' must be a mapping", where(display, executor));
            for (const auto& kv : executor) {
                std::string key = kv.first.Scalar();
                if (key == "type") {
                    if (!kv.second.IsScalar() || (kv.second.Scalar() != "local" && kv.second.Scalar() != "slurm"))
                        fail(ErrorKind::input, "{}: 'executor.type' must be local or slurm", where(display, kv.second));
                    config.executor_type = kv.second.Scalar();
                } else if (key == "max_parallel") {
                    auto n = kv.second.IsScalar() ? util::parse_integer<std::int64_t>(kv.second.Scalar()) : std::nullopt;
                    if (!n || *n < 1)
                        fail(ErrorKind::input, "{}: 'executor.max_parallel' must be a positive number", where(display, kv.second));
                    config.executor_max_parallel = static_cast<std::size_t>(*n);
                } else if (key == "slurm") {
                    if (!kv.second.IsMap())
                        fail(ErrorKind::input, "{}: 'executor.slurm' must be a mapping of sbatch options (time: 10:00)",
                             where(display, kv.second));
                    for (const auto& opt : kv.second) {
                        std::string name = opt.first.Scalar();
                        bool shape = !name.empty() && name.front() >= 'a' && name.front() <= 'z';
                        for (char c : name) shape &= (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
                        if (!shape || !opt.second.IsScalar())
                            fail(ErrorKind::input, "{}: 'executor.slurm.{}' must be an sbatch long option with a single value",
                                 where(display, opt.first), name);
                        config.slurm_options.emplace_back(name, opt.second.Scalar());
                    }
                } else {
                    fail(ErrorKind::input, "{}: unknown key 'executor.{}' (expected type, max_parallel, slurm)",
                         where(display, kv.first), key);
                }
            }
        }
    } catch (const YAML::Exception& e) {
        fail(ErrorKind::input, "{}:{}: {}", display, e.mark.line + 1, e.msg);
    }
    return config;
}

Config Config::load(const std::filesystem::path& path, const std::string& display) {
    auto text = fs::read_file_if_exists(path);
    if (!text) return Config{};
    return parse(*text, display);
}

} // namespace cairn::workspace
