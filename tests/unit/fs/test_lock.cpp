#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "core/fs/lock.hpp"
#include "core/util/error.hpp"
#include "tests/support/temp_dir.hpp"

using namespace cairn;
using namespace std::chrono_literals;

TEST_CASE("exclusive and shared locks exclude each other across processes", "[fs][lock]") {
    test::TempDir dir;
    auto path = dir / "lock";
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        fs::FileLock held(path, fs::LockMode::exclusive);
        char c = 'x';
        [[maybe_unused]] auto n = ::write(ready[1], &c, 1);
        ::pause(); // killed by the parent
        ::_exit(0);
    }
    char c;
    REQUIRE(::read(ready[0], &c, 1) == 1);
    CHECK_FALSE(fs::FileLock::try_lock(path, fs::LockMode::shared));
    CHECK_FALSE(fs::FileLock::try_lock(path, fs::LockMode::exclusive));
    // The holder is named, so a waiting user knows whom they wait for.
    CHECK_THAT(fs::describe_lock_holder(path), Catch::Contains("pid " + std::to_string(child)));
    std::string noticed;
    try {
        fs::FileLock waiting(path, fs::LockMode::exclusive, 50ms, [&](const std::string& who) { noticed = who; });
        FAIL("lock should be busy");
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::busy);
    }
    CHECK_THAT(noticed, Catch::Contains("pid"));

    // A holder killed with SIGKILL leaves no stale lock behind.
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    fs::FileLock after(path, fs::LockMode::exclusive, 1s);
    SUCCEED("lock acquired after the holder died");
}

TEST_CASE("shared locks coexist", "[fs][lock]") {
    test::TempDir dir;
    fs::FileLock a(dir / "lock", fs::LockMode::shared);
    fs::FileLock b(dir / "lock", fs::LockMode::shared, 100ms);
    CHECK_FALSE(fs::FileLock::try_lock(dir / "lock", fs::LockMode::exclusive));
}
