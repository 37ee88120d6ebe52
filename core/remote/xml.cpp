#include "core/remote/xml.hpp"

#include "core/util/error.hpp"

namespace cairn::remote::xml {
namespace {

class Parser {
public:
    explicit Parser(std::string_view text) : m_text(text) {}

    std::unique_ptr<Element> document() {
        skip_misc();
        if (m_pos >= m_text.size() || m_text[m_pos] != '<') error("expected an element");
        auto root = element(1);
        skip_misc();
        if (m_pos != m_text.size()) error("text after the root element");
        return root;
    }

private:
    [[noreturn]] void error(const char* what) const { fail(ErrorKind::io, "malformed XML: {} at byte {}", what, m_pos); }

    bool starts(std::string_view token) const { return m_text.substr(m_pos, token.size()) == token; }

    void skip_until(std::string_view end, const char* what) {
        auto found = m_text.find(end, m_pos);
        if (found == std::string_view::npos) error(what);
        m_pos = found + end.size();
    }

    void skip_space() {
        while (m_pos < m_text.size() && (m_text[m_pos] == ' ' || m_text[m_pos] == '\t' || m_text[m_pos] == '\r' ||
                                         m_text[m_pos] == '\n')) {
            ++m_pos;
        }
    }

    // White space, comments, processing instructions (the XML declaration among them).
    void skip_misc() {
        for (;;) {
            skip_space();
            if (starts("<?")) {
                skip_until("?>", "unterminated processing instruction");
            } else if (starts("<!--")) {
                skip_until("-->", "unterminated comment");
            } else if (starts("<!")) {
                error("DTDs are not supported");
            } else {
                return;
            }
        }
    }

    static bool name_char(char c) {
        return c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '>' && c != '/' && c != '=' && c != '<' &&
               c != '"' && c != '\'';
    }

    std::string_view name() {
        auto start = m_pos;
        while (m_pos < m_text.size() && name_char(m_text[m_pos])) ++m_pos;
        if (m_pos == start) error("expected a name");
        return m_text.substr(start, m_pos - start);
    }

    std::string local(std::string_view qualified) const {
        auto colon = qualified.rfind(':');
        auto name = colon == std::string_view::npos ? qualified : qualified.substr(colon + 1);
        // A local name must be one that could stand alone: "<a:>" or "<a:?b>" are not elements.
        if (name.empty() || std::string_view("?!-.0123456789").find(name.front()) != std::string_view::npos) {
            error("bad element name");
        }
        return std::string(name);
    }

    static void append_utf8(std::string& out, unsigned long code) {
        if (code < 0x80) {
            out += static_cast<char>(code);
        } else if (code < 0x800) {
            out += static_cast<char>(0xc0 | (code >> 6));
            out += static_cast<char>(0x80 | (code & 0x3f));
        } else if (code < 0x10000) {
            out += static_cast<char>(0xe0 | (code >> 12));
            out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
            out += static_cast<char>(0x80 | (code & 0x3f));
        } else {
            out += static_cast<char>(0xf0 | (code >> 18));
            out += static_cast<char>(0x80 | ((code >> 12) & 0x3f));
            out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
            out += static_cast<char>(0x80 | (code & 0x3f));
        }
    }

    void entity(std::string& out) {
        auto semi = m_text.find(';', m_pos);
        if (semi == std::string_view::npos || semi - m_pos > 12) error("unterminated entity");
        auto body = m_text.substr(m_pos + 1, semi - m_pos - 1);
        if (body == "amp") out += '&';
        else if (body == "lt") out += '<';
        else if (body == "gt") out += '>';
        else if (body == "quot") out += '"';
        else if (body == "apos") out += '\'';
        else if (body.size() >= 2 && body[0] == '#') {
            bool hex = body[1] == 'x' || body[1] == 'X';
            auto digits = body.substr(hex ? 2 : 1);
            if (digits.empty()) error("empty character reference");
            unsigned long code = 0;
            for (char c : digits) {
                int value;
                if (c >= '0' && c <= '9') value = c - '0';
                else if (hex && c >= 'a' && c <= 'f') value = c - 'a' + 10;
                else if (hex && c >= 'A' && c <= 'F') value = c - 'A' + 10;
                else error("bad character reference");
                code = code * (hex ? 16 : 10) + static_cast<unsigned long>(value);
                if (code > 0x10ffff) error("character reference out of range");
            }
            if (code == 0 || (code >= 0xd800 && code <= 0xdfff)) error("character reference out of range");
            append_utf8(out, code);
        } else {
            error("unknown entity");
        }
        m_pos = semi + 1;
    }

    void skip_attributes() {
        for (;;) {
            skip_space();
            if (m_pos >= m_text.size()) error("unterminated start tag");
            char c = m_text[m_pos];
            if (c == '>' || c == '/') return;
            (void)name();
            skip_space();
            if (m_pos >= m_text.size() || m_text[m_pos] != '=') error("expected '=' in an attribute");
            ++m_pos;
            skip_space();
            if (m_pos >= m_text.size() || (m_text[m_pos] != '"' && m_text[m_pos] != '\'')) error("expected a quoted value");
            char quote = m_text[m_pos++];
            auto end = m_text.find(quote, m_pos);
            if (end == std::string_view::npos) error("unterminated attribute value");
            m_pos = end + 1;
        }
    }

    std::unique_ptr<Element> element(int depth) {
        if (depth > k_max_depth) error("elements nested too deeply");
        ++m_pos; // '<'
        auto qualified = name();
        auto result = std::make_unique<Element>();
        result->name = local(qualified);
        skip_attributes();
        if (m_text[m_pos] == '/') {
            ++m_pos;
            if (m_pos >= m_text.size() || m_text[m_pos] != '>') error("expected '>'");
            ++m_pos;
            return result;
        }
        ++m_pos; // '>'
        for (;;) {
            if (m_pos >= m_text.size()) error("unterminated element");
            char c = m_text[m_pos];
            if (c == '&') {
                entity(result->text);
            } else if (c != '<') {
                result->text += c;
                ++m_pos;
            } else if (starts("</")) {
                m_pos += 2;
                auto closing = name();
                if (closing != qualified) error("mismatched end tag");
                skip_space();
                if (m_pos >= m_text.size() || m_text[m_pos] != '>') error("expected '>'");
                ++m_pos;
                return result;
            } else if (starts("<!--")) {
                skip_until("-->", "unterminated comment");
            } else if (starts("<![CDATA[")) {
                auto start = m_pos + 9;
                auto end = m_text.find("]]>", start);
                if (end == std::string_view::npos) error("unterminated CDATA");
                result->text.append(m_text.substr(start, end - start));
                m_pos = end + 3;
            } else if (starts("<?")) {
                skip_until("?>", "unterminated processing instruction");
            } else if (starts("<!")) {
                error("unexpected declaration");
            } else {
                result->children.push_back(element(depth + 1));
            }
        }
    }

    std::string_view m_text;
    std::size_t m_pos = 0;
};

} // namespace

const Element* Element::child(std::string_view wanted) const {
    for (const auto& c : children) {
        if (c->name == wanted) return c.get();
    }
    return nullptr;
}

std::string Element::child_text(std::string_view wanted) const {
    const Element* c = child(wanted);
    return c == nullptr ? std::string() : c->text;
}

std::unique_ptr<Element> parse(std::string_view document) { return Parser(document).document(); }

std::string escape(std::string_view text) {
    std::string out;
    for (char c : text) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&apos;"; break;
        default: out += c;
        }
    }
    return out;
}

} // namespace cairn::remote::xml
