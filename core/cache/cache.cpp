#include "core/cache/cache.hpp"

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <fcntl.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>

#include "core/fs/atomic_file.hpp"
#include "core/fs/file.hpp"
#include "core/fs/walk.hpp"
#include "core/util/error.hpp"
#include "core/util/interrupt.hpp"

namespace cairn::cache {
namespace {

constexpr std::size_t k_small_object = 1 << 20;        // read whole, hash, then write if new
constexpr std::uint64_t k_pipelined_copy = 32ull << 20; // hash and write on separate threads
constexpr std::uint64_t k_trust_verified = 1ull << 20;  // objects this large go in verified/
constexpr std::size_t k_chunk = 4 << 20;

ssize_t read_full(int fd, char* buffer, std::size_t size, const std::string& what) {
    std::size_t got = 0;
    while (got < size) {
        ssize_t n = ::read(fd, buffer + got, size - got);
        if (n < 0) {
            if (errno == EINTR) {
                util::check_interrupted();
                continue;
            }
            fail_errno("cannot read " + what, errno);
        }
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    return static_cast<ssize_t>(got);
}

// Reads src to EOF, hashing on this thread and writing to dst on another, so that a large copy
// costs about as much as hashing alone. Writeback starts per chunk (sync_file_range) so that a
// later fsync has little left to wait for.
Digest copy_hashing_pipelined(int src, int dst, const std::string& what, const std::string& dst_name,
                              std::uint64_t* size) {
    constexpr std::size_t k_slots = 4;
    struct Slot {
        std::vector<char> data = std::vector<char>(k_chunk);
        std::size_t len = 0;
        bool full = false;
    };
    std::vector<Slot> slots(k_slots);
    std::mutex mutex;
    std::condition_variable cv;
    bool done = false;
    std::exception_ptr writer_error;

    std::thread writer([&] {
        std::size_t index = 0;
        off_t offset = 0;
        try {
            while (true) {
                Slot* slot = &slots[index];
                {
                    std::unique_lock lock(mutex);
                    cv.wait(lock, [&] { return slot->full || (done && !slot->full); });
                    if (!slot->full) return;
                }
                fs::write_all(dst, slot->data.data(), slot->len, dst_name);
                ::sync_file_range(dst, offset, static_cast<off_t>(slot->len), SYNC_FILE_RANGE_WRITE);
                offset += static_cast<off_t>(slot->len);
                {
                    std::lock_guard lock(mutex);
                    slot->full = false;
                }
                cv.notify_all();
                index = (index + 1) % k_slots;
            }
        } catch (...) {
            std::lock_guard lock(mutex);
            writer_error = std::current_exception();
            cv.notify_all();
        }
    });

    hash::Sha256 hasher;
    std::uint64_t total = 0;
    std::size_t index = 0;
    try {
        while (true) {
            Slot* slot = &slots[index];
            {
                std::unique_lock lock(mutex);
                cv.wait(lock, [&] { return !slot->full || writer_error; });
                if (writer_error) break;
            }
            util::check_interrupted();
            ssize_t n = read_full(src, slot->data.data(), k_chunk, what);
            if (n == 0) break;
            hasher.update(slot->data.data(), static_cast<std::size_t>(n));
            total += static_cast<std::uint64_t>(n);
            {
                std::lock_guard lock(mutex);
                slot->len = static_cast<std::size_t>(n);
                slot->full = true;
            }
            cv.notify_all();
            index = (index + 1) % k_slots;
        }
    } catch (...) {
        {
            std::lock_guard lock(mutex);
            done = true;
        }
        cv.notify_all();
        writer.join();
        throw;
    }
    {
        std::lock_guard lock(mutex);
        done = true;
    }
    cv.notify_all();
    writer.join();
    if (writer_error) std::rethrow_exception(writer_error);
    *size = total;
    return hasher.finish();
}

Digest copy_hashing(int src, int dst, const std::string& what, const std::string& dst_name,
                    std::uint64_t* size) {
    thread_local std::vector<char> buffer(1 << 20);
    hash::Sha256 hasher;
    std::uint64_t total = 0;
    while (true) {
        util::check_interrupted();
        ssize_t n = read_full(src, buffer.data(), buffer.size(), what);
        if (n == 0) break;
        hasher.update(buffer.data(), static_cast<std::size_t>(n));
        fs::write_all(dst, buffer.data(), static_cast<std::size_t>(n), dst_name);
        total += static_cast<std::uint64_t>(n);
    }
    *size = total;
    return hasher.finish();
}

// Copies src to dst in the kernel (copy_file_range), falling back to read/write where the
// filesystem pair does not support it.
void copy_plain(int src, int dst, const std::string& what, const std::string& dst_name) {
    bool kernel = true;
    while (true) {
        util::check_interrupted();
        if (kernel) {
            ssize_t n = ::copy_file_range(src, nullptr, dst, nullptr, 64u << 20, 0);
            if (n > 0) continue;
            if (n == 0) return;
            if (errno == EINTR) continue;
            if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
                fail_errno("cannot copy " + what + " to " + dst_name, errno);
            kernel = false;
        }
        thread_local std::vector<char> buffer(1 << 20);
        ssize_t n = read_full(src, buffer.data(), buffer.size(), what);
        if (n == 0) return;
        fs::write_all(dst, buffer.data(), static_cast<std::size_t>(n), dst_name);
    }
}

std::string corrupt_message(const Digest& digest, const stdfs::path& path) {
    return fmt::format("cache object {} is corrupt: its bytes do not match its id ({}); "
                       "run 'cairn fsck' and restore the data from a remote or re-add it",
                       digest.id(), path.string());
}

} // namespace

ObjectBatch::~ObjectBatch() {
    for (const auto& [temp, final_path] : m_pending) ::unlink(temp.c_str());
}

void ObjectBatch::add(stdfs::path temp, stdfs::path final_path) {
    std::lock_guard lock(m_mutex);
    m_pending.emplace_back(std::move(temp), std::move(final_path));
}

std::size_t ObjectBatch::size() const {
    std::lock_guard lock(m_mutex);
    return m_pending.size();
}

void ObjectBatch::commit(const stdfs::path& sync_dir) {
    std::lock_guard lock(m_mutex);
    if (m_pending.empty()) return;
    // Data first: after this no object can be renamed into place with bytes still in flight.
    fs::sync_filesystem(sync_dir);
    while (!m_pending.empty()) {
        auto& [temp, final_path] = m_pending.back();
        rename_into_place(temp, final_path);
        m_pending.pop_back();
    }
    fs::sync_filesystem(sync_dir);
}

void rename_into_place(const stdfs::path& temp, const stdfs::path& final_path) {
    if (::rename(temp.c_str(), final_path.c_str()) == 0) return;
    if (errno == ENOENT) {
        fs::make_dirs(final_path.parent_path());
        if (::rename(temp.c_str(), final_path.c_str()) == 0) return;
    }
    fail_errno("cannot move " + temp.string() + " into the cache", errno);
}

Cache::Cache(stdfs::path root, stdfs::path tmp)
    : m_root(std::move(root)), m_tmp(std::move(tmp)), m_verified(m_root / "verified") {}

Cache::~Cache() {
    try {
        if (stdfs::is_directory(m_root)) m_verified.save();
    } catch (...) {
        // Only an accelerator: the objects are hashed again next time.
    }
}

bool Cache::trusted(const Digest& digest, const struct stat& st) const {
    if (static_cast<std::uint64_t>(st.st_size) < k_trust_verified) return false;
    auto known = m_verified.lookup(digest.hex(), st);
    return known && *known == digest;
}

void Cache::record_verified(const Digest& digest, const struct stat& st, std::int64_t hashed_at_ns) {
    if (static_cast<std::uint64_t>(st.st_size) < k_trust_verified) return;
    m_verified.record(digest.hex(), state::make_entry(st, digest, hashed_at_ns));
}

stdfs::path Cache::object_path(const Digest& digest) const {
    std::string hex = digest.hex();
    return m_root / "sha256" / hex.substr(0, 2) / hex.substr(2);
}

bool Cache::has(const Digest& digest) const {
    struct stat st {};
    return ::stat(object_path(digest).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

void Cache::place(const stdfs::path& temp, const Digest& digest, bool durable) const {
    stdfs::path final_path = object_path(digest);
    rename_into_place(temp, final_path);
    if (durable) fs::fsync_dir(final_path.parent_path());
}

Cache::PutResult Cache::put_fd(int src_fd, const std::string& what, ObjectBatch* batch,
                               bool try_reflink) {
    struct stat st {};
    if (::fstat(src_fd, &st) != 0) fail_errno("cannot stat " + what, errno);
    auto size_hint = static_cast<std::uint64_t>(st.st_size);

    PutResult result;
    if (size_hint <= k_small_object) {
        // Small: hash from memory and write only if the object is new (no temp file otherwise).
        // Read exactly the size fstat gave: a file that grows or shrinks meanwhile is caught by
        // the caller comparing fstat before and after, and the object still matches its name.
        thread_local std::string buffer;
        buffer.resize(k_small_object);
        ssize_t n = read_full(src_fd, buffer.data(), static_cast<std::size_t>(size_hint), what);
        return put_bytes(std::string_view(buffer.data(), static_cast<std::size_t>(n)), batch);
    }

    stdfs::path temp;
    fs::Fd out = fs::make_temp_file(m_tmp, "object", &temp, 0444);
    struct TempGuard {
        stdfs::path* path;
        ~TempGuard() {
            if (path && !path->empty()) ::unlink(path->c_str());
        }
    } guard{&temp};

    bool cloned = false;
    if (try_reflink && m_reflink_works.load(std::memory_order_relaxed)) {
        cloned = fs::try_reflink(src_fd, out.get());
        if (!cloned) m_reflink_works = false;
    }
    if (cloned) {
        // The clone shares extents with the source; hash the source to name it.
        result.digest = hash::hash_fd(src_fd, what, &result.size);
    } else if (size_hint >= k_pipelined_copy) {
        result.digest = copy_hashing_pipelined(src_fd, out.get(), what, temp.string(), &result.size);
    } else {
        result.digest = copy_hashing(src_fd, out.get(), what, temp.string(), &result.size);
    }

    if (has(result.digest)) return result; // guard removes the temp
    bool large = result.size >= k_pipelined_copy || batch == nullptr;
    if (large) {
        if (::fdatasync(out.get()) != 0) fail_errno("cannot sync " + temp.string(), errno);
        out.reset();
        place(temp, result.digest, true);
    } else {
        out.reset();
        batch->add(temp, object_path(result.digest));
    }
    temp.clear();
    result.added = true;
    return result;
}

bool Cache::adopt_by_link(const stdfs::path& src, int src_fd, const struct stat& before, const Digest& digest,
                          ObjectBatch* batch) {
    stdfs::path temp = fs::temp_name(m_tmp, "object");
    if (::link(src.c_str(), temp.c_str()) != 0) return false; // EEXIST included: just copy
    struct stat linked {}, now {};
    // The name we linked must still be the file we hashed, unchanged since.
    bool same = ::lstat(temp.c_str(), &linked) == 0 && ::fstat(src_fd, &now) == 0 &&
                linked.st_ino == before.st_ino && linked.st_dev == before.st_dev &&
                now.st_size == before.st_size && fs::mtime_ns(now) == fs::mtime_ns(before);
    if (!same || ::fchmod(src_fd, now.st_mode & 0555) != 0) {
        ::unlink(temp.c_str());
        return false;
    }
    if (batch == nullptr) {
        place(temp, digest, true);
    } else {
        batch->add(temp, object_path(digest));
    }
    return true;
}

Cache::PutResult Cache::put_bytes(std::string_view bytes, ObjectBatch* batch) {
    PutResult result;
    result.digest = hash::hash_bytes(bytes);
    result.size = bytes.size();
    if (has(result.digest)) return result;
    stdfs::path temp;
    fs::Fd out = fs::make_temp_file(m_tmp, "object", &temp, 0444);
    try {
        fs::write_all(out.get(), bytes.data(), bytes.size(), temp.string());
        if (batch == nullptr) {
            fs::fsync_fd(out.get(), temp.string());
            out.reset();
            place(temp, result.digest, true);
        } else {
            out.reset();
            batch->add(temp, object_path(result.digest));
        }
    } catch (...) {
        ::unlink(temp.c_str());
        throw;
    }
    result.added = true;
    return result;
}

ObjectState Cache::verify(const Digest& digest) const {
    stdfs::path path = object_path(digest);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return ObjectState::missing;
        fail_errno("cannot open " + path.string(), errno);
    }
    fs::Fd guard(fd);
    return hash::hash_fd(fd, path.string()) == digest ? ObjectState::ok : ObjectState::corrupt;
}

std::string Cache::read_verified(const Digest& digest) const {
    stdfs::path path = object_path(digest);
    auto bytes = fs::read_file_if_exists(path);
    if (!bytes) fail(ErrorKind::integrity, "object {} is missing from the cache", digest.id());
    if (hash::hash_bytes(*bytes) != digest) throw Error(ErrorKind::integrity, corrupt_message(digest, path));
    return std::move(*bytes);
}

Tree Cache::read_tree(const Digest& digest) const {
    return Tree::parse(read_verified(digest), "tree object " + digest.id());
}

bool Cache::starts_like_tree(const Digest& digest) const {
    fs::Fd fd(::open(object_path(digest).c_str(), O_RDONLY | O_CLOEXEC));
    char head[k_tree_magic.size()];
    return fd.valid() && ::pread(fd.get(), head, sizeof head, 0) == static_cast<ssize_t>(sizeof head) &&
           std::string_view(head, sizeof head) == k_tree_magic;
}

std::optional<Tree> Cache::tree_if_any(const Digest& digest) const {
    // No "a file that merely looks like a tree" fallback: that would write a hostile or newer
    // tree out as a file of tree text. docs/format.md, "Tree or file".
    if (!starts_like_tree(digest)) return std::nullopt;
    return read_tree(digest);
}

fs::LinkType Cache::materialize(const Digest& digest, const stdfs::path& dst,
                                const std::vector<fs::LinkType>& order, bool executable) {
    stdfs::path object = object_path(digest);
    fs::Fd src(::open(object.c_str(), O_RDONLY | O_CLOEXEC));
    if (!src.valid()) {
        if (errno == ENOENT) fail(ErrorKind::integrity, "object {} is missing from the cache", digest.id());
        fail_errno("cannot open " + object.string(), errno);
    }
    struct stat st {};
    if (::fstat(src.get(), &st) != 0) fail_errno("cannot stat " + object.string(), errno);
    stdfs::path dir = dst.parent_path();
    mode_t mode = executable ? 0755 : 0644;
    bool verified = trusted(digest, st);
    auto verify_source = [&] {
        if (verified) return;
        std::int64_t hashed_at = state::now_ns();
        if (::lseek(src.get(), 0, SEEK_SET) != 0) fail_errno("cannot seek " + object.string(), errno);
        if (hash::hash_fd(src.get(), object.string()) != digest)
            throw Error(ErrorKind::integrity, corrupt_message(digest, object));
        record_verified(digest, st, hashed_at);
        verified = true;
    };

    for (fs::LinkType type : order) {
        stdfs::path temp;
        switch (type) {
        case fs::LinkType::reflink: {
            if (!m_reflink_works.load(std::memory_order_relaxed)) continue;
            fs::Fd out = fs::make_temp_file(dir, dst.filename().string(), &temp, mode);
            if (!fs::try_reflink(src.get(), out.get())) {
                ::unlink(temp.c_str());
                m_reflink_works = false;
                continue;
            }
            // Cloned first and verified after, so that a filesystem without reflinks costs no
            // hashing pass before the copy that follows.
            try {
                verify_source();
            } catch (...) {
                ::unlink(temp.c_str());
                throw;
            }
            break;
        }
        case fs::LinkType::hardlink:
        case fs::LinkType::symlink: {
            verify_source();
            temp = fs::temp_name(dir, dst.filename().string());
            int rc = type == fs::LinkType::hardlink
                         ? ::link(object.c_str(), temp.c_str())
                         : ::symlink(stdfs::absolute(object).c_str(), temp.c_str());
            if (rc != 0) {
                if (errno == EXDEV || errno == EPERM || errno == EMLINK || errno == ENOTSUP) continue;
                fail_errno("cannot link " + dst.string(), errno);
            }
            break;
        }
        case fs::LinkType::copy: {
            fs::Fd out = fs::make_temp_file(dir, dst.filename().string(), &temp, mode);
            try {
                if (::lseek(src.get(), 0, SEEK_SET) != 0) fail_errno("cannot seek " + object.string(), errno);
                if (verified) {
                    copy_plain(src.get(), out.get(), object.string(), temp.string());
                } else {
                    std::int64_t hashed_at = state::now_ns();
                    std::uint64_t size = 0;
                    Digest got = static_cast<std::uint64_t>(st.st_size) >= k_pipelined_copy
                                     ? copy_hashing_pipelined(src.get(), out.get(), object.string(),
                                                              temp.string(), &size)
                                     : copy_hashing(src.get(), out.get(), object.string(), temp.string(), &size);
                    if (got != digest) throw Error(ErrorKind::integrity, corrupt_message(digest, object));
                    record_verified(digest, st, hashed_at);
                    verified = true;
                }
            } catch (...) {
                ::unlink(temp.c_str());
                throw;
            }
            break;
        }
        }
        if (::rename(temp.c_str(), dst.c_str()) != 0) {
            int err = errno;
            ::unlink(temp.c_str());
            fail_errno("cannot replace " + dst.string(), err);
        }
        return type;
    }
    fail(ErrorKind::io, "cannot link {} with any of the configured link types", dst.string());
}

std::vector<Digest> Cache::find_by_prefix(std::string_view hex_prefix) const {
    std::vector<Digest> out;
    if (hex_prefix.size() < 2) return out;
    std::string fan(hex_prefix.substr(0, 2));
    stdfs::path dir = m_root / "sha256" / fan;
    if (!fs::lstat_path(dir)) return out;
    for (const auto& e : fs::list_dir(dir)) {
        std::string hex = fan + e.name;
        if (hex.compare(0, hex_prefix.size(), hex_prefix) != 0) continue;
        if (auto d = Digest::from_hex(hex); d && hex.size() == 64) out.push_back(*d);
    }
    std::sort(out.begin(), out.end());
    return out;
}

void Cache::remove(const Digest& digest) { fs::remove_file(object_path(digest)); }

std::size_t Cache::prune_verified() {
    return m_verified.prune([&](std::string_view hex) {
        auto digest = Digest::from_hex(hex);
        return digest && has(*digest);
    });
}

void Cache::for_each_object(const std::function<void(const Digest&, const stdfs::path&)>& fn,
                            const std::function<void(const stdfs::path&)>& stray) const {
    stdfs::path base = m_root / "sha256";
    if (!fs::lstat_path(base)) return;
    for (const auto& fan : fs::list_dir(base)) {
        stdfs::path fan_dir = base / fan.name;
        if (fan.type != fs::EntryType::directory || fan.name.size() != 2) {
            if (stray) stray(fan_dir);
            continue;
        }
        for (const auto& entry : fs::list_dir(fan_dir)) {
            auto digest = Digest::from_hex(fan.name + entry.name);
            stdfs::path path = fan_dir / entry.name;
            if (!digest || entry.type != fs::EntryType::file) {
                if (stray) stray(path);
                continue;
            }
            fn(*digest, path);
        }
    }
}

} // namespace cairn::cache
