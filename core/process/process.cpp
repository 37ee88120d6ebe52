#include "core/process/process.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>

#include "core/fs/file.hpp"
#include "core/util/error.hpp"
#include "core/util/interrupt.hpp"
#include "core/util/strings.hpp"


namespace cairn::process {

std::optional<std::filesystem::path> find_executable(const std::string& name, const std::filesystem::path& cwd,
                                                    const char* path) {
    auto absolute = [&](const std::filesystem::path& p) {
        if (p.is_absolute()) return p.lexically_normal();
        return (cwd.empty() ? std::filesystem::absolute(p) : cwd / p).lexically_normal();
    };
    auto executable = [](const std::filesystem::path& p) {
        struct stat st {};
        return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
    };
    if (name.find('/') != std::string::npos) {
        auto p = absolute(name);
        if (!executable(p)) return std::nullopt;
        return p;
    }
    if (!path) path = std::getenv("PATH");
    for (const auto& dir : util::split(path ? path : k_default_path, ':')) {
        auto candidate = absolute(std::filesystem::path(dir.empty() ? "." : dir) / name);
        if (executable(candidate)) return candidate;
    }
    return std::nullopt;
}

namespace {

// One command at a time has the terminal, whatever the number of threads running commands.
std::atomic<bool> g_terminal_lent{false};

// tcsetpgrp from a background process group stops the caller with SIGTTOU unless it blocks it.
bool set_foreground(int fd, pid_t pgrp) {
    sigset_t ttou, old;
    sigemptyset(&ttou);
    sigaddset(&ttou, SIGTTOU);
    ::pthread_sigmask(SIG_BLOCK, &ttou, &old);
    int rc = ::tcsetpgrp(fd, pgrp);
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return rc == 0;
}

// The terminal on stdin, lent to the command's process group while cairn's group has it.
class TerminalLoan {
public:
    explicit TerminalLoan(pid_t pgid) : m_pgid(pgid) {}
    ~TerminalLoan() { take_back(); }
    TerminalLoan(const TerminalLoan&) = delete;
    TerminalLoan& operator=(const TerminalLoan&) = delete;

    [[nodiscard]] bool lent() const { return m_lent; }

    // Makes the command's group the terminal's foreground group, when cairn's is it now. True
    // when the command has the terminal.
    bool lend() {
        if (m_lent) return true;
        if (!::isatty(STDIN_FILENO) || ::tcgetpgrp(STDIN_FILENO) != ::getpgrp()) return false;
        bool expected = false;
        if (!g_terminal_lent.compare_exchange_strong(expected, true)) return false;
        if (!set_foreground(STDIN_FILENO, m_pgid)) {
            g_terminal_lent = false;
            return false;
        }
        m_lent = true;
        return true;
    }

    // Gives the terminal back to cairn's process group (unless someone else took it meanwhile).
    void take_back() {
        if (!m_lent) return;
        if (::tcgetpgrp(STDIN_FILENO) == m_pgid) set_foreground(STDIN_FILENO, ::getpgrp());
        m_lent = false;
        g_terminal_lent = false;
    }

private:
    pid_t m_pgid;
    bool m_lent = false;
};

// SIGTTOU blocked in this thread while the command runs: cairn passes output through to the
// terminal from the background while the command has it (stopped otherwise under `stty tostop`).
class BlockTtou {
public:
    BlockTtou() {
        sigset_t ttou;
        sigemptyset(&ttou);
        sigaddset(&ttou, SIGTTOU);
        ::pthread_sigmask(SIG_BLOCK, &ttou, &m_old);
    }
    ~BlockTtou() { ::pthread_sigmask(SIG_SETMASK, &m_old, nullptr); }
    BlockTtou(const BlockTtou&) = delete;
    BlockTtou& operator=(const BlockTtou&) = delete;

private:
    sigset_t m_old{};
};

} // namespace

Outcome run(const Command& command) {
    if (command.argv.empty()) fail(ErrorKind::usage, "no command given (write it after '--')");
    std::vector<std::string> env_strings;
    for (const auto& [k, v] : command.env) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp, argv;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = command.argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    int out_pipe[2], err_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) fail_errno("cannot create pipes", errno);
    // posix_spawn (vfork semantics: cairn's page tables are not copied) with default SIGINT and
    // SIGTERM handling, output into the pipes, the working directory, a process group of its own
    // (so that a signal passed on, or the kill of a later crash recovery, reaches everything it
    // started: a shell script's children too), and the exec error reported back as its return
    // value.
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawnattr_init(&attr);
    // A background command reading the terminal would stop; it reads nothing instead.
    if (command.terminal == Terminal::background && ::isatty(STDIN_FILENO))
        ::posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    ::posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
    ::posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
    ::posix_spawn_file_actions_addchdir_np(&actions, command.cwd.c_str());
    sigset_t defaults, empty;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGTTOU);
    sigemptyset(&empty);
    ::posix_spawnattr_setsigdefault(&attr, &defaults);
    ::posix_spawnattr_setsigmask(&attr, &empty);
    ::posix_spawnattr_setpgroup(&attr, 0);
    ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
    BlockTtou block_ttou;
    pid_t pid = -1;
    int spawn_error = ::posix_spawn(&pid, command.executable.c_str(), &actions, &attr, argv.data(), envp.data());
    ::posix_spawn_file_actions_destroy(&actions);
    ::posix_spawnattr_destroy(&attr);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    if (spawn_error != 0) {
        ::close(out_pipe[0]);
        ::close(err_pipe[0]);
        fail(ErrorKind::input, "cannot run {}: {}", command.executable.string(), std::strerror(spawn_error));
    }
    if (command.on_start) {
        try {
            command.on_start(pid);
        } catch (...) {
            // Only crash recovery needs it; the command runs either way.
        }
    }
    TerminalLoan terminal(pid);
    // Before the command can wait for input: one that reads the terminal first is stopped until
    // it has it (see on_stopped).
    if (command.terminal == Terminal::foreground) terminal.lend();

    Outcome outcome;
    bool forwarded = false;
    bool ended = false;
    int exit_code = 0, term_signal = 0;
    // Ctrl-C reaches cairn when the command does not have the terminal, and a signal another
    // process sent (kill, a job scheduler's SIGTERM) reaches cairn alone: both are passed on to
    // the command's group. Only until the command is reaped: its pid, the group's id, stays its
    // own until then.
    auto forward_signal = [&] {
        if (!util::interrupted() || forwarded) return;
        outcome.interrupted = true;
        forwarded = true;
        ::kill(-pid, util::received_signal());
    };
    // The command wants the terminal it did not have, and waits stopped until cairn is the
    // foreground job again.
    bool wants_terminal = false;
    // The command stopped, as a job of a shell's stops: SIGTSTP (Ctrl-Z while it has the
    // terminal), SIGTTIN or SIGTTOU (it used the terminal from the background). cairn's own job
    // stops the same way, so that the shell says so and takes the terminal; `fg` or `bg`
    // continues cairn, and cairn the command. A SIGSTOP someone sent is theirs to undo.
    auto on_stopped = [&](int sig) {
        if (sig != SIGTSTP && sig != SIGTTIN && sig != SIGTTOU) return;
        if (sig != SIGTSTP && terminal.lend()) {
            ::kill(-pid, SIGCONT);
            return;
        }
        bool had = terminal.lent();
        terminal.take_back();
        // SIGTSTP to cairn's own process group: it stops here until continued.
        ::kill(0, SIGTSTP);
        if (had || sig != SIGTSTP) terminal.lend();
        if (sig == SIGTSTP || terminal.lent()) {
            ::kill(-pid, SIGCONT);
        } else {
            wants_terminal = true;
        }
    };
    // Waits for the command (blocking or not) and handles its stops; true once it ended (reaped),
    // with exit_code or term_signal set. Not blocking, it asks for stops only: an exit is reaped
    // once the output has ended, so that the pid stays the command's until then.
    auto wait_child = [&](bool block) -> bool {
        for (;;) {
            siginfo_t info{};
            int flags = WSTOPPED | (block ? WEXITED : WNOHANG);
            if (::waitid(P_PID, static_cast<id_t>(pid), &info, flags) != 0) {
                // Asked for stops only, a child that has exited is not waitable yet: no stop.
                if (errno == ECHILD && !block) return false;
                if (errno != EINTR) fail_errno("waitid", errno);
                forward_signal();
                if (!block) return false;
                continue;
            }
            if (info.si_pid == 0) return false;
            if (info.si_code == CLD_STOPPED) {
                on_stopped(info.si_status);
                if (!block) return false;
                continue;
            }
            if (info.si_code != CLD_EXITED && info.si_code != CLD_KILLED && info.si_code != CLD_DUMPED) continue;
            if (info.si_code == CLD_EXITED)
                exit_code = info.si_status;
            else
                term_signal = info.si_status;
            return true;
        }
    };

    struct pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    const int sinks[2] = {command.stdout_fd, STDERR_FILENO};
    int open_count = 2;
    char buffer[65536];
    while (open_count > 0) {
        forward_signal();
        if (wants_terminal && terminal.lend()) {
            wants_terminal = false;
            ::kill(-pid, SIGCONT);
        }
        wait_child(false);
        int rc = ::poll(fds, 2, 100);
        if (rc < 0) {
            if (errno == EINTR) continue;
            fail_errno("poll", errno);
        }
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                ::close(fds[i].fd);
                fds[i].fd = -1;
                --open_count;
                continue;
            }
            // Pass-through first (the user is watching), then the log. A closed terminal must not
            // stop the run, so write errors on the pass-through are ignored.
            try {
                fs::write_all(sinks[i], buffer, static_cast<std::size_t>(n), "output");
            } catch (const Error&) {
            }
            if (command.log_fd >= 0 && outcome.log_error.empty()) {
                // A full disk must not abandon the command: the log stops, the command goes on.
                try {
                    fs::write_all(command.log_fd, buffer, static_cast<std::size_t>(n), "the run log");
                } catch (const Error& e) {
                    outcome.log_error = e.what();
                }
            }
            if (i == 0 && command.on_stdout) command.on_stdout(std::string_view(buffer, static_cast<std::size_t>(n)));
        }
    }
    while (!ended) {
        if (wants_terminal && terminal.lend()) {
            wants_terminal = false;
            ::kill(-pid, SIGCONT);
        }
        ended = wait_child(!wants_terminal);
        if (wants_terminal && !ended) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    const bool had_terminal = terminal.lent();
    terminal.take_back();
    if (term_signal == 0) {
        outcome.exit_code = exit_code;
    } else {
        outcome.signal = term_signal;
        outcome.exit_code = 128 + outcome.signal;
        if (outcome.signal == SIGINT || outcome.signal == SIGTERM) outcome.interrupted = true;
        // Ctrl-C went to the command alone (it had the terminal): it stops cairn's work too, as
        // it would have reached cairn had the command not had the terminal.
        if (outcome.signal == SIGINT && had_terminal) util::note_interrupt(SIGINT);
    }
    if (util::interrupted()) outcome.interrupted = true;
    return outcome;
}


namespace {

// A few fields of /proc/<pid>/stat.
struct ProcStat {
    char state = '?';
    pid_t pgrp = 0;
    pid_t session = 0;
    std::uint64_t start_ticks = 0;
};

std::optional<std::string> read_proc(const std::string& path) {
    fs::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return std::nullopt;
    std::string out;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return n == 0 ? std::optional<std::string>(out) : std::nullopt;
        out.append(buf, static_cast<std::size_t>(n));
    }
}

std::optional<ProcStat> proc_stat(pid_t pid) {
    auto text = read_proc(fmt::format("/proc/{}/stat", pid));
    if (!text) return std::nullopt;
    // `pid (comm) state ppid pgrp session ... starttime(22) ...`; comm may hold anything, so the
    // fields are counted after its last ')'.
    std::size_t close = text->rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::vector<std::string> fields = util::split(std::string_view(*text).substr(close + 1), ' ');
    fields.erase(std::remove(fields.begin(), fields.end(), std::string()), fields.end());
    if (fields.size() < 20 || fields[0].size() != 1) return std::nullopt;
    ProcStat st;
    st.state = fields[0][0];
    auto number = [](const std::string& f, auto& out) {
        auto [ptr, ec] = std::from_chars(f.data(), f.data() + f.size(), out);
        return ec == std::errc() && ptr == f.data() + f.size();
    };
    if (!number(fields[2], st.pgrp) || !number(fields[3], st.session) || !number(fields[19], st.start_ticks))
        return std::nullopt;
    return st;
}

std::string boot_id() {
    return std::string(util::trim(read_proc("/proc/sys/kernel/random/boot_id").value_or("")));
}

// The processes (not yet zombies) whose process group is `pgid`, with their stat.
std::vector<std::pair<pid_t, ProcStat>> members_of(pid_t pgid) {
    std::vector<std::pair<pid_t, ProcStat>> out;
    DIR* dir = ::opendir("/proc");
    if (!dir) return out;
    while (struct dirent* e = ::readdir(dir)) {
        pid_t pid = 0;
        std::string_view name(e->d_name);
        auto [ptr, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
        if (ec != std::errc() || ptr != name.data() + name.size()) continue;
        auto st = proc_stat(pid);
        if (st && st->pgrp == pgid && st->state != 'Z' && st->state != 'X') out.emplace_back(pid, *st);
    }
    ::closedir(dir);
    return out;
}

constexpr const char* k_group_header = "cairn-command 1";

} // namespace

std::optional<Group> describe_group(pid_t pgid) {
    auto st = proc_stat(pgid);
    std::string boot = boot_id();
    if (!st || boot.empty()) return std::nullopt;
    return Group{pgid, st->start_ticks, st->session, boot};
}

std::string format_group(const Group& g) {
    return fmt::format("{}\npgid {}\nstart {}\nsession {}\nboot {}\n", k_group_header, g.pgid, g.start_ticks, g.session,
                       g.boot_id);
}

std::optional<Group> parse_group(const std::string& text) {
    auto lines = util::split(text, '\n');
    if (lines.empty() || lines[0] != k_group_header) return std::nullopt;
    Group g;
    int seen = 0;
    for (std::size_t i = 1; i < lines.size(); ++i) {
        if (lines[i].empty()) continue;
        auto space = lines[i].find(' ');
        if (space == std::string::npos) return std::nullopt;
        std::string key = lines[i].substr(0, space), value = lines[i].substr(space + 1);
        auto number = [&](auto& out) {
            auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
            return ec == std::errc() && ptr == value.data() + value.size() && !value.empty();
        };
        bool ok = key == "pgid"      ? number(g.pgid)
                  : key == "start"   ? number(g.start_ticks)
                  : key == "session" ? number(g.session)
                  : key == "boot"    ? !(g.boot_id = value).empty()
                                     : true; // a key a later version adds
        if (!ok) return std::nullopt;
        seen += key == "pgid" || key == "start" || key == "session" || key == "boot";
    }
    if (seen != 4 || g.pgid <= 1) return std::nullopt;
    return g;
}

bool kill_group(const Group& g, std::chrono::milliseconds wait) {
    if (g.pgid <= 1 || g.boot_id != boot_id()) return false; // another boot, or another machine
    auto members = members_of(g.pgid);
    if (members.empty()) return false;
    // A group's id is its leader's pid, which is not given to a new process while the group
    // exists: while the leader lives its start time says whether it is ours; once it is gone,
    // a group of that id is ours or, if ours ended and the id was reused, a later process's,
    // which started after our leader and (almost always) in another session.
    bool ours = false;
    if (auto leader = proc_stat(g.pgid))
        ours = leader->start_ticks == g.start_ticks;
    else
        ours = std::all_of(members.begin(), members.end(), [&](const auto& m) {
            return m.second.session == g.session && m.second.start_ticks >= g.start_ticks;
        });
    if (!ours) return false;
    ::kill(-g.pgid, SIGKILL);
    auto deadline = std::chrono::steady_clock::now() + wait;
    while (!members_of(g.pgid).empty() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return true;
}

} // namespace cairn::process
