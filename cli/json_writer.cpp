#include "cli/json_writer.hpp"

#include <cmath>

#include <fmt/format.h>

#include "core/util/strings.hpp"

namespace cairn::cli {

void JsonWriter::newline() {
    m_out += '\n';
    m_out.append(m_empty.size() * 2, ' ');
}

void JsonWriter::before_value() {
    if (m_after_key) {
        m_after_key = false;
        return;
    }
    if (!m_empty.empty()) {
        if (!m_empty.back()) m_out += ',';
        m_empty.back() = false;
        newline();
    }
}

void JsonWriter::close(char bracket) {
    bool was_empty = m_empty.back();
    m_empty.pop_back();
    if (!was_empty) newline();
    m_out += bracket;
}

void JsonWriter::begin_object() {
    before_value();
    m_out += '{';
    m_empty.push_back(true);
}
void JsonWriter::end_object() { close('}'); }
void JsonWriter::begin_array() {
    before_value();
    m_out += '[';
    m_empty.push_back(true);
}
void JsonWriter::end_array() { close(']'); }

void JsonWriter::key(std::string_view name) {
    before_value();
    write_string(name);
    m_out += ": ";
    m_after_key = true;
}

void JsonWriter::string(std::string_view value) {
    before_value();
    write_string(value);
}

void JsonWriter::write_string(std::string_view value) {
    m_out += '"';
    for (std::size_t i = 0; i < value.size();) {
        char c = value[i];
        switch (c) {
        case '"': m_out += "\\\""; ++i; continue;
        case '\\': m_out += "\\\\"; ++i; continue;
        case '\n': m_out += "\\n"; ++i; continue;
        case '\t': m_out += "\\t"; ++i; continue;
        case '\r': m_out += "\\r"; ++i; continue;
        case '\b': m_out += "\\b"; ++i; continue;
        case '\f': m_out += "\\f"; ++i; continue;
        default: break;
        }
        // Control characters, DEL included, as \u escapes: valid JSON either way, and safe to
        // print on a terminal.
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            m_out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
            ++i;
            continue;
        }
        std::size_t n = util::utf8_length(value, i);
        if (n == 0) {
            m_out += "\xef\xbf\xbd";
            ++i;
        } else if (n == 2 && static_cast<unsigned char>(c) == 0xc2 && static_cast<unsigned char>(value[i + 1]) < 0xa0) {
            m_out += fmt::format("\\u{:04x}", static_cast<unsigned char>(value[i + 1])); // a C1 control
            i += n;
        } else {
            m_out.append(value.substr(i, n));
            i += n;
        }
    }
    m_out += '"';
}

void JsonWriter::number(double value) {
    if (!std::isfinite(value)) {
        string(std::isnan(value) ? "nan" : value > 0 ? "inf" : "-inf");
        return;
    }
    before_value();
    if (value == std::floor(value) && std::fabs(value) < 1e15)
        m_out += fmt::format("{:.1f}", value);
    else
        m_out += fmt::format("{}", value);
}

void JsonWriter::integer(std::int64_t value) {
    before_value();
    m_out += std::to_string(value);
}

void JsonWriter::boolean(bool value) {
    before_value();
    m_out += value ? "true" : "false";
}

void JsonWriter::null() {
    before_value();
    m_out += "null";
}

} // namespace cairn::cli
