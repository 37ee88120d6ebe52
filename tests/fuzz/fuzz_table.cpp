// Tables (CSV, TSV, JSON Lines, .npy): table::profile_table, and the round trip of the profile
// through its JSON form: parse_profile(to_json(p)) must be read back and written identically.
// Input: one byte choosing the format (its value modulo 4: csv, tsv, jsonl, npy), then the table.

#include "core/table/profile.hpp"
#include "tests/fuzz/fuzz.hpp"

using namespace cairn;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const table::Format formats[] = {table::Format::csv, table::Format::tsv, table::Format::jsonl, table::Format::npy};
    table::Format format = formats[data[0] % 4];
    std::string input = fuzz::bytes(data + 1, size - 1);
    fuzz::run_one("table", [&] {
        table::Profile p = table::profile_table(input, format, "t");
        std::string json = table::to_json(p);
        std::string again;
        try {
            again = table::to_json(table::parse_profile(json, "profile"));
        } catch (const Error& e) {
            fuzz::property_failed("table", std::string("a written profile does not parse: ") + e.what(), json);
        }
        if (again != json) fuzz::property_failed("table", "to_json(parse_profile(to_json(p))) != to_json(p)", json, again);
    });
    return 0;
}
