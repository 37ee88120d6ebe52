#include "core/process/process.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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
    // Without a terminal (scripts, job schedulers) the command gets a process group of its own, so
    // that a signal passed on reaches everything it started (a shell script's children too). On a
    // terminal it stays in cairn's foreground group: Ctrl-C reaches it directly, and it can read
    // the terminal.
    const bool own_group = !::isatty(STDIN_FILENO);
    // posix_spawn (vfork semantics: cairn's page tables are not copied) with default SIGINT and
    // SIGTERM handling, output into the pipes, the working directory, and the exec error
    // reported back as its return value.
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawnattr_init(&attr);
    ::posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
    ::posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
    ::posix_spawn_file_actions_addchdir_np(&actions, command.cwd.c_str());
    sigset_t defaults, empty;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    sigemptyset(&empty);
    ::posix_spawnattr_setsigdefault(&attr, &defaults);
    ::posix_spawnattr_setsigmask(&attr, &empty);
    short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
    if (own_group) {
        flags |= POSIX_SPAWN_SETPGROUP;
        ::posix_spawnattr_setpgroup(&attr, 0);
    }
    ::posix_spawnattr_setflags(&attr, flags);
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

    Outcome outcome;
    bool forwarded = false;
    // Ctrl-C on a terminal reaches the command by itself; a signal another process sent to cairn
    // (kill, a job scheduler's SIGTERM), or any signal when the command has its own group, must be
    // passed on.
    auto forward_signal = [&] {
        if (!util::interrupted() || forwarded) return;
        outcome.interrupted = true;
        forwarded = true;
        if (util::signal_sent_by_process() || util::received_signal() == SIGTERM || own_group)
            ::kill(own_group ? -pid : pid, util::received_signal());
    };
    struct pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    const int sinks[2] = {command.stdout_fd, STDERR_FILENO};
    int open_count = 2;
    char buffer[65536];
    while (open_count > 0) {
        forward_signal();
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
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) fail_errno("waitpid", errno);
        forward_signal();
    }
    if (WIFEXITED(status)) {
        outcome.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        outcome.signal = WTERMSIG(status);
        outcome.exit_code = 128 + outcome.signal;
        if (outcome.signal == SIGINT || outcome.signal == SIGTERM) outcome.interrupted = true;
    }
    if (util::interrupted()) outcome.interrupted = true;
    return outcome;
}

} // namespace cairn::process
