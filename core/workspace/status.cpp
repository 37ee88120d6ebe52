#include "core/workspace/status.hpp"

#include "core/fs/file.hpp"
#include "core/fs/lock.hpp"
#include "core/util/error.hpp"
#include "core/workspace/compare.hpp"

namespace cairn::workspace {

std::string_view to_string(DataState state) {
    switch (state) {
    case DataState::unchanged: return "unchanged";
    case DataState::modified: return "modified";
    case DataState::deleted: return "deleted";
    case DataState::not_in_cache: return "not in cache";
    }
    return "unknown";
}

std::vector<PathStatus> status(Workspace& ws, const std::vector<std::string>& paths, util::Progress& progress) {
    fs::FileLock store_lock(ws.store_lock_path(), fs::LockMode::shared);
    std::vector<PathStatus> out;
    for (const auto& file : ws.find_pointers(paths)) {
        Pointer pointer = ws.read_pointer(file);
        PathStatus ps;
        ps.data_path = file.data_path;
        ps.pointer_path = file.pointer_path;
        ps.is_directory = pointer.is_directory();
        if (!ws.cache().has(pointer.digest)) {
            ps.state = DataState::not_in_cache;
            out.push_back(std::move(ps));
            continue;
        }
        Expected expected;
        try {
            expected = flatten(ws.cache(), pointer);
        } catch (const Error& e) {
            throw Error(e.kind(), file.pointer_path + ": " + e.what());
        }
        if (!expected.missing_trees.empty()) {
            // Part of the directory's listing is not here: it cannot be compared file by file.
            ps.state = DataState::not_in_cache;
            out.push_back(std::move(ps));
            continue;
        }
        Comparison cmp = compare(ws, file.data_path, expected, HashAdded::no, progress);
        if (!fs::lstat_path(ws.absolute(file.data_path)))
            ps.state = DataState::deleted;
        else if (!cmp.clean())
            ps.state = DataState::modified;
        if (ps.is_directory && ps.state == DataState::modified) {
            for (const auto& c : cmp.added) ps.added.push_back(join_rel(file.data_path, c.rel));
            for (const auto& c : cmp.modified) ps.modified.push_back(join_rel(file.data_path, c.rel));
            for (const auto& rel : cmp.deleted) ps.deleted.push_back(join_rel(file.data_path, rel));
        }
        out.push_back(std::move(ps));
    }
    ws.stat_cache().save();
    return out;
}

} // namespace cairn::workspace
