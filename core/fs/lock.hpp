#pragma once
// Advisory whole-file locks (flock) between cairn processes. The kernel drops a lock when its
// holder dies, so a lock left by a killed process (kill -9, crash) is never "stale": the next
// process simply gets it. The exclusive holder writes "pid host" into the file so that a waiting
// process can say whom it is waiting for.

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "core/fs/file.hpp"

namespace cairn::fs {

enum class LockMode { shared, exclusive };

class FileLock {
public:
    // Called once, when the lock is busy, with a description of the holder ("pid 123 on host").
    using WaitNotice = std::function<void(const std::string& holder)>;

    // Blocks until the lock on `path` (created if missing) is held in `mode`, or `timeout`
    // passes (Error(busy)), or SIGINT arrives (Error(interrupted)).
    FileLock(const stdfs::path& path, LockMode mode,
             std::chrono::milliseconds timeout = std::chrono::hours(24),
             const WaitNotice& on_wait = {});
    ~FileLock();
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;

    // Tries once without waiting; returns false when the lock is held by someone else.
    [[nodiscard]] static bool try_lock(const stdfs::path& path, LockMode mode);

    // Tries once without waiting (creating the file if missing): the lock, held, or nullopt when
    // someone else holds it. For removing what a dead process left, while holding this: a
    // process that locks the file a moment later notices that it was removed (the constructor
    // checks that the file it locked is still at its path) and makes it, and its directory, again.
    [[nodiscard]] static std::optional<FileLock> try_lock_held(const stdfs::path& path, LockMode mode);

    FileLock(FileLock&&) noexcept = default;
    FileLock& operator=(FileLock&&) noexcept = default;

    // True when another process holds a lock on `path`. Opens it read-only and never creates
    // it: a missing file is not held. Takes nothing that outlives the call.
    [[nodiscard]] static bool is_held(const stdfs::path& path);

private:
    explicit FileLock(Fd fd) : m_fd(std::move(fd)) {}
    Fd m_fd;
};

// "pid <n> on <host>" as recorded in the lock file, or "another process" when unknown.
[[nodiscard]] std::string describe_lock_holder(const stdfs::path& path);

// This machine's host name.
[[nodiscard]] std::string host_name();

} // namespace cairn::fs
