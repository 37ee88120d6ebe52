#pragma once
// Values of a pipeline file and its parameters files as JSON: YAML scalars typed as DVC's YAML
// 1.2 reader types them, and DVC's (Python's) way of writing a value into a string.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace YAML {
class Node;
}

namespace cairn::workspace {
class Workspace;
}

namespace cairn::pipeline {

// Keys stay in file order, as DVC keeps them: foreach over a mapping, matrix names and `${dict}`
// flags follow the order the user wrote.
using Value = nlohmann::ordered_json;

// Nesting deeper than this in a pipeline or parameters file is refused (the walks recurse once
// per level of the user's file).
inline constexpr int k_max_value_depth = 100;

// `node` as JSON: plain scalars typed by the YAML 1.2 core schema (params::resolve_param: int,
// float, bool; `null`, `~` and empty are null), quoted and block scalars strings, sequences
// arrays, mappings objects (keys as written, in file order). Throws Error(input) naming
// `display:line` for a non-scalar key or nesting deeper than k_max_value_depth.
[[nodiscard]] Value yaml_value(const YAML::Node& node, const std::string& display);

// A scalar as DVC writes it into a string (Python's str(), but booleans `true`/`false`): `3`,
// `0.001`, `1e-05`, `None` for null. Precondition: `value` is not an array or object.
[[nodiscard]] std::string scalar_text(const Value& value);

// "mapping", "list", "string", "number", "boolean" or "null", for messages.
[[nodiscard]] std::string type_name(const Value& value);

// read_params() with keys in file order (what `vars` loads).
[[nodiscard]] Value read_values(const workspace::Workspace& ws, const std::string& file);

// The value at a key path split into parts (`a.b[0]` is {"a", "b", "0"}); list indices may be
// negative (from the end), as Python's are. Null when absent.
[[nodiscard]] const Value* lookup_parts(const Value& doc, const std::vector<std::string>& parts);

} // namespace cairn::pipeline
