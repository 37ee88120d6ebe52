#pragma once
// How cached bytes appear in the workspace.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::fs {

enum class LinkType { reflink, hardlink, symlink, copy };

// "reflink" -> LinkType::reflink, ...; nullopt for an unknown name.
[[nodiscard]] std::optional<LinkType> parse_link_type(std::string_view name);
[[nodiscard]] std::string_view to_string(LinkType type);

// Parses a comma-separated preference list such as "reflink,copy". Throws Error(input) naming
// `where` for an unknown or empty entry.
[[nodiscard]] std::vector<LinkType> parse_link_types(std::string_view list, const std::string& where);

// Clones src into dst (same filesystem) with FICLONE. Returns false when the filesystem cannot.
[[nodiscard]] bool try_reflink(int src_fd, int dst_fd);

} // namespace cairn::fs
