// Table readers (CSV/TSV, JSON Lines, .npy): what each hands over, and every malformed case.
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <random>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/table/table.hpp"
#include "core/util/error.hpp"

using namespace cairn;
using namespace std::string_literals;
using table::Format;

namespace {

// Collects what a reader hands over: column names, and rows of cells as text ("<null>" for a
// missing JSON key or null, numbers through "%.17g").
struct Collect final : table::TableSink {
    std::vector<std::string> names;
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> current;
    void column(std::string_view name) override { names.emplace_back(name); }
    void value(std::size_t column, const table::Value& v) override {
        if (current.size() <= column) current.resize(column + 1, "<null>");
        if (v.type == table::Value::Type::number) {
            char buf[64];
            std::snprintf(buf, sizeof buf, "%.17g", v.number);
            current[column] = buf;
        } else if (v.type == table::Value::Type::null) {
            current[column] = "<null>";
        } else {
            current[column] = std::string(v.text);
        }
    }
    bool end_row() override {
        current.resize(names.size(), "<null>");
        rows.push_back(std::move(current));
        current.clear();
        return true;
    }
};

Collect read(const std::string& bytes, Format format) {
    Collect c;
    table::read_table(bytes, format, "t.csv", c);
    for (auto& row : c.rows) row.resize(c.names.size(), "<null>"); // keys first seen later
    return c;
}

std::string error_of(const std::string& bytes, Format format) {
    try {
        (void)read(bytes, format);
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::input);
        CHECK(std::string(e.what()).find('\n') == std::string::npos);
        return e.what();
    }
    return "no error";
}

using Rows = std::vector<std::vector<std::string>>;

// An .npy file: header padded as numpy pads it, then `data`.
std::string npy(const std::string& descr, bool fortran, const std::string& shape, const std::string& data, int major = 1) {
    std::string header = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': " + shape + ", }";
    std::size_t prefix = major == 1 ? 10 : 12;
    while ((prefix + header.size() + 1) % 64) header += ' ';
    header += '\n';
    std::string out = "\x93NUMPY";
    out += static_cast<char>(major);
    out += '\0';
    for (std::size_t i = 0; i < prefix - 8; ++i) out += static_cast<char>((header.size() >> (8 * i)) & 0xff);
    return out + header + data;
}

template <typename T> std::string raw(std::initializer_list<T> values, bool big_endian = false) {
    std::string out;
    for (T v : values) {
        char b[sizeof(T)];
        std::memcpy(b, &v, sizeof(T));
        if (big_endian) std::reverse(b, b + sizeof(T));
        out.append(b, sizeof(T));
    }
    return out;
}

} // namespace

TEST_CASE("csv: header, quoting, doubled quotes, quoted newlines, CRLF, BOM", "[table]") {
    Collect c = read("\xEF\xBB\xBFid,\"na,me\",note\r\n1,\"a, b\",\"say \"\"hi\"\"\"\r\n2,x,\"two\nlines\"\r\n3,,\"\"\r\n", Format::csv);
    CHECK(c.names == std::vector<std::string>{"id", "na,me", "note"});
    CHECK(c.rows == Rows{{"1", "a, b", "say \"hi\""}, {"2", "x", "two\nlines"}, {"3", "", ""}});
    // No final line break; a quote inside an unquoted field is kept as it is.
    c = read("a,b\n5'11\",z", Format::csv);
    CHECK(c.rows == Rows{{"5'11\"", "z"}});
    // Blank lines are no rows with several columns; with one, an empty field.
    CHECK(read("a,b\n1,2\n\n\r\n3,4\n\n", Format::csv).rows == Rows{{"1", "2"}, {"3", "4"}});
    CHECK(read("a\n1\n\n2\n", Format::csv).rows == Rows{{"1"}, {""}, {"2"}});
}

TEST_CASE("tsv: tabs delimit, quoting as in csv", "[table]") {
    Collect c = read("a\tb\n1,5\t\"x\ty\"\n", Format::tsv);
    CHECK(c.names == std::vector<std::string>{"a", "b"});
    CHECK(c.rows == Rows{{"1,5", "x\ty"}});
}

TEST_CASE("csv: malformed input names the file and line", "[table]") {
    CHECK(error_of("", Format::csv) == "t.csv: empty file, expected a header row");
    CHECK(error_of("\xEF\xBB\xBF\n\n", Format::csv) == "t.csv: empty file, expected a header row");
    CHECK(error_of("a,b\n", Format::csv) == "t.csv:1: a header row and no data rows");
    CHECK(error_of("a,b\n1,2\n3\n", Format::csv) == "t.csv:3: expected 2 fields, found 1");
    CHECK(error_of("a,b\n1,\"x\ny\",2\n", Format::csv) == "t.csv:2: expected 2 fields, found 3");
    // Line numbers count the line breaks inside quoted fields.
    CHECK(error_of("a,b\n1,\"x\ny\"\n3,4,5\n", Format::csv) == "t.csv:4: expected 2 fields, found 3");
    CHECK(error_of("a,b\n1,2\n3,\"open\n4,5\n", Format::csv) == "t.csv:3: unterminated quoted field");
    CHECK(error_of("a,b\n1,\"x\"y\n", Format::csv).rfind("t.csv:2: unexpected character after a closing quote", 0) == 0);
    CHECK(error_of("a,a\n1,2\n", Format::csv) == "t.csv:1: duplicate column name 'a'");
    CHECK(error_of("a,b\n1,2\n3,\0\n"s, Format::csv) == "t.csv:3: NUL byte: binary data, not a CSV table");
    CHECK(error_of("a\tb\n\x01\x02\0"s, Format::tsv) == "t.csv:2: NUL byte: binary data, not a TSV table");
}

TEST_CASE("jsonl: keys in first-seen order, missing keys, nested values as JSON", "[table]") {
    Collect c = read("{\"z\": 1, \"a\": \"x\"}\n\n{\"a\": null, \"n\": {\"k\": [1, 2]}}\r\n{\"z\": 2.5, \"b\": true}", Format::jsonl);
    CHECK(c.names == std::vector<std::string>{"z", "a", "n", "b"});
    CHECK(c.rows == Rows{{"1", "x", "<null>", "<null>"}, {"<null>", "<null>", "{\"k\":[1,2]}", "<null>"}, {"2.5", "<null>", "<null>", "true"}});
}

TEST_CASE("jsonl: malformed input names the file and line", "[table]") {
    CHECK(error_of("", Format::jsonl) == "t.csv: empty file, expected one JSON object per line");
    CHECK(error_of("\n  \n", Format::jsonl) == "t.csv: empty file, expected one JSON object per line");
    CHECK(error_of("{\"a\": 1}\n{\"a\": }\n", Format::jsonl) == "t.csv:2: invalid JSON at column 7");
    CHECK(error_of("{\"a\": 1}\n\n[1, 2]\n", Format::jsonl) == "t.csv:3: expected a JSON object, found an array");
    CHECK(error_of("{\"a\": 1}\n{\"a\": 1e999}\n", Format::jsonl) == "t.csv:2: a number beyond the double range");
    CHECK(error_of("{\"a\": 1} {\"a\": 2}\n", Format::jsonl).rfind("t.csv:1: invalid JSON", 0) == 0);
    CHECK(error_of("{\"a\": \"\0\"}"s, Format::jsonl) == "t.csv:1: NUL byte: binary data, not a JSON Lines table");
}

TEST_CASE("npy: dtypes, byte orders, C and Fortran order, format versions", "[table]") {
    Collect c = read(npy("<f8", false, "(2, 3)", raw<double>({1, 2, 3, 4, 5, 6.5})), Format::npy);
    CHECK(c.names == std::vector<std::string>{"0", "1", "2"});
    CHECK(c.rows == Rows{{"1", "2", "3"}, {"4", "5", "6.5"}});
    c = read(npy("<f8", true, "(2, 3)", raw<double>({1, 4, 2, 5, 3, 6.5})), Format::npy);
    CHECK(c.rows == Rows{{"1", "2", "3"}, {"4", "5", "6.5"}});
    CHECK(read(npy(">i4", false, "(3,)", raw<std::int32_t>({-7, 0, 65536}, true)), Format::npy).rows == Rows{{"-7"}, {"0"}, {"65536"}});
    CHECK(read(npy(">f4", false, "(2,)", raw<float>({0.5f, -2}, true), 2), Format::npy).rows == Rows{{"0.5"}, {"-2"}});
    CHECK(read(npy("<u8", false, "(1, 2)", raw<std::uint64_t>({18446744073709551615ull, 3}), 3), Format::npy).rows ==
          Rows{{"1.8446744073709552e+19", "3"}});
    CHECK(read(npy("|i1", false, "(2,)", raw<std::int8_t>({-128, 127})), Format::npy).rows == Rows{{"-128"}, {"127"}});
    CHECK(read(npy("|u1", false, "(1,)", raw<std::uint8_t>({255})), Format::npy).rows == Rows{{"255"}});
    CHECK(read(npy("<i2", false, "(1,)", raw<std::int16_t>({-300})), Format::npy).rows == Rows{{"-300"}});
    CHECK(read(npy(">u2", false, "(1,)", raw<std::uint16_t>({513}, true)), Format::npy).rows == Rows{{"513"}});
    CHECK(read(npy("<u4", false, "(1,)", raw<std::uint32_t>({4000000000u})), Format::npy).rows == Rows{{"4000000000"}});
    CHECK(read(npy(">i8", false, "(1,)", raw<std::int64_t>({-5000000000ll}, true)), Format::npy).rows == Rows{{"-5000000000"}});
    CHECK(read(npy("|b1", false, "(2, 1)", std::string("\x01\x00", 2)), Format::npy).rows == Rows{{"true"}, {"false"}});
    double nan = std::nan("");
    CHECK(read(npy("<f8", false, "(1,)", raw<double>({nan})), Format::npy).rows == Rows{{"nan"}});
}

TEST_CASE("npy: malformed headers and data name the offset", "[table]") {
    std::string eight = raw<double>({1, 2});
    CHECK(error_of("a,b\n1,2\n", Format::npy) == "t.csv: offset 0: not a .npy file (no \\x93NUMPY magic)");
    CHECK(error_of(npy("<f8", false, "(2,)", eight, 4), Format::npy) == "t.csv: offset 6: unsupported .npy format version 4.0");
    CHECK(error_of(npy("<f8", false, "(2,)", eight).substr(0, 40), Format::npy) ==
          "t.csv: offset 10: truncated .npy header: 118 bytes announced, 30 present");
    CHECK(error_of(npy("<f8", false, "(3,)", eight), Format::npy) ==
          "t.csv: offset 128: truncated data: 3 x 1 elements of 8 bytes announced, 16 bytes present");
    CHECK(error_of(npy("<f8", false, "(1,)", eight), Format::npy) == "t.csv: offset 136: 8 bytes after the data");
    CHECK(error_of(npy("<f8", false, "(1, 1, 2)", eight), Format::npy).find("a 3-dimensional array is not a table") != std::string::npos);
    CHECK(error_of(npy("<f8", false, "()", eight), Format::npy).find("a 0-dimensional array") != std::string::npos);
    CHECK(error_of(npy("<f8", false, "(0, 2)", ""), Format::npy).find("an empty array (0 rows, 2 columns)") != std::string::npos);
    CHECK(error_of(npy("<c16", false, "(1,)", eight), Format::npy).find("unsupported dtype '<c16'") != std::string::npos);
    CHECK(error_of(npy("|O", false, "(1,)", eight), Format::npy).find("unsupported dtype '|O'") != std::string::npos);
    CHECK(error_of(npy("<f2", false, "(1,)", eight), Format::npy).find("unsupported dtype '<f2'") != std::string::npos);
    std::string structured = npy("<f8", false, "(2,)", eight);
    structured.replace(structured.find("'<f8'"), 5, "[('x', '<f8')]");
    CHECK(error_of(structured, Format::npy).find("bad .npy header: structured dtypes") != std::string::npos);
    std::string garbled = npy("<f8", false, "(2,)", eight);
    garbled.replace(garbled.find("False"), 5, "Fals3");
    CHECK(error_of(garbled, Format::npy) == "t.csv: offset 44: bad .npy header: expected True or False");
    std::string unknown = npy("<f8", false, "(2,)", eight);
    unknown.replace(unknown.find("shape"), 5, "shapy");
    CHECK(error_of(unknown, Format::npy).find("unexpected key 'shapy'") != std::string::npos);
}

TEST_CASE("formats from names and from bytes", "[table]") {
    CHECK(table::format_from_name("data/a.CSV") == Format::csv);
    CHECK(table::format_from_name("a.tab") == Format::tsv);
    CHECK(table::format_from_name("a.ndjson") == Format::jsonl);
    CHECK(table::format_from_name("x.npy") == Format::npy);
    CHECK_FALSE(table::format_from_name("a.csv/b"));
    CHECK_FALSE(table::format_from_name("README"));
    CHECK(table::sniff_format(npy("<f8", false, "(1,)", raw<double>({1}))) == Format::npy);
    CHECK(table::sniff_format("\n {\"a\": 1}\n") == Format::jsonl);
    CHECK(table::sniff_format("a\tb,c\td\n") == Format::tsv);
    CHECK(table::sniff_format("a,b\n") == Format::csv);
    for (Format f : {Format::csv, Format::tsv, Format::jsonl, Format::npy}) CHECK(table::parse_format(table::to_string(f)) == f);
}

TEST_CASE("classify: missing markers, numbers, non-finite values, strings", "[table]") {
    using table::TextClass;
    auto cls = [](std::string_view s) { return table::classify(s).cls; };
    for (auto s : {"", "  ", "NA", "NaN", "null", "None", " NA "}) CHECK(cls(s) == TextClass::missing);
    for (auto s : {"0", "-12", "+7", " 42 ", "007"}) CHECK(cls(s) == TextClass::integer);
    for (auto s : {"1.5", "-0.25", "1e-3", ".5", "5.", "+2.5E+10"}) CHECK(cls(s) == TextClass::decimal);
    for (auto s : {"nan", "NAN", "-nan"}) CHECK(cls(s) == TextClass::nan);
    for (auto s : {"inf", "+inf", "Infinity", "1e999"}) CHECK(cls(s) == TextClass::posinf);
    for (auto s : {"-inf", "-Infinity", "-1e999"}) CHECK(cls(s) == TextClass::neginf);
    for (auto s : {"x", "1,5", "0x10", "1e", "+-1", "++1", "+", "-", "1 2", "na", "N/A", "true"}) CHECK(cls(s) == TextClass::string);
    CHECK(table::classify(" -2.5e1 ").number == -25.0);
}

TEST_CASE("classify: plain decimals read as strtod reads them, to the last bit", "[table]") {
    // The fast path (up to 19 digits, at most 22 after the point) against glibc's correctly
    // rounded strtod, and the longer forms that take the general path.
    std::mt19937_64 rng(11);
    const char alphabet[] = "0123456789.-";
    for (int i = 0; i < 200000; ++i) {
        std::string s;
        const std::size_t length = 1 + rng() % 24;
        for (std::size_t k = 0; k < length; ++k) s += alphabet[rng() % (rng() % 4 == 0 ? 12 : 10)];
        if (i % 3 == 0) s.insert(rng() % (s.size() + 1), ".");
        char* end = nullptr;
        errno = 0;
        const double expected = std::strtod(s.c_str(), &end);
        const bool number = end == s.c_str() + s.size() && !s.empty() && s != "-" && s.find_first_of("0123456789") != std::string::npos;
        table::Classified c = table::classify(s);
        INFO("text '" << s << "'");
        if (!number) {
            CHECK(c.cls == table::TextClass::string);
            continue;
        }
        const bool dot = s.find('.') != std::string::npos;
        if (std::isinf(expected)) continue; // beyond the range: not from these lengths
        REQUIRE(c.cls == (dot ? table::TextClass::decimal : table::TextClass::integer));
        REQUIRE(std::memcmp(&c.number, &expected, sizeof expected) == 0);
    }
}
