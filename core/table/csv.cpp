// CSV and TSV (RFC 4180): a header row, fields quoted with '"' when they hold the delimiter,
// a quote or a line break, quotes inside doubled.
#include <algorithm>
#include <cstring>
#include <unordered_set>
#include <vector>

#include "core/table/readers.hpp"
#include "core/util/error.hpp"

namespace cairn::table::detail {
namespace {

class DelimitedParser {
public:
    DelimitedParser(std::string_view bytes, char delimiter, const std::string& display)
        : m_b(bytes), m_delim(delimiter), m_display(display) {}

    // The header row: announces the columns and leaves m_pos at the first row.
    std::size_t header(TableSink& sink) {
        if (m_b.substr(0, 3) == "\xEF\xBB\xBF") m_pos = 3;
        if (m_b.find_first_not_of(" \t\r\n", m_pos) == std::string_view::npos)
            fail(ErrorKind::input, "{}: empty file, expected a header row", m_display);
        std::vector<std::string> names;
        std::unordered_set<std::string> seen;
        for (;;) {
            names.emplace_back(field());
            if (!seen.insert(names.back()).second)
                fail(ErrorKind::input, "{}:{}: duplicate column name '{}'", m_display, m_line, names.back());
            sink.column(names.back());
            if (!at(m_delim)) break;
            ++m_pos;
        }
        next_line();
        return names.size();
    }

    // The rows that start before `end`, from m_pos (a row's start, on line m_line): the last one
    // may run past `end`. Stops early when the sink says so.
    RowsRead rows(std::size_t columns, std::size_t end, TableSink& sink) {
        RowsRead out;
        while (m_pos < end) {
            const std::size_t row_line = m_line;
            // A blank line is no row, unless a single column makes it one empty field.
            if (columns > 1 && (at('\n') || (at('\r') && (m_pos + 1 == m_b.size() || m_b[m_pos + 1] == '\n')))) {
                m_pos += at('\r');
                next_line();
                continue;
            }
            std::size_t found = 0;
            for (;;) {
                Value v;
                v.type = Value::Type::text;
                v.text = field();
                if (found < columns) sink.value(found, v);
                ++found;
                if (!at(m_delim)) break;
                ++m_pos;
            }
            if (found != columns)
                fail(ErrorKind::input, "{}:{}: expected {} field{}, found {}", m_display, row_line, columns,
                     columns == 1 ? "" : "s", found);
            next_line();
            ++out.rows;
            if (!sink.end_row()) {
                out.stopped = true;
                break;
            }
        }
        out.end = m_pos;
        return out;
    }

    [[nodiscard]] std::size_t position() const { return m_pos; }

    void start_at(std::size_t pos, std::size_t line) {
        m_pos = pos;
        m_line = line;
    }

private:
    [[nodiscard]] bool at(char c) const { return m_pos < m_b.size() && m_b[m_pos] == c; }

    void next_line() {
        if (at('\n')) {
            ++m_pos;
            ++m_line;
        }
    }

    // The field at m_pos; m_pos ends on the delimiter, the '\n' or the end that follows it.
    std::string_view field() {
        if (at('"')) return quoted();
        std::size_t start = m_pos;
        const char* p = m_b.data() + m_pos;
        const char* end = m_b.data() + m_b.size();
        while (p != end && *p != m_delim && *p != '\n') ++p;
        m_pos = static_cast<std::size_t>(p - m_b.data());
        std::size_t stop = m_pos;
        if (stop > start && m_b[stop - 1] == '\r' && !at(m_delim)) --stop; // CRLF
        return m_b.substr(start, stop - start);
    }

    std::string_view quoted() {
        const std::size_t open_line = m_line;
        const std::size_t start = ++m_pos;
        bool copied = false;
        m_scratch.clear();
        std::string_view out;
        for (;;) {
            const void* q = std::memchr(m_b.data() + m_pos, '"', m_b.size() - m_pos);
            if (!q) fail(ErrorKind::input, "{}:{}: unterminated quoted field", m_display, open_line);
            std::size_t quote = static_cast<std::size_t>(static_cast<const char*>(q) - m_b.data());
            m_line += static_cast<std::size_t>(std::count(m_b.begin() + static_cast<std::ptrdiff_t>(m_pos),
                                                          m_b.begin() + static_cast<std::ptrdiff_t>(quote), '\n'));
            if (quote + 1 < m_b.size() && m_b[quote + 1] == '"') {
                m_scratch.append(m_b.data() + m_pos, quote + 1 - m_pos);
                copied = true;
                m_pos = quote + 2;
                continue;
            }
            if (copied) {
                m_scratch.append(m_b.data() + m_pos, quote - m_pos);
                out = m_scratch;
            } else {
                out = m_b.substr(start, quote - start);
            }
            m_pos = quote + 1;
            break;
        }
        if (at('\r') && (m_pos + 1 == m_b.size() || m_b[m_pos + 1] == '\n')) ++m_pos;
        if (m_pos < m_b.size() && !at(m_delim) && !at('\n'))
            fail(ErrorKind::input, "{}:{}: unexpected character after a closing quote (a quote inside a quoted field is written \"\")",
                 m_display, m_line);
        return out;
    }

    std::string_view m_b;
    char m_delim;
    const std::string& m_display;
    std::size_t m_pos = 0;
    std::size_t m_line = 1;
    std::string m_scratch;
};

} // namespace

void read_delimited(std::string_view bytes, char delimiter, const std::string& display, TableSink& sink) {
    refuse_binary(bytes, display, delimiter == ',' ? "CSV table" : "TSV table");
    DelimitedParser parser(bytes, delimiter, display);
    std::size_t columns = parser.header(sink);
    RowsRead read = parser.rows(columns, bytes.size(), sink);
    if (read.rows == 0) fail(ErrorKind::input, "{}:1: a header row and no data rows", display);
}

std::size_t read_delimited_header(std::string_view bytes, char delimiter, const std::string& display, TableSink& sink,
                                  std::size_t& columns) {
    refuse_binary(bytes, display, delimiter == ',' ? "CSV table" : "TSV table");
    DelimitedParser parser(bytes, delimiter, display);
    columns = parser.header(sink);
    return parser.position();
}

RowsRead read_delimited_rows(std::string_view bytes, char delimiter, const std::string& display, std::size_t columns,
                             std::size_t begin, std::size_t end, TableSink& sink) {
    DelimitedParser parser(bytes, delimiter, display);
    parser.start_at(begin, line_at(bytes, begin));
    return parser.rows(columns, end, sink);
}

} // namespace cairn::table::detail
