#include "core/workspace/yaml_util.hpp"

#include <yaml-cpp/yaml.h>

#include "core/util/error.hpp"

namespace cairn::workspace {

YAML::Node parse_yaml(const std::string& text, const std::string& display) {
    try {
        return YAML::Load(text);
    } catch (const YAML::Exception& e) {
        fail(ErrorKind::input, "{}:{}: {}", display, e.mark.line + 1, e.msg);
    }
}

std::string where(const std::string& display, const YAML::Node& node) {
    YAML::Mark mark = node.Mark();
    if (mark.line < 0) return display;
    return fmt::format("{}:{}", display, mark.line + 1);
}

} // namespace cairn::workspace
