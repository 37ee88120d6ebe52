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
