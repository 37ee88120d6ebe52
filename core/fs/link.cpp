#include "core/fs/link.hpp"

#include <linux/fs.h>
#include <sys/ioctl.h>

#include "core/util/error.hpp"
#include "core/util/strings.hpp"

namespace cairn::fs {

std::optional<LinkType> parse_link_type(std::string_view name) {
    if (name == "reflink") return LinkType::reflink;
    if (name == "hardlink") return LinkType::hardlink;
    if (name == "symlink") return LinkType::symlink;
    if (name == "copy") return LinkType::copy;
    return std::nullopt;
}

std::string_view to_string(LinkType type) {
    switch (type) {
    case LinkType::reflink: return "reflink";
    case LinkType::hardlink: return "hardlink";
    case LinkType::symlink: return "symlink";
    case LinkType::copy: return "copy";
    }
    return "copy";
}

std::vector<LinkType> parse_link_types(std::string_view list, const std::string& where) {
    std::vector<LinkType> out;
    for (const auto& item : util::split(list, ',')) {
        auto type = parse_link_type(util::trim(item));
        if (!type)
            fail(ErrorKind::input, "{}: unknown link type '{}' (expected reflink, hardlink, symlink or copy)",
                 where, util::trim(item));
        out.push_back(*type);
    }
    if (out.empty()) fail(ErrorKind::input, "{}: empty link type list", where);
    return out;
}

bool try_reflink(int src_fd, int dst_fd) { return ::ioctl(dst_fd, FICLONE, src_fd) == 0; }

} // namespace cairn::fs
