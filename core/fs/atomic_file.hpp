#pragma once
// Write-to-temp-then-rename, as ccache's AtomicFile: the target is either the old file or the
// complete new one, never a mix, whatever happens to the process.

#include <filesystem>
#include <string>
#include <string_view>

#include "core/fs/file.hpp"

namespace cairn::fs {

// Every temp file cairn creates contains this infix, so `gc` and checkout can recognise and
// sweep leftovers of killed processes.
inline constexpr std::string_view k_temp_infix = ".cairn-tmp.";

enum class Durability {
    sync,    // fsync the file before rename and the directory after: survives power loss
    deferred // the caller makes it durable later (e.g. one syncfs for a batch)
};

// Creates a uniquely named temp file `<dir>/<stem><k_temp_infix>XXXXXX` with `mode`, open for
// writing. Returns the descriptor and sets *path. Throws Error(io).
[[nodiscard]] Fd make_temp_file(const stdfs::path& dir, std::string_view stem, stdfs::path* path,
                                mode_t mode = 0644);

// A fresh name `<dir>/<stem><k_temp_infix><12 hex>` without creating anything, for callers that
// create the entry themselves (link, symlink) and retry on EEXIST.
[[nodiscard]] stdfs::path temp_name(const stdfs::path& dir, std::string_view stem);

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
