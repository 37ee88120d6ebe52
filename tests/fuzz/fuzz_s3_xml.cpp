// S3 response documents (core/remote/xml): xml::parse on any bytes, and the round trip: a
// parsed tree written back (names, escaped text, children) parses to the same tree.

#include "core/remote/xml.hpp"
#include "tests/fuzz/fuzz.hpp"

namespace {

namespace xml = cairn::remote::xml;

// Text first, then the children: the parser concatenates an element's character data, so the
// order of text and children within one element is not kept.
std::string write(const xml::Element& e) {
    std::string out = "<" + e.name + ">" + xml::escape(e.text);
    for (const auto& c : e.children) out += write(*c);
    return out + "</" + e.name + ">";
}

bool same(const xml::Element& a, const xml::Element& b) {
    if (a.name != b.name || a.text != b.text || a.children.size() != b.children.size()) return false;
    for (std::size_t i = 0; i < a.children.size(); ++i) {
        if (!same(*a.children[i], *b.children[i])) return false;
    }
    return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string input = cairn::fuzz::bytes(data, size);
    cairn::fuzz::run_one("s3_xml", [&] {
        auto doc = xml::parse(input);
        std::string written = write(*doc);
        std::unique_ptr<xml::Element> again;
        try {
            again = xml::parse(written);
        } catch (const cairn::Error& e) {
            cairn::fuzz::property_failed("s3_xml", std::string("a written tree does not parse: ") + e.what(), written);
        }
        if (!same(*doc, *again)) cairn::fuzz::property_failed("s3_xml", "parse(write(t)) != t", written, write(*again));
    });
    return 0;
}
