// Repository::checkout_paths: only the named paths are written, from the commit.
#include <filesystem>

#include <catch2/catch.hpp>
#include <sys/stat.h>

#include "core/git/git.hpp"
#include "tests/support/temp_dir.hpp"

using cairn::test::read_text;
using cairn::test::TempDir;
using cairn::test::write_text;

namespace {

ino_t inode(const std::filesystem::path& p) {
    struct stat st {};
    REQUIRE(::lstat(p.c_str(), &st) == 0);
    return st.st_ino;
}

} // namespace

TEST_CASE("checkout_paths writes the named paths from a commit and touches nothing else", "[git]") {
    TempDir dir;
    auto repo = cairn::git::Repository::init(dir.path());
    std::string tree = repo.write_tree({{"a.txt", repo.write_blob("a\n")},
                                        {"b.txt", repo.write_blob("b\n")},
                                        {"c.txt", repo.write_blob("c\n")}});
    std::string commit = repo.write_commit(tree, {}, "files");
    write_text(dir / "a.txt", "changed\n"); // modified
    write_text(dir / "c.txt", "c\n");       // as committed
    write_text(dir / "new.txt", "untracked\n");
    ino_t c_inode = inode(dir / "c.txt");

    repo.checkout_paths(commit, {}); // nothing, not everything
    CHECK(read_text(dir / "a.txt") == "changed\n");
    CHECK_FALSE(std::filesystem::exists(dir / "b.txt"));

    repo.checkout_paths(commit, {"a.txt", "b.txt", "absent.txt"});
    CHECK(read_text(dir / "a.txt") == "a\n");
    CHECK(read_text(dir / "b.txt") == "b\n"); // missing: written
    CHECK(inode(dir / "c.txt") == c_inode);   // not named: not rewritten
    CHECK(read_text(dir / "new.txt") == "untracked\n");
    CHECK_FALSE(std::filesystem::exists(dir / "absent.txt"));
    // Neither the index nor HEAD moved.
    CHECK_FALSE(std::filesystem::exists(dir / ".git" / "index"));
    CHECK(repo.head().empty());
}
