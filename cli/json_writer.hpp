#pragma once
// A streaming, pretty-printing JSON writer for large listings (`cairn ls --json` on 10,000
// runs), where building a nlohmann::json tree first costs more than the listing itself.
// Output matches nlohmann's dump(2) layout; invalid UTF-8 is replaced by U+FFFD.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::cli {

class JsonWriter {
public:
    explicit JsonWriter(std::string& out) : m_out(out) {}

    void begin_object();
    void end_object();
    void begin_array();
    void end_array();
    void key(std::string_view name);
    void string(std::string_view value);
    void number(double value); // non-finite values are written as the strings "nan", "inf", "-inf"
    void integer(std::int64_t value);
    void boolean(bool value);
    void null();

private:
    void before_value();
    void write_string(std::string_view value);
    void newline();
    void close(char bracket);

    std::string& m_out;
    std::vector<bool> m_empty; // per open container: nothing written into it yet
    bool m_after_key = false;
};

} // namespace cairn::cli
