#include "core/pipeline/yaml_json.hpp"

#include <yaml-cpp/yaml.h>

#include "core/run/params.hpp"

namespace cairn::pipeline {

nlohmann::json yaml_value(const YAML::Node& node) {
    using nlohmann::json;
    switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
        return nullptr;
    case YAML::NodeType::Sequence: {
        json out = json::array();
        for (const auto& item : node) out.push_back(yaml_value(item));
        return out;
    }
    case YAML::NodeType::Map: {
        json out = json::object();
        for (const auto& kv : node) out[kv.first.Scalar()] = yaml_value(kv.second);
        return out;
    }
    case YAML::NodeType::Scalar:
        break;
    }
    const std::string& text = node.Scalar();
    // yaml-cpp tags a quoted scalar "!" and a plain one "?".
    if (node.Tag() != "?") return text;
    if (text == "~" || text == "null" || text == "Null" || text == "NULL") return nullptr;
    run::Param p = run::resolve_param("", text);
    if (p.type == "int")
        if (auto i = run::param_integer(p)) return *i;
    if (p.type == "int" || p.type == "float")
        if (auto d = run::param_number(p)) return *d;
    if (p.type == "bool")
        if (auto b = run::param_bool(p)) return *b;
    return text;
}

} // namespace cairn::pipeline
