#include "core/workspace/pointer.hpp"

#include <yaml-cpp/yaml.h>

#include "core/cache/tree.hpp"
#include "core/util/error.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/yaml_util.hpp"

namespace cairn::workspace {

std::string Pointer::serialize() const {
    YAML::Emitter out;
    out << YAML::BeginMap;
    out << YAML::Key << "version" << YAML::Value << 1;
    out << YAML::Key << "path" << YAML::Value << path;
    out << YAML::Key << "hash" << YAML::Value << digest.id();
    out << YAML::Key << "size" << YAML::Value << size;
    if (files) out << YAML::Key << "files" << YAML::Value << *files;
    out << YAML::EndMap;
    return "# cairn pointer: the bytes live in the cache (.cairn/cache). Written by 'cairn add'.\n" +
           std::string(out.c_str()) + "\n";
}

Pointer Pointer::parse(const std::string& text, const std::string& display) {
    YAML::Node root = parse_yaml(text, display);
    if (!root.IsMap()) fail(ErrorKind::input, "{}: not a cairn pointer (expected a mapping)", where(display, root));
    auto require = [&](const char* key) {
        YAML::Node node = root[key];
        if (!node) fail(ErrorKind::input, "{}: missing '{}'", display, key);
        if (!node.IsScalar()) fail(ErrorKind::input, "{}: '{}' must be a scalar", where(display, node), key);
        return node;
    };
    Pointer p;
    try {
        if (YAML::Node version = root["version"]; version && version.as<std::string>() != "1")
            fail(ErrorKind::input, "{}: pointer version {} is not supported by this cairn (expected 1)",
                 where(display, version), version.as<std::string>());
        YAML::Node path = require("path");
        p.path = path.as<std::string>();
        if (auto why = cache::unsafe_component_reason(p.path))
            fail(ErrorKind::input, "{}: unsafe path '{}' ({}): a pointer names the data next to it",
                 where(display, path), p.path, *why);
        std::string base = display.substr(display.rfind('/') + 1);
        if (!util::ends_with(base, k_pointer_suffix) ||
            base.substr(0, base.size() - k_pointer_suffix.size()) != p.path)
            fail(ErrorKind::input, "{}: path '{}' does not match the pointer's file name", where(display, path),
                 p.path);
        YAML::Node hash = require("hash");
        auto digest = hash::Digest::from_id(hash.as<std::string>());
        if (!digest)
            fail(ErrorKind::input, "{}: malformed hash '{}' (expected sha256:<64 hex digits>)",
                 where(display, hash), hash.as<std::string>());
        p.digest = *digest;
        YAML::Node size = require("size");
        p.size = size.as<std::uint64_t>();
        if (YAML::Node files = root["files"]) p.files = files.as<std::uint64_t>();
    } catch (const YAML::BadConversion& e) {
        fail(ErrorKind::input, "{}:{}: bad value: {}", display, e.mark.line + 1, e.msg);
    } catch (const YAML::Exception& e) {
        fail(ErrorKind::input, "{}:{}: {}", display, e.mark.line + 1, e.msg);
    }
    return p;
}

} // namespace cairn::workspace
