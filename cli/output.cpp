#include "cli/output.hpp"

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sys/ioctl.h>
#include <unistd.h>

#include <fmt/format.h>

#include "core/run/record.hpp"
#include "core/util/strings.hpp"

namespace cairn::cli {
namespace {

std::string_view code(Color color) {
    switch (color) {
    case Color::red: return "\033[31m";
    case Color::green: return "\033[32m";
    case Color::yellow: return "\033[33m";
    case Color::cyan: return "\033[36m";
    case Color::bold: return "\033[1m";
    case Color::dim: return "\033[2m";
    case Color::none: return "";
    }
    return "";
}

void print_prefixed(std::string_view label, Color color, std::string_view message) {
    std::fflush(stdout);
    std::string prefix = use_color(stderr) ? fmt::format("{}cairn: {}:\033[0m ", code(color), label)
                                           : fmt::format("cairn: {}: ", label);
    std::cerr << prefix << printable(message, Lines::multi) << '\n';
}


} // namespace

std::string printable(std::string_view text, Lines lines) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        auto c = static_cast<unsigned char>(text[i]);
        if (c == '\n' || c == '\t') {
            out += lines == Lines::multi ? std::string(1, static_cast<char>(c)) : c == '\n' ? "\\n" : "\\t";
            ++i;
            continue;
        }
        if (c < 0x20 || c == 0x7f) {
            out += fmt::format("\\x{:02x}", c);
            ++i;
            continue;
        }
        std::size_t n = util::utf8_length(text, i);
        if (n == 0) {
            out += fmt::format("\\x{:02x}", c);
            ++i;
            continue;
        }
        // U+0080..U+009F, the C1 controls (CSI, OSC, ...), encoded as C2 80..C2 9F.
        if (n == 2 && c == 0xc2 && static_cast<unsigned char>(text[i + 1]) < 0xa0) {
            out += fmt::format("\\u{:04x}", static_cast<unsigned char>(text[i + 1]));
        } else {
            out.append(text.substr(i, n));
        }
        i += n;
    }
    return out;
}

bool use_color(std::FILE* stream) {
    if (const char* no_color = std::getenv("NO_COLOR"); no_color && *no_color) return false;
    if (const char* term = std::getenv("TERM"); term && std::strcmp(term, "dumb") == 0) return false;
    return ::isatty(::fileno(stream)) != 0;
}

void print_error(std::string_view message) { print_prefixed("error", Color::red, message); }
void print_warning(std::string_view message) { print_prefixed("warning", Color::yellow, message); }

std::string paint(std::string_view text, Color color) {
    static const bool enabled = use_color(stdout);
    if (!enabled || color == Color::none) return std::string(text);
    return fmt::format("{}{}\033[0m", code(color), text);
}

void print_json(const nlohmann::json& value) {
    // File names, logs and params need not be UTF-8: replace invalid bytes rather than throw.
    std::cout << value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

std::string short_id(const hash::Digest& digest) { return "sha256:" + digest.hex().substr(0, 12); }

StderrProgress::StderrProgress() : m_enabled(::isatty(STDERR_FILENO) != 0) {
    if (m_enabled) m_thread = std::thread([this] { loop(); });
}

StderrProgress::~StderrProgress() {
    if (!m_enabled) return;
    {
        std::lock_guard lock(m_mutex);
        m_stop = true;
    }
    m_cv.notify_all();
    m_thread.join();
    if (m_shown) std::cerr << "\r\033[K" << std::flush;
}

void StderrProgress::begin(std::string_view phase, std::uint64_t total) {
    std::lock_guard lock(m_mutex);
    m_phase = std::string(phase);
    m_total = total;
    m_items = 0;
    m_bytes = 0;
    m_started = std::chrono::steady_clock::now();
    m_active = true;
}

void StderrProgress::advance(std::uint64_t items, std::uint64_t bytes) {
    m_items.fetch_add(items, std::memory_order_relaxed);
    m_bytes.fetch_add(bytes, std::memory_order_relaxed);
}

void StderrProgress::end() {
    std::lock_guard lock(m_mutex);
    if (m_enabled && m_shown) draw(true);
    m_active = false;
    m_shown = false;
}

void StderrProgress::draw(bool final_line) {
    std::uint64_t items = m_items.load();
    std::string line = m_total ? fmt::format("{}: {}/{} ({}%)", m_phase, items, m_total, items * 100 / m_total)
                               : fmt::format("{}: {}", m_phase, items);
    if (std::uint64_t bytes = m_bytes.load()) line += ", " + util::human_size(bytes);
    std::cerr << "\r\033[K" << line << (final_line ? ", done.\n" : "") << std::flush;
}

void StderrProgress::loop() {
    std::unique_lock lock(m_mutex);
    while (!m_stop) {
        m_cv.wait_for(lock, std::chrono::milliseconds(100));
        if (m_active && std::chrono::steady_clock::now() - m_started > std::chrono::seconds(1)) {
            draw(false);
            m_shown = true;
        }
    }
}

nlohmann::json number_json(double v) {
    if (std::isfinite(v)) return v;
    return metrics::format_value(v);
}

std::string relative_time(std::int64_t ms) {
    std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
    std::int64_t s = (now - ms) / 1000;
    if (s < 60) return fmt::format("{}s ago", std::max<std::int64_t>(s, 0));
    if (s < 3600) return fmt::format("{}m ago", s / 60);
    if (s < 86400) return fmt::format("{}h ago", s / 3600);
    return fmt::format("{}d ago", s / 86400);
}

std::string number_text(double v) {
    if (!std::isfinite(v)) return metrics::format_value(v);
    return fmt::format("{:.5g}", v);
}

std::size_t display_width(std::string_view s) {
    std::size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

std::vector<std::string> aligned_lines(const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> width;
    for (const auto& row : rows) {
        if (width.size() < row.size()) width.resize(row.size(), 0);
        for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], display_width(row[i]));
    }
    std::vector<std::string> lines;
    lines.reserve(rows.size());
    for (const auto& row : rows) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i)
            line += row[i] + (i + 1 < row.size() ? std::string(width[i] - display_width(row[i]) + 2, ' ') : "");
        lines.push_back(std::move(line));
    }
    return lines;
}

std::string fit(const std::string& s, std::size_t width) {
    if (display_width(s) <= width) return s;
    if (width <= 3) return std::string(width, '.');
    std::string out;
    std::size_t cols = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if ((c & 0xC0) != 0x80 && ++cols > width - 3) break;
        out += s[i];
    }
    return out + "...";
}

std::optional<std::size_t> terminal_width() {
    if (::isatty(STDOUT_FILENO) == 0) return std::nullopt;
    if (const char* columns = std::getenv("COLUMNS"); columns && *columns) {
        char* end = nullptr;
        long n = std::strtol(columns, &end, 10);
        if (*end == '\0' && n > 0) return static_cast<std::size_t>(n);
    }
    struct winsize size {};
    if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
    return 80;
}

std::string shell_command(const std::vector<std::string>& argv) {
    std::string out;
    for (std::size_t i = 0; i < argv.size(); ++i) {
        const std::string& word = argv[i];
        if (i) out += ' ';
        // A first word with '=' would be read by sh as a variable assignment.
        bool plain = !word.empty() && word.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                                             "0123456789_@%+=:,./-") == std::string::npos &&
                     (i || word.find('=') == std::string::npos);
        if (plain) {
            out += word;
            continue;
        }
        out += '\'';
        for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
        out += '\'';
    }
    return out;
}

nlohmann::json changes_json(const std::vector<run::ValueChange>& list) {
    auto opt = [](const std::optional<std::string>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); };
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& c : list)
        arr.push_back({{"key", c.key}, {"old", opt(c.old_value)}, {"new", opt(c.new_value)}, {"change", c.change()}});
    return arr;
}

std::string dot_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

std::string mermaid_text(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '"') out += "#quot;";
        else if (c == '<') out += "#lt;";
        else if (c == '>') out += "#gt;";
        else out += c;
    }
    return out;
}

} // namespace cairn::cli
