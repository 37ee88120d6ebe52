#include "core/fs/lock.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>

#include "core/fs/file.hpp"
#include "core/util/error.hpp"
#include "core/util/interrupt.hpp"
#include "core/util/strings.hpp"

namespace cairn::fs {
namespace {

Fd open_lock_file(const stdfs::path& path) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) fail_errno("cannot open lock file " + path.string(), errno);
    return Fd(fd);
}

// For a lock that guards a directory of its own (a run being staged, a rerun worktree): gc
// removes such a directory, holding its lock, when its creator seems dead; a creator that made
// the directory a moment before makes it again.
Fd open_lock_file_making_dir(const stdfs::path& path) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 && errno == ENOENT) {
        make_dirs(path.parent_path());
        fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    }
    if (fd < 0) fail_errno("cannot open lock file " + path.string(), errno);
    return Fd(fd);
}

int flock_op(LockMode mode) { return mode == LockMode::shared ? LOCK_SH : LOCK_EX; }

} // namespace

std::string host_name() {
    char buffer[256] = {};
    if (::gethostname(buffer, sizeof buffer - 1) != 0) return "unknown";
    return buffer;
}

std::string describe_lock_holder(const stdfs::path& path) {
    auto content = read_file_if_exists(path);
    if (!content) return "another process";
    auto fields = util::split(util::trim(*content), ' ');
    if (fields.size() < 2 || fields[0].empty()) return "another process";
    return fmt::format("pid {} on {}", fields[0], fields[1]);
}

FileLock::FileLock(const stdfs::path& path, LockMode mode, std::chrono::milliseconds timeout,
                   const WaitNotice& on_wait)
    : m_fd(open_lock_file_making_dir(path)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    bool noticed = false;
    while (true) {
        while (::flock(m_fd.get(), flock_op(mode) | LOCK_NB) != 0) {
            if (errno != EWOULDBLOCK && errno != EINTR) fail_errno("cannot lock " + path.string(), errno);
            util::check_interrupted();
            if (!noticed && on_wait) on_wait(describe_lock_holder(path));
            noticed = true;
            if (std::chrono::steady_clock::now() > deadline)
                fail(ErrorKind::busy, "{} is locked by {}; gave up waiting", path.string(),
                     describe_lock_holder(path));
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        // The file locked must still be the one at `path`: gc removes what a dead process left
        // while holding its lock, and may have done so between our open and our flock.
        struct stat held {}, now {};
        if (::fstat(m_fd.get(), &held) == 0 && ::stat(path.c_str(), &now) == 0 && held.st_ino == now.st_ino &&
            held.st_dev == now.st_dev)
            break;
        m_fd = open_lock_file_making_dir(path);
    }
    if (mode == LockMode::exclusive) {
        std::string who = fmt::format("{} {}\n", ::getpid(), host_name());
        if (::ftruncate(m_fd.get(), 0) == 0) {
            // Diagnostic only: a failed write does not weaken the lock itself.
            [[maybe_unused]] ssize_t n = ::pwrite(m_fd.get(), who.data(), who.size(), 0);
        }
    }
}

FileLock::~FileLock() {
    // Closing the descriptor releases the flock.
}

bool FileLock::try_lock(const stdfs::path& path, LockMode mode) {
    Fd fd = open_lock_file(path);
    return ::flock(fd.get(), flock_op(mode) | LOCK_NB) == 0;
}

std::optional<FileLock> FileLock::try_lock_held(const stdfs::path& path, LockMode mode) {
    Fd fd = open_lock_file(path);
    if (::flock(fd.get(), flock_op(mode) | LOCK_NB) != 0) return std::nullopt;
    return FileLock(std::move(fd));
}

bool FileLock::is_held(const stdfs::path& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
        if (errno == ENOENT || errno == ENOTDIR) return false;
        fail_errno("cannot open lock file " + path.string(), errno);
    }
    return ::flock(fd.get(), LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
}

} // namespace cairn::fs
