#include <csignal>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "core/process/process.hpp"

using namespace cairn;

extern char** environ;

namespace {

// `sleep 30` in a process group of its own; killed and reaped on destruction.
struct Sleeper {
    pid_t pid = -1;
    Sleeper() {
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        posix_spawnattr_setpgroup(&attr, 0);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
        char* argv[] = {const_cast<char*>("sleep"), const_cast<char*>("30"), nullptr};
        REQUIRE(posix_spawnp(&pid, "sleep", nullptr, &attr, argv, environ) == 0);
        posix_spawnattr_destroy(&attr);
    }
    ~Sleeper() {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
    }
    // True once the process has ended (a zombie until reaped here).
    [[nodiscard]] bool ended() const {
        siginfo_t info{};
        return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
    }
};

} // namespace

TEST_CASE("a process group record reads back as written, other text is refused", "[process]") {
    process::Group g{4242, 723018, 4200, "e4c00b07-da29-4a5b-824a-7ff694d2cd03"};
    CHECK(process::parse_group(process::format_group(g)) == g);
    CHECK(process::parse_group(process::format_group(g) + "later_key 1\n") == g);
    CHECK_FALSE(process::parse_group("cairn-command 2\npgid 1\nstart 1\nsession 1\nboot x\n"));
    CHECK_FALSE(process::parse_group("cairn-command 1\npgid 4242\nstart 1\nsession 1\n")); // no boot
    CHECK_FALSE(process::parse_group("cairn-command 1\npgid x\nstart 1\nsession 1\nboot b\n"));
    CHECK_FALSE(process::parse_group("cairn-command 1\npgid 1\nstart 1\nsession 1\nboot b\n")); // init
    CHECK_FALSE(process::parse_group(""));
}

TEST_CASE("kill_group kills the group recorded, and not one whose id or boot differ", "[process]") {
    Sleeper s;
    auto g = process::describe_group(s.pid);
    REQUIRE(g);
    CHECK(g->pgid == s.pid);
    CHECK(g->session == ::getsid(0));
    process::Group later = *g;
    later.start_ticks += 1; // a leader that started at another time: another process with that pid
    CHECK_FALSE(process::kill_group(later));
    process::Group other_boot = *g;
    other_boot.boot_id = "another-boot";
    CHECK_FALSE(process::kill_group(other_boot));
    CHECK_FALSE(s.ended());
    CHECK(process::kill_group(*g));
    CHECK(s.ended());
    CHECK_FALSE(process::kill_group(*g)); // nothing left to kill
}
