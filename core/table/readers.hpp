#pragma once
// The readers behind table::read_table, one per format (csv.cpp, jsonl.cpp, npy.cpp).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/table/table.hpp"

namespace cairn::table::detail {

void read_delimited(std::string_view bytes, char delimiter, const std::string& display, TableSink& sink);

// read_delimited in pieces, so that rows can be read on several threads (profile_table). The
// header: checks the bytes (refuse_binary), announces the columns to `sink`, sets `columns` and
// returns the offset of the first row.
std::size_t read_delimited_header(std::string_view bytes, char delimiter, const std::string& display, TableSink& sink,
                                  std::size_t& columns);
struct RowsRead {
    std::size_t end = 0;     // the offset where reading stopped: the start of the next row
    std::uint64_t rows = 0;  // rows read into the sink
    bool stopped = false;    // the sink's end_row returned false
};
// The rows that start in [begin, end) (the last may run past `end`), `begin` being the start of
// a row; errors name lines counted from the start of `bytes`. A piece that did not start at a
// row's start (a line break inside a quoted field) shows as a row running past `end`, or as an
// error, and reading from the true start of the row before tells which.
RowsRead read_delimited_rows(std::string_view bytes, char delimiter, const std::string& display, std::size_t columns,
                             std::size_t begin, std::size_t end, TableSink& sink);
void read_jsonl(std::string_view bytes, const std::string& display, TableSink& sink);
void read_npy(std::string_view bytes, const std::string& display, TableSink& sink);

// The 1-based line of bytes[offset].
[[nodiscard]] std::size_t line_at(std::string_view bytes, std::size_t offset);
// Throws Error(input) for a NUL byte: "<display>:<line>: NUL byte: binary data, not a <what>".
void refuse_binary(std::string_view bytes, const std::string& display, std::string_view what);

} // namespace cairn::table::detail
