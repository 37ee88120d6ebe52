#include "core/drift/profiles.hpp"

#include <cerrno>
#include <unistd.h>
#include <vector>

#include "core/fs/atomic_file.hpp"
#include "core/fs/file.hpp"
#include "core/util/error.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/checkout.hpp"

namespace cairn::drift {
namespace {

using table::Format;
using table::Profile;

std::string read_all(int fd, const std::string& what, std::size_t size_hint) {
    std::string out(size_hint + 1, '\0');
    std::size_t got = 0;
    for (;;) {
        if (got == out.size()) out.resize(out.size() * 2);
        ssize_t n = ::read(fd, out.data() + got, out.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail_errno("cannot read " + what, errno);
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    out.resize(got);
    return out;
}

// The format a name gives, else a guess from the first bytes of `fd`.
Format format_of(const std::string& name, int fd, const std::string& what) {
    if (auto f = table::format_from_name(name)) return *f;
    char head[4096];
    ssize_t n;
    do n = ::pread(fd, head, sizeof head, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0) fail_errno("cannot read " + what, errno);
    return table::sniff_format(std::string_view(head, static_cast<std::size_t>(n)));
}

// A stored profile is derived data: one that is damaged, of another schema, or not of these
// bytes is computed again and replaced.
std::optional<Profile> load_stored(const workspace::Workspace& ws, const hash::Digest& digest, Format format) {
    stdfs::path path = stored_profile_path(ws, digest, format);
    auto text = fs::read_file_if_exists(path);
    if (!text) return std::nullopt;
    try {
        Profile p = table::parse_profile(*text, path.string());
        if (p.object == digest.id() && p.format == format) return p;
    } catch (const Error&) {
    }
    return std::nullopt;
}

void store(const workspace::Workspace& ws, const hash::Digest& digest, const Profile& profile) {
    stdfs::path path = stored_profile_path(ws, digest, profile.format);
    fs::make_dirs(path.parent_path());
    // Losing it to a crash costs only profiling again: no fsync.
    fs::write_file_atomic(path, table::to_json(profile), 0644, fs::Durability::deferred);
}

ProfiledTable workspace_file(workspace::Workspace& ws, const std::string& rel) {
    fs::Fd fd = fs::open_read(ws.absolute(rel));
    struct stat before {};
    if (::fstat(fd.get(), &before) != 0) fail_errno("cannot stat " + rel, errno);
    fs::check_regular(before, rel);
    Format format = format_of(rel, fd.get(), rel);
    if (auto known = ws.stat_cache().lookup(rel, before))
        if (auto p = load_stored(ws, *known, format)) return {std::move(*p), rel, true};
    std::int64_t started = state::now_ns();
    std::string bytes = read_all(fd.get(), rel, static_cast<std::size_t>(before.st_size));
    struct stat after {};
    if (::fstat(fd.get(), &after) != 0) fail_errno("cannot stat " + rel, errno);
    // The id of exactly the bytes read, whatever the file does meanwhile.
    hash::Digest digest = hash::hash_bytes(bytes);
    if (after.st_size == before.st_size && fs::mtime_ns(after) == fs::mtime_ns(before) && fs::ctime_ns(after) == fs::ctime_ns(before)) {
        ws.stat_cache().record(rel, state::make_entry(before, digest, started));
        ws.stat_cache().save();
    }
    if (auto p = load_stored(ws, digest, format)) return {std::move(*p), rel, true};
    Profile p = table::profile_table(bytes, format, rel, digest.id());
    if (ws.cache().has(digest)) store(ws, digest, p);
    return {std::move(p), rel, false};
}

// `rel` through the pointer of it or of a directory holding it.
ProfiledTable tracked(workspace::Workspace& ws, const std::string& rel) {
    std::vector<std::string> below; // the components under the tracked directory, leaf first
    for (stdfs::path at = rel; !at.empty(); at = at.parent_path()) {
        const std::string data = at.generic_string();
        const std::string pointer = data + std::string(workspace::k_pointer_suffix);
        auto st = fs::lstat_path(ws.absolute(pointer));
        if (!st || !S_ISREG(st->st_mode)) {
            below.push_back(at.filename().string());
            continue;
        }
        workspace::Pointer ptr = ws.read_pointer({pointer, data});
        hash::Digest digest = ptr.digest;
        auto need = [&ws, &rel](const hash::Digest& d) {
            if (!ws.cache().has(d))
                fail(ErrorKind::integrity, "the bytes of {} ({}) are not in the cache ('cairn pull' fetches missing ones)", rel, d.id());
        };
        if (below.empty() && ptr.is_directory())
            fail(ErrorKind::input, "{} is a tracked directory; profile one file (a table) in it", rel);
        if (!below.empty() && !ptr.is_directory())
            fail(ErrorKind::input, "{}: {} is a tracked file ({}), not a directory", rel, data, pointer);
        for (std::size_t i = below.size(); i-- > 0;) {
            need(digest);
            cache::Tree tree = ws.cache().read_tree(digest);
            const cache::TreeEntry* entry = nullptr;
            for (const auto& e : tree.entries)
                if (e.name == below[i]) entry = &e;
            if (!entry) fail(ErrorKind::input, "{}: no such file in the tracked directory {} ({})", rel, data, pointer);
            if ((entry->kind == cache::EntryKind::directory) != (i > 0))
                fail(ErrorKind::input, "{}: {} in the tracked directory {}", rel, i > 0 ? "a file where a directory is expected" : "is a directory",
                     data);
            digest = entry->digest;
        }
        need(digest);
        auto format = table::format_from_name(rel);
        if (!format) {
            fs::Fd fd = fs::open_read(ws.cache().object_path(digest));
            format = format_of("", fd.get(), digest.id());
        }
        ProfiledTable out = profile_object(ws, digest, *format, rel);
        out.path = rel;
        return out;
    }
    fail(ErrorKind::input, "{}: no such file, and no pointer file tracks it", rel);
}

} // namespace

stdfs::path stored_profile_path(const workspace::Workspace& ws, const hash::Digest& digest, Format format) {
    return ws.store_dir() / "state" / "profiles" / (digest.hex() + "." + std::string(table::to_string(format)) + ".json");
}

ProfiledTable profile_object(workspace::Workspace& ws, const hash::Digest& digest, Format format, const std::string& display) {
    if (auto p = load_stored(ws, digest, format)) return {std::move(*p), "", true};
    if (ws.cache().starts_like_tree(digest))
        fail(ErrorKind::input, "{} is a directory (a tree object); profile one file (a table) in it", display);
    std::string bytes = ws.cache().read_verified(digest);
    Profile p = table::profile_table(bytes, format, display, digest.id());
    store(ws, digest, p);
    return {std::move(p), "", false};
}

ProfiledTable profile_path(workspace::Workspace& ws, const stdfs::path& cwd, const std::string& user_path) {
    if (util::starts_with(user_path, hash::k_id_prefix)) {
        hash::Digest digest = workspace::find_object(ws, user_path);
        fs::Fd fd = fs::open_read(ws.cache().object_path(digest));
        return profile_object(ws, digest, format_of("", fd.get(), digest.id()), digest.id());
    }
    std::string rel = ws.relative_path(cwd, user_path);
    auto st = fs::lstat_path(ws.absolute(rel));
    if (!st) return tracked(ws, rel);
    if (S_ISDIR(st->st_mode)) fail(ErrorKind::input, "{} is a directory; profile one file (a table) in it", rel);
    if (util::ends_with(rel, workspace::k_pointer_suffix) && S_ISREG(st->st_mode))
        return tracked(ws, rel.substr(0, rel.size() - workspace::k_pointer_suffix.size()));
    return workspace_file(ws, rel);
}

} // namespace cairn::drift
