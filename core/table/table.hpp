#pragma once
// Reading tables: CSV/TSV (RFC 4180), JSON Lines and NumPy `.npy`, streamed cell by cell into a
// TableSink, so that a profile never holds the table as strings. Tables are untrusted input:
// anything malformed is Error(input) naming the file and the line (the byte offset for .npy).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cairn::table {

enum class Format { csv, tsv, jsonl, npy };

// "csv", "tsv", "jsonl", "npy".
[[nodiscard]] std::string_view to_string(Format format);
// The inverse of to_string; nullopt for any other word.
[[nodiscard]] std::optional<Format> parse_format(std::string_view word);
// The format a file name's extension names (.csv; .tsv, .tab; .jsonl, .ndjson; .npy, any case),
// or nullopt.
[[nodiscard]] std::optional<Format> format_from_name(std::string_view name);
// A guess from the bytes, for data known only by its object id: the .npy magic, a first
// non-blank byte `{` (JSON Lines), a first line with more tabs than commas (TSV), else CSV.
[[nodiscard]] Format sniff_format(std::string_view bytes);

// One cell as a reader hands it over. `text` points into the reader's buffers and is valid only
// during the TableSink::value call.
struct Value {
    enum class Type {
        text,    // a CSV/TSV field, a JSON string: classify() decides what it holds
        number,  // a JSON number, an .npy element
        boolean, // JSON true/false, .npy bool: text is "true" or "false"
        null,    // JSON null, a key a JSON object lacks
        nested   // a JSON object or array: text is its JSON
    };
    Type type = Type::null;
    std::string_view text;
    double number = 0;
    bool integer = false; // a number that was written (JSON) or stored (.npy) as an integer
};

// What a reader feeds. Columns are numbered from 0 in the order column() announces them; a
// JSON Lines key first seen at row r is announced then (the rows before lack it).
class TableSink {
public:
    virtual ~TableSink() = default;
    virtual void column(std::string_view name) = 0;
    // A cell of the current row. A row gives each column at most once (JSON Lines rows may skip
    // columns: those cells are missing).
    virtual void value(std::size_t column, const Value& value) = 0;
    // The current row is complete. Returning false stops the reading.
    virtual bool end_row() = 0;
};

// Reads `bytes` as `format` into `sink`; `display` names the file in errors. CSV/TSV: header
// row, RFC 4180 quoting (quoted delimiters, newlines and doubled quotes), LF or CRLF, a UTF-8
// BOM skipped; blank lines are skipped when there are several columns. JSON Lines: one object
// per line, blank lines skipped. .npy: format 1.0/2.0/3.0, a 1-D array (one column `0`) or a 2-D
// one (column `j` per feature), C or Fortran order, little- or big-endian bool, int8..int64,
// uint8..uint64, float32, float64. Throws Error(input) "<display>:<line>: <what>" (or
// "<display>: offset <n>: <what>") for a malformed table, a NUL byte in a text table, an empty
// table, a header without rows, duplicate column names, and a ragged row.
void read_table(std::string_view bytes, Format format, const std::string& display, TableSink& sink);

// What the text of a cell holds. Missing: empty (after trimming spaces and tabs) or exactly NA,
// NaN, null, None. Numbers are what fast_float accepts (with an optional leading '+'):
// integer (digits with an optional sign), decimal, and the non-finite nan, inf, -inf (any case,
// inf also as infinity; NaN alone is a missing marker); a number beyond the double range is
// inf or -inf.
enum class TextClass { missing, integer, decimal, nan, posinf, neginf, string };

struct Classified {
    TextClass cls = TextClass::string;
    double number = 0; // for the number classes
};

[[nodiscard]] Classified classify(std::string_view text);

} // namespace cairn::table
