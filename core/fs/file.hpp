#pragma once
// Thin, throwing wrappers over POSIX file calls.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <sys/stat.h>

namespace cairn::fs {

namespace stdfs = std::filesystem;

// An owned file descriptor, closed on destruction.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : m_fd(fd) {}
    ~Fd() { reset(); }
    Fd(Fd&& other) noexcept : m_fd(other.release()) {}
    Fd& operator=(Fd&& other) noexcept {
        if (this != &other) {
            reset();
            m_fd = other.release();
        }
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;

    [[nodiscard]] int get() const { return m_fd; }
    [[nodiscard]] bool valid() const { return m_fd >= 0; }
    int release() {
        int fd = m_fd;
        m_fd = -1;
        return fd;
    }
    void reset();

private:
    int m_fd = -1;
};

// Opens `path` read-only. Throws Error(io) naming the path.
[[nodiscard]] Fd open_read(const stdfs::path& path);

// Throws Error(input) "<path> is a FIFO, not a regular file" (or a directory, socket, device)
// unless `st` describes a regular file.
void check_regular(const struct stat& st, const stdfs::path& path);

// The whole file as a string. Throws Error(io), or Error(input) for anything but a regular file
// (never blocking on a FIFO).
[[nodiscard]] std::string read_file(const stdfs::path& path);

// The whole file, or nullopt if it does not exist. Throws Error(io) on other failures, and
// Error(input) for anything but a regular file (a FIFO is never waited on).
[[nodiscard]] std::optional<std::string> read_file_if_exists(const stdfs::path& path);

// Writes all of `data` to fd, retrying short writes. Throws Error(io) naming `what`.
void write_all(int fd, const void* data, std::size_t size, const std::string& what);

// fsync(fd); throws Error(io).
void fsync_fd(int fd, const std::string& what);

// Opens a directory and fsyncs it so that renames into it are durable.
void fsync_dir(const stdfs::path& dir);

// syncfs(2) on the filesystem holding `path`: one call makes every earlier write durable.
void sync_filesystem(const stdfs::path& path);

// lstat; nullopt when the path does not exist. Throws Error(io) on other failures.
[[nodiscard]] std::optional<struct stat> lstat_path(const stdfs::path& path);

// Creates `dir` and its parents; throws Error(io).
void make_dirs(const stdfs::path& dir);

// Removes a file; missing is not an error. Throws Error(io) otherwise.
void remove_file(const stdfs::path& path);

// Modification / change time of a stat result in nanoseconds.
[[nodiscard]] inline std::int64_t mtime_ns(const struct stat& st) {
    return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}
[[nodiscard]] inline std::int64_t ctime_ns(const struct stat& st) {
    return static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
}

} // namespace cairn::fs
