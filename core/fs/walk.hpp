#pragma once
// Directory listing with the file type from readdir, avoiding a stat per entry where possible.

#include <filesystem>
#include <string>
#include <vector>

namespace cairn::fs {

enum class EntryType { file, directory, symlink, other };

struct DirEntry {
    std::string name;
    EntryType type;
};

// Entries of `dir` except "." and "..", sorted by name bytes. Throws Error(io).
[[nodiscard]] std::vector<DirEntry> list_dir(const std::filesystem::path& dir);

} // namespace cairn::fs
