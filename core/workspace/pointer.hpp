#pragma once
// Pointer files: `<name>.cairn` next to the data it describes, tracked by git. Untrusted input:
// every field is validated before use. Grammar in docs/format.md ("Pointer files").

#include <cstdint>
#include <optional>
#include <string>

#include "core/hash/hash.hpp"

namespace cairn::workspace {

inline constexpr std::string_view k_pointer_suffix = ".cairn";

struct Pointer {
    std::string path;                  // the data's name, next to the pointer (one component)
    hash::Digest digest;               // file object, or top tree object for a directory
    std::uint64_t size = 0;            // total bytes
    std::optional<std::uint64_t> files; // set for directories: number of files

    [[nodiscard]] bool is_directory() const { return files.has_value(); }
    [[nodiscard]] std::string serialize() const;

    // Parses pointer text strictly: `version: 1` required (a newer one: "upgrade cairn"), `hash`
    // in lowercase, `size` and `files` non-negative integers, no duplicate or unknown keys.
    // `display` is the pointer's workspace path, used in errors and to check that `path` names
    // the data next to it. Throws Error(input) "<file>:<line>: ..." naming the field.
    [[nodiscard]] static Pointer parse(const std::string& text, const std::string& display);
};

} // namespace cairn::workspace
