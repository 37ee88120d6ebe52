#include "core/table/table.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>

#include <fast_float/fast_float.h>

#include "core/table/readers.hpp"
#include "core/util/error.hpp"

namespace cairn::table {
namespace {

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return (x | 0x20) == (y | 0x20);
           });
}

} // namespace

std::string_view to_string(Format format) {
    switch (format) {
    case Format::csv: return "csv";
    case Format::tsv: return "tsv";
    case Format::jsonl: return "jsonl";
    case Format::npy: return "npy";
    }
    return "csv";
}

std::optional<Format> parse_format(std::string_view word) {
    for (Format f : {Format::csv, Format::tsv, Format::jsonl, Format::npy})
        if (word == to_string(f)) return f;
    return std::nullopt;
}

std::optional<Format> format_from_name(std::string_view name) {
    std::size_t dot = name.rfind('.');
    if (dot == std::string_view::npos || name.find('/', dot) != std::string_view::npos) return std::nullopt;
    std::string_view ext = name.substr(dot + 1);
    if (iequals(ext, "csv")) return Format::csv;
    if (iequals(ext, "tsv") || iequals(ext, "tab")) return Format::tsv;
    if (iequals(ext, "jsonl") || iequals(ext, "ndjson")) return Format::jsonl;
    if (iequals(ext, "npy")) return Format::npy;
    return std::nullopt;
}

Format sniff_format(std::string_view bytes) {
    if (bytes.substr(0, 6) == "\x93NUMPY") return Format::npy;
    std::size_t first = bytes.find_first_not_of(" \t\r\n");
    if (first != std::string_view::npos && bytes[first] == '{') return Format::jsonl;
    std::string_view line = bytes.substr(0, bytes.find('\n'));
    auto tabs = std::count(line.begin(), line.end(), '\t');
    auto commas = std::count(line.begin(), line.end(), ',');
    return tabs > commas ? Format::tsv : Format::csv;
}

namespace {

// 10^0 .. 10^22: exactly representable, so that m / 10^k with m < 2^53 is one correctly rounded
// division (Clinger's fast path).
constexpr double k_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                              1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

// The common cell, `[-]digits[.digits]` with at most 19 digits and nothing around it, without
// the general path's trimming and word checks; nullopt for anything else (which the general
// path then reads, with the same result fast_float would give).
std::optional<Classified> plain_number(std::string_view text) {
    const char* p = text.data();
    const char* end = p + text.size();
    const bool negative = p != end && *p == '-';
    p += negative;
    std::uint64_t mantissa = 0;
    int digits = 0, fraction = 0;
    bool dot = false;
    for (; p != end; ++p) {
        const unsigned d = static_cast<unsigned char>(*p) - unsigned{'0'};
        if (d <= 9) {
            mantissa = mantissa * 10 + d;
            ++digits;
            fraction += dot;
        } else if (*p == '.' && !dot) {
            dot = true;
        } else {
            return std::nullopt;
        }
    }
    if (digits == 0 || digits > 19 || mantissa > (std::uint64_t{1} << 53) || fraction > 22) return std::nullopt;
    double v = static_cast<double>(mantissa) / k_pow10[fraction];
    return Classified{dot ? TextClass::decimal : TextClass::integer, negative ? -v : v};
}

} // namespace

Classified classify(std::string_view text) {
    if (auto plain = plain_number(text)) return *plain;
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    if (text.empty() || text == "NA" || text == "NaN" || text == "null" || text == "None") return {TextClass::missing, 0};
    std::string_view digits = text;
    if (digits.front() == '+') {
        digits.remove_prefix(1);
        // fast_float takes no '+', and "+-1" must stay a string.
        if (digits.empty() || digits.front() == '-' || digits.front() == '+') return {};
    }
    // What fast_float could read starts with a digit, a '.', a '-', or the i of inf or n of nan:
    // other words are strings without trying.
    switch (digits.front() | 0x20) {
    case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9':
    case '.' | 0x20: case '-' | 0x20: case 'i': case 'n': break;
    default: return {};
    }
    double v = 0;
    auto [end, ec] = fast_float::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec != std::errc() || end != digits.data() + digits.size()) return {};
    if (std::isnan(v)) return {TextClass::nan, v};
    // A number too large for a double ("1e999") is infinite too, as numpy's float() makes it.
    if (std::isinf(v)) return {v > 0 ? TextClass::posinf : TextClass::neginf, v};
    std::string_view body = digits.substr(!digits.empty() && digits.front() == '-');
    bool integer = !body.empty() && body.find_first_not_of("0123456789") == std::string_view::npos;
    return {integer ? TextClass::integer : TextClass::decimal, v};
}

void read_table(std::string_view bytes, Format format, const std::string& display, TableSink& sink) {
    switch (format) {
    case Format::csv: return detail::read_delimited(bytes, ',', display, sink);
    case Format::tsv: return detail::read_delimited(bytes, '\t', display, sink);
    case Format::jsonl: return detail::read_jsonl(bytes, display, sink);
    case Format::npy: return detail::read_npy(bytes, display, sink);
    }
}

namespace detail {

std::size_t line_at(std::string_view bytes, std::size_t offset) {
    offset = std::min(offset, bytes.size());
    return 1 + static_cast<std::size_t>(std::count(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
}

void refuse_binary(std::string_view bytes, const std::string& display, std::string_view what) {
    const void* nul = std::memchr(bytes.data(), '\0', bytes.size());
    if (!nul) return;
    std::size_t at = static_cast<std::size_t>(static_cast<const char*>(nul) - bytes.data());
    fail(ErrorKind::input, "{}:{}: NUL byte: binary data, not a {}", display, line_at(bytes, at), what);
}

} // namespace detail
} // namespace cairn::table
