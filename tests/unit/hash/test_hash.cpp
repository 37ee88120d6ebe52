#include <catch2/catch.hpp>

#include "core/hash/hash.hpp"
#include "core/util/error.hpp"
#include "tests/support/temp_dir.hpp"

using cairn::hash::Digest;

TEST_CASE("sha256 of known vectors", "[hash]") {
    CHECK(cairn::hash::hash_bytes("").hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(cairn::hash::hash_bytes("abc").id() ==
          "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("streaming equals one-shot", "[hash]") {
    std::string data(3 * 1024 * 1024 + 17, 'x');
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 31 % 251);
    cairn::hash::Sha256 h;
    h.update(data.substr(0, 1000));
    h.update(data.substr(1000));
    Digest streamed = h.finish();
    CHECK(streamed == cairn::hash::hash_bytes(data));
    cairn::test::TempDir dir;
    cairn::test::write_text(dir / "f", data);
    std::uint64_t size = 0;
    CHECK(cairn::hash::hash_file(dir / "f", &size) == streamed);
    CHECK(size == data.size());
}

TEST_CASE("ids parse strictly", "[hash]") {
    std::string hex = cairn::hash::hash_bytes("abc").hex();
    REQUIRE(Digest::from_id("sha256:" + hex));
    CHECK(Digest::from_hex(hex)->hex() == hex);
    CHECK_FALSE(Digest::from_id(hex));
    CHECK_FALSE(Digest::from_id("sha1:" + hex));
    CHECK_FALSE(Digest::from_id("sha256:" + hex.substr(1)));
    CHECK_FALSE(Digest::from_hex(hex.substr(0, 63) + "g"));
    std::string upper = hex;
    for (auto& c : upper) c = static_cast<char>(std::toupper(c));
    CHECK(Digest::from_hex(upper)->hex() == hex);
}

TEST_CASE("hash_file on a missing file is an io error", "[hash]") {
    cairn::test::TempDir dir;
    try {
        (void)cairn::hash::hash_file(dir / "missing");
        FAIL("expected an error");
    } catch (const cairn::Error& e) {
        CHECK(e.kind() == cairn::ErrorKind::io);
        CHECK(std::string(e.what()).find("missing") != std::string::npos);
    }
}
