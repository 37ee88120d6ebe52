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

const Entry* StateTable::find(std::string_view path) const {
    auto it = std::lower_bound(entries.begin(), entries.end(), path,
                               [](const auto& item, std::string_view key) { return item.first < key; });
    return it != entries.end() && it->first == path ? &it->second : nullptr;
}

std::optional<StateTable> parse_state(std::string bytes) {
    StateTable table;
    table.text = std::make_unique<const std::string>(std::move(bytes));
    std::string_view rest = *table.text;
    if (rest.substr(0, k_header.size()) != k_header) return std::nullopt;
    rest.remove_prefix(k_header.size());
    table.entries.reserve(rest.size() / 140 + 1);
    bool sorted = true;
    while (!rest.empty()) {
        std::size_t end = rest.find('\n');
        if (end == std::string_view::npos) return std::nullopt;
        std::string_view line = rest.substr(0, end);
        rest.remove_prefix(end + 1);
        Entry e;
        if (!parse_number(line, e.device) || !parse_number(line, e.inode) || !parse_number(line, e.size) ||
            !parse_number(line, e.mtime_ns) || !parse_number(line, e.ctime_ns) ||
            !parse_number(line, e.hashed_at_ns))
            return std::nullopt;
        if (line.size() < 66 || line[64] != '\t') return std::nullopt;
        auto digest = hash::Digest::from_hex(line.substr(0, 64));
        if (!digest) return std::nullopt;
        e.digest = *digest;
        std::string_view path = line.substr(65);
        if (!table.entries.empty() && !(table.entries.back().first < path)) sorted = false;
        table.entries.emplace_back(path, e);
    }
    if (!sorted) {
        // Written by hand or by a future writer: sort, the last of equal paths winning.
        std::stable_sort(table.entries.begin(), table.entries.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
        std::vector<std::pair<std::string_view, Entry>> unique;
        for (auto& item : table.entries) {
            if (!unique.empty() && unique.back().first == item.first)
                unique.back() = item;
            else
                unique.push_back(item);
        }
        table.entries = std::move(unique);
    }
    return table;
}

std::string serialize_state(const std::vector<std::pair<std::string_view, Entry>>& sorted) {
    std::string out(k_header);
    out.reserve(out.size() + sorted.size() * 150);
    auto it = std::back_inserter(out);
    for (const auto& [path, e] : sorted) {
        fmt::format_to(it, "{} {} {} {} {} {} {}\t{}\n", e.device, e.inode, e.size, e.mtime_ns, e.ctime_ns,
                       e.hashed_at_ns, e.digest.hex(), path);
    }
    return out;
}

StatCache::StatCache(stdfs::path dir) : m_dir(std::move(dir)) {}

const StateTable& StatCache::table() const {
    // Loaded on first use: commands that never look at workspace files (cairn run, ls) do not
    // pay for reading the state of a large workspace.
    std::call_once(m_loaded, [this] {
        auto bytes = fs::read_file_if_exists(m_dir / "stat");
        if (!bytes) return;
        if (auto table = parse_state(std::move(*bytes))) m_table = std::move(*table);
    });
    return m_table;
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
        const Entry* known = table().find(path);
        if (known == nullptr) return std::nullopt;
        e = *known;
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

void StatCache::rewrite(const Rewrite& next) {
    fs::FileLock file_lock(m_dir / "lock", fs::LockMode::exclusive);
    // Re-read under the lock so that entries saved by another process since we loaded survive.
    std::optional<StateTable> disk;
    if (auto bytes = fs::read_file_if_exists(m_dir / "stat")) disk = parse_state(std::move(*bytes));
    auto entries = next(disk);
    if (!entries) return;
    std::string text = serialize_state(*entries);
    fs::AtomicFile file(m_dir / "stat");
    file.write(text);
    // The stat cache is an accelerator: losing it on power failure costs only re-hashing.
    file.commit(fs::Durability::deferred);
    if (auto table = parse_state(std::move(text))) {
        std::call_once(m_loaded, [] {}); // what we wrote is what a load would read
        m_table = std::move(*table);
    }
}

void StatCache::save() {
    std::unique_lock lock(m_mutex);
    if (m_updates.empty()) return;
    rewrite([&](const std::optional<StateTable>& disk) -> std::optional<Entries> {
        const StateTable& base = disk ? *disk : table();
        Entries updates(m_updates.begin(), m_updates.end());
        std::sort(updates.begin(), updates.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        // Merge two sorted lists; an update wins over the entry on disk.
        Entries merged;
        merged.reserve(base.entries.size() + updates.size());
        auto a = base.entries.begin();
        auto b = updates.begin();
        while (a != base.entries.end() || b != updates.end()) {
            if (b == updates.end() || (a != base.entries.end() && a->first < b->first)) {
                merged.push_back(*a++);
            } else {
                if (a != base.entries.end() && a->first == b->first) ++a;
                merged.push_back(*b++);
            }
        }
        return merged;
    });
    m_updates.clear();
    m_has_updates.store(false, std::memory_order_release);
}

std::size_t StatCache::prune(const std::function<bool(std::string_view path)>& keep) {
    save(); // nothing recorded in this process may be lost
    std::unique_lock lock(m_mutex);
    std::size_t dropped = 0;
    rewrite([&](const std::optional<StateTable>& disk) -> std::optional<Entries> {
        if (!disk) return std::nullopt;
        Entries kept;
        kept.reserve(disk->entries.size());
        for (const auto& item : disk->entries)
            if (keep(item.first)) kept.push_back(item);
        dropped = disk->entries.size() - kept.size();
        if (dropped == 0) return std::nullopt;
        return kept;
    });
    return dropped;
}

std::size_t StatCache::size() const {
    std::shared_lock lock(m_mutex);
    return table().entries.size() + m_updates.size();
}

} // namespace cairn::state
