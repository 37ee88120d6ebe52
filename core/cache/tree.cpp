#include "core/cache/tree.hpp"

#include <charconv>

#include <fmt/format.h>

#include "core/util/error.hpp"

namespace cairn::cache {
namespace {

constexpr std::string_view k_header = "cairn-tree 1\n";

char kind_char(EntryKind kind) {
    switch (kind) {
    case EntryKind::file: return 'f';
    case EntryKind::executable: return 'x';
    case EntryKind::directory: return 'd';
    }
    return 'f';
}

bool parse_u64(std::string_view text, std::uint64_t& out) {
    if (text.empty()) return false;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && ptr == text.data() + text.size();
}

} // namespace

bool is_safe_component(std::string_view name) {
    if (name.empty() || name == "." || name == "..") return false;
    return name.find_first_of(std::string_view("/\0\n", 3)) == std::string_view::npos;
}

std::string Tree::serialize() const {
    std::string out(k_header);
    for (const auto& e : entries) {
        fmt::format_to(std::back_inserter(out), "{} {} {} {}\t{}\n", kind_char(e.kind), e.digest.hex(),
                       e.size, e.files, e.name);
    }
    return out;
}

Tree Tree::parse(std::string_view bytes, const std::string& what) {
    auto bad = [&](std::size_t line, std::string_view why) {
        fail(ErrorKind::integrity, "{}: line {}: {}", what, line, why);
    };
    if (bytes.substr(0, k_header.size()) != k_header) {
        if (bytes.substr(0, 11) == "cairn-tree ")
            bad(1, "unsupported tree format version (this cairn reads version 1; upgrade cairn)");
        bad(1, "not a cairn tree object");
    }
    Tree tree;
    std::size_t pos = k_header.size();
    std::size_t line = 1;
    while (pos < bytes.size()) {
        ++line;
        std::size_t end = bytes.find('\n', pos);
        if (end == std::string_view::npos) bad(line, "truncated (no final newline)");
        std::string_view text = bytes.substr(pos, end - pos);
        pos = end + 1;
        // <kind> <64 hex> <size> <files>\t<name>
        std::size_t tab = text.find('\t');
        if (tab == std::string_view::npos) bad(line, "missing tab before the name");
        std::string_view head = text.substr(0, tab);
        std::string_view name = text.substr(tab + 1);
        if (head.size() < 70 || head[1] != ' ' || head[66] != ' ') bad(line, "malformed entry");
        TreeEntry e;
        switch (head[0]) {
        case 'f': e.kind = EntryKind::file; break;
        case 'x': e.kind = EntryKind::executable; break;
        case 'd': e.kind = EntryKind::directory; break;
        default: bad(line, fmt::format("unknown entry kind '{}'", head[0]));
        }
        auto digest = hash::Digest::from_hex(head.substr(2, 64));
        if (!digest) bad(line, "malformed object id");
        e.digest = *digest;
        std::string_view numbers = head.substr(67);
        std::size_t space = numbers.find(' ');
        if (space == std::string_view::npos || !parse_u64(numbers.substr(0, space), e.size) ||
            !parse_u64(numbers.substr(space + 1), e.files))
            bad(line, "malformed size or file count");
        if (!is_safe_component(name))
            bad(line, fmt::format("unsafe entry name '{}' (names must be single path components)", name));
        if (e.kind != EntryKind::directory && e.files != 1) bad(line, "a file entry must count 1 file");
        if (!tree.entries.empty() && !(tree.entries.back().name < name))
            bad(line, "entries are not in strictly increasing name order");
        e.name = std::string(name);
        tree.entries.push_back(std::move(e));
    }
    return tree;
}

std::uint64_t Tree::total_size() const {
    std::uint64_t n = 0;
    for (const auto& e : entries) n += e.size;
    return n;
}

std::uint64_t Tree::total_files() const {
    std::uint64_t n = 0;
    for (const auto& e : entries) n += e.files;
    return n;
}

} // namespace cairn::cache
