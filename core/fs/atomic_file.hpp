#pragma once
// Write-to-temp-then-rename, as ccache's AtomicFile: the target is either the old file or the
// complete new one, never a mix, whatever happens to the process.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/fs/file.hpp"

namespace cairn::fs {

// Every temp file cairn creates contains this infix, so `gc` and checkout can recognise and
// sweep leftovers of killed processes. The full grammar (docs/format.md) is
// `<stem>.cairn-tmp.<pid>-<host tag>-<12 hex>`; the stem is cut so the name fits in NAME_MAX.
inline constexpr std::string_view k_temp_infix = ".cairn-tmp.";

// The git-ignore pattern that matches every temp name (and a few names that only look like one).
inline constexpr std::string_view k_temp_ignore_pattern = "*.cairn-tmp.*";

enum class Durability {
    sync,    // fsync the file before rename and the directory after: survives power loss
    deferred // the caller makes it durable later (e.g. one syncfs for a batch)
};

// Creates a uniquely named temp file `<dir>/<temp name>` (see temp_name) with `mode`, open for
// writing. Returns the descriptor and sets *path. Throws Error(io).
[[nodiscard]] Fd make_temp_file(const stdfs::path& dir, std::string_view stem, stdfs::path* path,
                                mode_t mode = 0644);

// A fresh name `<dir>/<stem><k_temp_infix><pid>-<host tag>-<12 hex>` without creating anything,
// for callers that create the entry themselves (link, symlink) and retry on EEXIST. A stem too
// long for the name to fit in NAME_MAX bytes is cut (at a UTF-8 character boundary).
[[nodiscard]] stdfs::path temp_name(const stdfs::path& dir, std::string_view stem);

// True when a file name contains the temp infix: cairn treats such a file as transient (never
// data, never a user change), as the git-ignore pattern does.
[[nodiscard]] bool looks_like_temp(std::string_view file_name);

// A temp name taken apart.
struct TempName {
    std::string stem;     // possibly cut, see temp_name
    long long pid = 0;    // the creating process
    std::string host_tag; // 8 hex digits derived from the creating host's name
};

// Parses a file name made by temp_name; nullopt for any other name (including temp names of
// cairn versions before the pid and host were part of them).
[[nodiscard]] std::optional<TempName> parse_temp_name(std::string_view file_name);

// This host's tag, as temp names carry it.
[[nodiscard]] std::string host_tag();

// True only when the temp's creator is certainly gone: it ran on this host (same host tag) and
// no process has its pid (kill(pid, 0) fails with ESRCH). A temp of another host, or of a pid
// that exists (even reused by another program), is never considered dead.
[[nodiscard]] bool temp_creator_dead(const TempName& temp);

// parse_temp_name and temp_creator_dead together: a leftover that may be removed.
[[nodiscard]] bool is_dead_temp(std::string_view file_name);

enum class SweepMode { remove, dry_run };

// Removes the entries directly in `dir` (files and symlinks, not directories) for which
// is_dead_temp holds. Returns how many were removed (with dry_run: would be). A missing `dir`
// or an entry that vanished meanwhile is not an error; other failures throw Error(io).
std::size_t sweep_dead_temps(const stdfs::path& dir, SweepMode mode = SweepMode::remove);

class AtomicFile {
public:
    // Opens a temp file next to `target` (or in `temp_dir` when given, which must be on the
    // same filesystem). Throws Error(io).
    explicit AtomicFile(stdfs::path target, mode_t mode = 0644, stdfs::path temp_dir = {});
    // Removes the temp file if commit() was not called. Never commits by itself.
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    void write(std::string_view data);
    [[nodiscard]] int fd() const { return m_fd.get(); }
    [[nodiscard]] const stdfs::path& temp_path() const { return m_temp; }

    // Flushes, (fsyncs), closes and renames onto the target; with Durability::sync also fsyncs
    // the target's directory. Throws Error(io); the target is untouched on failure.
    void commit(Durability durability = Durability::sync);

private:
    stdfs::path m_target;
    stdfs::path m_temp;
    Fd m_fd;
    bool m_committed = false;
};

// Replaces `target` with `content` atomically (and durably, unless Durability::deferred).
void write_file_atomic(const stdfs::path& target, std::string_view content, mode_t mode = 0644,
                       Durability durability = Durability::sync);

} // namespace cairn::fs
