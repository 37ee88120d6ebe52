#pragma once
// Running the user's command: spawned with its own environment, stdout and stderr passed through
// unchanged and copied into a log, signals forwarded.

#include <filesystem>
#include <functional>
#include <string_view>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cairn::process {

struct Command {
    std::vector<std::string> argv;
    std::filesystem::path executable;        // what runs (find_executable(argv[0], ...))
    std::filesystem::path cwd;
    std::map<std::string, std::string> env;  // the command's whole environment
    int log_fd = -1;                            // stdout and stderr are also appended here
    int stdout_fd = 1;                          // where the command's stdout is passed through
    // Called with each chunk of the command's stdout as it arrives (after it was passed through).
    std::function<void(std::string_view)> on_stdout;
};

struct Outcome {
    int exit_code = 0;        // the command's exit code, or 128 + signal when a signal ended it
    int signal = 0;           // the signal that ended it, if any
    bool interrupted = false; // cairn received SIGINT/SIGTERM while it ran (and forwarded it)
    // Why the log stops before the command's end (the disk filled up), else empty. The command
    // runs on, its output still passed through.
    std::string log_error;
};

// Runs the command to its end. SIGINT/SIGTERM sent to cairn by another process are forwarded to
// the command; Ctrl-C on a terminal reaches it directly. Throws Error(input) when the program
// cannot be found or executed.
[[nodiscard]] Outcome run(const Command& command);

// Where a program is looked for when its environment has no PATH (glibc's execvp default).
inline constexpr const char* k_default_path = "/usr/bin:/bin";

// The absolute path `name` resolves to through `path` (a PATH value; cairn's PATH when null), or
// `name` itself when it contains a '/'. Relative names and PATH entries resolve against `cwd`
// (cairn's working directory when empty), where the command will run.
[[nodiscard]] std::optional<std::filesystem::path> find_executable(const std::string& name,
                                                                   const std::filesystem::path& cwd = {},
                                                                   const char* path = nullptr);

} // namespace cairn::process
