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

namespace {

// Length of the UTF-8 sequence at `i` when it encodes a code point HFS+ ignores in names
// (U+200C-U+200F, U+202A-U+202E, U+206A-U+206F, U+FEFF), else 0.
std::size_t hfs_ignorable_at(std::string_view s, std::size_t i) {
    if (i + 3 > s.size()) return 0;
    auto b0 = static_cast<unsigned char>(s[i]), b1 = static_cast<unsigned char>(s[i + 1]),
         b2 = static_cast<unsigned char>(s[i + 2]);
    if (b0 == 0xE2 && b1 == 0x80 && ((b2 >= 0x8C && b2 <= 0x8F) || (b2 >= 0xAA && b2 <= 0xAE))) return 3;
    if (b0 == 0xE2 && b1 == 0x81 && b2 >= 0xAA && b2 <= 0xAF) return 3;
    if (b0 == 0xEF && b1 == 0xBB && b2 == 0xBF) return 3;
    return 0;
}

// The name a case-insensitive HFS+ or NTFS volume would look up for `segment`: ASCII folded to
// lower case, ignorable code points dropped, an alternate data stream (":...") cut off, and
// trailing dots and spaces dropped. Folding both ways at once is stricter than git, which checks
// each filesystem's spelling on its own; no real data name is lost by it.
std::string as_filesystems_see_it(std::string_view segment) {
    std::string out;
    for (std::size_t i = 0; i < segment.size();) {
        if (std::size_t n = hfs_ignorable_at(segment, i)) {
            i += n;
            continue;
        }
        char c = segment[i++];
        if (c == ':') break;
        out += c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    }
    while (!out.empty() && (out.back() == '.' || out.back() == ' ')) out.pop_back();
    return out;
}

} // namespace

std::optional<std::string_view> unsafe_component_reason(std::string_view name) {
    if (name.empty()) return "an empty name";
    if (name == "." || name == "..") return "'.' and '..' are not names";
    if (name.find('/') != std::string_view::npos) return "it contains '/'";
    if (name.find('\0') != std::string_view::npos) return "it contains a NUL byte";
    if (name.find('\n') != std::string_view::npos) return "it contains a newline";
    if (name.size() > 255) return "it is longer than 255 bytes";
    // Each backslash-separated part, as Windows would split it (git checks after '\\' too).
    std::size_t start = 0;
    while (true) {
        std::size_t end = name.find('\\', start);
        std::string_view part = name.substr(start, end == std::string_view::npos ? end : end - start);
        if (part == "." || part == "..") return "'.' or '..' next to a backslash";
        std::string seen = as_filesystems_see_it(part);
        if (seen == ".git" || seen == "git~1") return "a spelling of .git";
        if (seen == ".cairn" || seen == "cairn~1") return "a spelling of .cairn";
        if (end == std::string_view::npos) break;
        start = end + 1;
    }
    return std::nullopt;
}

bool is_safe_component(std::string_view name) { return !unsafe_component_reason(name); }

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
        if (bytes.substr(0, k_tree_magic.size()) == k_tree_magic)
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
        if (auto why = unsafe_component_reason(name)) bad(line, fmt::format("unsafe entry name '{}': {}", name, *why));
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
