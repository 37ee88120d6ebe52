#include "core/fs/atomic_file.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <limits>
#include <random>
#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>

#include "core/fs/lock.hpp"
#include "core/fs/walk.hpp"
#include "core/util/error.hpp"

namespace cairn::fs {

namespace {

constexpr std::size_t k_name_max = 255; // NAME_MAX on Linux filesystems
constexpr std::size_t k_host_tag_digits = 8;
constexpr std::size_t k_random_digits = 12;

bool is_hex_digits(std::string_view s, std::size_t n) {
    return s.size() == n && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

} // namespace

std::string host_tag() {
    // FNV-1a of the host name: short, stable, and the same in every cairn on that host.
    static const std::string tag = [] {
        std::uint32_t h = 2166136261u;
        for (unsigned char c : host_name()) h = (h ^ c) * 16777619u;
        return fmt::format("{:08x}", h);
    }();
    return tag;
}

stdfs::path temp_name(const stdfs::path& dir, std::string_view stem) {
    thread_local std::mt19937_64 rng(std::random_device{}() ^ static_cast<std::uint64_t>(::getpid()));
    std::string suffix = fmt::format("{}{}-{}-{:012x}", k_temp_infix, ::getpid(), host_tag(), rng() & 0xffffffffffffull);
    if (stem.size() + suffix.size() > k_name_max) {
        std::size_t cut = k_name_max - suffix.size();
        while (cut > 0 && (static_cast<unsigned char>(stem[cut]) & 0xC0) == 0x80) --cut; // inside a UTF-8 character
        stem = stem.substr(0, cut);
    }
    return dir / (std::string(stem) + suffix);
}

bool looks_like_temp(std::string_view file_name) { return file_name.find(k_temp_infix) != std::string_view::npos; }

std::optional<TempName> parse_temp_name(std::string_view file_name) {
    std::size_t at = file_name.rfind(k_temp_infix);
    if (at == std::string_view::npos) return std::nullopt;
    std::string_view rest = file_name.substr(at + k_temp_infix.size());
    std::size_t dash = rest.find('-');
    if (dash == 0 || dash == std::string_view::npos || dash > 10) return std::nullopt;
    std::string_view pid = rest.substr(0, dash);
    if (pid.find_first_not_of("0123456789") != std::string_view::npos || pid[0] == '0') return std::nullopt;
    rest.remove_prefix(dash + 1);
    if (rest.size() != k_host_tag_digits + 1 + k_random_digits || rest[k_host_tag_digits] != '-' ||
        !is_hex_digits(rest.substr(0, k_host_tag_digits), k_host_tag_digits) ||
        !is_hex_digits(rest.substr(k_host_tag_digits + 1), k_random_digits))
        return std::nullopt;
    TempName out;
    out.stem = std::string(file_name.substr(0, at));
    out.pid = std::stoll(std::string(pid));
    out.host_tag = std::string(rest.substr(0, k_host_tag_digits));
    return out;
}

bool temp_creator_dead(const TempName& temp) {
    if (temp.host_tag != host_tag()) return false; // another host's process: cannot tell
    if (temp.pid <= 0 || temp.pid > std::numeric_limits<pid_t>::max()) return false;
    return ::kill(static_cast<pid_t>(temp.pid), 0) != 0 && errno == ESRCH;
}

bool is_dead_temp(std::string_view file_name) {
    auto temp = parse_temp_name(file_name);
    return temp && temp_creator_dead(*temp);
}

std::size_t sweep_dead_temps(const stdfs::path& dir, SweepMode mode) {
    auto st = lstat_path(dir);
    if (!st || !S_ISDIR(st->st_mode)) return 0;
    std::vector<DirEntry> entries = list_dir(dir);
    std::size_t n = 0;
    for (const auto& e : entries) {
        if (e.type == EntryType::directory || !is_dead_temp(e.name)) continue;
        if (mode == SweepMode::remove) remove_file(dir / e.name);
        ++n;
    }
    return n;
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
