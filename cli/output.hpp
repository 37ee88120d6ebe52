#pragma once
// Everything about how cairn talks to a terminal: errors, colour, JSON, progress.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/hash/hash.hpp"
#include "core/run/diff.hpp"
#include "core/util/progress.hpp"

namespace cairn::cli {

enum class Lines { single, multi };

// `text` safe to print on a terminal: control characters (C0, DEL, C1) and bytes that are not
// UTF-8 become visible escapes (\x1b, \x7f, \u009b, \xff), so that stored data (names, tags,
// params, paths, file contents quoted in messages) cannot move the cursor, recolour or retitle
// the terminal. Lines::multi keeps newlines and tabs; Lines::single shows them as \n and \t.
// Every stored string printed as text goes through it (JSON output is escaped by its writer).
[[nodiscard]] std::string printable(std::string_view text, Lines lines = Lines::single);

// "cairn: error: <message>" on stderr (red on a terminal), the message through printable().
void print_error(std::string_view message);
// "cairn: warning: <message>" on stderr, the message through printable().
void print_warning(std::string_view message);

enum class Color { none, red, green, yellow, cyan, bold, dim };

// True when `stream` is a terminal, NO_COLOR is unset and TERM is not "dumb".
[[nodiscard]] bool use_color(std::FILE* stream);

// `text` wrapped in the colour's escape codes when stdout takes colour.
[[nodiscard]] std::string paint(std::string_view text, Color color);

// Pretty-printed JSON on stdout, with a final newline.
void print_json(const nlohmann::json& value);

// "sha256:1a2b3c4d5e6f" — enough of an id for people.
[[nodiscard]] std::string short_id(const hash::Digest& digest);

// Progress drawn on stderr, only on a terminal and only once a phase has run for a second.
class StderrProgress final : public util::Progress {
public:
    StderrProgress();
    ~StderrProgress() override;
    void begin(std::string_view phase, std::uint64_t total) override;
    void advance(std::uint64_t items, std::uint64_t bytes) override;
    void end() override;

private:
    void draw(bool final_line);
    void loop();

    bool m_enabled;
    std::mutex m_mutex;
    std::condition_variable m_cv;
    std::thread m_thread;
    bool m_stop = false;
    bool m_active = false;
    bool m_shown = false;
    std::string m_phase;
    std::uint64_t m_total = 0;
    std::atomic<std::uint64_t> m_items{0};
    std::atomic<std::uint64_t> m_bytes{0};
    std::chrono::steady_clock::time_point m_started;
};

// A metric value for JSON: a number, or "nan"/"inf"/"-inf" (JSON has no such numbers).
[[nodiscard]] nlohmann::json number_json(double v);
// Value changes (diff, rerun causes) as JSON: [{"key", "old", "new", "change"}], null where absent.
[[nodiscard]] nlohmann::json changes_json(const std::vector<run::ValueChange>& list);
// "12s ago", "3m ago", "5h ago", "2d ago".
[[nodiscard]] std::string relative_time(std::int64_t unix_ms);
// A number with 5 significant digits (nan, inf as such).
[[nodiscard]] std::string number_text(double v);

// Columns a string takes on a terminal (UTF-8: continuation bytes take none).
[[nodiscard]] std::size_t display_width(std::string_view s);
// The rows of a table as lines, each column padded to its widest cell (display_width) and two
// spaces apart; the last column is not padded. Rows may be shorter than the first.
[[nodiscard]] std::vector<std::string> aligned_lines(const std::vector<std::vector<std::string>>& rows);
// `s` cut to `width` columns, with "..." at the end when cut.
[[nodiscard]] std::string fit(const std::string& s, std::size_t width);
// The width of the terminal stdout writes to, nullopt when it is not a terminal: $COLUMNS when
// it holds a positive number (as git does), else the terminal's size (TIOCGWINSZ), else 80.
[[nodiscard]] std::optional<std::size_t> terminal_width();
// `argv` as one POSIX sh command line that can be pasted: plain words as they are, others in
// single quotes (a ' inside written '\'').
[[nodiscard]] std::string shell_command(const std::vector<std::string>& argv);
// `s` inside a Graphviz double-quoted string (`"` and `\` escaped).
[[nodiscard]] std::string dot_escape(const std::string& s);
// `s` inside a Mermaid double-quoted label (`"`, `<`, `>` as entities).
[[nodiscard]] std::string mermaid_text(const std::string& s);

} // namespace cairn::cli
