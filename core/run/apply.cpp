#include "core/run/apply.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/fs/file.hpp"
#include "core/run/runs.hpp"
#include "core/util/error.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/add.hpp"
#include "core/workspace/checkout.hpp"
#include "core/workspace/compare.hpp"

namespace cairn::run {
namespace {

// The pointer a run output is restored through (a file or a directory tree object).
workspace::Pointer output_pointer(workspace::Workspace& ws, const std::string& path, const std::string& id) {
    auto digest = hash::Digest::from_id(id);
    if (!digest) fail(ErrorKind::input, "output {}: not an object id: {}", path, id);
    if (!ws.cache().has(*digest)) fail(ErrorKind::integrity, "output {} ({}) is missing from the cache", path, id);
    try {
        return workspace::pointer_to_object(ws.cache(), std::filesystem::path(path).filename().string(), *digest);
    } catch (const Error& e) {
        throw Error(e.kind(), "output " + path + ": " + e.what());
    }
}

} // namespace

ApplyResult apply(workspace::Workspace& ws, const RunRecord& run, const ApplyOptions& options, util::Progress& progress) {
    ApplyResult result;
    auto& repo = ws.repo();
    const bool code = !options.outputs_only;
    if (code && !repo.has_commit(run.git_snapshot))
        fail(ErrorKind::environment, "the code snapshot {} of run {} is not in this repository",
             run.git_snapshot.substr(0, 12), run.id.substr(0, 8));

    std::vector<std::pair<std::string, workspace::Pointer>> outputs;
    for (const auto& [path, id] : run.outputs) {
        check_record_path(run, path, "output");
        outputs.emplace_back(path, output_pointer(ws, path, id));
    }

    // What would be lost: code files changed since HEAD, output bytes the cache does not hold.
    std::vector<std::string> in_the_way;
    if (code) {
        for (const auto& p : repo.uncommitted_in_the_way(run.git_snapshot)) {
            // Outputs are handled below (their bytes go to the cache, not the stash).
            bool is_output = std::any_of(outputs.begin(), outputs.end(), [&](const auto& o) {
                return p == o.first || util::starts_with(p, o.first + "/");
            });
            if (!is_output) in_the_way.push_back(p + " (uncommitted change)");
        }
    }
    for (const auto& u : workspace::unsaved_data_in_the_way(ws, outputs, progress)) in_the_way.push_back("output " + u);
    // Tracked data whose pointer the code brings in changed: its bytes follow (as `cairn
    // checkout` would), so data not in the cache is in the way too.
    std::vector<std::pair<std::string, workspace::Pointer>> tracked;
    if (code) {
        for (const auto& t : workspace::tracked_data_in(repo, run.git_snapshot)) {
            if (fs::read_file_if_exists(ws.absolute(t.pointer_path)) == t.text) continue;
            check_record_path(run, t.data_path, "tracked data");
            tracked.emplace_back(t.data_path, t.pointer);
            result.pointers_changed.push_back(t.pointer_path);
        }
        for (const auto& u : workspace::unsaved_data_in_the_way(ws, tracked, progress))
            in_the_way.push_back("tracked data " + u);
    }
    if (!in_the_way.empty() && !options.force) {
        std::string list;
        for (std::size_t i = 0; i < in_the_way.size() && i < 20; ++i) list += "\n  " + in_the_way[i];
        if (in_the_way.size() > 20) list += fmt::format("\n  ... and {} more", in_the_way.size() - 20);
        fail(ErrorKind::input,
             "applying run {} would overwrite uncommitted changes:{}\ncommit them, or use --force to save them "
             "(to {} and the cache) and apply anyway",
             run.id.substr(0, 8), list, k_apply_stash_ref);
    }

    if (!in_the_way.empty()) {
        // Save first. Output bytes go to the cache (they may be ignored by git, or large).
        std::vector<std::string> present;
        for (const auto& [path, p] : outputs)
            if (fs::lstat_path(ws.absolute(path))) present.push_back(path);
        for (const auto& [path, p] : tracked)
            if (fs::lstat_path(ws.absolute(path))) present.push_back(path);
        if (!present.empty()) {
            auto stored = workspace::add(ws, present, progress, workspace::Track::store_only);
            for (const auto& a : stored.paths) {
                auto recorded = run.outputs.find(a.data_path);
                if (recorded == run.outputs.end() || recorded->second != a.digest.id())
                    result.saved_outputs.emplace_back(a.data_path, a.digest.id());
            }
        }
        // The work tree as a commit, like `git stash -u`, without touching the index.
        auto snap = repo.snapshot_workdir(ws.store_dir() / "tmp" / ("apply-stash-" + run.id.substr(0, 8) + ".index"),
                                          fmt::format("cairn: work tree saved before applying run {}", run.id.substr(0, 8)),
                                          k_snapshot_file_limit);
        if (!snap.left_out.empty()) {
            auto stored = workspace::add(ws, snap.left_out, progress, workspace::Track::store_only);
            for (const auto& a : stored.paths) result.saved_outputs.emplace_back(a.data_path, a.digest.id());
        }
        if (snap.dirty && !snap.commit.empty()) {
            std::string ref(k_apply_stash_ref);
            std::string previous;
            for (const auto& r : repo.list_refs(ref))
                if (r.name == ref) previous = r.target;
            if (previous.empty()) {
                repo.create_ref(ref, snap.commit, "cairn apply: save work tree");
            } else {
                if (previous != snap.commit) {
                    std::string keep = ref + "-" + previous.substr(0, 12);
                    if (repo.list_refs(keep).empty()) repo.create_ref(keep, previous, "cairn apply: older stash");
                }
                repo.update_ref(ref, snap.commit, previous, "cairn apply: save work tree");
            }
            result.stash_commit = snap.commit;
            result.stash_ref = ref;
        }
    }

    if (code) {
        // Files the checkout changes, for the report.
        std::string head = repo.head();
        if (!head.empty())
            for (const auto& c : repo.diff_commits(head, run.git_snapshot)) result.code_files.push_back(c.path);
        repo.checkout_into_workdir(run.git_snapshot);
        for (const auto& d : workspace::restore_data(ws, tracked, workspace::Overwrite::force, progress))
            result.data.push_back(d.data_path);
    }
    auto done = workspace::restore_data(ws, outputs, workspace::Overwrite::force, progress);
    for (const auto& d : done) result.outputs.push_back(d.data_path);
    return result;
}

} // namespace cairn::run
