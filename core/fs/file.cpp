#include "core/fs/file.hpp"

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

#include "core/util/error.hpp"

namespace cairn::fs {

void Fd::reset() {
    if (m_fd >= 0) ::close(m_fd);
    m_fd = -1;
}

void check_regular(const struct stat& st, const stdfs::path& path) {
    if (S_ISREG(st.st_mode)) return;
    const char* kind = S_ISDIR(st.st_mode)    ? "a directory"
                       : S_ISFIFO(st.st_mode) ? "a FIFO"
                       : S_ISSOCK(st.st_mode) ? "a socket"
                       : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device"
                                                                    : "not a regular file";
    fail(ErrorKind::input, "{} is {}, not a regular file", path.string(), kind);
}

Fd open_read(const stdfs::path& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail_errno("cannot open " + path.string(), errno);
    return Fd(fd);
}

std::optional<std::string> read_file_if_exists(const stdfs::path& path) {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it is then refused below.
    int raw = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (raw < 0) {
        if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
        fail_errno("cannot open " + path.string(), errno);
    }
    Fd fd(raw);
    std::string out;
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) fail_errno("cannot stat " + path.string(), errno);
    check_regular(st, path);
    if (st.st_size > 0) out.reserve(static_cast<std::size_t>(st.st_size));
    char buffer[65536];
    while (true) {
        ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail_errno("cannot read " + path.string(), errno);
        }
        if (n == 0) break;
        out.append(buffer, static_cast<std::size_t>(n));
    }
    return out;
}

std::string read_file(const stdfs::path& path) {
    auto content = read_file_if_exists(path);
    if (!content) fail_errno("cannot open " + path.string(), ENOENT);
    return std::move(*content);
}

void write_all(int fd, const void* data, std::size_t size, const std::string& what) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
        ssize_t n = ::write(fd, p, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail_errno("cannot write " + what, errno);
        }
        p += n;
        size -= static_cast<std::size_t>(n);
    }
}

void fsync_fd(int fd, const std::string& what) {
    if (::fsync(fd) != 0 && errno != EINVAL) fail_errno("cannot sync " + what, errno);
}

void fsync_dir(const stdfs::path& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) fail_errno("cannot open directory " + dir.string(), errno);
    Fd guard(fd);
    fsync_fd(fd, dir.string());
}

void sync_filesystem(const stdfs::path& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) fail_errno("cannot open directory " + path.string(), errno);
    Fd guard(fd);
    if (::syncfs(fd) != 0) fail_errno("cannot sync filesystem of " + path.string(), errno);
}

std::optional<struct stat> lstat_path(const stdfs::path& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
        fail_errno("cannot stat " + path.string(), errno);
    }
    return st;
}

void make_dirs(const stdfs::path& dir) {
    std::error_code ec;
    stdfs::create_directories(dir, ec);
    if (ec) throw Error(ErrorKind::io, "cannot create directory " + dir.string() + ": " + ec.message(), ec.category() == std::generic_category() || ec.category() == std::system_category() ? ec.value() : 0);
}

void remove_file(const stdfs::path& path) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        fail_errno("cannot remove " + path.string(), errno);
}

} // namespace cairn::fs
