// The command's process group (issue 10): a command whose cairn was killed with SIGKILL is stopped
// by the next cairn (crash recovery, gc) instead of running on unrecorded; Ctrl-C and signals still
// reach everything the command started; on a terminal the command has it (reads it, gets Ctrl-C
// and Ctrl-Z) as a shell's job would.
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <termios.h>
#include <thread>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;

namespace {

// The file's content once it exists and ends with a newline (up to 20 s); "" if it never does.
std::string wait_for_line(const stdfs::path& path) {
    for (int i = 0; i < 2000; ++i) {
        std::ifstream in(path);
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (!text.empty() && text.back() == '\n') return text;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return "";
}

// Waits (up to 20 s) until every run staging directory holds the command's process group record,
// and `count` of them exist.
bool wait_for_groups(const Repo& repo, std::size_t count) {
    for (int i = 0; i < 2000; ++i) {
        std::size_t with = 0;
        std::error_code ec;
        for (const auto& e : stdfs::directory_iterator(repo.path(".cairn/runs"), ec))
            if (e.path().filename().string()[0] != '.' && stdfs::exists(e.path() / "command")) ++with;
        if (with >= count) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

// The state letter of /proc/<pid>/stat ('Z' a zombie), or 0 when there is no such process.
char state_of(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto close = stat.rfind(')');
    return close == std::string::npos || close + 2 >= stat.size() ? 0 : stat[close + 2];
}

bool running(pid_t pid) {
    char s = state_of(pid);
    return s != 0 && s != 'Z' && s != 'X';
}

// A command that writes the pid of its sleep (exec'd by an inner shell, so the pid is the
// sleep's) to `pid_file`, and touches `late` only if it lives 30 s.
std::string sleeper(const stdfs::path& pid_file, const stdfs::path& late) {
    return "sh -c 'echo $$ > \"" + pid_file.string() + "\"; exec sleep 30'; touch '" + late.string() + "'";
}

void kill_if_running(pid_t pid) {
    if (running(pid)) ::kill(pid, SIGKILL);
}

} // namespace

TEST_CASE("kill -9 of cairn run: the next cairn stops the command's whole group, then records it crashed",
          "[e2e][run][crash]") {
    Repo repo;
    repo.commit("init");
    cairn::test::TempDir outside;
    auto child = repo.spawn({"run", "-n", "orphan", "--", "sh", "-c", sleeper(outside.path() / "pid", outside.path() / "late")});
    std::string pid_text = wait_for_line(outside.path() / "pid");
    REQUIRE(!pid_text.empty());
    pid_t sleep_pid = std::stoi(pid_text);
    REQUIRE(wait_for_groups(repo, 1));
    child->signal(SIGKILL);
    CHECK(child->wait() == 128 + SIGKILL);
    CHECK(running(sleep_pid)); // the command outlives its cairn...

    auto runs = repo.ok({"ls", "--json"}).json(); // ...until the next cairn recovers the run
    bool stopped = !running(sleep_pid);
    kill_if_running(sleep_pid);
    CHECK(stopped);
    REQUIRE(runs.size() == 1);
    CHECK(runs[0]["status"] == "crashed");
    // The outer shell, which would touch `late` once the sleep ended, was stopped with it.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK_FALSE(stdfs::exists(outside.path() / "late"));
}

TEST_CASE("kill -9 of a sweep: gc stops the trial's command before removing its worktree", "[e2e][sweep][crash]") {
    Repo repo;
    repo.commit("init");
    cairn::test::TempDir outside;
    auto child = repo.spawn({"run", "-p", "x=1,2", "--", "sh", "-c",
                             sleeper(outside.path() / "pid{x}", outside.path() / "late{x}")});
    std::string pid_text = wait_for_line(outside.path() / "pid1");
    REQUIRE(!pid_text.empty());
    pid_t sleep_pid = std::stoi(pid_text);
    REQUIRE(wait_for_groups(repo, 1));
    child->signal(SIGKILL);
    CHECK(child->wait() == 128 + SIGKILL);
    CHECK(running(sleep_pid));
    std::size_t worktrees = 0;
    for (const auto& e : stdfs::directory_iterator(repo.path(".cairn/tmp")))
        worktrees += e.path().filename().string().rfind("sweep-", 0) == 0;
    CHECK(worktrees == 1);

    repo.ok({"gc"});
    bool stopped = !running(sleep_pid);
    kill_if_running(sleep_pid);
    CHECK(stopped);
    for (const auto& e : stdfs::directory_iterator(repo.path(".cairn/tmp")))
        CHECK(e.path().filename().string().rfind("sweep-", 0) != 0);
    auto runs = repo.ok({"ls", "--json"}).json();
    REQUIRE(runs.size() == 1);
    CHECK(runs[0]["status"] == "crashed");
    CHECK(runs[0]["sweep"].is_string());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK_FALSE(stdfs::exists(outside.path() / "late1"));
    CHECK_FALSE(stdfs::exists(outside.path() / "pid2")); // the second trial never started
}

TEST_CASE("kill -9 of cairn repro: the next repro stops the stage's command first", "[e2e][repro][crash]") {
    Repo repo;
    cairn::test::TempDir outside;
    repo.write("cairn.yaml", "stages:\n  slow:\n    cmd: " + sleeper(outside.path() / "pid", outside.path() / "late") +
                                 "; echo x > out.txt\n    outs: [out.txt]\n");
    repo.commit();
    auto child = repo.spawn({"repro"});
    std::string pid_text = wait_for_line(outside.path() / "pid");
    REQUIRE(!pid_text.empty());
    pid_t sleep_pid = std::stoi(pid_text);
    REQUIRE(wait_for_groups(repo, 1));
    child->signal(SIGKILL);
    CHECK(child->wait() == 128 + SIGKILL);
    CHECK(running(sleep_pid));
    auto runs = repo.ok({"ls", "--json"}).json();
    bool stopped = !running(sleep_pid);
    kill_if_running(sleep_pid);
    CHECK(stopped);
    REQUIRE(runs.size() == 1);
    CHECK(runs[0]["status"] == "crashed");
    CHECK_FALSE(repo.exists("out.txt"));
}

TEST_CASE("a process group whose id now names another process is left alone", "[e2e][run][crash]") {
    Repo repo;
    repo.commit("init");
    auto child = repo.spawn({"run", "--", "sh", "-c", "echo x > \"$CAIRN_RUN_DIR/ready\"; exec sleep 30"});
    REQUIRE(wait_for_groups(repo, 1));
    stdfs::path staging;
    for (const auto& e : stdfs::directory_iterator(repo.path(".cairn/runs")))
        if (e.path().filename().string()[0] != '.') staging = e.path();
    child->signal(SIGKILL);
    child->wait();
    // As if the command had ended and its pid gone to a process started at another time: the
    // recorded start time no longer matches the process with that id.
    std::string rel = ".cairn/runs/" + staging.filename().string() + "/command";
    std::string record = repo.read(rel);
    pid_t command_pid = std::stoi(record.substr(record.find("pgid ") + 5));
    std::size_t at = record.find("start ") + 6;
    std::size_t end = record.find('\n', at);
    std::string forged = record.substr(0, at) + std::to_string(std::stoull(record.substr(at, end - at)) + 1) + record.substr(end);
    repo.write(rel, forged);
    auto runs = repo.ok({"ls", "--json"}).json();
    REQUIRE(runs.size() == 1);
    CHECK(runs[0]["status"] == "crashed");
    CHECK(running(command_pid)); // not the recorded group: not killed
    kill_if_running(command_pid);
}

TEST_CASE("SIGINT to cairn still stops the command and what it started", "[e2e][run]") {
    Repo repo;
    repo.commit("init");
    cairn::test::TempDir outside;
    auto child = repo.spawn({"run", "--", "sh", "-c", sleeper(outside.path() / "pid", outside.path() / "late")});
    std::string pid_text = wait_for_line(outside.path() / "pid");
    REQUIRE(!pid_text.empty());
    pid_t sleep_pid = std::stoi(pid_text);
    child->signal(SIGINT);
    CHECK(child->wait() == 130);
    bool stopped = !running(sleep_pid);
    kill_if_running(sleep_pid);
    CHECK(stopped);
    CHECK_FALSE(stdfs::exists(outside.path() / "late"));
    CHECK(repo.ok({"show", "last", "--json"}).json()["status"] == "interrupted");
    CHECK((!stdfs::exists(repo.path(".cairn/runs")) || stdfs::is_empty(repo.path(".cairn/runs"))));
}

namespace {

// cairn on a terminal: a pseudo-terminal whose session leader is a small job-control "shell"
// (like bash's): it puts cairn in a process group of its own as the foreground job, reports a
// stop on `events` ("stopped\n") and continues the job in the foreground (`fg`) when told so on
// `control`, and exits with cairn's status.
struct Terminal {
    int master = -1;
    pid_t shell = -1;
    pid_t job = -1; // cairn, in a process group of its own
    int events = -1, control = -1;

    Terminal(const Repo& repo, const std::vector<std::string>& args) {
        int ev[2], ctl[2], go[2];
        REQUIRE(::pipe(ev) == 0);
        REQUIRE(::pipe(ctl) == 0);
        REQUIRE(::pipe(go) == 0);
        std::vector<std::string> argv{CAIRN_EXE};
        argv.insert(argv.end(), args.begin(), args.end());
        std::vector<std::string> envs;
        for (const auto& [k, v] : repo.env()) envs.push_back(k + "=" + v);
        envs.push_back("TERM=dumb");
        std::vector<char*> cargv, cenv;
        for (auto& a : argv) cargv.push_back(a.data());
        cargv.push_back(nullptr);
        for (auto& e : envs) cenv.push_back(e.data());
        cenv.push_back(nullptr);
        shell = ::forkpty(&master, nullptr, nullptr, nullptr);
        REQUIRE(shell >= 0);
        if (shell == 0) {
            ::close(ev[0]);
            ::close(ctl[1]);
            ::signal(SIGTTOU, SIG_IGN);
            ::signal(SIGTTIN, SIG_IGN);
            ::signal(SIGTSTP, SIG_IGN);
            pid_t child = ::fork();
            if (child == 0) {
                ::close(go[1]);
                ::setpgid(0, 0);
                char c;
                if (::read(go[0], &c, 1) != 1) ::_exit(126);
                ::signal(SIGTTOU, SIG_DFL);
                ::signal(SIGTTIN, SIG_DFL);
                ::signal(SIGTSTP, SIG_DFL);
                if (::chdir(repo.root().c_str()) != 0) ::_exit(126);
                ::execve(cargv[0], cargv.data(), cenv.data());
                ::_exit(127);
            }
            ::setpgid(child, child);
            ::tcsetpgrp(STDIN_FILENO, child);
            std::string hello = "job " + std::to_string(child) + "\n";
            if (::write(ev[1], hello.data(), hello.size()) != static_cast<ssize_t>(hello.size())) ::_exit(125);
            if (::write(go[1], "g", 1) != 1) ::_exit(126);
            for (;;) {
                int status = 0;
                if (::waitpid(child, &status, WUNTRACED) < 0) {
                    if (errno == EINTR) continue;
                    ::_exit(125);
                }
                if (WIFSTOPPED(status)) {
                    ::tcsetpgrp(STDIN_FILENO, ::getpgrp());
                    if (::write(ev[1], "stopped\n", 8) != 8) ::_exit(125);
                    char c;
                    if (::read(ctl[0], &c, 1) != 1) ::_exit(125);
                    ::tcsetpgrp(STDIN_FILENO, child);
                    ::kill(-child, SIGCONT);
                    continue;
                }
                ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
            }
        }
        ::close(ev[1]);
        ::close(ctl[0]);
        ::close(go[0]);
        ::close(go[1]);
        events = ev[0];
        control = ctl[1];
        ::fcntl(master, F_SETFL, ::fcntl(master, F_GETFL) | O_NONBLOCK);
        std::string hello = event();
        REQUIRE(hello.rfind("job ", 0) == 0);
        job = std::stoi(hello.substr(4));
    }

    ~Terminal() {
        if (shell > 0) {
            ::kill(shell, SIGKILL);
            ::waitpid(shell, nullptr, 0);
        }
        for (int fd : {master, events, control})
            if (fd >= 0) ::close(fd);
    }

    void type(const std::string& text) const { REQUIRE(::write(master, text.data(), text.size()) == static_cast<ssize_t>(text.size())); }

    // Reads what the terminal shows (drains the master so that output never blocks).
    std::string drain() const {
        std::string out;
        char buf[4096];
        for (;;) {
            ssize_t n = ::read(master, buf, sizeof buf);
            if (n <= 0) return out;
            out.append(buf, static_cast<std::size_t>(n));
        }
    }

    // The terminal's foreground process group.
    [[nodiscard]] pid_t foreground() const { return ::tcgetpgrp(master); }

    // Waits (up to 20 s) until the foreground group is neither the shell's nor cairn's: the
    // command has the terminal.
    bool wait_lent() const {
        for (int i = 0; i < 2000; ++i) {
            drain();
            pid_t fg = foreground();
            if (fg > 0 && fg != shell && fg != job) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return false;
    }

    // Waits for the next event line of the shell (up to 20 s).
    std::string event() const {
        std::string line;
        for (int i = 0; i < 2000; ++i) {
            drain();
            struct pollfd p = {events, POLLIN, 0};
            if (::poll(&p, 1, 10) > 0) {
                char c;
                while (::read(events, &c, 1) == 1 && c != '\n') line += c;
                return line;
            }
        }
        return line;
    }

    void fg() const { REQUIRE(::write(control, "f", 1) == 1); }

    // The shell's exit status: cairn's (up to 20 s), or -1.
    int wait() {
        for (int i = 0; i < 2000; ++i) {
            drain();
            int status = 0;
            pid_t r = ::waitpid(shell, &status, WNOHANG);
            if (r == shell) {
                shell = -1;
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return -1;
    }
};

} // namespace

TEST_CASE("on a terminal the command has it: it reads what is typed", "[e2e][run][terminal]") {
    Repo repo;
    repo.commit("init");
    Terminal t(repo, {"run", "--", "sh", "-c", "read line; echo \"got $line\" > answer"});
    REQUIRE(t.wait_lent());
    t.type("hello\n");
    CHECK(t.wait() == 0);
    CHECK(repo.read("answer") == "got hello\n");
    CHECK(repo.ok({"show", "last", "--json"}).json()["status"] == "finished");
}

TEST_CASE("on a terminal Ctrl-C reaches the command and what it started, the run is interrupted",
          "[e2e][run][terminal]") {
    Repo repo;
    repo.commit("init");
    cairn::test::TempDir outside;
    Terminal t(repo, {"run", "--", "sh", "-c", sleeper(outside.path() / "pid", outside.path() / "late")});
    std::string pid_text = wait_for_line(outside.path() / "pid");
    REQUIRE(!pid_text.empty());
    pid_t sleep_pid = std::stoi(pid_text);
    REQUIRE(t.wait_lent());
    t.type("\x03");
    CHECK(t.wait() == 130);
    bool stopped = !running(sleep_pid);
    kill_if_running(sleep_pid);
    CHECK(stopped);
    CHECK(repo.ok({"show", "last", "--json"}).json()["status"] == "interrupted");
}

TEST_CASE("on a terminal Ctrl-C stops a sweep: the trial is interrupted and no other starts",
          "[e2e][sweep][terminal]") {
    Repo repo;
    repo.commit("init");
    cairn::test::TempDir outside;
    Terminal t(repo, {"run", "-p", "x=1,2", "--", "sh", "-c", sleeper(outside.path() / "pid{x}", outside.path() / "late")});
    REQUIRE(!wait_for_line(outside.path() / "pid1").empty());
    REQUIRE(t.wait_lent());
    t.type("\x03");
    CHECK(t.wait() == 130);
    auto runs = repo.ok({"ls", "--json"}).json();
    REQUIRE(runs.size() == 1);
    CHECK(runs[0]["status"] == "interrupted");
    CHECK_FALSE(stdfs::exists(outside.path() / "pid2"));
}

TEST_CASE("on a terminal Ctrl-Z stops the command and cairn's job, fg continues both", "[e2e][run][terminal]") {
    Repo repo;
    repo.commit("init");
    Terminal t(repo, {"run", "--", "sh", "-c", "read line; echo \"got $line\" > answer"});
    REQUIRE(t.wait_lent());
    pid_t command_group = t.foreground();
    pid_t cairn = t.job;
    t.type("\x1a");
    CHECK(t.event() == "stopped");
    CHECK(state_of(cairn) == 'T');
    CHECK(state_of(command_group) == 'T');
    t.fg();
    REQUIRE(t.wait_lent()); // cairn lends the terminal to the command again
    CHECK(t.foreground() == command_group);
    t.type("again\n");
    CHECK(t.wait() == 0);
    CHECK(repo.read("answer") == "got again\n");
}
