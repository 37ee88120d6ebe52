#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "core/state/state.hpp"
#include "tests/support/temp_dir.hpp"

using namespace cairn;

namespace {

struct stat stat_with(std::int64_t mtime_s, std::uint64_t size = 10, std::uint64_t inode = 42) {
    struct stat st {};
    st.st_dev = 1;
    st.st_ino = inode;
    st.st_size = static_cast<off_t>(size);
    st.st_mtim.tv_sec = mtime_s;
    st.st_ctim.tv_sec = mtime_s;
    return st;
}

constexpr std::int64_t k_s = 1000000000;

} // namespace

TEST_CASE("stat cache hits only when every stat field matches", "[state]") {
    test::TempDir dir;
    state::StatCache cache(dir.path());
    auto digest = hash::hash_bytes("content");
    struct stat st = stat_with(1000);
    cache.record("data/f", state::make_entry(st, digest, 2000 * k_s));
    CHECK(cache.lookup("data/f", st) == digest);
    CHECK_FALSE(cache.lookup("data/g", st));
    CHECK_FALSE(cache.lookup("data/f", stat_with(1000, 11)));       // size
    CHECK_FALSE(cache.lookup("data/f", stat_with(1000, 10, 43)));   // inode
    struct stat newer = stat_with(1000);
    newer.st_mtim.tv_nsec = 1;
    CHECK_FALSE(cache.lookup("data/f", newer)); // mtime, to the nanosecond
    struct stat changed = stat_with(1000);
    changed.st_ctim.tv_sec = 1001;
    CHECK_FALSE(cache.lookup("data/f", changed)); // ctime
}

TEST_CASE("racily clean entries are not trusted", "[state]") {
    test::TempDir dir;
    state::StatCache cache(dir.path());
    auto digest = hash::hash_bytes("content");
    struct stat st = stat_with(1000);
    // Hashed in the same second the file was last modified: it may change again unseen.
    cache.record("f", state::make_entry(st, digest, 1000 * k_s + 500000000));
    CHECK_FALSE(cache.lookup("f", st));
    // Hashed a second later: safe.
    cache.record("f", state::make_entry(st, digest, 1001 * k_s));
    CHECK(cache.lookup("f", st) == digest);
}

TEST_CASE("state file round-trips and merges concurrent writers", "[state]") {
    test::TempDir dir;
    auto d1 = hash::hash_bytes("one");
    auto d2 = hash::hash_bytes("two");
    state::StatCache a(dir.path());
    state::StatCache b(dir.path()); // loaded before a saves
    a.record("path with spaces/and\ttab", state::make_entry(stat_with(5), d1, 100 * k_s));
    a.save();
    b.record("other", state::make_entry(stat_with(6), d2, 100 * k_s));
    b.save(); // must keep a's entry
    state::StatCache c(dir.path());
    CHECK(c.size() == 2);
    CHECK(c.lookup("path with spaces/and\ttab", stat_with(5)) == d1);
    CHECK(c.lookup("other", stat_with(6)) == d2);
}

TEST_CASE("a damaged state file is ignored, not fatal", "[state]") {
    test::TempDir dir;
    test::write_text(dir / "stat", "cairn-state 1\nthis is not a valid line\n");
    state::StatCache cache(dir.path());
    CHECK(cache.size() == 0);
    test::write_text(dir / "stat", "cairn-state 99\n");
    state::StatCache newer(dir.path());
    CHECK(newer.size() == 0);
    CHECK_FALSE(state::parse_state("garbage"));
}

TEST_CASE("state tables are sorted for lookup, even when the file is not", "[state]") {
    auto d = hash::hash_bytes("x");
    std::string line_b = "1 2 3 4 5 6 " + d.hex() + "\tb\n";
    std::string line_a = "1 2 3 4 5 6 " + d.hex() + "\ta\n";
    std::string line_a2 = "9 2 3 4 5 6 " + d.hex() + "\ta\n";
    auto table = state::parse_state("cairn-state 1\n" + line_b + line_a + line_a2);
    REQUIRE(table);
    REQUIRE(table->entries.size() == 2);
    CHECK(table->entries[0].first == "a");
    CHECK(table->find("a")->device == 9); // the last line for a path wins
    CHECK(table->find("b")->inode == 2);
    CHECK(table->find("c") == nullptr);
    CHECK(state::serialize_state(table->entries) == "cairn-state 1\n" + line_a2 + line_b);
}
