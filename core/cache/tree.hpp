#pragma once
// Directory tree objects: one object per directory level, as git does, so that changing one file
// in a huge tree rewrites only the trees on its path. Grammar in docs/format.md ("Tree objects").

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/hash/hash.hpp"

namespace cairn::cache {

enum class EntryKind { file, executable, directory };

struct TreeEntry {
    std::string name;    // one path component: not empty, no '/', NUL or newline, not . or ..
    EntryKind kind;
    std::uint64_t size;  // bytes of the file, or of every file below a directory
    std::uint64_t files; // 1 for a file, number of files below a directory
    hash::Digest digest; // file object, or the sub-tree object
};

struct Tree {
    std::vector<TreeEntry> entries; // strictly increasing by name bytes

    // The canonical bytes of this tree; entries must already be sorted.
    [[nodiscard]] std::string serialize() const;

    // Parses and validates tree bytes. Throws Error(integrity) prefixed with `what` and the line
    // number on any deviation from the grammar, including unsafe names and unsorted entries.
    [[nodiscard]] static Tree parse(std::string_view bytes, const std::string& what);

    [[nodiscard]] std::uint64_t total_size() const;
    [[nodiscard]] std::uint64_t total_files() const;
};

// True when `name` may appear as a single path component written by cairn: not empty, not "."
// or "..", and free of '/', NUL and newline.
[[nodiscard]] bool is_safe_component(std::string_view name);

} // namespace cairn::cache
