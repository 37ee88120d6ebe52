#pragma once
// Directory tree objects: one object per directory level, as git does, so that changing one file
// in a huge tree rewrites only the trees on its path. Grammar in docs/format.md ("Tree objects").

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/hash/hash.hpp"

namespace cairn::cache {

enum class EntryKind { file, executable, directory };

struct TreeEntry {
    std::string name;    // one path component that is_safe_component() accepts
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

// How every tree object starts, whatever its version ("cairn-tree 1\n" for this one).
inline constexpr std::string_view k_tree_magic = "cairn-tree ";

// Directories may nest at most this many levels below a tracked directory (or a run output).
// Every reader refuses a deeper tree, before writing anything, and `add` refuses to store one: a
// walk the input controls stays bounded, and a checkout never stops half-way at PATH_MAX.
inline constexpr std::size_t k_max_tree_depth = 255;

// The one rule for a name that comes from stored data (a tree entry, a pointer's `path`, a
// component of a path in a run record) and will become a path component: why `name` is refused,
// or nullopt when it is safe. Refused, as git's verify_path refuses them: empty, "." and "..",
// '/', NUL and newline (which the formats cannot hold), more than 255 bytes (NAME_MAX), and any
// spelling of ".git" or ".cairn" that a filesystem may take for it: any case; with HFS+'s
// ignorable code points (U+200C-U+200F, U+202A-U+202E, U+206A-U+206F, U+FEFF) anywhere; with
// NTFS's trailing dots and spaces or an alternate data stream (".git::$INDEX_ALLOCATION");
// the 8.3 short names "git~1" and "cairn~1"; and any of these, or "." or "..", after a
// backslash (a separator on Windows).
[[nodiscard]] std::optional<std::string_view> unsafe_component_reason(std::string_view name);

// True when unsafe_component_reason(name) finds nothing.
[[nodiscard]] bool is_safe_component(std::string_view name);

} // namespace cairn::cache
