#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>

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

TEST_CASE("write_file_atomic creates and replaces, failures are io errors", "[fs]") {
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

namespace {

// A pid that certainly ran on this host and is gone: a child that exited and was reaped.
long long dead_pid() {
    pid_t pid = ::fork();
    if (pid == 0) ::_exit(0);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return pid;
}

std::string temp_of(const std::string& stem, long long pid, const std::string& host) {
    return fmt::format("{}.cairn-tmp.{}-{}-0123456789ab", stem, pid, host);
}

} // namespace

TEST_CASE("temp names carry the creating pid and host tag, and parse back", "[fs]") {
    test::TempDir dir;
    std::string name = fs::temp_name(dir.path(), "model.bin").filename().string();
    auto temp = fs::parse_temp_name(name);
    REQUIRE(temp);
    CHECK(temp->stem == "model.bin");
    CHECK(temp->pid == ::getpid());
    CHECK(temp->host_tag == fs::host_tag());
    CHECK(fs::host_tag().size() == 8);
    CHECK(fs::looks_like_temp(name));
    CHECK_FALSE(fs::temp_creator_dead(*temp)); // this process

    // Names that are not temp names of this grammar, including the older `<12 hex>` form.
    for (const char* other : {"model.bin", "model.bin.cairn-tmp.0123456789ab", "a.cairn-tmp.12-0011aabb-0123456789a",
                              "a.cairn-tmp.012-0011aabb-0123456789ab", "a.cairn-tmp.-0011aabb-0123456789ab",
                              "a.cairn-tmp.12-0011AABB-0123456789ab", "a.cairn-tmp.12-0011aabb-0123456789ab-x"})
        CHECK_FALSE(fs::parse_temp_name(other));
    CHECK(fs::parse_temp_name("a.cairn-tmp.12-0011aabb-0123456789ab"));
}

TEST_CASE("a temp's creator is dead only when it ran here and its pid is gone", "[fs]") {
    long long gone = dead_pid();
    CHECK(fs::is_dead_temp(temp_of("x", gone, fs::host_tag())));
    CHECK_FALSE(fs::is_dead_temp(temp_of("x", ::getpid(), fs::host_tag())));            // alive
    CHECK_FALSE(fs::is_dead_temp(temp_of("x", ::getppid(), fs::host_tag())));           // alive
    std::string other_host = fs::host_tag() == "00000000" ? "00000001" : "00000000";
    CHECK_FALSE(fs::is_dead_temp(temp_of("x", gone, other_host)));                      // cannot tell
    CHECK_FALSE(fs::is_dead_temp(temp_of("x", 99999999999LL, fs::host_tag())));         // no such pid_t
    CHECK_FALSE(fs::is_dead_temp("x.cairn-tmp.0123456789ab"));                          // older form
}

TEST_CASE("sweep_dead_temps removes only leftovers of dead processes", "[fs]") {
    test::TempDir dir;
    long long gone = dead_pid();
    std::string other_host = fs::host_tag() == "00000000" ? "00000001" : "00000000";
    test::write_text(dir / temp_of("a", gone, fs::host_tag()), "left by kill -9");
    std::filesystem::create_symlink("nowhere", dir / temp_of("b", gone, fs::host_tag()));
    test::write_text(dir / temp_of("c", ::getpid(), fs::host_tag()), "being written");
    test::write_text(dir / temp_of("d", gone, other_host), "another host's");
    test::write_text(dir / "e.cairn-tmp.0123456789ab", "older cairn");
    test::write_text(dir / "data.bin", "user data");
    std::filesystem::create_directory(dir / temp_of("f", gone, fs::host_tag()));

    CHECK(fs::sweep_dead_temps(dir.path(), fs::SweepMode::dry_run) == 2);
    CHECK(count_files(dir.path()) == 7);
    CHECK(fs::sweep_dead_temps(dir.path()) == 2);
    CHECK(count_files(dir.path()) == 5);
    CHECK_FALSE(std::filesystem::exists(dir / temp_of("a", gone, fs::host_tag())));
    CHECK(std::filesystem::exists(dir / temp_of("c", ::getpid(), fs::host_tag())));
    CHECK(std::filesystem::exists(dir / temp_of("d", gone, other_host)));
    CHECK(fs::sweep_dead_temps(dir / "missing") == 0);
    CHECK(fs::sweep_dead_temps(dir / "data.bin") == 0);
}

TEST_CASE("temp names fit in NAME_MAX whatever the target's name", "[fs]") {
    test::TempDir dir;
    std::string long_name(250, 'n');
    fs::write_file_atomic(dir / long_name, "x"); // ENAMETOOLONG before names were cut
    CHECK(test::read_text(dir / long_name) == "x");
    CHECK(count_files(dir.path()) == 1);

    // Cut at a character boundary: 'é' is two bytes.
    std::string accented;
    while (accented.size() < 254) accented += "\xc3\xa9";
    for (const std::string& stem : {long_name, accented, std::string(255, 'x')}) {
        std::string name = fs::temp_name(dir.path(), stem).filename().string();
        CHECK(name.size() <= 255);
        auto temp = fs::parse_temp_name(name);
        REQUIRE(temp);
        CHECK(stem.rfind(temp->stem, 0) == 0);
        CHECK((temp->stem.empty() || (static_cast<unsigned char>(temp->stem.back()) & 0xC0) != 0xC0));
    }
    std::string name = fs::temp_name(dir.path(), accented).filename().string();
    CHECK(fs::parse_temp_name(name)->stem.size() % 2 == 0);
}
