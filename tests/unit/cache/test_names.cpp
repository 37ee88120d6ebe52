// The one rule for names that come from stored data, and the readers that share it.
#include <catch2/catch.hpp>

#include "core/cache/cache.hpp"
#include "core/cache/tree.hpp"
#include "core/run/record.hpp"
#include "core/util/error.hpp"
#include "core/workspace/pointer.hpp"
#include "tests/support/temp_dir.hpp"

using namespace cairn;

namespace {

const std::string k_zwnj = "\xE2\x80\x8C"; // U+200C ZERO WIDTH NON-JOINER
const std::string k_zwj = "\xE2\x80\x8D";  // U+200D ZERO WIDTH JOINER
const std::string k_rlm = "\xE2\x80\x8F";  // U+200F RIGHT-TO-LEFT MARK
const std::string k_lre = "\xE2\x80\xAA";  // U+202A LEFT-TO-RIGHT EMBEDDING
const std::string k_rlo = "\xE2\x80\xAE";  // U+202E RIGHT-TO-LEFT OVERRIDE
const std::string k_iss = "\xE2\x81\xAA";  // U+206A INHIBIT SYMMETRIC SWAPPING
const std::string k_nods = "\xE2\x81\xAF"; // U+206F NOMINAL DIGIT SHAPES
const std::string k_bom = "\xEF\xBB\xBF";  // U+FEFF ZERO WIDTH NO-BREAK SPACE

std::string tree_with(const std::string& name) {
    return "cairn-tree 1\nf " + hash::hash_bytes("x").hex() + " 1 1\t" + name + "\n";
}

} // namespace

TEST_CASE("names git's verify_path refuses are refused, in every spelling", "[cache][names]") {
    std::vector<std::string> refused = {
        "", ".", "..", "a/b", "/", std::string("a\0b", 3), "a\nb", std::string(256, 'n'),
        // .git in any case
        ".git", ".GIT", ".Git", ".gIt",
        // NTFS: trailing dots and spaces, alternate data streams, the 8.3 short name
        ".git.", ".git ", ".git. . ", ".git::$INDEX_ALLOCATION", ".git:stream", ".GIT::$DATA",
        "git~1", "GIT~1", "Git~1.", "git~1 ", "git~1:x",
        // NTFS: backslash is a separator on Windows
        ".git\\config", "a\\.git", "a\\.GIT.\\x", "..\\x", "a\\..", "a\\.\\b",
        // HFS+: ignorable code points anywhere
        ".g" + k_zwnj + "it", k_bom + ".git", ".git" + k_rlm, "." + k_zwj + "GIT",
        ".gi" + k_iss + "t", ".g" + k_lre + "i" + k_rlo + "t", ".git" + k_nods,
        // .cairn, likewise
        ".cairn", ".CAIRN", ".Cairn.", ".cairn ", ".cairn::$INDEX_ALLOCATION", "cairn~1", "CAIRN~1",
        ".c" + k_zwnj + "airn", "x\\.cairn"};
    for (const auto& name : refused) {
        INFO("name: '" << name << "'");
        CHECK_FALSE(cache::is_safe_component(name));
        CHECK(cache::unsafe_component_reason(name).has_value());
    }
    std::vector<std::string> allowed = {"file.txt",
                                        "..hidden",
                                        "...",
                                        "with space",
                                        ".gitignore",
                                        ".gitattributes",
                                        ".github",
                                        ".gitkeep",
                                        ".git-foo",
                                        "foo.git",
                                        "git",
                                        "git~2",
                                        "a\\b",
                                        ".cairnrc",
                                        "x.cairn",
                                        "cairn",
                                        k_zwnj,
                                        "." + k_zwnj,
                                        std::string(255, 'n'),
                                        "caf\xC3\xA9"};
    for (const auto& name : allowed) {
        INFO("name: '" << name << "'");
        CHECK(cache::is_safe_component(name));
    }
    CHECK(*cache::unsafe_component_reason(".GIT") == "a spelling of .git");
    CHECK(*cache::unsafe_component_reason("cairn~1") == "a spelling of .cairn");
}

TEST_CASE("tree objects, pointers and run records share the name rule", "[cache][names]") {
    for (std::string name : {".git", ".GIT", "git~1", ".git.", ".cairn", ".g\xE2\x80\x8Cit"}) {
        INFO(name);
        try {
            (void)cache::Tree::parse(tree_with(name), "tree object X");
            FAIL("tree accepted");
        } catch (const Error& e) {
            CHECK(e.kind() == ErrorKind::integrity);
            CHECK_THAT(e.what(), Catch::Contains("line 2: unsafe entry name"));
        }
        try {
            (void)workspace::Pointer::parse("version: 1\npath: \"" + name + "\"\nhash: sha256:" +
                                                std::string(64, 'a') + "\nsize: 1\n",
                                            name + ".cairn");
            FAIL("pointer accepted");
        } catch (const Error& e) {
            CHECK(e.kind() == ErrorKind::input);
            CHECK_THAT(e.what(), Catch::Contains("unsafe path"));
        }
        run::RunRecord r;
        r.id = "0123456789abcdef0123456789abcdef";
        CHECK_THROWS_WITH(run::check_record_path(r, "out/" + name + "/hooks/x", "output"),
                          Catch::Contains("refusing the unsafe output path"));
        CHECK_THROWS_WITH(run::check_record_path(r, name, "input"),
                          Catch::Contains("refusing the unsafe input path"));
    }
    run::RunRecord r;
    r.id = "0123456789abcdef0123456789abcdef";
    CHECK_NOTHROW(run::check_record_path(r, "out/.github/x", "output"));
    CHECK_NOTHROW((void)cache::Tree::parse(tree_with(".gitignore"), "t"));
}

TEST_CASE("tree_if_any: an object that starts like a tree is a tree or an error, never a file",
          "[cache][names]") {
    test::TempDir dir;
    std::filesystem::create_directories(dir / "cache/sha256");
    std::filesystem::create_directories(dir / "tmp");
    cache::Cache cache(dir / "cache", dir / "tmp");
    auto put = [&](const std::string& bytes) { return cache.put_bytes(bytes, nullptr).digest; };

    CHECK_FALSE(cache.tree_if_any(put("plain data\n")).has_value());
    CHECK_FALSE(cache.tree_if_any(hash::hash_bytes("absent")).has_value());
    auto good = cache.tree_if_any(put(tree_with("a.txt")));
    REQUIRE(good.has_value());
    CHECK(good->entries.size() == 1);
    for (const std::string& bad :
         {tree_with(".git"), tree_with(".."), std::string("cairn-tree 2\nwhatever\n"),
          tree_with("b") + tree_with("a").substr(13), std::string("cairn-tree 1\ngarbage\n")}) {
        INFO(bad);
        hash::Digest d = put(bad);
        CHECK(cache.starts_like_tree(d));
        try {
            (void)cache.tree_if_any(d);
            FAIL("read as a file");
        } catch (const Error& e) {
            CHECK(e.kind() == ErrorKind::integrity);
        }
    }
}
