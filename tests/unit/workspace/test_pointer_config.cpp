#include <catch2/catch.hpp>
#include <cctype>

#include "core/util/error.hpp"
#include "core/workspace/config.hpp"
#include "core/workspace/maintenance.hpp"
#include "core/workspace/pointer.hpp"

using namespace cairn;
using workspace::Pointer;

namespace {

std::string error_of(const std::string& text, const std::string& display = "data/x.cairn") {
    try {
        (void)Pointer::parse(text, display);
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::input);
        return e.what();
    }
    FAIL("accepted: " << text);
    return "";
}

} // namespace

TEST_CASE("pointers round-trip", "[workspace][pointer]") {
    Pointer p;
    p.path = "x";
    p.digest = hash::hash_bytes("x");
    p.size = 123;
    p.files = 4;
    Pointer back = Pointer::parse(p.serialize(), "data/x.cairn");
    CHECK(back.path == "x");
    CHECK(back.digest == p.digest);
    CHECK(back.size == 123);
    CHECK(back.files == 4);
    CHECK(back.is_directory());
    p.files.reset();
    CHECK_FALSE(Pointer::parse(p.serialize(), "x.cairn").is_directory());
    // Names that need YAML quoting survive.
    p.path = "- odd: name #1";
    CHECK(Pointer::parse(p.serialize(), "- odd: name #1.cairn").path == "- odd: name #1");
}

TEST_CASE("pointer errors name the file and line", "[workspace][pointer]") {
    std::string id = hash::hash_bytes("x").id();
    std::string v = "version: 1\n";
    CHECK_THAT(error_of(v + "path: x\nhash: " + id + "\nsize: 1\npath2: [\n"), Catch::StartsWith("data/x.cairn:"));
    CHECK_THAT(error_of(v + "path: ../x\nhash: " + id + "\nsize: 1\n"), Catch::StartsWith("data/x.cairn:2: unsafe path"));
    CHECK_THAT(error_of(v + "path: y\nhash: " + id + "\nsize: 1\n"), Catch::Contains("does not match"));
    CHECK_THAT(error_of(v + "path: x\nhash: nope\nsize: 1\n"), Catch::StartsWith("data/x.cairn:3: malformed hash"));
    CHECK_THAT(error_of(v + "path: x\nhash: " + id + "\n"), Catch::Contains("missing 'size'"));
    CHECK_THAT(error_of(v + "path: x\nhash: " + id + "\nsize: -3\n"), Catch::StartsWith("data/x.cairn:4:"));
    CHECK_THAT(error_of(v + "path: {a: 1}\nhash: " + id + "\nsize: 1\n"), Catch::Contains("must be a scalar"));
    CHECK_THAT(error_of("just text"), Catch::Contains("not a cairn pointer"));
}

TEST_CASE("pointer fields are strict", "[workspace][pointer]") {
    std::string id = hash::hash_bytes("x").id();
    std::string body = "path: x\nhash: " + id + "\nsize: 1\n";
    // version: required, 1 only; a newer one asks for a newer cairn.
    CHECK_THAT(error_of(body), Catch::Equals("data/x.cairn: missing 'version'"));
    CHECK_THAT(error_of("version: 2\n" + body), Catch::StartsWith("data/x.cairn:1:") && Catch::Contains("upgrade cairn"));
    CHECK_THAT(error_of("version: 1.0\n" + body), Catch::Contains("'version' must be 1"));
    CHECK_THAT(error_of("version: banana\n" + body), Catch::Contains("'version' must be 1, not 'banana'"));
    std::string v = "version: 1\n";
    // hash: canonical lowercase only.
    std::string upper = "sha256:" + hash::hash_bytes("x").hex();
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    upper.replace(0, 7, "sha256:");
    CHECK_THAT(error_of(v + "path: x\nhash: " + upper + "\nsize: 1\n"),
               Catch::StartsWith("data/x.cairn:3: malformed hash") && Catch::Contains("lowercase"));
    CHECK_THAT(error_of(v + "path: x\nhash: SHA256:" + hash::hash_bytes("x").hex() + "\nsize: 1\n"),
               Catch::Contains("malformed hash"));
    // Duplicate keys (yaml-cpp alone would keep one of them).
    CHECK_THAT(error_of(v + body + "size: 2\n"), Catch::Equals("data/x.cairn:5: duplicate field 'size'"));
    CHECK_THAT(error_of(v + body + "hash: " + hash::hash_bytes("y").id() + "\n"), Catch::Contains("duplicate field 'hash'"));
    CHECK_THAT(error_of(v + v + body), Catch::Contains("duplicate field 'version'"));
    // Unknown fields are refused, naming them.
    CHECK_THAT(error_of(v + body + "md5: abc\n"), Catch::StartsWith("data/x.cairn:5: unknown field 'md5'"));
    // size and files: non-negative decimal integers, named in the message.
    for (const char* bad : {"-1", "1.5", "1e3", "0x10", "+3", "''", "18446744073709551616", "banana"}) {
        CAPTURE(bad);
        CHECK_THAT(error_of(v + "path: x\nhash: " + id + "\nsize: " + bad + "\n"),
                   Catch::StartsWith("data/x.cairn:4: 'size' must be a non-negative integer"));
        CHECK_THAT(error_of(v + body + "files: " + bad + "\n"),
                   Catch::StartsWith("data/x.cairn:5: 'files' must be a non-negative integer"));
    }
    CHECK_THAT(error_of(v + "path: x\nhash: " + id + "\nsize:\n"), Catch::Contains("'size' must be a scalar"));
    // Nothing says "bad conversion" any more.
    CHECK_THAT(error_of(v + "path: x\nhash: [a]\nsize: 1\n"), !Catch::Contains("conversion"));
    // The largest size is fine.
    CHECK(Pointer::parse(v + "path: x\nhash: " + id + "\nsize: 18446744073709551615\n", "data/x.cairn").size ==
          18446744073709551615ull);
}

TEST_CASE("config parsing", "[workspace][config]") {
    auto c = workspace::Config::parse(workspace::Config::default_text(), "c");
    CHECK(c.link_types == std::vector<fs::LinkType>{fs::LinkType::reflink, fs::LinkType::copy});
    c = workspace::Config::parse("cache:\n  type: hardlink, symlink ,copy\n", "c");
    CHECK(c.link_types ==
          std::vector<fs::LinkType>{fs::LinkType::hardlink, fs::LinkType::symlink, fs::LinkType::copy});
    CHECK(workspace::Config::parse("", "c").version == 1);
    CHECK_THROWS_WITH(workspace::Config::parse("version: 2\n", "cfg.yaml"), Catch::Contains("cfg.yaml:1:"));
    CHECK_THROWS_WITH(workspace::Config::parse("cache: 3\n", "cfg.yaml"), Catch::Contains("must be a mapping"));
    CHECK_THROWS_WITH(workspace::Config::parse("cache:\n  type: ''\n", "cfg.yaml"), Catch::Contains("cfg.yaml:2"));
}

TEST_CASE("object ids are found anywhere in text", "[workspace][gc]") {
    auto a = hash::hash_bytes("a");
    auto b = hash::hash_bytes("b");
    std::string text = "x: " + a.id() + "\nlist: [" + b.id() + "]\nsha256:short\nsha256:" + a.hex().substr(0, 63);
    auto ids = workspace::find_object_ids(text);
    REQUIRE(ids.size() == 2);
    CHECK(ids[0] == a);
    CHECK(ids[1] == b);
}

TEST_CASE("config values of the wrong type name the field", "[workspace][config]") {
    auto config_error = [](const std::string& text) -> std::string {
        try {
            (void)workspace::Config::parse(text, ".cairn/config.yaml");
        } catch (const Error& e) {
            return e.what();
        }
        FAIL("accepted: " << text);
        return "";
    };
    CHECK_THAT(config_error("version: banana\n"), Catch::StartsWith(".cairn/config.yaml:1: config version banana"));
    CHECK_THAT(config_error("cache: {type: [a]}\n"), Catch::StartsWith(".cairn/config.yaml:1: 'cache.type' must be"));
    CHECK_THAT(config_error("run:\n  env: [PATH, [x]]\n"), Catch::StartsWith(".cairn/config.yaml:2: 'run.env' must be a list of names"));
    CHECK_THAT(config_error("run:\n  capture: [[x]]\n"), Catch::Contains("'run.capture' must be a list of patterns"));
    for (const char* text : {"version: banana\n", "run:\n  env: [[x]]\n"})
        CHECK_THAT(config_error(text), !Catch::Contains("bad conversion"));
}
