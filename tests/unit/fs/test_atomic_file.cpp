#include <catch2/catch.hpp>

#include "core/fs/atomic_file.hpp"
#include "core/util/error.hpp"
#include "tests/support/temp_dir.hpp"

using namespace cairn;

namespace {

std::size_t count_files(const std::filesystem::path& dir) {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
    return n;
}

} // namespace

TEST_CASE("atomic file replaces the target only on commit", "[fs]") {
    test::TempDir dir;
    auto target = dir / "file.txt";
    test::write_text(target, "old");
    {
        fs::AtomicFile file(target);
        file.write("new content");
        CHECK(file.temp_path().filename().string().find(std::string(fs::k_temp_infix)) != std::string::npos);
        CHECK(file.temp_path().parent_path() == dir.path());
        CHECK(test::read_text(target) == "old"); // not yet
        // Destroyed without commit.
    }
    CHECK(test::read_text(target) == "old");
    CHECK(count_files(dir.path()) == 1); // the temp file is gone

    fs::AtomicFile file(target);
    file.write("new content");
    file.commit();
    CHECK(test::read_text(target) == "new content");
    CHECK(count_files(dir.path()) == 1);
}

TEST_CASE("write_file_atomic creates and replaces; failures are io errors", "[fs]") {
    test::TempDir dir;
    fs::write_file_atomic(dir / "a", "1");
    fs::write_file_atomic(dir / "a", "22");
    CHECK(test::read_text(dir / "a") == "22");
    try {
        fs::write_file_atomic(dir / "missing-dir/a", "x");
        FAIL("expected an error");
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::io);
        CHECK_THAT(e.what(), Catch::Contains("missing-dir"));
    }
}

TEST_CASE("temp files carry the shared infix and the requested mode", "[fs]") {
    test::TempDir dir;
    std::filesystem::path path;
    fs::Fd fd = fs::make_temp_file(dir.path(), "object", &path, 0444);
    CHECK(fd.valid());
    CHECK(path.filename().string().rfind("object.cairn-tmp.", 0) == 0);
    CHECK((std::filesystem::status(path).permissions() & std::filesystem::perms::all) ==
          (std::filesystem::perms::owner_read | std::filesystem::perms::group_read |
           std::filesystem::perms::others_read));
}
