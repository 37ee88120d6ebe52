#include "core/workspace/checkout.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <set>
#include <unistd.h>

#include "core/fs/atomic_file.hpp"
#include "core/fs/file.hpp"
#include "core/fs/lock.hpp"
#include "core/fs/walk.hpp"
#include "core/util/error.hpp"
#include "core/util/parallel.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/compare.hpp"

namespace cairn::workspace {
namespace {

struct Plan {
    std::string data_path;
    Expected expected;
    Comparison cmp;
    std::vector<std::string> to_write; // rel paths (modified + deleted)
};

constexpr std::size_t k_listed = 10;

std::string list_paths(const std::vector<std::string>& paths) {
    std::string out;
    for (std::size_t i = 0; i < paths.size() && i < k_listed; ++i) out += "\n  " + paths[i];
    if (paths.size() > k_listed) out += fmt::format("\n  ... and {} more", paths.size() - k_listed);
    return out;
}

// Removes a directory tree without following symlinks.
void remove_tree(const stdfs::path& path) {
    std::error_code ec;
    stdfs::remove_all(path, ec);
    if (ec) throw Error(ErrorKind::io, "cannot remove " + path.string() + ": " + ec.message());
}

} // namespace

std::vector<CheckedOut> checkout(Workspace& ws, const std::vector<std::string>& paths, Overwrite overwrite,
                                 util::Progress& progress) {
    std::vector<std::pair<std::string, Pointer>> targets;
    for (const auto& file : ws.find_pointers(paths)) targets.emplace_back(file.data_path, ws.read_pointer(file));
    return restore_data(ws, targets, overwrite, progress);
}

namespace {

// What restoring `targets` would write and remove, with the data in the way that the cache does
// not hold in *unsaved. A target that needs an object the cache lacks gets no plan: with
// `missing_out`, those objects are added there; without, Error(integrity) names every one. The
// caller holds the store lock.
std::vector<Plan> plan_restore(Workspace& ws, const std::vector<std::pair<std::string, Pointer>>& targets,
                               util::Progress& progress, std::vector<std::string>& unsaved,
                               std::vector<std::string>* missing_out = nullptr) {
    std::vector<Plan> plans;
    std::vector<std::string> missing;

    for (const auto& [data_path, pointer] : targets) {
        std::string parent = stdfs::path(data_path).parent_path().string();
        if (!parent.empty()) ws.check_no_symlinks(parent);
        if (!ws.cache().has(pointer.digest)) {
            missing.push_back(fmt::format("{} ({})", data_path, pointer.digest.id()));
            continue;
        }
        check_pointer_object(ws.cache(), pointer, data_path + std::string(k_pointer_suffix));
        Plan plan;
        plan.data_path = data_path;
        try {
            plan.expected = flatten(ws.cache(), pointer);
        } catch (const Error& e) {
            throw Error(e.kind(), data_path + ": " + e.what());
        }
        if (!plan.expected.missing_trees.empty()) {
            for (const auto& id : plan.expected.missing_trees)
                missing.push_back(fmt::format("a sub-directory of {} ({})", data_path, id));
            continue;
        }
        // Found now rather than as ENAMETOOLONG half-way through writing.
        std::size_t base = ws.absolute(data_path).string().size();
        std::size_t room = base < PATH_MAX - 1 ? PATH_MAX - 1 - base : 0;
        auto too_long = [&](const std::string& rel) { return !rel.empty() && rel.size() + 1 > room; };
        for (const auto& dir : plan.expected.dirs)
            if (too_long(dir))
                fail(ErrorKind::input, "{}: a directory in it would have a path longer than the system's limit ({} bytes)",
                     data_path, PATH_MAX);
        for (const auto& [rel, file] : plan.expected.files)
            if (too_long(rel))
                fail(ErrorKind::input, "{}: a file in it would have a path longer than the system's limit ({} bytes)",
                     data_path, PATH_MAX);
        plan.cmp = compare(ws, data_path, plan.expected, HashAdded::yes, progress);
        auto saved = [&](const Change& c) { return c.current && ws.cache().has(*c.current); };
        for (const auto& c : plan.cmp.modified) {
            if (!saved(c)) unsaved.push_back(join_rel(data_path, c.rel) + " (modified)");
            plan.to_write.push_back(c.rel);
        }
        for (const auto& c : plan.cmp.added)
            if (!saved(c)) unsaved.push_back(join_rel(data_path, c.rel) + " (not in the pointer)");
        for (const auto& rel : plan.cmp.deleted) plan.to_write.push_back(rel);
        std::size_t before = missing.size();
        for (const auto& rel : plan.to_write) {
            const ExpectedFile& want = plan.expected.files.at(rel);
            if (!ws.cache().has(want.digest))
                missing.push_back(fmt::format("{} ({})", join_rel(data_path, rel), want.digest.id()));
        }
        if (missing.size() == before) plans.push_back(std::move(plan));
    }
    if (missing_out) {
        missing_out->insert(missing_out->end(), missing.begin(), missing.end());
    } else if (!missing.empty()) {
        fail(ErrorKind::integrity, "{} object(s) needed for checkout are missing from the cache:{}", missing.size(),
             list_paths(missing));
    }
    return plans;
}

} // namespace

std::vector<std::string> unsaved_data_in_the_way(Workspace& ws,
                                                 const std::vector<std::pair<std::string, Pointer>>& targets,
                                                 util::Progress& progress) {
    fs::FileLock store_lock(ws.store_lock_path(), fs::LockMode::shared);
    std::vector<std::string> unsaved;
    (void)plan_restore(ws, targets, progress, unsaved);
    return unsaved;
}

std::vector<CheckedOut> restore_data(Workspace& ws, const std::vector<std::pair<std::string, Pointer>>& targets,
                                     Overwrite overwrite, util::Progress& progress) {
    fs::FileLock store_lock(ws.store_lock_path(), fs::LockMode::shared);
    std::vector<std::string> unsaved;
    // What can be restored is, even when other paths need objects the cache lacks (reported at
    // the end): one missing object must not hold back the rest of a checkout.
    std::vector<std::string> missing;
    std::vector<Plan> plans = plan_restore(ws, targets, progress, unsaved, &missing);
    if (!unsaved.empty() && overwrite != Overwrite::force)
        fail(ErrorKind::input,
             "checkout would overwrite or remove data that is not in the cache:{}\n"
             "run 'cairn add' to keep it, or 'cairn checkout --force' to discard it",
             list_paths(unsaved));

    // Leftovers of killed cairn processes beside and inside the data about to be written (the
    // scan listed those inside already): only the dead ones, a live cairn may be writing.
    std::set<std::string> parents;
    for (const auto& plan : plans) {
        parents.insert(stdfs::path(plan.data_path).parent_path().string());
        stdfs::path abs = ws.absolute(plan.data_path);
        for (const auto& rel : plan.cmp.temps)
            if (fs::is_dead_temp(stdfs::path(rel).filename().string())) fs::remove_file(abs / rel);
    }
    for (const auto& parent : parents) (void)fs::sweep_dead_temps(ws.absolute(parent));

    std::vector<CheckedOut> out;
    for (auto& plan : plans) {
        CheckedOut done;
        done.data_path = plan.data_path;
        stdfs::path abs = ws.absolute(plan.data_path);
        // Remove what the pointer does not list first, so a file can replace a directory and
        // back again.
        for (const auto& c : plan.cmp.added) {
            fs::remove_file(c.rel.empty() ? abs : abs / c.rel);
            ++done.removed;
        }
        std::sort(plan.cmp.extra_dirs.rbegin(), plan.cmp.extra_dirs.rend()); // deepest first
        for (const auto& dir : plan.cmp.extra_dirs) remove_tree(dir.empty() ? abs : abs / dir);
        for (const auto& dir : plan.expected.dirs) {
            stdfs::path path = dir.empty() ? abs : abs / dir;
            if (fs::lstat_path(path)) continue;
            fs::make_dirs(path);
            ++done.dirs_created;
        }
        if (!plan.expected.dirs.empty()) ws.check_no_symlinks(plan.data_path);

        progress.begin("Checking out", plan.to_write.size());
        util::parallel_for(plan.to_write.size(), [&](std::size_t i) {
            const std::string& rel = plan.to_write[i];
            const ExpectedFile& want = plan.expected.files.at(rel);
            stdfs::path target = rel.empty() ? abs : abs / rel;
            ws.cache().materialize(want.digest, target, ws.config().link_types, want.executable);
            struct stat st {};
            if (::stat(target.c_str(), &st) == 0)
                ws.stat_cache().record(join_rel(plan.data_path, rel),
                                       state::make_entry(st, want.digest, state::now_ns()));
            progress.advance(1, want.size);
        });
        progress.end();
        done.written = plan.to_write.size();
        out.push_back(std::move(done));
    }
    ws.stat_cache().save();
    if (!missing.empty())
        fail(ErrorKind::integrity, "{} object(s) needed for checkout are missing from the cache{}:{}", missing.size(),
             plans.empty() ? "" : fmt::format(" (the other {} path(s) were restored)", plans.size()), list_paths(missing));
    return out;
}

hash::Digest find_object(Workspace& ws, const std::string& id) {
    std::string hex = util::starts_with(id, "sha256:") ? id.substr(7) : id;
    if (hex.size() < 8 || hex.size() > 64 || hex.find_first_not_of("0123456789abcdef") != std::string::npos)
        fail(ErrorKind::input, "'{}': an object id is sha256: and 8 to 64 lowercase hex digits", id);
    std::vector<hash::Digest> found = ws.cache().find_by_prefix(hex);
    if (found.empty()) fail(ErrorKind::input, "the cache has no object {} ('cairn pull' fetches missing ones)", id);
    if (found.size() > 1) {
        std::vector<std::string> matches;
        for (const auto& d : found) matches.push_back(d.id());
        fail(ErrorKind::input, "'{}' is ambiguous; it names {} objects:{}", id, matches.size(), list_paths(matches));
    }
    return found.front();
}

CheckedOut checkout_object(Workspace& ws, const hash::Digest& object, const std::string& path, Overwrite overwrite,
                           util::Progress& progress) {
    if (path.empty()) fail(ErrorKind::usage, "-o/--output: give a path inside the workspace, not its root");
    Pointer pointer = pointer_to_object(ws.cache(), stdfs::path(path).filename().string(), object);
    // Unlike a pointer's data, PATH may be anywhere: its directory is made as `git checkout` would.
    std::string parent = stdfs::path(path).parent_path().string();
    if (!parent.empty()) {
        ws.check_no_symlinks(parent);
        fs::make_dirs(ws.absolute(parent));
    }
    auto done = restore_data(ws, {{path, pointer}}, overwrite, progress);
    return done.front();
}

} // namespace cairn::workspace
