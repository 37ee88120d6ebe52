#include <catch2/catch.hpp>

#include <map>

#include "core/remote/directory.hpp"
#include "core/util/error.hpp"
#include "tests/support/temp_dir.hpp"

using namespace cairn;
using namespace cairn::remote;

TEST_CASE("directory backend puts, lists, gets and removes objects", "[remote][directory]") {
    test::TempDir dir;
    auto backend = open_directory(dir / "remote", "team");
    test::write_text(dir / "a.bin", "hello");
    test::write_text(dir / "b.bin", "hi");
    CHECK_FALSE(backend->stat("sha256/ab/cd").has_value());
    backend->put("sha256/ab/cdef", dir / "a.bin");
    backend->put("sha256/ff/0011", dir / "b.bin");
    CHECK(backend->stat("sha256/ab/cdef") == std::optional<std::uint64_t>(5));
    // A leftover temp of a killed upload is never listed as an object.
    test::write_text(dir / "remote/sha256/ab/cdef.cairn-tmp.1-abcdef01-000000000000", "partial");
    std::map<std::string, std::uint64_t> listed;
    backend->list("sha256/", [&](std::string_view key, std::uint64_t size) { listed[std::string(key)] = size; });
    CHECK(listed == std::map<std::string, std::uint64_t>{{"sha256/ab/cdef", 5}, {"sha256/ff/0011", 2}});
    listed.clear();
    backend->list("sha256/ab", [&](std::string_view key, std::uint64_t size) { listed[std::string(key)] = size; });
    CHECK(listed.size() == 1);
    backend->get("sha256/ab/cdef", dir / "out.bin");
    CHECK(test::read_text(dir / "out.bin") == "hello");
    CHECK_THROWS_WITH(backend->get("sha256/00/00", dir / "out2.bin"), Catch::Contains("sha256/00/00") && Catch::Contains("missing"));
    backend->remove("sha256/ab/cdef");
    backend->remove("sha256/ab/cdef");
    CHECK_FALSE(backend->stat("sha256/ab/cdef").has_value());
    // The first bytes of an object, with one read; fewer when it is shorter.
    CHECK(backend->read_head("sha256/ff/0011", 11) == "hi");
    backend->put("sha256/ab/cdef", dir / "a.bin");
    CHECK(backend->read_head("sha256/ab/cdef", 3) == "hel");
    CHECK_THROWS_WITH(backend->read_head("sha256/00/00", 3), Catch::Contains("missing"));
    // A remote directory that does not exist is an error when read (an unmounted share must not
    // look empty); push creates it first, when its parent exists.
    auto absent = open_directory(dir / "nothing", "none");
    int n = 0;
    try {
        absent->list("sha256/", [&](std::string_view, std::uint64_t) { ++n; });
        FAIL("listed a remote that does not exist");
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::environment);
        CHECK_THAT(e.what(), Catch::Contains("does not exist") && Catch::Contains("nothing"));
    }
    absent->create_root();
    absent->create_root();
    absent->list("sha256/", [&](std::string_view, std::uint64_t) { ++n; });
    CHECK(n == 0);
    auto unmounted = open_directory(dir / "mnt" / "share" / "cairn", "share");
    CHECK_THROWS_WITH(unmounted->create_root(), Catch::Contains("mounted"));
    CHECK_FALSE(std::filesystem::exists(dir / "mnt"));
}

TEST_CASE("directory backend refuses keys that leave the remote", "[remote][directory]") {
    test::TempDir dir;
    auto backend = open_directory(dir / "remote", "team");
    test::write_text(dir / "a.bin", "x");
    for (std::string key : {"../x", "/etc/passwd", "sha256/../../x", "sha256//x", "./x", ""}) {
        CHECK_THROWS_AS(backend->put(key, dir / "a.bin"), Error);
        CHECK_THROWS_AS(backend->get(key, dir / "o.bin"), Error);
        CHECK_THROWS_AS(backend->remove(key), Error);
    }
    CHECK_FALSE(std::filesystem::exists(dir / "x"));
}

TEST_CASE("directory backend batch: nothing under a final name before commit, all of it after", "[remote][directory]") {
    test::TempDir dir;
    auto backend = open_directory(dir / "remote", "team");
    test::write_text(dir / "a.bin", "alpha");
    test::write_text(dir / "b.bin", std::string(3 << 20, 'b')); // several write-back chunks
    auto count_listed = [&] {
        int n = 0;
        backend->list("sha256/", [&](std::string_view, std::uint64_t) { ++n; });
        return n;
    };
    auto count_temps = [&] {
        int n = 0;
        if (!std::filesystem::exists(dir / "remote")) return 0;
        for (const auto& e : std::filesystem::recursive_directory_iterator(dir / "remote"))
            if (e.is_regular_file() && e.path().filename().string().find(".cairn-tmp.") != std::string::npos) ++n;
        return n;
    };
    {
        auto batch = backend->begin_puts();
        REQUIRE(batch);
        batch->stage("sha256/aa/0001", dir / "a.bin");
        batch->stage("sha256/bb/0002", dir / "b.bin");
        // Staged bytes are temps: no final name, nothing listed.
        CHECK_FALSE(backend->stat("sha256/aa/0001").has_value());
        CHECK_FALSE(backend->stat("sha256/bb/0002").has_value());
        CHECK(count_listed() == 0);
        CHECK(count_temps() == 2);
        CHECK(batch->commit().empty());
        CHECK(count_temps() == 0);
        CHECK(backend->stat("sha256/aa/0001") == std::optional<std::uint64_t>(5));
        CHECK(backend->stat("sha256/bb/0002") == std::optional<std::uint64_t>(3u << 20));
        std::uint64_t size = 0;
        auto digest = backend->get_hashed("sha256/bb/0002", dir / "out.bin", &size);
        CHECK(test::read_text(dir / "out.bin") == test::read_text(dir / "b.bin"));
        CHECK(size == (3u << 20));
        CHECK(digest == hash::hash_file(dir / "b.bin"));
        CHECK_THROWS_WITH(backend->get_hashed("sha256/00/none", dir / "o.bin", &size), Catch::Contains("missing"));
    }
    // A batch dropped without a commit (an error, Ctrl-C) leaves neither temps nor objects.
    {
        auto batch = backend->begin_puts();
        batch->stage("sha256/cc/0003", dir / "a.bin");
        CHECK(count_temps() == 1);
    }
    CHECK(count_temps() == 0);
    CHECK_FALSE(backend->stat("sha256/cc/0003").has_value());
    // A rename that fails is reported by key; the other objects of the batch are placed.
    std::filesystem::create_directories(dir / "remote/sha256/dd/0004/occupied");
    {
        auto batch = backend->begin_puts();
        batch->stage("sha256/dd/0004", dir / "a.bin");
        batch->stage("sha256/dd/0005", dir / "a.bin");
        auto failed = batch->commit();
        REQUIRE(failed.size() == 1);
        CHECK(failed[0].first == "sha256/dd/0004");
        CHECK_THAT(failed[0].second, Catch::Contains("team") && Catch::Contains("sha256/dd/0004"));
        CHECK(backend->stat("sha256/dd/0005") == std::optional<std::uint64_t>(5));
    }
    CHECK(count_temps() == 0);
    CHECK_THROWS_AS(backend->begin_puts()->stage("../x", dir / "a.bin"), Error);
}
