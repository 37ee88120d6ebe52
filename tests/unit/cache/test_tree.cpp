#include <catch2/catch.hpp>

#include "core/cache/tree.hpp"
#include "core/util/error.hpp"

using namespace cairn;
using cache::EntryKind;
using cache::Tree;

namespace {

Tree sample() {
    Tree t;
    t.entries.push_back({"a.txt", EntryKind::file, 5, 1, hash::hash_bytes("a")});
    t.entries.push_back({"run.sh", EntryKind::executable, 9, 1, hash::hash_bytes("b")});
    t.entries.push_back({"sub dir", EntryKind::directory, 100, 7, hash::hash_bytes("c")});
    return t;
}

void expect_rejected(const std::string& bytes, const std::string& why) {
    try {
        (void)Tree::parse(bytes, "tree object X");
        FAIL("accepted: " << bytes);
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::integrity);
        CHECK_THAT(e.what(), Catch::Contains(why));
        CHECK_THAT(e.what(), Catch::StartsWith("tree object X: line "));
    }
}

} // namespace

TEST_CASE("tree objects round-trip byte for byte", "[cache][tree]") {
    Tree t = sample();
    std::string bytes = t.serialize();
    CHECK(bytes.rfind("cairn-tree 1\n", 0) == 0);
    Tree back = Tree::parse(bytes, "t");
    REQUIRE(back.entries.size() == 3);
    CHECK(back.entries[2].name == "sub dir");
    CHECK(back.entries[2].kind == EntryKind::directory);
    CHECK(back.entries[2].files == 7);
    CHECK(back.entries[1].kind == EntryKind::executable);
    CHECK(back.serialize() == bytes);
    CHECK(back.total_size() == 114);
    CHECK(back.total_files() == 9);
    CHECK(Tree::parse("cairn-tree 1\n", "empty").entries.empty());
}

TEST_CASE("tree parser rejects unsafe or malformed entries", "[cache][tree]") {
    std::string hex = hash::hash_bytes("x").hex();
    auto line = [&](const std::string& name) { return "f " + hex + " 1 1\t" + name + "\n"; };
    std::string head = "cairn-tree 1\n";
    expect_rejected(head + line(".."), "unsafe entry name");
    expect_rejected(head + line("."), "unsafe entry name");
    expect_rejected(head + line("a/b"), "unsafe entry name");
    expect_rejected(head + line(""), "unsafe entry name");
    expect_rejected(head + line("b") + line("a"), "strictly increasing");
    expect_rejected(head + line("a") + line("a"), "strictly increasing");
    expect_rejected(head + "f " + hex + " 1 1\tno-newline", "truncated");
    expect_rejected(head + "q " + hex + " 1 1\tq\n", "unknown entry kind");
    expect_rejected(head + "f " + hex.substr(1) + "z 1 1\ta\n", "malformed object id");
    expect_rejected(head + "f " + hex + " one 1\ta\n", "malformed size");
    expect_rejected(head + "f " + hex + " 1 2\ta\n", "must count 1 file");
    expect_rejected("cairn-tree 2\n", "unsupported tree format version");
    expect_rejected("hello\n", "not a cairn tree object");
}

TEST_CASE("safe path components", "[cache][tree]") {
    CHECK(cache::is_safe_component("file.txt"));
    CHECK(cache::is_safe_component("..hidden"));
    CHECK(cache::is_safe_component("with space"));
    CHECK_FALSE(cache::is_safe_component(""));
    CHECK_FALSE(cache::is_safe_component("."));
    CHECK_FALSE(cache::is_safe_component(".."));
    CHECK_FALSE(cache::is_safe_component("a/b"));
    CHECK_FALSE(cache::is_safe_component(std::string("a\0b", 3)));
    CHECK_FALSE(cache::is_safe_component("a\nb"));
}
