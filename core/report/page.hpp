#pragma once
// The page around the report's sections: the HTML document, its inline style and script.

#include <string>

namespace cairn::report {

// A whole HTML document: `title` (escaped) as heading, `subtitle` (escaped) under it, then
// `body` (HTML). The inline script sorts the runs table (a header click, or the URL fragment
// `#sort=KEY` / `#sort=-KEY` with KEY a header's data-key such as `metrics.loss`), filters it
// (typing, or `#filter=TEXT`), hides a run's lines (its checkbox), shows run, step and value
// on hover, and writes any script error into the hidden element #js-errors; when it has run
// it sets data-js="ok" on <body>.
[[nodiscard]] std::string page(const std::string& title, const std::string& subtitle, const std::string& body);

} // namespace cairn::report
