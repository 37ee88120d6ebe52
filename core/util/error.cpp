#include "core/util/error.hpp"

#include <cerrno>
#include <cstring>

namespace cairn {

void fail_errno(const std::string& what, int errno_value) {
    throw Error(ErrorKind::io, fmt::format("{}: {}", what, std::strerror(errno_value)), errno_value);
}

bool Error::permanent() const {
    switch (m_os_error) {
    case EACCES:
    case EPERM:
    case EROFS:
    case ENOSPC:
    case EDQUOT:
    case ENOTDIR:
    case EISDIR:
    case ENAMETOOLONG:
    case ELOOP:
    case EEXIST:
        return true;
    default:
        return false;
    }
}

} // namespace cairn
