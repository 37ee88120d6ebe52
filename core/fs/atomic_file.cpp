#include "core/fs/atomic_file.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <unistd.h>

#include "core/util/error.hpp"

namespace cairn::fs {

Fd make_temp_file(const stdfs::path& dir, std::string_view stem, stdfs::path* path, mode_t mode) {
    std::string pattern = (dir / std::string(stem)).string();
    pattern += k_temp_infix;
    pattern += "XXXXXX";
    // mkstemp creates 0600; fchmod sets the mode asked for (0444 for cache objects: writing
    // through the already open descriptor is still allowed).
    int fd = ::mkostemp(pattern.data(), O_CLOEXEC);
    if (fd < 0) fail_errno("cannot create a temporary file in " + dir.string(), errno);
    Fd guard(fd);
    if (::fchmod(fd, mode) != 0) {
        int err = errno;
        ::unlink(pattern.c_str());
        fail_errno("cannot set mode of " + pattern, err);
    }
    *path = pattern;
    return guard;
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

void write_file_atomic(const stdfs::path& target, std::string_view content, mode_t mode) {
    AtomicFile file(target, mode);
    file.write(content);
    file.commit(Durability::sync);
}

} // namespace cairn::fs
