// JSON Lines: one JSON object per line; its keys are the columns, in the order first seen
// (ordered_json: nlohmann::json would sort them).
#include <string>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "core/table/readers.hpp"
#include "core/util/error.hpp"

namespace cairn::table::detail {
namespace {

using Json = nlohmann::ordered_json;

const char* type_name(const Json& j) {
    if (j.is_array()) return "an array";
    if (j.is_string()) return "a string";
    if (j.is_number()) return "a number";
    if (j.is_boolean()) return "a boolean";
    return "null";
}

} // namespace

void read_jsonl(std::string_view bytes, const std::string& display, TableSink& sink) {
    refuse_binary(bytes, display, "JSON Lines table");
    std::unordered_map<std::string, std::size_t> columns;
    std::string nested;
    std::size_t pos = 0, line = 0;
    bool any_row = false;
    while (pos < bytes.size()) {
        ++line;
        std::size_t end = bytes.find('\n', pos);
        if (end == std::string_view::npos) end = bytes.size();
        std::string_view text = bytes.substr(pos, end - pos);
        pos = end + 1;
        if (text.find_first_not_of(" \t\r") == std::string_view::npos) continue;
        Json row;
        try {
            row = Json::parse(text.begin(), text.end());
        } catch (const Json::parse_error& e) {
            fail(ErrorKind::input, "{}:{}: invalid JSON at column {}", display, line, e.byte);
        } catch (const Json::exception&) { // out_of_range: a number beyond the double range
            fail(ErrorKind::input, "{}:{}: a number beyond the double range", display, line);
        }
        if (!row.is_object())
            fail(ErrorKind::input, "{}:{}: expected a JSON object, found {}", display, line, type_name(row));
        for (const auto& [key, item] : row.items()) {
            auto [it, added] = columns.emplace(key, columns.size());
            if (added) sink.column(key);
            Value v;
            switch (item.type()) {
            case Json::value_t::null: v.type = Value::Type::null; break;
            case Json::value_t::boolean:
                v.type = Value::Type::boolean;
                v.text = item.get<bool>() ? "true" : "false";
                break;
            case Json::value_t::string:
                v.type = Value::Type::text;
                v.text = item.get_ref<const std::string&>();
                break;
            case Json::value_t::number_integer:
            case Json::value_t::number_unsigned:
                v.type = Value::Type::number;
                v.integer = true;
                v.number = item.get<double>();
                break;
            case Json::value_t::number_float:
                v.type = Value::Type::number;
                v.number = item.get<double>();
                break;
            default:
                v.type = Value::Type::nested;
                nested = item.dump();
                v.text = nested;
                break;
            }
            sink.value(it->second, v);
        }
        any_row = true;
        if (!sink.end_row()) return;
    }
    if (!any_row) fail(ErrorKind::input, "{}: empty file, expected one JSON object per line", display);
}

} // namespace cairn::table::detail
