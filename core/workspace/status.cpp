#include "core/workspace/status.hpp"

#include "core/fs/file.hpp"
#include "core/fs/lock.hpp"
#include "core/util/error.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/compare.hpp"

namespace cairn::workspace {

std::string_view to_string(DataState state) {
    switch (state) {
    case DataState::unchanged: return "unchanged";
    case DataState::modified: return "modified";
    case DataState::deleted: return "deleted";
    case DataState::not_in_cache: return "not in cache";
    case DataState::not_staged: return "not staged";
    }
    return "unknown";
}

namespace {

PathStatus status_of(Workspace& ws, const std::string& data_path, const std::string& pointer_path,
                     const Pointer& pointer, util::Progress& progress) {
    PathStatus ps;
    ps.data_path = data_path;
    ps.pointer_path = pointer_path;
    ps.is_directory = pointer.is_directory();
    if (!ws.cache().has(pointer.digest)) {
        ps.state = DataState::not_in_cache;
        return ps;
    }
    check_pointer_object(ws.cache(), pointer, pointer_path);
    Expected expected;
    try {
        expected = flatten(ws.cache(), pointer);
    } catch (const Error& e) {
        throw Error(e.kind(), pointer_path + ": " + e.what());
    }
    if (!expected.missing_trees.empty()) {
        // Part of the directory's listing is not here: it cannot be compared file by file.
        ps.state = DataState::not_in_cache;
        return ps;
    }
    Comparison cmp = compare(ws, data_path, expected, HashAdded::no, progress);
    if (!fs::lstat_path(ws.absolute(data_path)))
        ps.state = DataState::deleted;
    else if (!cmp.clean())
        ps.state = DataState::modified;
    if (ps.is_directory && ps.state == DataState::modified) {
        for (const auto& c : cmp.added) ps.added.push_back(join_rel(data_path, c.rel));
        for (const auto& c : cmp.modified) ps.modified.push_back(join_rel(data_path, c.rel));
        for (const auto& rel : cmp.deleted) ps.deleted.push_back(join_rel(data_path, rel));
    }
    return ps;
}

// True when `pointer_path` (tracking `data_path`) is one the user asked about.
bool selected(const std::vector<std::string>& paths, const std::string& pointer_path, const std::string& data_path) {
    if (paths.empty()) return true;
    for (const auto& p : paths)
        if (p == data_path || p == pointer_path || util::starts_with(pointer_path, p + "/")) return true;
    return false;
}

std::vector<PathStatus> staged_status(Workspace& ws, const std::vector<std::string>& paths, util::Progress& progress) {
    std::vector<PathStatus> out;
    std::vector<bool> matched(paths.size(), false);
    for (const auto& [pointer_path, text] : ws.repo().index_blobs_with_suffix(k_pointer_suffix)) {
        if (pointer_path.size() == k_pointer_suffix.size() || util::ends_with(pointer_path, "/" + std::string(k_pointer_suffix)))
            continue; // a file named just ".cairn" is no pointer, as in the work tree
        Pointer pointer;
        try {
            pointer = Pointer::parse(text, pointer_path);
        } catch (const Error& e) {
            throw Error(e.kind(), std::string(e.what()) + " (the version staged in git's index)");
        }
        std::string data_path = (stdfs::path(pointer_path).parent_path() / pointer.path).string();
        if (!selected(paths, pointer_path, data_path)) continue;
        for (std::size_t i = 0; i < paths.size(); ++i) matched[i] = matched[i] || selected({paths[i]}, pointer_path, data_path);
        PathStatus ps = status_of(ws, data_path, pointer_path, pointer, progress);
        // The data differs from what the commit would record; when the pointer in the work tree
        // is not the staged one, that is what is missing from the commit (e.g. a re-add).
        if (ps.state != DataState::unchanged && fs::read_file_if_exists(ws.absolute(pointer_path)) != text)
            ps.state = DataState::not_staged;
        out.push_back(std::move(ps));
    }
    for (std::size_t i = 0; i < paths.size(); ++i)
        if (!matched[i]) fail(ErrorKind::input, "'{}' has no pointer file staged in git's index", paths[i]);
    return out;
}

} // namespace

std::vector<PathStatus> status(Workspace& ws, const std::vector<std::string>& paths, util::Progress& progress,
                               Against against) {
    fs::FileLock store_lock(ws.store_lock_path(), fs::LockMode::shared);
    std::vector<PathStatus> out;
    if (against == Against::index) {
        out = staged_status(ws, paths, progress);
    } else {
        for (const auto& file : ws.find_pointers(paths))
            out.push_back(status_of(ws, file.data_path, file.pointer_path, ws.read_pointer(file), progress));
    }
    // The stat cache is an accelerator: a full disk must not make a read-only command fail.
    try {
        ws.stat_cache().save();
    } catch (const Error& e) {
        if (e.kind() != ErrorKind::io) throw;
    }
    return out;
}

} // namespace cairn::workspace
