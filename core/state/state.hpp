#pragma once
// The stat cache: workspace path -> (device, inode, size, mtime, ctime) -> digest, so that a file
// whose stat data is unchanged since it was hashed is never read again. Format in docs/format.md
// ("State file"). Racily clean entries (file modified in the same second it was hashed) are not
// trusted, as git does with its index.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <atomic>
#include <mutex>
#include <shared_mutex>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/hash/hash.hpp"

namespace cairn::state {

namespace stdfs = std::filesystem;

struct Entry {
    std::uint64_t device = 0;
    std::uint64_t inode = 0;
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::int64_t ctime_ns = 0;
    std::int64_t hashed_at_ns = 0; // wall clock when the digest was computed
    hash::Digest digest;
};

// Builds an entry from a stat result taken before hashing.
[[nodiscard]] Entry make_entry(const struct stat& st, const hash::Digest& digest, std::int64_t hashed_at_ns);

// Current wall-clock time in nanoseconds.
[[nodiscard]] std::int64_t now_ns();

// A parsed state file: entries sorted by path, the paths pointing into `text` (no allocation
// per entry: the file of a 100,000-file workspace loads in a few milliseconds).
struct StateTable {
    std::unique_ptr<const std::string> text;
    std::vector<std::pair<std::string_view, Entry>> entries;

    // The entry for `path`, or null (binary search).
    [[nodiscard]] const Entry* find(std::string_view path) const;
};

// Parses state file bytes; nullopt when the header or any line is malformed.
[[nodiscard]] std::optional<StateTable> parse_state(std::string bytes);
// Serialises entries already sorted by path.
[[nodiscard]] std::string serialize_state(const std::vector<std::pair<std::string_view, Entry>>& sorted);

class StatCache {
public:
    // Loads `<dir>/stat` if present. A damaged or unknown-version file is ignored (the cache is
    // only an accelerator and is rebuilt by hashing).
    explicit StatCache(stdfs::path dir);

    // The digest recorded for `path` if its stat data still matches and the entry is not racy.
    // Thread-safe with record(); not with save().
    [[nodiscard]] std::optional<hash::Digest> lookup(const std::string& path, const struct stat& st) const;

    // Records a digest (thread-safe). Saved by save().
    void record(const std::string& path, const Entry& entry);

    // Merges the entries recorded since load into the file on disk under the state lock and
    // writes it atomically. Concurrent cairn processes keep each other's entries.
    void save();

    [[nodiscard]] std::size_t size() const;

    // Drops, under the state lock, every saved entry whose path `keep` rejects (gc: files that
    // no longer exist). Returns how many were dropped.
    std::size_t prune(const std::function<bool(std::string_view path)>& keep);

private:
    stdfs::path m_dir;
    // m_table only changes in save(); lookups read it without a lock (status looks up every
    // file from several threads). m_updates is guarded by m_mutex and consulted only once
    // something was recorded.
    [[nodiscard]] const StateTable& table() const;

    using Entries = std::vector<std::pair<std::string_view, Entry>>;
    // Given the file as it is now (nullopt: missing or unreadable), the sorted entries to write
    // instead, or nullopt to leave it alone.
    using Rewrite = std::function<std::optional<Entries>(const std::optional<StateTable>& disk)>;
    // Read-modify-write of the state file under its lock; adopts what it wrote. Caller holds
    // m_mutex exclusively.
    void rewrite(const Rewrite& next);

    mutable std::once_flag m_loaded;
    mutable std::shared_mutex m_mutex;
    std::atomic<bool> m_has_updates{false};
    mutable StateTable m_table;
    std::unordered_map<std::string, Entry> m_updates;
};

} // namespace cairn::state
