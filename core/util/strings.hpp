#pragma once
// Small string helpers shared by core and cli.

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::util {

// "1.5 KiB", "3.0 GiB"; plain bytes below 1 KiB ("512 B").
[[nodiscard]] std::string human_size(std::uint64_t bytes);

// Splits on a single character; empty fields are kept.
[[nodiscard]] std::vector<std::string> split(std::string_view text, char sep);

// Leading and trailing ASCII whitespace removed.
[[nodiscard]] std::string_view trim(std::string_view text);

// Length of the valid UTF-8 sequence starting at text[i] (1 for ASCII), or 0 when the bytes
// there are not one (a stray continuation byte, a truncated or overlong sequence).
[[nodiscard]] std::size_t utf8_length(std::string_view text, std::size_t i);

// True when all of `text` is valid UTF-8.
[[nodiscard]] bool is_utf8(std::string_view text);

[[nodiscard]] bool starts_with(std::string_view text, std::string_view prefix);
[[nodiscard]] bool ends_with(std::string_view text, std::string_view suffix);

// The candidate nearest to `word` (a typo: at most 2 edits, a swap of neighbours counting as
// one, and fewer than half its length), for "did you mean" hints; empty when none is near.
[[nodiscard]] std::string closest(std::string_view word, const std::vector<std::string>& candidates);

// All of `text` as a decimal integer of type T; nullopt when it is empty, holds anything else,
// or is out of T's range.
template <typename T> [[nodiscard]] std::optional<T> parse_integer(std::string_view text) {
    T v{};
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
    return v;
}

} // namespace cairn::util
