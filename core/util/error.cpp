#include "core/util/error.hpp"

#include <cerrno>
#include <cstring>

namespace cairn {

void fail_errno(const std::string& what, int errno_value) {
    throw Error(ErrorKind::io, fmt::format("{}: {}", what, std::strerror(errno_value)));
}

} // namespace cairn
