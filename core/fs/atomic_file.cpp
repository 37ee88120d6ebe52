#include "core/fs/atomic_file.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <random>
#include <unistd.h>

#include <fmt/format.h>

#include "core/util/error.hpp"

namespace cairn::fs {

stdfs::path temp_name(const stdfs::path& dir, std::string_view stem) {
    thread_local std::mt19937_64 rng(std::random_device{}() ^ static_cast<std::uint64_t>(::getpid()));
    return fmt::format("{}{}{:012x}", (dir / std::string(stem)).string(), k_temp_infix, rng() & 0xffffffffffffull);
}

Fd make_temp_file(const stdfs::path& dir, std::string_view stem, stdfs::path* path, mode_t mode) {
    // Our own unique names instead of mkstemp: the file is created with its final mode in one
    // call (cache objects are 0444; writing through the open descriptor is still allowed), which
    // saves a fchmod per object when adding many small files.
    for (int attempt = 0; attempt < 100; ++attempt) {
        stdfs::path candidate = temp_name(dir, stem);
        int fd = ::open(candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (fd >= 0) {
            *path = std::move(candidate);
            return Fd(fd);
        }
        if (errno != EEXIST) fail_errno("cannot create a temporary file in " + dir.string(), errno);
    }
    fail(ErrorKind::io, "cannot create a unique temporary file in {}", dir.string());
}

AtomicFile::AtomicFile(stdfs::path target, mode_t mode, stdfs::path temp_dir)
    : m_target(std::move(target)) {
    stdfs::path dir = temp_dir.empty() ? m_target.parent_path() : temp_dir;
    if (dir.empty()) dir = ".";
    m_fd = make_temp_file(dir, m_target.filename().string(), &m_temp, mode);
}

AtomicFile::~AtomicFile() {
    if (!m_committed && !m_temp.empty()) ::unlink(m_temp.c_str());
}

void AtomicFile::write(std::string_view data) {
    write_all(m_fd.get(), data.data(), data.size(), m_temp.string());
}

void AtomicFile::commit(Durability durability) {
    if (durability == Durability::sync) fsync_fd(m_fd.get(), m_temp.string());
    if (::close(m_fd.release()) != 0) fail_errno("cannot write " + m_temp.string(), errno);
    if (::rename(m_temp.c_str(), m_target.c_str()) != 0)
        fail_errno("cannot rename " + m_temp.string() + " to " + m_target.string(), errno);
    m_committed = true;
    if (durability == Durability::sync) {
        stdfs::path dir = m_target.parent_path();
        fsync_dir(dir.empty() ? stdfs::path(".") : dir);
    }
}

void write_file_atomic(const stdfs::path& target, std::string_view content, mode_t mode, Durability durability) {
    AtomicFile file(target, mode);
    file.write(content);
    file.commit(durability);
}

} // namespace cairn::fs
