#pragma once
// The one exception type that reaches the user. Every failure a user can hit is a cairn::Error
// whose message names the file, path or object involved and whose kind maps to an exit code.

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace cairn {

// Exit codes are part of the interface (docs/reference.md, "Exit codes").
enum class ErrorKind {
    usage = 2,        // bad command line
    input = 3,        // malformed file, unsafe path, unknown name: the user's input is wrong
    environment = 4,  // not a repository, not initialised, missing tool
    io = 5,           // the operating system refused (permissions, disk full, ...)
    integrity = 6,    // stored data does not match its id, or is missing
    busy = 7,         // a lock could not be taken
    internal = 70,    // a bug in cairn
    interrupted = 130 // SIGINT / SIGTERM
};

class Error : public std::runtime_error {
public:
    Error(ErrorKind kind, std::string message, int os_error = 0)
        : std::runtime_error(std::move(message)), m_kind(kind), m_os_error(os_error) {}
    explicit Error(std::string message) : Error(ErrorKind::input, std::move(message)) {}

    [[nodiscard]] ErrorKind kind() const { return m_kind; }
    [[nodiscard]] int exit_code() const { return static_cast<int>(m_kind); }
    // The errno behind an ErrorKind::io from fail_errno(), else 0.
    [[nodiscard]] int os_error() const { return m_os_error; }
    // An operating-system refusal that trying again cannot change (permissions, a read-only or
    // full filesystem, a path through a file, ...): retry loops give up at once on these.
    [[nodiscard]] bool permanent() const;

private:
    ErrorKind m_kind;
    int m_os_error = 0;
};

// Throws Error(kind, formatted message).
template <typename... Args>
[[noreturn]] void fail(ErrorKind kind, fmt::format_string<Args...> format, Args&&... args) {
    throw Error(kind, fmt::format(format, std::forward<Args>(args)...));
}

// Throws ErrorKind::io with "<what>: <strerror(errno_value)>".
[[noreturn]] void fail_errno(const std::string& what, int errno_value);

} // namespace cairn
