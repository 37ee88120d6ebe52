#pragma once
// The readers behind table::read_table, one per format (csv.cpp, jsonl.cpp, npy.cpp).

#include <string>
#include <string_view>

#include "core/table/table.hpp"

namespace cairn::table::detail {

void read_delimited(std::string_view bytes, char delimiter, const std::string& display, TableSink& sink);
void read_jsonl(std::string_view bytes, const std::string& display, TableSink& sink);
void read_npy(std::string_view bytes, const std::string& display, TableSink& sink);

// The 1-based line of bytes[offset].
[[nodiscard]] std::size_t line_at(std::string_view bytes, std::size_t offset);
// Throws Error(input) for a NUL byte: "<display>:<line>: NUL byte: binary data, not a <what>".
void refuse_binary(std::string_view bytes, const std::string& display, std::string_view what);

} // namespace cairn::table::detail
