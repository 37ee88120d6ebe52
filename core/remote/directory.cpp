#include "core/remote/directory.hpp"

#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fs/atomic_file.hpp"
#include "core/fs/file.hpp"
#include "core/remote/s3.hpp"
#include "core/util/error.hpp"
#include "core/util/strings.hpp"

namespace cairn::remote {
namespace {

namespace stdfs = std::filesystem;

void copy_fd(int in, int out, const std::string& what) {
    std::string buffer(1 << 20, '\0');
    for (;;) {
        ssize_t n = ::read(in, buffer.data(), buffer.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            fail_errno("reading " + what, errno);
        }
        if (n == 0) return;
        fs::write_all(out, buffer.data(), static_cast<std::size_t>(n), what);
    }
}

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

    void get(const std::string& key, const stdfs::path& local) override {
        check_key(key);
        int fd = ::open((m_root / key).c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT || errno == ENOTDIR)
                fail(ErrorKind::integrity, "{}: object {} is missing on the remote", m_display, key);
            fail_errno(fmt::format("{}: {}", m_display, key), errno);
        }
        fs::Fd in(fd);
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
