// NumPy .npy (format 1.0, 2.0 and 3.0): magic, version, header length, a Python dict literal
// {'descr': '<f8', 'fortran_order': False, 'shape': (n, m)}, then the raw elements.
#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "core/table/readers.hpp"
#include "core/util/error.hpp"
#include "core/util/strings.hpp"

namespace cairn::table::detail {
namespace {

struct Header {
    char kind = 0; // 'b' bool, 'i' signed, 'u' unsigned, 'f' float
    std::size_t item = 0;
    bool swap = false; // stored in the other byte order than this machine's
    bool fortran = false;
    std::vector<std::uint64_t> shape;
};

// The dict literal numpy writes, read strictly: string keys; string, True/False and tuples of
// integers as values.
class HeaderParser {
public:
    HeaderParser(std::string_view text, const std::string& display, std::size_t offset)
        : m_t(text), m_display(display), m_offset(offset) {}

    Header parse() {
        Header h;
        bool descr = false, order = false, shape = false;
        expect('{');
        while (!peek('}')) {
            std::string key = string();
            expect(':');
            if (key == "descr" && !descr) {
                descr = true;
                if (peek('[')) bad("structured dtypes (a list as 'descr') are not supported");
                parse_descr(string(), h);
            } else if (key == "fortran_order" && !order) {
                order = true;
                h.fortran = boolean();
            } else if (key == "shape" && !shape) {
                shape = true;
                h.shape = tuple();
            } else {
                bad("unexpected key '" + key + "'");
            }
            if (!peek(',')) break;
            expect(',');
        }
        expect('}');
        skip_space();
        if (m_i != m_t.size()) bad("unexpected text after the dict");
        if (!descr || !order || !shape) bad("'descr', 'fortran_order' and 'shape' are required");
        return h;
    }

private:
    [[noreturn]] void bad(const std::string& what) const {
        fail(ErrorKind::input, "{}: offset {}: bad .npy header: {}", m_display, m_offset + m_i, what);
    }
    void skip_space() {
        while (m_i < m_t.size() && (m_t[m_i] == ' ' || m_t[m_i] == '\n' || m_t[m_i] == '\t')) ++m_i;
    }
    bool peek(char c) {
        skip_space();
        return m_i < m_t.size() && m_t[m_i] == c;
    }
    void expect(char c) {
        if (!peek(c)) bad(std::string("expected '") + c + "'");
        ++m_i;
    }
    std::string string() {
        skip_space();
        if (m_i >= m_t.size() || (m_t[m_i] != '\'' && m_t[m_i] != '"')) bad("expected a quoted string");
        char quote = m_t[m_i++];
        std::size_t end = m_t.find(quote, m_i);
        if (end == std::string_view::npos) bad("unterminated string");
        std::string out(m_t.substr(m_i, end - m_i));
        m_i = end + 1;
        return out;
    }
    bool boolean() {
        skip_space();
        for (auto [word, value] : {std::pair{std::string_view("True"), true}, std::pair{std::string_view("False"), false}})
            if (m_t.substr(m_i, word.size()) == word) {
                m_i += word.size();
                return value;
            }
        bad("expected True or False");
    }
    std::vector<std::uint64_t> tuple() {
        std::vector<std::uint64_t> out;
        expect('(');
        while (!peek(')')) {
            std::size_t start = m_i;
            while (m_i < m_t.size() && m_t[m_i] >= '0' && m_t[m_i] <= '9') ++m_i;
            auto n = util::parse_integer<std::uint64_t>(m_t.substr(start, m_i - start));
            if (!n) bad("expected a dimension");
            if (m_i < m_t.size() && m_t[m_i] == 'L') ++m_i; // written by Python 2
            out.push_back(*n);
            if (!peek(',')) break;
            expect(',');
        }
        expect(')');
        return out;
    }
    void parse_descr(const std::string& d, Header& h) {
        if (d.size() < 2) bad("unsupported dtype '" + d + "'");
        char order = d[0];
        std::string type = d.substr(1);
        if (type == "?") type = "b1";
        if (type.size() != 2 || std::string_view("<>|=").find(order) == std::string_view::npos) bad("unsupported dtype '" + d + "'");
        h.kind = type[0];
        h.item = static_cast<std::size_t>(type[1] - '0');
        bool ok = (h.kind == 'b' && h.item == 1) || ((h.kind == 'i' || h.kind == 'u') && (h.item == 1 || h.item == 2 || h.item == 4 || h.item == 8)) ||
                  (h.kind == 'f' && (h.item == 4 || h.item == 8));
        if (!ok) bad("unsupported dtype '" + d + "' (bool, int8..int64, uint8..uint64, float32 and float64 are)");
        bool little = std::endian::native == std::endian::little;
        h.swap = h.item > 1 && ((order == '<' && !little) || (order == '>' && little));
    }

    std::string_view m_t;
    const std::string& m_display;
    std::size_t m_offset;
    std::size_t m_i = 0;
};

template <typename T> T load(const char* p, bool swap) {
    unsigned char raw[sizeof(T)];
    std::memcpy(raw, p, sizeof(T));
    if (swap)
        for (std::size_t i = 0; i < sizeof(T) / 2; ++i) std::swap(raw[i], raw[sizeof(T) - 1 - i]);
    T v;
    std::memcpy(&v, raw, sizeof(T));
    return v;
}

Value element(const Header& h, const char* p) {
    Value v;
    v.type = Value::Type::number;
    v.integer = h.kind != 'f';
    switch (h.kind) {
    case 'b':
        v.type = Value::Type::boolean;
        v.text = *p ? "true" : "false";
        break;
    case 'f': v.number = h.item == 4 ? static_cast<double>(load<float>(p, h.swap)) : load<double>(p, h.swap); break;
    case 'i':
        switch (h.item) {
        case 1: v.number = load<std::int8_t>(p, false); break;
        case 2: v.number = load<std::int16_t>(p, h.swap); break;
        case 4: v.number = load<std::int32_t>(p, h.swap); break;
        default: v.number = static_cast<double>(load<std::int64_t>(p, h.swap)); break;
        }
        break;
    default:
        switch (h.item) {
        case 1: v.number = load<std::uint8_t>(p, false); break;
        case 2: v.number = load<std::uint16_t>(p, h.swap); break;
        case 4: v.number = load<std::uint32_t>(p, h.swap); break;
        default: v.number = static_cast<double>(load<std::uint64_t>(p, h.swap)); break;
        }
        break;
    }
    return v;
}

} // namespace

void read_npy(std::string_view bytes, const std::string& display, TableSink& sink) {
    if (bytes.size() < 10 || bytes.substr(0, 6) != "\x93NUMPY")
        fail(ErrorKind::input, "{}: offset 0: not a .npy file (no \\x93NUMPY magic)", display);
    const unsigned major = static_cast<unsigned char>(bytes[6]);
    if (major < 1 || major > 3)
        fail(ErrorKind::input, "{}: offset 6: unsupported .npy format version {}.{}", display, major,
             static_cast<unsigned char>(bytes[7]));
    std::size_t header_at = major == 1 ? 10 : 12;
    if (bytes.size() < header_at) fail(ErrorKind::input, "{}: offset 8: truncated .npy header", display);
    std::size_t header_len = 0;
    for (std::size_t i = header_at; i-- > 8;) header_len = header_len << 8 | static_cast<unsigned char>(bytes[i]);
    if (header_len > bytes.size() - header_at)
        fail(ErrorKind::input, "{}: offset {}: truncated .npy header: {} bytes announced, {} present", display, header_at,
             header_len, bytes.size() - header_at);
    Header h = HeaderParser(bytes.substr(header_at, header_len), display, header_at).parse();
    const std::size_t data_at = header_at + header_len;
    if (h.shape.empty() || h.shape.size() > 2)
        fail(ErrorKind::input, "{}: offset {}: a {}-dimensional array is not a table (1-D and 2-D arrays are)", display,
             header_at, h.shape.size());
    const std::uint64_t rows = h.shape[0];
    const std::uint64_t cols = h.shape.size() == 2 ? h.shape[1] : 1;
    if (rows == 0 || cols == 0) fail(ErrorKind::input, "{}: offset {}: an empty array ({} rows, {} columns)", display, header_at, rows, cols);
    const std::uint64_t have = bytes.size() - data_at;
    if (rows > have / cols / h.item || rows * cols * h.item != have) {
        bool short_data = rows > have / cols / h.item;
        if (short_data)
            fail(ErrorKind::input, "{}: offset {}: truncated data: {} x {} elements of {} bytes announced, {} bytes present",
                 display, data_at, rows, cols, h.item, have);
        fail(ErrorKind::input, "{}: offset {}: {} bytes after the data", display, data_at + rows * cols * h.item,
             have - rows * cols * h.item);
    }
    for (std::uint64_t j = 0; j < cols; ++j) sink.column(std::to_string(j));
    const char* data = bytes.data() + data_at;
    for (std::uint64_t i = 0; i < rows; ++i) {
        for (std::uint64_t j = 0; j < cols; ++j) {
            std::uint64_t index = h.fortran ? j * rows + i : i * cols + j;
            sink.value(j, element(h, data + index * h.item));
        }
        if (!sink.end_row()) return;
    }
}

} // namespace cairn::table::detail
