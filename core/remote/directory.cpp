#include "core/remote/directory.hpp"

#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <mutex>
#include <set>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <vector>

#include "core/fs/atomic_file.hpp"
#include "core/fs/file.hpp"
#include "core/remote/s3.hpp"
#include "core/util/error.hpp"
#include "core/util/interrupt.hpp"
#include "core/util/parallel.hpp"
#include "core/util/strings.hpp"

namespace cairn::remote {
namespace {

namespace stdfs = std::filesystem;

constexpr std::size_t k_copy_chunk = 8u << 20;

// Copies `in` (from its start, to EOF) into `out`: in the kernel with copy_file_range where the
// filesystems allow it, else through a buffer. Starts write-back every 8 MiB so that the sync
// that follows has little left to wait for.
void copy_fd(int in, int out, const std::string& what) {
    bool kernel = true;
    off_t written = 0, flushed = 0;
    auto start_writeback = [&](bool last) {
        // Small files are left to the batch's single sync: a write-back request each would cost
        // more than it saves.
        if (written - flushed >= static_cast<off_t>(k_copy_chunk) ||
            (last && flushed > 0 && written > flushed)) {
            ::sync_file_range(out, flushed, written - flushed, SYNC_FILE_RANGE_WRITE);
            flushed = written;
        }
    };
    thread_local std::vector<char> buffer;
    for (;;) {
        util::check_interrupted();
        if (kernel) {
            ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, k_copy_chunk, 0);
            if (n > 0) {
                written += n;
                start_writeback(false);
                continue;
            }
            if (n == 0) break;
            if (errno == EINTR) continue;
            if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP && errno != EBADF)
                fail_errno("copying into " + what, errno);
            kernel = false; // nothing was copied by the failed call: go on from the same offsets
        }
        if (buffer.empty()) buffer.resize(1 << 20);
        ssize_t n = ::read(in, buffer.data(), buffer.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            fail_errno("reading for " + what, errno);
        }
        if (n == 0) break;
        fs::write_all(out, buffer.data(), static_cast<std::size_t>(n), what);
        written += n;
        start_writeback(false);
    }
    start_writeback(true);
}

// True when one syncfs(2) of the filesystem makes every earlier write to it durable and reports
// their write-back errors: local filesystems. On network and FUSE filesystems each file is
// synced itself (fdatasync), as POSIX promises nothing more.
bool syncfs_covers(int fd) {
    struct statfs st {};
    if (::fstatfs(fd, &st) != 0) return false;
    switch (static_cast<unsigned long>(st.f_type)) {
    case 0xEF53UL:     // ext2/3/4
    case 0x58465342UL: // xfs
    case 0x9123683EUL: // btrfs
    case 0x01021994UL: // tmpfs
    case 0xF2F52010UL: // f2fs
    case 0x2FC12FC1UL: // zfs
    case 0xCA451A4EUL: // bcachefs
        return true;
    default:
        return false;
    }
}

// Staged uploads into a directory remote. The order that keeps a final name from ever naming a
// partial object (docs/safety.md, "Pushing to a directory remote"): (1) every object's bytes go
// to a temp name in its own fan-out directory; (2) one syncfs of the remote's filesystem (local
// filesystems) or an fdatasync of each temp (any other) makes those bytes durable; (3) the temps
// are renamed to their final names; (4) a second syncfs, or an fsync of each directory touched
// and of sha256/ and the root, makes the renames durable. A crash before (3) completes leaves
// temps (never listed as objects) and no final name; after (2) any final name holds all its bytes.
class DirectoryBatch final : public PutBatch {
public:
    DirectoryBatch(stdfs::path root, std::string display) : m_root(std::move(root)), m_display(std::move(display)) {
        fs::make_dirs(m_root);
        // Opened before any byte is written: syncfs on it reports every write-back error since.
        int fd = ::open(m_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) fail_errno(fmt::format("{}: opening the remote directory", m_display), errno);
        m_root_fd = fs::Fd(fd);
        m_syncfs = syncfs_covers(m_root_fd.get());
    }

    ~DirectoryBatch() override {
        for (const auto& item : m_staged) ::unlink(item.temp.c_str());
    }

    void stage(const std::string& key, const stdfs::path& local) override {
        check_key(key);
        stdfs::path target = m_root / key;
        stdfs::path dir = target.parent_path();
        bool known = false;
        {
            std::lock_guard lock(m_mutex);
            known = m_dirs.count(dir.string()) > 0;
        }
        if (!known) {
            fs::make_dirs(dir);
            std::lock_guard lock(m_mutex);
            m_dirs.insert(dir.string());
        }
        fs::Fd in = fs::open_read(local);
        stdfs::path temp;
        fs::Fd out = fs::make_temp_file(dir, target.filename().string(), &temp, 0444);
        try {
            copy_fd(in.get(), out.get(), temp.string());
            if (!m_syncfs && ::fdatasync(out.get()) != 0 && errno != EINVAL) fail_errno("syncing " + temp.string(), errno);
            if (::close(out.release()) != 0) fail_errno("writing " + temp.string(), errno);
        } catch (...) {
            ::unlink(temp.c_str());
            throw;
        }
        std::lock_guard lock(m_mutex);
        m_staged.push_back({key, std::move(temp), std::move(target)});
    }

    std::vector<std::pair<std::string, std::string>> commit() override {
        std::lock_guard lock(m_mutex);
        std::vector<std::pair<std::string, std::string>> failed;
        if (m_staged.empty()) return failed;
        // (2) the bytes, before any final name exists.
        if (m_syncfs && ::syncfs(m_root_fd.get()) != 0)
            fail_errno(fmt::format("{}: syncing the remote's filesystem", m_display), errno);
        // (3) the renames, on a few threads (each is a round trip on a network filesystem).
        std::mutex failed_mutex;
        std::vector<char> placed(m_staged.size(), 0);
        util::parallel_for(
            m_staged.size(),
            [&](std::size_t i) {
                const Staged& item = m_staged[i];
                if (::rename(item.temp.c_str(), item.target.c_str()) == 0) {
                    placed[i] = 1;
                    return;
                }
                int e = errno;
                std::lock_guard guard(failed_mutex);
                failed.emplace_back(item.key, fmt::format("{}: renaming into {}: {}", m_display, item.key, std::strerror(e)));
            },
            m_syncfs ? 1u : 8u);
        std::vector<Staged> left;
        for (std::size_t i = 0; i < m_staged.size(); ++i)
            if (!placed[i]) left.push_back(std::move(m_staged[i]));
        m_staged = std::move(left); // the destructor removes the temps that stayed temps
        // (4) the renames themselves (and the directories made for them).
        if (m_syncfs) {
            if (::syncfs(m_root_fd.get()) != 0)
                fail_errno(fmt::format("{}: syncing the remote's filesystem", m_display), errno);
        } else {
            std::vector<std::string> dirs(m_dirs.begin(), m_dirs.end());
            util::parallel_for(dirs.size(), [&](std::size_t i) { fs::fsync_dir(dirs[i]); }, 8u);
            for (const auto& dir : {m_root / "sha256", m_root})
                if (stdfs::is_directory(dir)) fs::fsync_dir(dir);
        }
        return failed;
    }

private:
    struct Staged {
        std::string key;
        stdfs::path temp, target;
    };
    stdfs::path m_root;
    std::string m_display;
    fs::Fd m_root_fd;
    bool m_syncfs = false;
    std::mutex m_mutex;
    std::set<std::string> m_dirs;
    std::vector<Staged> m_staged;
};

class DirectoryBackend final : public Backend {
public:
    DirectoryBackend(stdfs::path root, std::string display) : m_root(std::move(root)), m_display(std::move(display)) {}

    std::string describe() const override { return m_display; }

    std::optional<std::uint64_t> stat(const std::string& key) override {
        check_key(key);
        struct stat st {};
        if (::stat((m_root / key).c_str(), &st) != 0) {
            if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
            fail_errno(fmt::format("{}: {}", m_display, key), errno);
        }
        if (!S_ISREG(st.st_mode)) return std::nullopt;
        return static_cast<std::uint64_t>(st.st_size);
    }

    void list(const std::string& prefix, const std::function<void(std::string_view, std::uint64_t)>& fn) override {
        // The prefix is a key prefix, not a directory: list the deepest directory it names in
        // full and filter, recursing into sub-directories (one readdir per directory, with
        // d_type, and an fstatat only for the sizes).
        std::string dir_part = prefix.substr(0, prefix.rfind('/') == std::string::npos ? 0 : prefix.rfind('/'));
        if (!dir_part.empty()) check_key(dir_part);
        walk(dir_part, prefix, fn, 0);
    }

    void put(const std::string& key, const stdfs::path& local) override {
        check_key(key);
        stdfs::path target = m_root / key;
        stdfs::path dir = target.parent_path();
        fs::make_dirs(dir);
        fs::Fd in = fs::open_read(local);
        stdfs::path temp;
        {
            fs::Fd out = fs::make_temp_file(dir, target.filename().string(), &temp, 0444);
            try {
                copy_fd(in.get(), out.get(), temp.string());
                fs::fsync_fd(out.get(), temp.string());
            } catch (...) {
                ::unlink(temp.c_str());
                throw;
            }
        }
        if (::rename(temp.c_str(), target.c_str()) != 0) {
            int e = errno;
            ::unlink(temp.c_str());
            fail_errno(fmt::format("{}: renaming into {}", m_display, key), e);
        }
        fs::fsync_dir(dir);
    }

    std::unique_ptr<PutBatch> begin_puts() override { return std::make_unique<DirectoryBatch>(m_root, m_display); }

    hash::Digest get_hashed(const std::string& key, const stdfs::path& local, std::uint64_t* size) override {
        check_key(key);
        fs::Fd in = open_object(key);
        int out_fd = ::open(local.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (out_fd < 0) fail_errno("creating " + local.string(), errno);
        fs::Fd out(out_fd);
        // One read of the remote's bytes: hashed from the buffer they are written from.
        thread_local std::vector<char> buffer(1 << 20);
        hash::Sha256 hasher;
        std::uint64_t total = 0, flushed = 0;
        for (;;) {
            util::check_interrupted();
            ssize_t n = ::read(in.get(), buffer.data(), buffer.size());
            if (n < 0) {
                if (errno == EINTR) continue;
                fail_errno(fmt::format("{}: reading {}", m_display, key), errno);
            }
            if (n == 0) break;
            hasher.update(buffer.data(), static_cast<std::size_t>(n));
            fs::write_all(out.get(), buffer.data(), static_cast<std::size_t>(n), local.string());
            total += static_cast<std::uint64_t>(n);
            if (total - flushed >= k_copy_chunk) {
                ::sync_file_range(out.get(), static_cast<off_t>(flushed), static_cast<off_t>(total - flushed), SYNC_FILE_RANGE_WRITE);
                flushed = total;
            }
        }
        if (size) *size = total;
        return hasher.finish();
    }

    void get(const std::string& key, const stdfs::path& local) override {
        check_key(key);
        fs::Fd in = open_object(key);
        int out_fd = ::open(local.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (out_fd < 0) fail_errno("creating " + local.string(), errno);
        fs::Fd out(out_fd);
        copy_fd(in.get(), out.get(), local.string());
    }

    std::string read_head(const std::string& key, std::size_t n) override {
        check_key(key);
        int fd = ::open((m_root / key).c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT || errno == ENOTDIR)
                fail(ErrorKind::integrity, "{}: object {} is missing on the remote", m_display, key);
            fail_errno(fmt::format("{}: {}", m_display, key), errno);
        }
        fs::Fd in(fd);
        std::string out(n, '\0');
        std::size_t got = 0;
        while (got < n) {
            ssize_t r = ::pread(in.get(), out.data() + got, n - got, static_cast<off_t>(got));
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) fail_errno(fmt::format("{}: {}", m_display, key), errno);
            if (r == 0) break;
            got += static_cast<std::size_t>(r);
        }
        out.resize(got);
        return out;
    }

    bool root_exists() override { return stdfs::is_directory(m_root); }

    void create_root() override {
        if (::mkdir(m_root.c_str(), 0777) == 0 || errno == EEXIST) return;
        if (errno == ENOENT)
            fail(ErrorKind::environment, "{}: cannot create the remote directory: {} does not exist (is the share mounted?)",
                 m_display, m_root.parent_path().string());
        fail_errno(fmt::format("{}: creating the remote directory {}", m_display, m_root.string()), errno);
    }

    void remove(const std::string& key) override {
        check_key(key);
        if (::unlink((m_root / key).c_str()) != 0 && errno != ENOENT)
            fail_errno(fmt::format("{}: removing {}", m_display, key), errno);
    }

private:
    fs::Fd open_object(const std::string& key) const {
        int fd = ::open((m_root / key).c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT || errno == ENOTDIR)
                fail(ErrorKind::integrity, "{}: object {} is missing on the remote", m_display, key);
            fail_errno(fmt::format("{}: {}", m_display, key), errno);
        }
        return fs::Fd(fd);
    }

    void walk(const std::string& rel_dir, const std::string& prefix,
              const std::function<void(std::string_view, std::uint64_t)>& fn, int depth) {
        if (depth > 16) return;
        stdfs::path dir = rel_dir.empty() ? m_root : m_root / rel_dir;
        DIR* d = ::opendir(dir.c_str());
        if (!d) {
            if (depth == 0 && (errno == ENOENT || errno == ENOTDIR) && !stdfs::is_directory(m_root))
                fail(ErrorKind::environment,
                     "{}: the remote directory {} does not exist (is the share mounted? 'cairn push' creates it)",
                     m_display, m_root.string());
            if (errno == ENOENT || errno == ENOTDIR) return;
            fail_errno(fmt::format("{}: listing {}", m_display, rel_dir.empty() ? "/" : rel_dir), errno);
        }
        std::unique_ptr<DIR, int (*)(DIR*)> guard(d, ::closedir);
        while (dirent* entry = ::readdir(d)) {
            std::string_view name = entry->d_name;
            if (name == "." || name == "..") continue;
            std::string key = rel_dir.empty() ? std::string(name) : rel_dir + "/" + std::string(name);
            // Only keys that can still start with the prefix are followed.
            std::size_t n = std::min(key.size(), prefix.size());
            if (key.compare(0, n, prefix, 0, n) != 0) continue;
            unsigned char type = entry->d_type;
            struct stat st {};
            if (type == DT_UNKNOWN || type == DT_REG) {
                if (::fstatat(::dirfd(d), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
                type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
            }
            if (type == DT_DIR) {
                walk(key, prefix, fn, depth + 1);
            } else if (type == DT_REG && key.size() >= prefix.size() && !fs::looks_like_temp(name)) {
                fn(key, static_cast<std::uint64_t>(st.st_size));
            }
        }
    }

    stdfs::path m_root;
    std::string m_display;
};

} // namespace

void check_key(const std::string& key) {
    bool ok = !key.empty() && key.front() != '/' && key.find('\0') == std::string::npos;
    if (ok)
        for (const auto& part : util::split(key, '/'))
            if (part.empty() || part == "." || part == "..") ok = false;
    if (!ok) fail(ErrorKind::input, "'{}' is not a valid remote key (relative, no empty, '.' or '..' parts)", key);
}

std::unique_ptr<Backend> open_directory(const stdfs::path& root, const std::string& display) {
    return std::make_unique<DirectoryBackend>(root, display);
}

std::unique_ptr<Backend> open_backend(const RemoteConfig& remote, const stdfs::path& workspace_root) {
    if (remote_kind(remote.url) == RemoteKind::s3) {
        S3Options options = parse_s3_url(remote.url);
        options.endpoint = remote.endpoint;
        options.region = remote.region;
        options.path_style = remote.path_style;
        return open_s3(options);
    }
    return open_directory(directory_of(remote.url, workspace_root), remote.url);
}

} // namespace cairn::remote
