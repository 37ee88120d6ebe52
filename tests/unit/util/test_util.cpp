#include <atomic>
#include <stdexcept>

#include <catch2/catch.hpp>

#include "core/util/parallel.hpp"
#include "core/util/strings.hpp"

using namespace cairn;

TEST_CASE("parallel_for visits every index once and rethrows the first error", "[util]") {
    std::vector<std::atomic<int>> hits(1000);
    util::parallel_for(hits.size(), [&](std::size_t i) { ++hits[i]; }, 4);
    for (const auto& h : hits) CHECK(h == 1);
    CHECK_THROWS_WITH(util::parallel_for(100, [](std::size_t i) {
        if (i == 37) throw std::runtime_error("boom 37");
    }, 3),
                      "boom 37");
    util::parallel_for(0, [](std::size_t) { FAIL("called for an empty range"); });
}

TEST_CASE("human sizes and string helpers", "[util]") {
    CHECK(util::human_size(0) == "0 B");
    CHECK(util::human_size(1023) == "1023 B");
    CHECK(util::human_size(1536) == "1.5 KiB");
    CHECK(util::human_size(3ull << 30) == "3.0 GiB");
    CHECK(util::split("a,,b", ',') == std::vector<std::string>{"a", "", "b"});
    CHECK(util::trim("  x \n") == "x");
    CHECK(util::ends_with("data.cairn", ".cairn"));
    CHECK_FALSE(util::ends_with("cairn", ".cairn"));
}

TEST_CASE("UTF-8 validity follows RFC 3629", "[util]") {
    using cairn::util::is_utf8;
    CHECK(is_utf8("plain"));
    CHECK(is_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"));
    for (const char* bad : {"\xff", "\xc3", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf0\x80\x80\xaf",
                            "\xf4\x90\x80\x80", "\xf6\x96\x9b\xbc", "\x80"})
        CHECK_FALSE(is_utf8(bad));
}
