#pragma once
// yaml-cpp behind one helper so that every YAML error a user sees reads "<file>:<line>: ...".

#include <string>

namespace YAML {
class Node;
}

namespace cairn::workspace {

// Parses YAML text; a syntax error becomes Error(input) "<display>:<line>: <reason>".
[[nodiscard]] YAML::Node parse_yaml(const std::string& text, const std::string& display);

// "<display>:<line>" for a node (line numbers from 1), or just display without a mark.
[[nodiscard]] std::string where(const std::string& display, const YAML::Node& node);

} // namespace cairn::workspace
