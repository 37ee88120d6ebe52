#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "core/cache/cache.hpp"
#include "core/fs/file.hpp"
#include "core/util/error.hpp"
#include "tests/support/temp_dir.hpp"

using namespace cairn;

namespace {

struct Store {
    test::TempDir dir;
    cache::Cache cache{dir / "cache", dir / "tmp"};
    Store() {
        std::filesystem::create_directories(dir / "cache/sha256");
        std::filesystem::create_directories(dir / "tmp");
    }
    cache::Cache::PutResult put_file(const std::string& content, cache::ObjectBatch* batch = nullptr) {
        test::write_text(dir / "src", content);
        fs::Fd fd = fs::open_read(dir / "src");
        return cache.put_fd(fd.get(), "src", batch, false);
    }
};

std::string pattern(std::size_t size) {
    std::string s(size, '\0');
    for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>((i * 7919) >> 3);
    return s;
}

} // namespace

TEST_CASE("put stores read-only objects named by their hash", "[cache]") {
    Store s;
    for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{4096}, std::size_t{(1 << 20) + 1},
                             std::size_t{40u << 20}}) {
        std::string content = pattern(size);
        auto put = s.put_file(content);
        CHECK(put.digest == hash::hash_bytes(content));
        CHECK(put.size == size);
        CHECK(put.added);
        auto path = s.cache.object_path(put.digest);
        CHECK(path == s.dir / "cache/sha256" / put.digest.hex().substr(0, 2) / put.digest.hex().substr(2));
        CHECK(test::read_text(path) == content);
        struct stat st {};
        REQUIRE(::stat(path.c_str(), &st) == 0);
        CHECK((st.st_mode & 0777) == 0444);
        CHECK(s.cache.has(put.digest));
        CHECK(s.cache.verify(put.digest) == cache::ObjectState::ok);
        // Idempotent: a second put finds the object.
        CHECK_FALSE(s.put_file(content).added);
    }
    CHECK(std::filesystem::is_empty(s.dir / "tmp"));
}

TEST_CASE("a batch renames objects into place only on commit", "[cache]") {
    Store s;
    cache::Cache::PutResult put;
    {
        cache::ObjectBatch batch;
        put = s.put_file("batched", &batch);
        CHECK(put.added);
        CHECK_FALSE(s.cache.has(put.digest));
        CHECK(batch.size() == 1);
        // Destroyed without commit: the temp is removed, nothing is published.
    }
    CHECK_FALSE(s.cache.has(put.digest));
    CHECK(std::filesystem::is_empty(s.dir / "tmp"));
    cache::ObjectBatch batch;
    put = s.put_file("batched", &batch);
    batch.commit(s.dir / "tmp");
    CHECK(s.cache.has(put.digest));
    CHECK(std::filesystem::is_empty(s.dir / "tmp"));
}

TEST_CASE("corrupt objects are detected and never materialised", "[cache]") {
    Store s;
    auto put = s.cache.put_bytes("good bytes", nullptr);
    auto path = s.cache.object_path(put.digest);
    ::chmod(path.c_str(), 0644);
    test::write_text(path, "evil bytes");
    CHECK(s.cache.verify(put.digest) == cache::ObjectState::corrupt);
    CHECK(s.cache.verify(hash::hash_bytes("absent")) == cache::ObjectState::missing);
    CHECK_THROWS_AS(s.cache.read_verified(put.digest), Error);
    for (auto type : {fs::LinkType::copy, fs::LinkType::hardlink, fs::LinkType::symlink}) {
        auto target = s.dir / "out.txt";
        try {
            (void)s.cache.materialize(put.digest, target, {type}, false);
            FAIL("corrupt object was materialised");
        } catch (const Error& e) {
            CHECK(e.kind() == ErrorKind::integrity);
        }
        CHECK_FALSE(std::filesystem::exists(std::filesystem::symlink_status(target)));
    }
    // No temp files left next to the target either.
    for (const auto& e : std::filesystem::directory_iterator(s.dir.path()))
        CHECK(e.path().filename().string().find(".cairn-tmp.") == std::string::npos);
}

TEST_CASE("materialize copies, hard links or symlinks a verified object", "[cache]") {
    Store s;
    auto put = s.cache.put_bytes("payload", nullptr);
    auto copy = s.dir / "copy.txt";
    CHECK(s.cache.materialize(put.digest, copy, {fs::LinkType::copy}, true) == fs::LinkType::copy);
    CHECK(test::read_text(copy) == "payload");
    struct stat st {};
    REQUIRE(::stat(copy.c_str(), &st) == 0);
    CHECK((st.st_mode & 0111) != 0); // executable asked for
    auto hard = s.dir / "hard.txt";
    // reflink is unsupported on most test filesystems; the next type in the list is used.
    auto used = s.cache.materialize(put.digest, hard, {fs::LinkType::reflink, fs::LinkType::hardlink}, false);
    CHECK((used == fs::LinkType::hardlink || used == fs::LinkType::reflink));
    CHECK(test::read_text(hard) == "payload");
    auto sym = s.dir / "sym.txt";
    CHECK(s.cache.materialize(put.digest, sym, {fs::LinkType::symlink}, false) == fs::LinkType::symlink);
    CHECK(std::filesystem::read_symlink(sym) == s.cache.object_path(put.digest));
    // Replacing an existing file is atomic (rename over it).
    test::write_text(copy, "old");
    (void)s.cache.materialize(put.digest, copy, {fs::LinkType::copy}, false);
    CHECK(test::read_text(copy) == "payload");
}

TEST_CASE("for_each_object lists objects and strays", "[cache]") {
    Store s;
    auto a = s.cache.put_bytes("a", nullptr);
    auto b = s.cache.put_bytes("b", nullptr);
    test::write_text(s.dir / "cache/sha256/zz/not-an-object", "?");
    std::vector<hash::Digest> seen;
    std::vector<std::string> strays;
    s.cache.for_each_object([&](const hash::Digest& d, const auto&) { seen.push_back(d); },
                            [&](const auto& p) { strays.push_back(p.string()); });
    std::sort(seen.begin(), seen.end());
    std::vector<hash::Digest> want{a.digest, b.digest};
    std::sort(want.begin(), want.end());
    CHECK(seen == want);
    CHECK(strays.size() == 1);
    s.cache.remove(a.digest);
    CHECK_FALSE(s.cache.has(a.digest));
}

TEST_CASE("adopt_by_link makes an unchanged file the object, and refuses a changed one", "[cache]") {
    Store s;
    test::write_text(s.dir / "data.bin", "adopt me");
    fs::Fd fd = fs::open_read(s.dir / "data.bin");
    struct stat before {};
    REQUIRE(::fstat(fd.get(), &before) == 0);
    auto digest = hash::hash_bytes("adopt me");
    REQUIRE(s.cache.adopt_by_link(s.dir / "data.bin", fd.get(), before, digest, nullptr));
    struct stat obj {};
    REQUIRE(::stat(s.cache.object_path(digest).c_str(), &obj) == 0);
    CHECK(obj.st_ino == before.st_ino);
    CHECK((obj.st_mode & 0222) == 0);

    test::write_text(s.dir / "other.bin", "version 1");
    fs::Fd fd2 = fs::open_read(s.dir / "other.bin");
    struct stat stale {};
    REQUIRE(::fstat(fd2.get(), &stale) == 0);
    stale.st_mtim.tv_sec -= 10; // as if the file changed after it was hashed
    auto d2 = hash::hash_bytes("version 1");
    CHECK_FALSE(s.cache.adopt_by_link(s.dir / "other.bin", fd2.get(), stale, d2, nullptr));
    CHECK_FALSE(s.cache.has(d2));
    CHECK(std::filesystem::is_empty(s.dir / "tmp"));
}

TEST_CASE("a large object verified once is trusted while its stat data is unchanged", "[cache]") {
    Store s;
    std::string content = pattern(2u << 20);
    auto put = s.put_file(content);
    auto path = s.cache.object_path(put.digest);
    // An mtime in the past, so that the entry is not racily clean.
    struct timespec past[2] = {{1000000000, 0}, {1000000000, 0}};
    REQUIRE(::utimensat(AT_FDCWD, path.c_str(), past, 0) == 0);
    {
        cache::Cache first{s.dir / "cache", s.dir / "tmp"};
        (void)first.materialize(put.digest, s.dir / "a.bin", {fs::LinkType::copy}, false);
        CHECK(test::read_text(s.dir / "a.bin") == content);
    } // saves cache/verified/stat
    std::string verified = test::read_text(s.dir / "cache/verified/stat");
    CHECK(verified.find(put.digest.hex() + "\t" + put.digest.hex() + "\n") != std::string::npos);
    {
        cache::Cache second{s.dir / "cache", s.dir / "tmp"};
        (void)second.materialize(put.digest, s.dir / "b.bin", {fs::LinkType::copy}, false);
        CHECK(test::read_text(s.dir / "b.bin") == content);
    }
    // Same size and mtime, other bytes: the ctime differs, so the object is hashed and refused.
    ::chmod(path.c_str(), 0644);
    std::string evil = content;
    evil[12345] ^= 1;
    test::write_text(path, evil);
    REQUIRE(::utimensat(AT_FDCWD, path.c_str(), past, 0) == 0);
    cache::Cache third{s.dir / "cache", s.dir / "tmp"};
    CHECK_THROWS_AS(third.materialize(put.digest, s.dir / "c.bin", {fs::LinkType::copy}, false), Error);
    CHECK_FALSE(std::filesystem::exists(s.dir / "c.bin"));
    // A small object is never recorded: hashing it costs no more than the lookup.
    auto small = s.put_file("small");
    {
        cache::Cache fourth{s.dir / "cache", s.dir / "tmp"};
        (void)fourth.materialize(small.digest, s.dir / "d", {fs::LinkType::copy}, false);
    }
    CHECK(test::read_text(s.dir / "cache/verified/stat").find(small.digest.hex()) == std::string::npos);
}
