#include "core/workspace/pointer.hpp"

#include <charconv>
#include <map>
#include <set>

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

namespace {

// A non-negative decimal integer (no sign, no fraction, no exponent) that fits in 64 bits.
std::optional<std::uint64_t> parse_count(const std::string& text) {
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return v;
}

} // namespace

Pointer Pointer::parse(const std::string& text, const std::string& display) {
    YAML::Node root = parse_yaml(text, display);
    if (!root.IsMap()) fail(ErrorKind::input, "{}: not a cairn pointer (expected a mapping)", where(display, root));

    // yaml-cpp keeps one of two equal keys without a word, so the keys are checked here, as
    // written; a field this cairn does not know is refused (a new field comes with a new version).
    static const std::set<std::string> k_fields = {"version", "path", "hash", "size", "files"};
    std::map<std::string, YAML::Node> fields;
    for (const auto& kv : root) {
        if (!kv.first.IsScalar())
            fail(ErrorKind::input, "{}: a pointer's keys are plain names", where(display, kv.first));
        std::string key = kv.first.Scalar();
        if (!k_fields.count(key))
            fail(ErrorKind::input, "{}: unknown field '{}' (a pointer has version, path, hash, size and files)",
                 where(display, kv.first), key);
        if (!fields.emplace(key, kv.second).second)
            fail(ErrorKind::input, "{}: duplicate field '{}'", where(display, kv.first), key);
        if (!kv.second.IsScalar())
            fail(ErrorKind::input, "{}: '{}' must be a scalar", where(display, kv.second), key);
    }
    auto require = [&](const char* key) {
        auto it = fields.find(key);
        if (it == fields.end()) fail(ErrorKind::input, "{}: missing '{}'", display, key);
        return it->second;
    };
    auto count = [&](const char* key, const YAML::Node& node) {
        auto v = parse_count(node.Scalar());
        if (!v)
            fail(ErrorKind::input, "{}: '{}' must be a non-negative integer, not '{}'", where(display, node), key,
                 node.Scalar());
        return *v;
    };

    Pointer p;
    YAML::Node version = require("version");
    if (version.Scalar() != "1") {
        auto v = parse_count(version.Scalar());
        if (v && *v > 1)
            fail(ErrorKind::input, "{}: pointer version {} is not supported by this cairn (it reads version 1); upgrade cairn",
                 where(display, version), *v);
        fail(ErrorKind::input, "{}: 'version' must be 1, not '{}'", where(display, version), version.Scalar());
    }
    YAML::Node path = require("path");
    p.path = path.Scalar();
    if (auto why = cache::unsafe_component_reason(p.path))
        fail(ErrorKind::input, "{}: unsafe path '{}' ({}): a pointer names the data next to it", where(display, path),
             p.path, *why);
    std::string base = display.substr(display.rfind('/') + 1);
    if (!util::ends_with(base, k_pointer_suffix) || base.substr(0, base.size() - k_pointer_suffix.size()) != p.path)
        fail(ErrorKind::input, "{}: path '{}' does not match the pointer's file name", where(display, path), p.path);
    YAML::Node hash = require("hash");
    auto digest = hash::Digest::from_id(hash.Scalar());
    // Ids are written in lowercase only: one spelling per object, as in the cache's file names.
    if (!digest || digest->id() != hash.Scalar())
        fail(ErrorKind::input, "{}: malformed hash '{}' (expected sha256: and 64 lowercase hex digits)",
             where(display, hash), hash.Scalar());
    p.digest = *digest;
    p.size = count("size", require("size"));
    if (auto it = fields.find("files"); it != fields.end()) p.files = count("files", it->second);
    return p;
}

} // namespace cairn::workspace
