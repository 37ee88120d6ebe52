#include "core/sweep/sweep.hpp"

#include <atomic>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "core/fs/file.hpp"
#include "core/fs/lock.hpp"
#include "core/run/worktree.hpp"
#include "core/util/error.hpp"
#include "core/util/interrupt.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/add.hpp"

namespace cairn::sweep {

std::string new_sweep_id() {
    std::random_device rd;
    return fmt::format("{:08x}{:08x}", rd(), rd());
}

Prepared prepare(workspace::Workspace& ws, const run::RunOptions& ro, const std::string& id,
                 std::vector<std::string>& warnings) {
    Prepared p;
    util::NoProgress quiet;
    if (!ro.inputs.empty())
        for (const auto& s :
             workspace::add(ws, ro.inputs, quiet, workspace::Track::store_only).paths)
            p.inputs[s.data_path] = s.digest.id();
    // As `cairn run` does: declared inputs and outputs are data, not code.
    std::vector<std::string> data_paths = ro.outputs;
    data_paths.insert(data_paths.end(), ro.inputs.begin(), ro.inputs.end());
    git::Repository::Snapshot snap =
        ws.repo().snapshot_workdir(ws.store_dir() / "runs" / (".sweep-" + id + ".index"),
                                   fmt::format("cairn: code snapshot for sweep {}", id),
                                   run::k_snapshot_file_limit, data_paths);
    if (!snap.nested.empty())
        warnings.push_back(
            fmt::format("nested git repositories are not part of the code snapshot: {}",
                        fmt::join(snap.nested, ", ")));
    if (!snap.left_out.empty()) {
        for (const auto& s :
             workspace::add(ws, snap.left_out, quiet, workspace::Track::store_only).paths)
            p.snapshot.large_files[s.data_path] = s.digest.id();
        warnings.push_back(fmt::format(
            "{} untracked file(s) over {} kept out of the code snapshot and stored in the "
            "cache instead: {} (track them with 'cairn add' or ignore them)",
            snap.left_out.size(), util::human_size(run::k_snapshot_file_limit),
            fmt::join(snap.left_out, ", ")));
    }
    p.snapshot.git_snapshot = snap.commit;
    p.snapshot.git_base = snap.base;
    p.snapshot.git_branch = snap.branch;
    p.snapshot.git_dirty = snap.dirty;
    p.tracked = workspace::tracked_data_in(ws.repo(), snap.commit);
    std::vector<std::string> missing;
    for (const auto& t : p.tracked)
        if (!ws.cache().has(t.pointer.digest)) missing.push_back(t.data_path);
    if (!missing.empty())
        fail(ErrorKind::integrity,
             "the data of {} tracked path(s) is not in the cache, so trials cannot have it: {} "
             "(pull it with 'cairn "
             "pull')",
             missing.size(), fmt::join(missing, ", "));
    return p;
}

run::TrialWorktree::Source trial_source(const Prepared& prepared, const run::RunOptions& base) {
    run::TrialWorktree::Source source;
    source.snapshot = &prepared.snapshot;
    for (const auto& d : prepared.tracked)
        source.objects.emplace_back(d.data_path, d.pointer.digest.id());
    for (const auto& [path, id] : prepared.snapshot.large_files)
        source.objects.emplace_back(path, id);
    for (const auto& [path, id] : prepared.inputs)
        source.objects.emplace_back(path, id);
    source.cwd = base.cwd;
    // As rerun does (and DVC): the directories declared outputs go in exist, even when the
    // snapshot has nothing in them.
    for (const auto& o : base.outputs) {
        std::string parent = std::filesystem::path(o).parent_path().string();
        if (!parent.empty()) source.output_dirs.push_back(parent);
    }
    return source;
}

int SweepResult::exit_code() const {
    if (interrupted) return static_cast<int>(ErrorKind::interrupted);
    for (const auto& t : trials)
        if (t.status != "finished") return 1;
    return 0;
}

SweepResult run_sweep(workspace::Workspace& ws, const SweepOptions& options) {
    SweepResult result;
    result.id = new_sweep_id();
    // A crashed plain run may have left a parameter file overridden: the snapshot must not hold it.
    run::recover_crashed(ws);
    // gc must not remove what the trials need (inputs, large files) before their staging
    // directories name it, nor their worktrees' objects meanwhile.
    fs::FileLock store_lock(ws.store_lock_path(), fs::LockMode::shared);
    Prepared prepared = prepare(ws, options.run, result.id, result.warnings);
    result.snapshot = prepared.snapshot.git_snapshot;

    result.trials.resize(options.trials.size());
    for (std::size_t i = 0; i < options.trials.size(); ++i) {
        TrialResult& t = result.trials[i];
        t.number = i + 1;
        t.params = options.trials[i];
        t.name = trial_name(options.name_template, t.params, t.number);
        t.status = "not started";
    }

    // What every trial's worktree starts from; each job slot materialises it once and resets
    // it between its trials (run::TrialWorktree), so a trial sees none of an earlier one's files.
    run::TrialWorktree::Source source = trial_source(prepared, options.run);
    const run::RunOptions& base = options.run;

    std::size_t jobs = std::max<std::size_t>(1, std::min(options.jobs, result.trials.size()));
    std::mutex mutex; // around callbacks and Workspace::replica
    std::atomic<std::size_t> next{0};
    // One job slot's worktree, kept from trial to trial.
    struct Slot {
        std::unique_ptr<run::Scratch> scratch;
        std::optional<workspace::Workspace> replica;
        std::optional<run::TrialWorktree> worktree;
    };
    auto run_trial = [&](TrialResult& t, Slot& slot, std::size_t number) {
        if (slot.worktree) {
            slot.worktree->reset();
        } else {
            if (!slot.scratch) {
                slot.scratch = std::make_unique<run::Scratch>(
                    ws, fmt::format("sweep-{}-{}", result.id.substr(0, 8), number));
                std::lock_guard<std::mutex> lock(mutex);
                slot.replica.emplace(ws.replica(slot.scratch->work(), slot.scratch->state()));
            }
            slot.worktree.emplace(*slot.scratch, *slot.replica, source);
        }
        util::check_interrupted();
        run::RunOptions ro = base;
        ro.name = t.name;
        ro.sweep = result.id;
        ro.params.insert(ro.params.end(), t.params.begin(), t.params.end());
        ro.tags["sweep.trial"] = std::to_string(t.number);
        if (options.seed) ro.tags["sweep.seed"] = std::to_string(*options.seed);
        ro.snapshot = &prepared.snapshot;
        ro.replay = nullptr;
        ro.notice = nullptr;
        // Several trials at once cannot share the terminal.
        if (jobs > 1) ro.terminal = process::Terminal::background;
        util::NoProgress quiet;
        run::RunResult r = options.body ? options.body(*slot.replica, ro) : run::execute(*slot.replica, ro, quiet);
        t.record = std::move(r.record);
        t.status = t.record.status;
        t.exit_code = r.exit_code;
        t.warnings = std::move(r.warnings);
        if (!t.record.reason.empty()) t.error = t.record.reason;
    };
    auto worker = [&](std::size_t number) {
        Slot slot;
        for (;;) {
            std::size_t i = next.fetch_add(1);
            if (i >= result.trials.size() || util::interrupted()) return;
            TrialResult& t = result.trials[i];
            try {
                run_trial(t, slot, number);
            } catch (const Error& e) {
                t.status = e.kind() == ErrorKind::interrupted ? "interrupted" : "error";
                t.error = e.what();
                // The next trial of the slot starts from a fresh worktree, whatever this one
                // left half done.
                slot.worktree.reset();
            } catch (const std::exception& e) {
                t.status = "error";
                t.error =
                    std::string("internal error (a bug in cairn, please report it): ") + e.what();
                slot.worktree.reset();
            }
            if (options.on_end) {
                std::lock_guard<std::mutex> lock(mutex);
                options.on_end(t);
            }
        }
    };
    if (jobs == 1) {
        worker(1);
    } else {
        std::vector<std::thread> threads;
        for (std::size_t j = 0; j < jobs; ++j)
            threads.emplace_back(worker, j + 1);
        for (auto& th : threads)
            th.join();
    }
    result.interrupted = util::interrupted();
    return result;
}

} // namespace cairn::sweep
