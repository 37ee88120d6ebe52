#pragma once
// A small XML reader for S3's responses (ListBucketResult, InitiateMultipartUploadResult,
// CompleteMultipartUploadResult, Error): elements, text, the five named entities and numeric
// character references, comments, CDATA, the XML declaration and processing instructions.
// Attributes are skipped and namespace prefixes dropped; no DTDs. A response is input from the
// network, so nothing in it is trusted: nesting is bounded and every malformed document is an
// error, never a crash.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::remote::xml {

struct Element {
    std::string name; // local name, without a namespace prefix
    std::string text; // the element's own character data, concatenated
    std::vector<std::unique_ptr<Element>> children;

    // The first child named `name`, or nullptr.
    [[nodiscard]] const Element* child(std::string_view name) const;
    // The text of the first child named `name`, or "" when there is none.
    [[nodiscard]] std::string child_text(std::string_view name) const;
};

inline constexpr int k_max_depth = 64;

// Parses a whole document and returns its root element. Throws Error(io) "malformed XML: <what>
// at byte N" (the caller names the request) for anything that is not one well-formed element,
// and for nesting deeper than k_max_depth.
[[nodiscard]] std::unique_ptr<Element> parse(std::string_view document);

// Escapes text for an element's content (&, <, >, and quotes).
[[nodiscard]] std::string escape(std::string_view text);

} // namespace cairn::remote::xml
