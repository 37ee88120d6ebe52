#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>

#include <catch2/catch.hpp>

#include "core/util/parallel.hpp"
#include "core/util/sort.hpp"
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

TEST_CASE("sort_doubles orders as std::sort, negatives, zeros, subnormals and infinities too", "[util]") {
    std::mt19937_64 rng(7);
    for (std::size_t n : {0u, 1u, 100u, 4095u, 4096u, 50000u}) {
        std::vector<double> v(n);
        std::normal_distribution<double> normal(0, 1e3);
        for (auto& x : v) x = normal(rng);
        const double specials[] = {0.0, -0.0, std::numeric_limits<double>::denorm_min(), -std::numeric_limits<double>::denorm_min(),
                                   std::numeric_limits<double>::max(), std::numeric_limits<double>::lowest(),
                                   std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(), 1.0, 1.0};
        for (std::size_t i = 0; i < std::min<std::size_t>(n, 10); ++i) v[i * (n / 10 + 1) % n] = specials[i];
        std::vector<double> expected = v;
        std::sort(expected.begin(), expected.end());
        util::sort_doubles(v);
        REQUIRE(v.size() == expected.size());
        for (std::size_t i = 0; i < v.size(); ++i) {
            INFO("n " << n << " at " << i);
            REQUIRE(v[i] == expected[i]); // -0.0 == 0.0: where they are among each other is not checked here
        }
        // -0.0 before 0.0, as their keys order them (std::sort, below 4096 values, keeps either order).
        if (n >= 4096)
            for (std::size_t i = 1; i < v.size(); ++i)
                if (v[i] == 0 && v[i - 1] == 0) CHECK_FALSE((std::signbit(v[i]) && !std::signbit(v[i - 1])));
    }
    // Every value the same in the low digits (integers), and one distinct pattern per pass.
    std::vector<double> ints(10000);
    for (std::size_t i = 0; i < ints.size(); ++i) ints[i] = static_cast<double>((i * 7919) % 1000) - 500;
    std::vector<double> expected = ints;
    std::sort(expected.begin(), expected.end());
    util::sort_doubles(ints);
    CHECK(ints == expected);
}
