#include "core/workspace/config.hpp"

#include <yaml-cpp/yaml.h>

#include "core/fs/file.hpp"
#include "core/util/error.hpp"
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
