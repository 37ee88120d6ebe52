// Column profiles: type inference, counts, statistics, quantiles, categories, and the JSON form.
#include <cmath>
#include <cstdlib>
#include <utility>
#include <numeric>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "core/table/profile.hpp"
#include "core/util/error.hpp"

using namespace cairn;
using table::Format;
using table::Kind;

namespace {

const table::ColumnProfile& col(const table::Profile& p, const std::string& name) {
    const auto* c = p.column(name);
    REQUIRE(c);
    return *c;
}

std::string csv_of(const std::string& name, const std::vector<std::string>& cells) {
    std::string out = name + "\n";
    for (const auto& c : cells) out += c + "\n";
    return out;
}

} // namespace

TEST_CASE("profile: numeric, categorical and constant columns with their counts", "[table]") {
    auto p = table::profile_table("x,s,k,e,m\n1,a,7,,3\n2.5,b,7,NA,x\nnan,a,7,,4\ninf,NA,7,None,\n-inf,c,,null,5\n", Format::csv,
                                  "t.csv", "sha256:" + std::string(64, 'a'));
    CHECK(p.rows == 5);
    CHECK(p.object == "sha256:" + std::string(64, 'a'));
    const auto& x = col(p, "x");
    CHECK(x.kind == Kind::numeric);
    CHECK(x.numeric);
    CHECK(x.rows == 5);
    CHECK(x.missing == 0);
    CHECK((x.nan == 1 && x.posinf == 1 && x.neginf == 1));
    CHECK((x.integers == 1 && x.decimals == 4));
    CHECK(x.distinct == 5);
    REQUIRE(x.summary);
    CHECK(x.summary->count == 2);
    CHECK(x.summary->min == 1);
    CHECK(x.summary->max == 2.5);
    CHECK(x.summary->mean == 1.75);
    CHECK(*x.summary->std == Approx(std::sqrt(1.125)).epsilon(1e-15));
    CHECK(x.summary->sorted == std::vector<double>{1, 2.5});

    const auto& s = col(p, "s");
    CHECK(s.kind == Kind::categorical);
    CHECK_FALSE(s.numeric);
    CHECK((s.missing == 1 && s.strings == 4 && s.distinct == 3));
    REQUIRE(s.categories);
    CHECK(s.categories->top == std::vector<std::pair<std::string, std::uint64_t>>{{"a", 2}, {"b", 1}, {"c", 1}});
    CHECK(s.categories->other == 0);
    CHECK_FALSE(s.summary);

    const auto& k = col(p, "k");
    CHECK(k.kind == Kind::constant);
    CHECK(k.numeric);
    CHECK((k.missing == 1 && k.distinct == 1 && k.summary->count == 4 && *k.summary->std == 0));

    const auto& e = col(p, "e"); // only missing values: a numeric type with nothing to summarise
    CHECK(e.kind == Kind::constant);
    CHECK(e.numeric);
    CHECK((e.missing == 5 && e.distinct == 0));
    CHECK_FALSE(e.summary);

    // Numbers before the first string become categories too.
    const auto& m = col(p, "m");
    CHECK(m.kind == Kind::categorical);
    CHECK((m.integers == 3 && m.strings == 1 && m.missing == 1));
    CHECK(m.categories->top == std::vector<std::pair<std::string, std::uint64_t>>{{"3", 1}, {"4", 1}, {"5", 1}, {"x", 1}});
}

TEST_CASE("profile: JSON Lines types, keys appearing late, numbers turned categories", "[table]") {
    auto p = table::profile_table("{\"a\": 1, \"b\": true}\n{\"a\": 2.5, \"c\": [1]}\n{\"a\": \"x\", \"b\": false, \"c\": {\"k\": 1}}\n"
                                  "{\"a\": \"3\", \"b\": null}\n",
                                  Format::jsonl, "t.jsonl");
    CHECK(p.rows == 4);
    const auto& a = col(p, "a");
    CHECK(a.kind == Kind::categorical);
    CHECK((a.integers == 2 && a.decimals == 1 && a.strings == 1));
    CHECK(a.categories->top == std::vector<std::pair<std::string, std::uint64_t>>{{"1", 1}, {"2.5", 1}, {"3", 1}, {"x", 1}});
    const auto& b = col(p, "b");
    CHECK(b.kind == Kind::categorical);
    CHECK((b.booleans == 2 && b.missing == 2));
    const auto& c = col(p, "c");
    CHECK((c.missing == 2 && c.nested == 2));
    CHECK(c.categories->top == std::vector<std::pair<std::string, std::uint64_t>>{{"[1]", 1}, {"{\"k\":1}", 1}});
}

TEST_CASE("profile: quantiles follow numpy's linear method, deciles", "[table]") {
    std::vector<std::string> cells;
    for (int i = 10; i >= 1; --i) cells.push_back(std::to_string(i));
    auto p = table::profile_table(csv_of("v", cells), Format::csv, "t.csv");
    const auto& n = *col(p, "v").summary;
    CHECK(n.sorted.size() == 10);
    CHECK(n.quantile(0.25) == 3.25);
    CHECK(n.quantile(0.5) == 5.5);
    CHECK(n.quantile(1) == 10);
    CHECK(n.edges[1] == Approx(1.9));
    CHECK(n.edges[10] == 10);
    for (auto count : n.bin_counts) CHECK(count == 1);

    // Above 1000 values: the 1001 quantiles, exact at p = i/1000.
    cells.clear();
    for (int i = 2000; i >= 0; --i) cells.push_back(std::to_string(i));
    p = table::profile_table(csv_of("v", cells), Format::csv, "t.csv");
    const auto& q = *col(p, "v").summary;
    CHECK(q.sorted.empty());
    REQUIRE(q.quantiles.size() == 1001);
    for (std::size_t i = 0; i <= 1000; ++i) CHECK(q.quantiles[i] == 2.0 * static_cast<double>(i));
    CHECK(q.quantile(0.0005) == 1.0);
    CHECK(q.mean == 1000);
    CHECK(q.bin_counts == std::array<std::uint64_t, 10>{200, 200, 200, 200, 200, 200, 200, 200, 200, 201});

    // Ties: bins between equal edges are empty.
    p = table::profile_table(csv_of("v", {"0", "0", "0", "0", "0", "0", "0", "0", "1", "2"}), Format::csv, "t.csv");
    const auto& t = *col(p, "v").summary;
    CHECK(std::accumulate(t.bin_counts.begin(), t.bin_counts.end(), std::uint64_t{0}) == 10);
    CHECK(t.bin_counts[0] == 0);
    CHECK(t.bin_counts[7] == 8);
}

TEST_CASE("profile: mean and std stay exact with a large offset", "[table]") {
    // Values 1e9 + {0.1, 0.2, ...}: a naive sum of squares loses every digit here.
    std::vector<std::string> cells;
    long double sum = 0;
    std::vector<double> xs;
    for (int i = 0; i < 5000; ++i) {
        double x = 1e9 + 0.001 * (i % 97);
        xs.push_back(x);
        sum += x;
        cells.push_back(fmt::format("{}", x));
    }
    long double mean = sum / xs.size(), ss = 0;
    for (double x : xs) ss += (x - mean) * (x - mean);
    auto p = table::profile_table(csv_of("v", cells), Format::csv, "t.csv");
    const auto& n = *col(p, "v").summary;
    CHECK(n.mean == Approx(static_cast<double>(mean)).epsilon(1e-15));
    CHECK(*n.std == Approx(static_cast<double>(std::sqrt(ss / (xs.size() - 1)))).epsilon(1e-9));
}

TEST_CASE("profile: top 256 categories by count, then value, the rest as other", "[table]") {
    std::vector<std::string> cells;
    for (int i = 0; i < 300; ++i)
        for (int k = 0; k <= i % 3; ++k) cells.push_back(fmt::format("c{:03}", i));
    auto p = table::profile_table(csv_of("v", cells), Format::csv, "t.csv");
    const auto& c = col(p, "v");
    CHECK(c.distinct == 300);
    REQUIRE(c.categories->top.size() == 256);
    CHECK(c.categories->top[0] == std::pair<std::string, std::uint64_t>{"c002", 3});
    CHECK(c.categories->top[99] == std::pair<std::string, std::uint64_t>{"c299", 3});
    CHECK(c.categories->top[100] == std::pair<std::string, std::uint64_t>{"c001", 2});
    std::uint64_t kept = 0;
    for (const auto& t : c.categories->top) kept += t.second;
    CHECK(kept + c.categories->other == cells.size());
    CHECK(c.categories->other == 44);
}

TEST_CASE("profile JSON: round trip, schema, strict reading", "[table]") {
    std::string csv = "x,s,e\n";
    for (int i = 0; i < 1500; ++i) csv += fmt::format("{},{},{}\n", 0.1 * i - 3, i % 7 ? "a" : "b\"q", i % 2 ? "" : "1");
    auto p = table::profile_table(csv, Format::csv, "t.csv", "sha256:" + std::string(64, 'b'));
    std::string json = table::to_json(p);
    CHECK(json.find("\"schema\": \"cairn-profile/1\"") != std::string::npos);
    auto back = table::parse_profile(json, "p.json");
    CHECK(table::to_json(back) == json);
    CHECK(back.columns.size() == 3);
    CHECK(back.columns[0].summary->quantiles == p.columns[0].summary->quantiles);
    CHECK(back.columns[0].summary->mean == p.columns[0].summary->mean);
    CHECK(back.columns[1].categories->top == p.columns[1].categories->top);

    auto refuse = [&](const std::string& from, const std::string& to) {
        std::string bad = json;
        auto at = bad.find(from);
        REQUIRE(at != std::string::npos);
        bad.replace(at, from.size(), to);
        try {
            (void)table::parse_profile(bad, "p.json");
        } catch (const Error& e) {
            CHECK(e.kind() == ErrorKind::input);
            return std::string(e.what());
        }
        return std::string("no error");
    };
    CHECK(refuse("cairn-profile/1", "cairn-profile/2") == "p.json: profile schema 'cairn-profile/2' is not supported (a newer cairn wrote it?)");
    CHECK(refuse("\"rows\": 1500,\n \"columns\"", "\"rows\": 1501,\n \"columns\"").rfind("p.json: columns[0].counts: ", 0) == 0);
    CHECK(refuse("\"kind\": \"numeric\"", "\"kind\": \"categorical\"") ==
          "p.json: columns[0].kind: 'categorical' does not fit the column's type and distinct values");
    CHECK(refuse("\"format\": \"csv\"", "\"format\": \"xls\"") == "p.json: format: unknown format 'xls'");
    CHECK(refuse("\"missing\": 0", "\"missing\": -1") == "p.json: columns[0].counts.missing: expected a non-negative integer");
    CHECK(refuse("\"other\": 0", "\"other\": 1") == "p.json: columns[1].categorical: counts add up to 1501, not the 1500 values");
    CHECK(refuse("\"std\": ", "\"sd\": ") == "p.json: columns[0].numeric.std: missing");
    CHECK(refuse("{", "[").rfind("p.json: invalid JSON", 0) == 0);
}

TEST_CASE("profile: malformed tables are reader errors", "[table]") {
    CHECK_THROWS_WITH(table::profile_table("a,b\n1\n", Format::csv, "d.csv"), "d.csv:2: expected 2 fields, found 1");
}

TEST_CASE("profile: values near the ends of the double range stay finite", "[table]") {
    auto p = table::profile_table(csv_of("v", {"1.7e308", "-1.7e308", "1e308", "1.6e308"}), Format::csv, "t.csv");
    const auto& n = *col(p, "v").summary;
    CHECK(std::isfinite(n.mean));
    CHECK(n.mean == Approx(0.65e308));
    CHECK(n.std.has_value());
    for (double e : n.edges) CHECK(std::isfinite(e));
    CHECK(n.quantile(0.5) == Approx(1.3e308));
    // A deviation beyond the double range: std is unknown, written as null, read back.
    p = table::profile_table(csv_of("v", {"1.7e308", "-1.7e308"}), Format::csv, "t.csv");
    CHECK_FALSE(col(p, "v").summary->std.has_value());
    CHECK(col(p, "v").summary->mean == 0);
    CHECK(table::to_json(table::parse_profile(table::to_json(p), "p")) == table::to_json(p));
}

namespace {

// The profile of `csv` read on one thread and in pieces on `jobs` threads (CAIRN_JOBS), as JSON.
std::pair<std::string, std::string> sequential_and_parallel(const std::string& csv, unsigned jobs) {
    auto with_jobs = [&](const char* value) {
        ::setenv("CAIRN_JOBS", value, 1);
        std::string json = table::to_json(table::profile_table(csv, Format::csv, "big.csv"));
        ::unsetenv("CAIRN_JOBS");
        return json;
    };
    std::string many = std::to_string(jobs);
    return {with_jobs("1"), with_jobs(many.c_str())};
}

std::string error_of(const std::string& csv, const char* jobs) {
    ::setenv("CAIRN_JOBS", jobs, 1);
    std::string message;
    try {
        (void)table::profile_table(csv, Format::csv, "big.csv");
    } catch (const Error& e) {
        message = e.what();
    }
    ::unsetenv("CAIRN_JOBS");
    return message;
}

} // namespace

TEST_CASE("profile: a large CSV read in pieces on several threads gives the one-thread profile", "[table]") {
    // Over 4 MiB, so that it is read in pieces: columns that turn categorical in a late piece or
    // an early one, quoted fields, missing cells, integers and decimals.
    const std::size_t rows = 150000;
    std::string csv = "x,late,early,q,n,blank\n";
    for (std::size_t i = 0; i < rows; ++i) {
        csv += fmt::format("{},{},{},{},{},{}\n", static_cast<double>(i % 997) / 7.0 - 50,
                           i == rows - 5 ? std::string("oops") : std::to_string(i % 13),
                           i == 2 ? std::string("word") : std::to_string(i % 101),
                           i % 3 == 0 ? std::string("\"a, b\"") : std::string("c"), i, i % 5 == 0 ? "" : "1.5");
    }
    REQUIRE(csv.size() > (4u << 20));
    for (unsigned jobs : {2u, 3u, 7u}) {
        auto [one, many] = sequential_and_parallel(csv, jobs);
        INFO("jobs " << jobs);
        CHECK(one == many);
    }
    table::Profile p = table::profile_table(csv, Format::csv, "big.csv");
    CHECK(p.rows == rows);
    CHECK(col(p, "late").kind == Kind::categorical);
    CHECK(col(p, "late").distinct == 14);
    CHECK(col(p, "early").kind == Kind::categorical);
    CHECK(col(p, "x").kind == Kind::numeric);
    CHECK(col(p, "blank").missing == rows / 5);

    // A quoted field holding line breaks where the table would be cut: the pieces do not start
    // at rows, which is noticed, and the one-thread reading is used.
    std::string quoted = "a,b\n";
    const std::string cell = "\"" + std::string(600, 'x') + "\n" + std::string(600, 'y') + "\n1,2\"";
    while (quoted.size() < (5u << 20)) quoted += fmt::format("{},{}\n", quoted.size() % 17, cell);
    auto [one, many] = sequential_and_parallel(quoted, 2);
    CHECK(one == many);
    CHECK(table::profile_table(quoted, Format::csv, "q.csv").column("b")->distinct == 1);

    // Errors name the line the one-thread reading names, wherever the piece.
    std::string ragged = csv;
    std::size_t at = ragged.rfind('\n', ragged.size() - 2000);
    ragged.insert(at, ",extra");
    const std::string expected = error_of(ragged, "1");
    CHECK_THAT(expected, Catch::Matches("big\\.csv:[0-9]+: expected 6 fields, found 7"));
    CHECK(error_of(ragged, "2") == expected);
    CHECK(error_of(ragged, "5") == expected);
}
