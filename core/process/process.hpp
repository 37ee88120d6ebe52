#pragma once
// Running the user's command: spawned in a process group of its own with its own environment,
// stdout and stderr passed through unchanged and copied into a log, signals forwarded to the
// group, the terminal lent to it; and stopping the group of a command whose cairn died.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string_view>
#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace cairn::process {

// Whether the command may have the terminal cairn runs on.
enum class Terminal {
    // When stdin is a terminal and cairn's process group is its foreground group, the command's
    // group is made the foreground group while it runs (as a shell does for a job): it reads the
    // terminal, and Ctrl-C or Ctrl-Z reach everything it started.
    foreground,
    // Not lent when the command starts (one of several commands running at once), and with a
    // terminal on stdin the command's stdin is /dev/null, which it would otherwise wait on
    // stopped. Ctrl-C reaches cairn, which passes it on.
    background,
};

struct Command {
    std::vector<std::string> argv;
    std::filesystem::path executable;        // what runs (find_executable(argv[0], ...))
    std::filesystem::path cwd;
    std::map<std::string, std::string> env;  // the command's whole environment
    int log_fd = -1;                            // stdout and stderr are also appended here
    int stdout_fd = 1;                          // where the command's stdout is passed through
    // Called with each chunk of the command's stdout as it arrives (after it was passed through).
    std::function<void(std::string_view)> on_stdout;
    Terminal terminal = Terminal::foreground;
    // Called once the command has started, with its pid, which is also its process group's id
    // (what crash recovery needs to stop it: describe_group). Errors it throws are ignored.
    std::function<void(pid_t)> on_start;
};

struct Outcome {
    int exit_code = 0;        // the command's exit code, or 128 + signal when a signal ended it
    int signal = 0;           // the signal that ended it, if any
    bool interrupted = false; // cairn received SIGINT/SIGTERM while it ran (and forwarded it)
    // Why the log stops before the command's end (the disk filled up), else empty. The command
    // runs on, its output still passed through.
    std::string log_error;
};

// Runs the command to its end, in a new process group (so that cairn can stop everything it
// started, and so can the next cairn if this one is killed). SIGINT/SIGTERM that cairn receives
// are forwarded to the group. While the command has the terminal (Terminal), Ctrl-C reaches it
// directly, and when that ends it, cairn counts as interrupted too (util::interrupted()). When
// the command stops (Ctrl-Z, or reading the terminal from the background), cairn takes the
// terminal back and stops its own process group the same way, so that the shell sees its job
// stopped; once continued (`fg`, `bg`), it continues the command, with the terminal when cairn
// has it. Throws Error(input) when the program cannot be found or executed.
[[nodiscard]] Outcome run(const Command& command);

// What identifies a command's process group on this machine after its cairn died, so that it can
// be stopped without hitting an unrelated process that got the same id later.
struct Group {
    pid_t pgid = 0;                // = the pid of its first process, the group leader
    std::uint64_t start_ticks = 0; // when the leader started (clock ticks after boot)
    pid_t session = 0;             // the session it was started in
    std::string boot_id;           // the boot it was started in (/proc/sys/kernel/random/boot_id)
    bool operator==(const Group&) const = default;
};

// The group whose leader is `pgid`, read from /proc; nullopt when it cannot be read (the process
// is gone, or there is no /proc).
[[nodiscard]] std::optional<Group> describe_group(pid_t pgid);

// The group as text, for a file (docs/format.md, "staging directory"): `cairn-command 1` and
// `KEY VALUE` lines. parse_group reads it back; nullopt for anything else (another version too).
[[nodiscard]] std::string format_group(const Group& group);
[[nodiscard]] std::optional<Group> parse_group(const std::string& text);

// SIGKILLs every process of `group` if it is still that group: started in this boot, and either
// its leader still has the recorded start time, or (the leader gone) every process in a group of
// that id belongs to the recorded session and started no earlier than the leader did. Waits up
// to `wait` until none is left running (zombies count as gone). Returns whether it killed any.
bool kill_group(const Group& group, std::chrono::milliseconds wait = std::chrono::seconds(5));

// Where a program is looked for when its environment has no PATH (glibc's execvp default).
inline constexpr const char* k_default_path = "/usr/bin:/bin";

// The absolute path `name` resolves to through `path` (a PATH value; cairn's PATH when null), or
// `name` itself when it contains a '/'. Relative names and PATH entries resolve against `cwd`
// (cairn's working directory when empty), where the command will run.
[[nodiscard]] std::optional<std::filesystem::path> find_executable(const std::string& name,
                                                                   const std::filesystem::path& cwd = {},
                                                                   const char* path = nullptr);

} // namespace cairn::process
