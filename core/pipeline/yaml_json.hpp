#pragma once
// YAML documents as JSON values, typed as cairn types parameters (the YAML 1.2 core schema).

#include <nlohmann/json.hpp>

namespace YAML {
class Node;
}

namespace cairn::pipeline {

// `node` as a JSON value: plain scalars typed by the YAML 1.2 core schema (`3` int, `1e-3`
// float, `true` bool, `null`/`~`/empty null, anything else a string); quoted scalars and
// `!!str` strings; sequences arrays; mappings objects (keys as written).
[[nodiscard]] nlohmann::json yaml_value(const YAML::Node& node);

} // namespace cairn::pipeline
