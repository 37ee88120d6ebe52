#include "core/state/state.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <vector>

#include <fmt/format.h>

#include "core/fs/atomic_file.hpp"
#include "core/fs/file.hpp"
#include "core/fs/lock.hpp"

namespace cairn::state {
namespace {

constexpr std::string_view k_header = "cairn-state 1\n";
constexpr std::int64_t k_second = 1000000000;

template <typename T> bool parse_number(std::string_view& text, T& out) {
    std::size_t space = text.find(' ');
    if (space == std::string_view::npos) return false;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + space, out);
    if (ec != std::errc() || ptr != text.data() + space) return false;
    text.remove_prefix(space + 1);
    return true;
}

bool same_stat(const Entry& e, const struct stat& st) {
    return e.device == static_cast<std::uint64_t>(st.st_dev) &&
           e.inode == static_cast<std::uint64_t>(st.st_ino) &&
           e.size == static_cast<std::uint64_t>(st.st_size) && e.mtime_ns == fs::mtime_ns(st) &&
           e.ctime_ns == fs::ctime_ns(st);
}

} // namespace

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

Entry make_entry(const struct stat& st, const hash::Digest& digest, std::int64_t hashed_at_ns) {
    Entry e;
    e.device = static_cast<std::uint64_t>(st.st_dev);
    e.inode = static_cast<std::uint64_t>(st.st_ino);
    e.size = static_cast<std::uint64_t>(st.st_size);
    e.mtime_ns = fs::mtime_ns(st);
    e.ctime_ns = fs::ctime_ns(st);
    e.hashed_at_ns = hashed_at_ns;
    e.digest = digest;
    return e;
}

bool parse_state(std::string_view bytes, std::unordered_map<std::string, Entry>& out) {
    if (bytes.substr(0, k_header.size()) != k_header) return false;
    bytes.remove_prefix(k_header.size());
    while (!bytes.empty()) {
        std::size_t end = bytes.find('\n');
        if (end == std::string_view::npos) return false;
        std::string_view line = bytes.substr(0, end);
        bytes.remove_prefix(end + 1);
        Entry e;
        if (!parse_number(line, e.device) || !parse_number(line, e.inode) || !parse_number(line, e.size) ||
            !parse_number(line, e.mtime_ns) || !parse_number(line, e.ctime_ns) ||
            !parse_number(line, e.hashed_at_ns))
            return false;
        std::size_t tab = line.find('\t');
        if (tab != 64) return false;
        auto digest = hash::Digest::from_hex(line.substr(0, 64));
        if (!digest) return false;
        e.digest = *digest;
        out.insert_or_assign(std::string(line.substr(65)), e);
    }
    return true;
}

std::string serialize_state(const std::unordered_map<std::string, Entry>& entries) {
    std::vector<const std::pair<const std::string, Entry>*> sorted;
    sorted.reserve(entries.size());
    for (const auto& item : entries) sorted.push_back(&item);
    std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
    std::string out(k_header);
    out.reserve(entries.size() * 150);
    auto it = std::back_inserter(out);
    for (const auto* item : sorted) {
        const Entry& e = item->second;
        fmt::format_to(it, "{} {} {} {} {} {} {}\t{}\n", e.device, e.inode, e.size, e.mtime_ns,
                       e.ctime_ns, e.hashed_at_ns, e.digest.hex(), item->first);
    }
    return out;
}

StatCache::StatCache(stdfs::path dir) : m_dir(std::move(dir)) {
    auto bytes = fs::read_file_if_exists(m_dir / "stat");
    if (bytes && !parse_state(*bytes, m_entries)) m_entries.clear();
}

std::optional<hash::Digest> StatCache::lookup(const std::string& path, const struct stat& st) const {
    Entry e;
    bool found = false;
    if (m_has_updates.load(std::memory_order_acquire)) {
        std::shared_lock lock(m_mutex);
        if (auto it = m_updates.find(path); it != m_updates.end()) {
            e = it->second;
            found = true;
        }
    }
    if (!found) {
        auto it = m_entries.find(path);
        if (it == m_entries.end()) return std::nullopt;
        e = it->second;
    }
    if (!same_stat(e, st)) return std::nullopt;
    // Racily clean: the file may have been written again within the timestamp granularity of
    // the moment it was hashed, leaving its stat data unchanged. Trust only older files.
    if (e.mtime_ns / k_second >= e.hashed_at_ns / k_second) return std::nullopt;
    return e.digest;
}

void StatCache::record(const std::string& path, const Entry& entry) {
    std::unique_lock lock(m_mutex);
    m_updates.insert_or_assign(path, entry);
    m_has_updates.store(true, std::memory_order_release);
}

void StatCache::save() {
    std::unique_lock lock(m_mutex);
    if (m_updates.empty()) return;
    fs::FileLock file_lock(m_dir / "lock", fs::LockMode::exclusive);
    // Re-read under the lock so that entries saved by another process since we loaded survive.
    std::unordered_map<std::string, Entry> merged;
    auto bytes = fs::read_file_if_exists(m_dir / "stat");
    if (!bytes || !parse_state(*bytes, merged)) merged = std::move(m_entries);
    for (auto& [path, entry] : m_updates) merged.insert_or_assign(path, entry);
    fs::AtomicFile file(m_dir / "stat");
    file.write(serialize_state(merged));
    // The stat cache is an accelerator: losing it on power failure costs only re-hashing.
    file.commit(fs::Durability::deferred);
    m_entries = std::move(merged);
    m_updates.clear();
    m_has_updates.store(false, std::memory_order_release);
}

std::size_t StatCache::size() const {
    std::shared_lock lock(m_mutex);
    return m_entries.size() + m_updates.size();
}

} // namespace cairn::state
