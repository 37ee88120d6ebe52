#include "core/pipeline/repro.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <csignal>
#include <fcntl.h>
#include <map>
#include <set>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>

#include "core/fs/file.hpp"
#include "core/fs/atomic_file.hpp"
#include "core/fs/lock.hpp"
#include "core/params/params.hpp"
#include "core/hash/hash.hpp"
#include "core/run/execute.hpp"
#include "core/run/store.hpp"
#include "core/util/error.hpp"
#include "core/util/interrupt.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/add.hpp"
#include "core/workspace/checkout.hpp"
#include "core/workspace/compare.hpp"
#include "core/workspace/workspace.hpp"

extern char** environ;

namespace cairn::pipeline {

namespace stdfs = std::filesystem;
using Outcome = StageResult::Outcome;

std::string_view to_string(Outcome outcome) {
    switch (outcome) {
    case Outcome::up_to_date: return "up to date";
    case Outcome::frozen: return "frozen";
    case Outcome::would_run: return "would run";
    case Outcome::ran: return "ran";
    case Outcome::restored: return "restored";
    case Outcome::failed: return "failed";
    case Outcome::skipped: return "skipped";
    case Outcome::interrupted: return "interrupted";
    }
    return "unknown";
}

namespace {

Outcome outcome_from(const std::string& s) {
    for (Outcome o : {Outcome::up_to_date, Outcome::frozen, Outcome::would_run, Outcome::ran, Outcome::restored,
                      Outcome::failed, Outcome::skipped, Outcome::interrupted})
        if (to_string(o) == s) return o;
    fail(ErrorKind::internal, "unknown stage outcome '{}'", s);
}

Reason::Kind kind_from(const std::string& s) {
    using K = Reason::Kind;
    for (K k : {K::never_run, K::always_changed, K::forced, K::command, K::dependency, K::param, K::output, K::upstream})
        if (Reason{k, "", ""}.kind_name() == s) return k;
    fail(ErrorKind::internal, "unknown reason '{}'", s);
}

bool ok(Outcome o) {
    return o == Outcome::up_to_date || o == Outcome::frozen || o == Outcome::ran || o == Outcome::restored;
}

// The stages `options` selects, in the graph's order.
std::vector<std::size_t> select(const Pipeline& p, const Graph& g, const ReproOptions& options) {
    std::set<std::size_t> chosen;
    if (options.targets.empty()) {
        for (std::size_t i = 0; i < p.stages.size(); ++i) chosen.insert(i);
    } else {
        std::vector<std::size_t> roots;
        for (const auto& t : options.targets)
            for (std::size_t i : select_stages(p, t)) roots.push_back(i);
        std::vector<std::size_t> stack = roots;
        const auto& edges = options.downstream ? g.downstream : g.upstream;
        while (!stack.empty()) {
            std::size_t i = stack.back();
            stack.pop_back();
            if (!chosen.insert(i).second) continue;
            if (options.single_item) continue;
            for (std::size_t j : edges[i]) stack.push_back(j);
        }
    }
    std::vector<std::size_t> out;
    for (std::size_t i : g.order)
        if (chosen.count(i)) out.push_back(i);
    return out;
}

LockedPath object_path(workspace::Workspace& ws, const std::string& written, const std::string& id) {
    LockedPath p;
    p.path = written;
    p.hash = id;
    auto digest = hash::Digest::from_id(id);
    if (!digest) fail(ErrorKind::integrity, "'{}' was recorded with a malformed object id '{}'", written, id);
    workspace::Pointer ptr = workspace::pointer_to_object(ws.cache(), stdfs::path(written).filename().string(), *digest);
    p.size = ptr.size;
    if (ptr.is_directory()) p.nfiles = ptr.files;
    return p;
}

bool all_in_cache(workspace::Workspace& ws, const std::map<std::string, std::string>& outputs) {
    for (const auto& [path, id] : outputs) {
        auto digest = hash::Digest::from_id(id);
        if (!digest || !ws.cache().has(*digest)) return false;
        // A directory's files must all be there too.
        try {
            workspace::Pointer ptr = workspace::pointer_to_object(ws.cache(), "x", *digest);
            if (ptr.is_directory()) {
                workspace::Expected e = workspace::flatten(ws.cache(), ptr);
                if (!e.missing_trees.empty()) return false;
                for (const auto& [rel, f] : e.files)
                    if (!ws.cache().has(f.digest)) return false;
            }
        } catch (const Error&) {
            return false;
        }
    }
    return true;
}

// What changed in a frozen stage since it was locked: its reasons, less `always_changed` (a
// setting, not a change).
std::vector<Reason> frozen_changes(const StageCheck& check) {
    std::vector<Reason> out;
    for (const auto& r : check.reasons)
        if (r.kind != Reason::Kind::always_changed) out.push_back(r);
    return out;
}

// A params file that no stage writes must exist: its absence is a mistake in the pipeline (or a
// file not checked out), reported where the stage names it. One that a stage writes is only
// missing until that stage runs.
// Checked before anything runs, so that a repro does not stop halfway for it.
void check_params_files(const workspace::Workspace& ws, const Pipeline& p, const std::vector<std::size_t>& stages) {
    for (std::size_t i : stages)
        for (const auto& ref : p.stages[i].params) {
            if (fs::lstat_path(ws.absolute(ref.file))) continue;
            bool written = false;
            for (const auto& s : p.stages)
                for (const auto& out : s.outs)
                    written |= out.path == ref.file || util::starts_with(ref.file, out.path + "/");
            if (written) continue;
            fail(ErrorKind::input, "{}:{}: stage '{}': params: params file '{}' does not exist{}", ref.mark.file,
                 ref.mark.line, p.stages[i].name, ref.file,
                 ref.written == "params.yaml" ? " (a key listed without a file is read from params.yaml in the stage's wdir)"
                                              : "");
        }
}

class Runner {
public:
    Runner(workspace::Workspace& ws, const Pipeline& p, const ReproOptions& options, util::Progress& progress)
        : m_ws(ws), m_p(p), m_options(options), m_progress(progress), m_probe(ws, progress) {}

    ReproReport run_all();
    std::vector<StageResult> status();

private:
    StageResult run_one(const Stage& stage, const std::string& upstream_changed, bool forced);
    StageResult execute(const Stage& stage, StageCheck& check);
    std::optional<StageResult> restore(const Stage& stage, const StageCheck& check, const std::string& key);
    void lock_stage(const Stage& stage, LockedStage entry);
    void ignore_outputs(const Stage& stage);
    ReproReport run_parallel(const std::vector<std::size_t>& order, const Graph& g);
    void prefetch(const std::vector<std::size_t>& stages) {
        std::vector<std::string> paths;
        for (std::size_t i : stages) {
            for (const auto& d : m_p.stages[i].deps) paths.push_back(d.path);
            for (const auto& o : m_p.stages[i].outs) paths.push_back(o.path);
        }
        m_probe.prefetch(std::move(paths));
    }
    void notice(const std::string& line) const {
        if (m_options.notice) m_options.notice(line);
    }

    workspace::Workspace& m_ws;
    const Pipeline& m_p;
    const ReproOptions& m_options;
    util::Progress& m_progress;
    Probe m_probe;
    LockFile m_lock;
};

// Cached outputs are the pipeline's, not git's (`cache: false` ones are git's).
void Runner::ignore_outputs(const Stage& stage) {
    fs::FileLock lock(m_ws.workspace_lock_path(), fs::LockMode::exclusive);
    for (const auto& out : stage.outs)
        if (out.cache) m_ws.ignore_in_git(out.path);
}

void Runner::lock_stage(const Stage& stage, LockedStage entry) {
    update_lock(m_ws, m_p.lock_file, stage.name, entry);
    m_lock.stages[stage.name] = std::move(entry);
}

// The run cache: an earlier finished run of this stage with the same key whose outputs are all
// in the cache. Its outputs are put in place of the workspace's.
std::optional<StageResult> Runner::restore(const Stage& stage, const StageCheck& check, const std::string& key) {
    std::vector<run::RunRecord> runs = run::list_runs(m_ws);
    for (const auto& listed : runs) {
        if (listed.stage != stage.name || listed.pipeline != m_p.file || listed.status != "finished") continue;
        run::RunRecord r = run::load_run(m_ws, listed);
        if (r.stage_key != key) continue;
        std::map<std::string, std::string> outputs;
        bool complete = true;
        for (const auto& out : stage.outs) {
            auto it = r.outputs.find(out.path);
            if (it == r.outputs.end()) {
                complete = false;
                break;
            }
            outputs[out.path] = it->second;
        }
        if (!complete || !all_in_cache(m_ws, outputs)) continue;

        std::vector<std::pair<std::string, workspace::Pointer>> targets;
        for (const auto& [path, id] : outputs)
            targets.emplace_back(path, workspace::pointer_to_object(m_ws.cache(), stdfs::path(path).filename().string(),
                                                                    *hash::Digest::from_id(id)));
        // Outputs are the pipeline's to replace; whatever they held is kept in the cache first.
        std::vector<std::string> present;
        for (const auto& [path, id] : outputs)
            if (fs::lstat_path(m_ws.absolute(path))) present.push_back(path);
        if (!present.empty()) (void)workspace::add(m_ws, present, m_progress, workspace::Track::store_only);
        for (const auto& [path, pointer] : targets) m_ws.check_no_symlinks(stdfs::path(path).parent_path().string());
        (void)workspace::restore_data(m_ws, targets, workspace::Overwrite::force, m_progress);
        ignore_outputs(stage);
        LockedStage entry = check.current;
        for (const auto& out : stage.outs) entry.outs.push_back(object_path(m_ws, out.written, outputs[out.path]));
        entry.run = r.id;
        lock_stage(stage, std::move(entry));
        m_probe.forget();
        StageResult result;
        result.stage = stage.name;
        result.outcome = Outcome::restored;
        result.reasons = check.reasons;
        result.run = r.id;
        notice(fmt::format("stage {}: restored from run {}", stage.name, r.id.substr(0, 8)));
        return result;
    }
    return std::nullopt;
}

StageResult Runner::execute(const Stage& stage, StageCheck& check) {
    StageResult result;
    result.stage = stage.name;
    result.reasons = check.reasons;
    // Outputs that do not persist are removed first, as DVC does; their bytes go to the cache
    // before, so nothing is lost.
    std::vector<std::string> remove;
    for (const auto& out : stage.outs)
        if (!out.persist && fs::lstat_path(m_ws.absolute(out.path))) remove.push_back(out.path);
    if (!remove.empty()) {
        (void)workspace::add(m_ws, remove, m_progress, workspace::Track::store_only);
        for (const auto& path : remove) {
            notice(fmt::format("stage {}: removing output {} before running (its bytes are in the cache)", stage.name, path));
            std::error_code ec;
            stdfs::path abs = m_ws.absolute(path);
            stdfs::permissions(abs, stdfs::perms::owner_all, stdfs::perm_options::add, ec);
            stdfs::remove_all(abs, ec);
            if (ec) fail(ErrorKind::io, "cannot remove output '{}' of stage {}: {}", path, stage.name, ec.message());
        }
    }
    for (const auto& out : stage.outs) {
        std::string parent = stdfs::path(out.path).parent_path().string();
        if (parent.empty()) continue;
        m_ws.check_no_symlinks(parent);
        fs::make_dirs(m_ws.absolute(parent));
    }

    run::RunOptions ro;
    ro.name = stage.name;
    ro.command = stage_argv(stage);
    ro.cwd = stage.wdir;
    for (const auto& dep : stage.deps) ro.inputs.push_back(dep.path);
    std::sort(ro.inputs.begin(), ro.inputs.end());
    ro.inputs.erase(std::unique(ro.inputs.begin(), ro.inputs.end()), ro.inputs.end());
    for (const auto& out : stage.outs) {
        ro.outputs.push_back(out.path);
        if (out.kind == Output::Kind::metric) ro.metric_files.push_back(out.path);
    }
    // Every params file the stage reads (YAML, JSON, TOML; load() refuses Python ones) goes into
    // its run's record.
    for (const auto& ref : stage.params)
        if (std::find(ro.param_files.begin(), ro.param_files.end(), ref.file) == ro.param_files.end())
            ro.param_files.push_back(ref.file);
    ro.stage = stage.name;
    ro.pipeline = m_p.file;
    ro.stage_key = stage_key(check.current);
    ro.stdout_to_stderr = m_options.stdout_to_stderr;
    ro.notice = m_options.notice;
    ro.sweep = m_options.sweep;
    ro.tags = m_options.tags;
    ro.snapshot = m_options.snapshot;
    ro.terminal = m_options.terminal;

    notice(fmt::format("stage {}: running ({})", stage.name,
                       check.reasons.empty() ? std::string("forced") : check.reasons.front().describe()));
    run::RunResult rr = run::execute(m_ws, ro, m_progress);
    m_probe.forget();
    result.run = rr.record.id;
    result.exit_code = rr.exit_code;
    for (const auto& w : rr.warnings) notice(fmt::format("stage {}: warning: {}", stage.name, w));
    if (rr.record.status == "interrupted") {
        result.outcome = Outcome::interrupted;
        result.message = "interrupted";
        return result;
    }
    if (rr.record.status != "finished") {
        result.outcome = Outcome::failed;
        result.message = rr.record.reason.empty() ? fmt::format("the command exited with {}", rr.exit_code) : rr.record.reason;
        notice(fmt::format("stage {}: failed ({}); run {}", stage.name, result.message, rr.record.id.substr(0, 8)));
        return result;
    }
    ignore_outputs(stage);
    LockedStage entry;
    entry.cmd = stage.cmd;
    entry.params = check.current.params;
    // What the command read and wrote, as the run recorded it.
    for (const auto& dep : stage.deps)
        if (auto it = rr.record.inputs.find(dep.path); it != rr.record.inputs.end())
            entry.deps.push_back(object_path(m_ws, dep.written, it->second));
    for (const auto& out : stage.outs)
        if (auto it = rr.record.outputs.find(out.path); it != rr.record.outputs.end())
            entry.outs.push_back(object_path(m_ws, out.written, it->second));
    entry.run = rr.record.id;
    lock_stage(stage, std::move(entry));
    result.outcome = Outcome::ran;
    notice(fmt::format("stage {}: done; run {}", stage.name, rr.record.id.substr(0, 8)));
    return result;
}

StageResult Runner::run_one(const Stage& stage, const std::string& upstream_changed, bool forced) {
    StageResult result;
    result.stage = stage.name;
    const LockedStage* locked = nullptr;
    if (auto it = m_lock.stages.find(stage.name); it != m_lock.stages.end()) locked = &it->second;
    StageCheck check = check_stage(m_probe, stage, locked);
    result.reasons = check.reasons;
    if (check.frozen) {
        result.outcome = Outcome::frozen;
        result.reasons = frozen_changes(check);
        if (!result.reasons.empty())
            notice(fmt::format("stage {}: frozen, not run (changed: {})", stage.name, describe(result.reasons)));
        return result;
    }
    forced |= m_options.force;
    if (!check.stale() && !forced && !(m_options.dry_run && !upstream_changed.empty())) {
        result.outcome = Outcome::up_to_date;
        return result;
    }
    if (forced && check.reasons.empty()) check.reasons.push_back({Reason::Kind::forced, "", ""});
    if (m_options.dry_run) {
        if (check.reasons.empty()) check.reasons.push_back({Reason::Kind::upstream, upstream_changed, "would run first"});
        result.reasons = check.reasons;
        result.outcome = Outcome::would_run;
        return result;
    }
    result.reasons = check.reasons;
    if (!check.missing_deps.empty()) {
        result.outcome = Outcome::failed;
        const std::string& dep = check.missing_deps.front();
        auto tracked = check.tracked_missing.find(dep);
        result.message =
            tracked == check.tracked_missing.end()
                ? fmt::format("dependency {} does not exist (and no stage before it writes it)", dep)
                : fmt::format("dependency {} is tracked by {}{} but its data is not in the workspace: run 'cairn checkout {}'",
                              dep, tracked->second, workspace::k_pointer_suffix, tracked->second);
        notice(fmt::format("stage {}: failed ({})", stage.name, result.message));
        return result;
    }
    if (!check.missing_params.empty()) {
        result.outcome = Outcome::failed;
        result.message = check.missing_params_files.empty()
                             ? fmt::format("param {} is missing", check.missing_params.front())
                             : fmt::format("params file {} does not exist (and no stage before it writes it)",
                                           check.missing_params_files.front()->file);
        notice(fmt::format("stage {}: failed ({})", stage.name, result.message));
        return result;
    }
    // The pipeline owns its cached outputs: git must not (DVC refuses them too). `cache: false`
    // outputs are the ones git tracks.
    for (const auto& out : stage.outs) {
        if (!out.cache) continue;
        std::vector<std::string> tracked = m_ws.repo().tracked_at_or_under(out.path, 1);
        if (tracked.empty()) continue;
        result.outcome = Outcome::failed;
        result.message = fmt::format("output {} is tracked by git ({}); stop tracking it (git rm -r --cached {}) or "
                                     "declare it with cache: false",
                                     out.path, tracked.front(), out.path);
        notice(fmt::format("stage {}: failed ({})", stage.name, result.message));
        return result;
    }
    if (m_options.run_cache && !stage.always_changed && !forced && !stage.outs.empty())
        if (auto restored = restore(stage, check, stage_key(check.current))) return *restored;
    return execute(stage, check);
}

ReproReport Runner::run_all() {
    m_lock = read_lock(m_ws, m_p.lock_file);
    Graph g = build_graph(m_p);
    std::vector<std::size_t> order = select(m_p, g, m_options);
    check_params_files(m_ws, m_p, order);
    prefetch(order);
    std::set<std::size_t> targets;
    for (const auto& t : m_options.targets)
        for (std::size_t i : select_stages(m_p, t)) targets.insert(i);
    if (m_options.jobs > 1 && !m_options.dry_run && order.size() > 1) return run_parallel(order, g);
    ReproReport report;
    std::map<std::size_t, Outcome> done;
    bool stop = false;
    for (std::size_t i : order) {
        const Stage& stage = m_p.stages[i];
        StageResult result;
        std::string bad_upstream;
        std::string upstream_changed; // an upstream stage that would run (dry run)
        for (std::size_t u : g.upstream[i]) {
            auto it = done.find(u);
            if (it == done.end()) continue;
            if (!ok(it->second) && it->second != Outcome::would_run) bad_upstream = m_p.stages[u].name;
            if (it->second == Outcome::would_run) upstream_changed = m_p.stages[u].name;
        }
        if (stop || util::interrupted()) {
            result.stage = stage.name;
            result.outcome = Outcome::skipped;
            result.message = util::interrupted() ? "interrupted before it started" : "an earlier stage failed";
        } else if (!bad_upstream.empty()) {
            result.stage = stage.name;
            result.outcome = Outcome::skipped;
            result.message = fmt::format("upstream stage {} did not succeed", bad_upstream);
            notice(fmt::format("stage {}: skipped ({})", stage.name, result.message));
        } else {
            result = run_one(stage, upstream_changed, m_options.force_targets && targets.count(i));
        }
        done[i] = result.outcome;
        if (result.outcome == Outcome::failed) {
            report.failed = true;
            if (!m_options.keep_going) stop = true;
        }
        if (result.outcome == Outcome::interrupted) {
            report.interrupted = true;
            stop = true;
        }
        report.stages.push_back(std::move(result));
    }
    if (util::interrupted()) report.interrupted = true;
    return report;
}

// Stages at once, each in a child `cairn repro --single-item` (a process of its own, as a run
// is: its locks, its signals, its staging). The parent decides order and failures.
ReproReport Runner::run_parallel(const std::vector<std::size_t>& order, const Graph& g) {
    struct Child {
        pid_t pid;
        std::size_t stage;
        stdfs::path out;
    };
    ReproReport report;
    std::map<std::size_t, StageResult> done;
    std::vector<Child> running;
    std::set<std::size_t> pending(order.begin(), order.end());
    std::set<std::size_t> selected(order.begin(), order.end());
    bool stop = false;
    stdfs::path tmp = m_ws.store_dir() / "tmp";
    fs::make_dirs(tmp);
    stdfs::path pipeline_abs = m_ws.absolute(m_p.file);

    auto finish = [&](std::size_t i, StageResult r) {
        if (r.outcome == Outcome::failed) {
            report.failed = true;
            if (!m_options.keep_going) stop = true;
        }
        if (r.outcome == Outcome::interrupted) {
            report.interrupted = true;
            stop = true;
        }
        done[i] = std::move(r);
    };

    while (!pending.empty() || !running.empty()) {
        bool launched = false;
        for (auto it = pending.begin(); it != pending.end() && !stop && !util::interrupted() &&
                                        running.size() < m_options.jobs;) {
            std::size_t i = *it;
            const Stage& stage = m_p.stages[i];
            bool ready = true;
            std::string bad;
            for (std::size_t u : g.upstream[i]) {
                if (!selected.count(u)) continue;
                auto d = done.find(u);
                if (d == done.end()) ready = false;
                else if (!ok(d->second.outcome)) bad = m_p.stages[u].name;
            }
            if (!bad.empty()) {
                StageResult r;
                r.stage = stage.name;
                r.outcome = Outcome::skipped;
                r.message = fmt::format("upstream stage {} did not succeed", bad);
                notice(fmt::format("stage {}: skipped ({})", stage.name, r.message));
                finish(i, std::move(r));
                it = pending.erase(it);
                launched = true;
                continue;
            }
            if (!ready) {
                ++it;
                continue;
            }
            std::vector<std::string> argv = {m_options.self_exe.string(), "repro", "--single-item", "--json", "-f",
                                             pipeline_abs.string()};
            if (m_options.force) argv.push_back("--force");
            if (!m_options.run_cache) argv.push_back("--no-run-cache");
            argv.push_back(stage.name);
            stdfs::path out = tmp / fmt::format("repro-{}-{}.json", ::getpid(), i);
            posix_spawn_file_actions_t actions;
            posix_spawn_file_actions_init(&actions);
            posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
            // Stages running side by side do not get the terminal: their commands read nothing
            // (each child cairn then keeps its command in the background), and Ctrl-C reaches
            // every child cairn, which passes it on.
            if (::isatty(STDIN_FILENO)) posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
            std::vector<char*> cargv;
            for (auto& a : argv) cargv.push_back(a.data());
            cargv.push_back(nullptr);
            pid_t pid = 0;
            int rc = ::posix_spawn(&pid, cargv[0], &actions, nullptr, cargv.data(), environ);
            posix_spawn_file_actions_destroy(&actions);
            if (rc != 0) fail_errno(fmt::format("cannot start {}", argv[0]), rc);
            running.push_back({pid, i, out});
            it = pending.erase(it);
            launched = true;
        }
        if ((stop || util::interrupted()) && running.empty()) break;
        if (util::interrupted() && util::signal_sent_by_process())
            for (const auto& c : running) ::kill(c.pid, util::received_signal());
        bool reaped = false;
        for (auto c = running.begin(); c != running.end();) {
            int status = 0;
            pid_t r = ::waitpid(c->pid, &status, WNOHANG);
            if (r != c->pid) {
                ++c;
                continue;
            }
            reaped = true;
            StageResult result;
            result.stage = m_p.stages[c->stage].name;
            auto text = fs::read_file_if_exists(c->out);
            std::error_code ec;
            stdfs::remove(c->out, ec);
            bool parsed = false;
            if (text && !text->empty()) {
                try {
                    ReproReport child = report_from_json(nlohmann::json::parse(*text));
                    if (!child.stages.empty()) {
                        result = child.stages.back();
                        parsed = true;
                    }
                } catch (const std::exception&) {
                }
            }
            if (!parsed) {
                int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                result.outcome = code == 130 || code == 143 ? Outcome::interrupted : Outcome::failed;
                result.exit_code = code;
                result.message = fmt::format("cairn repro of this stage exited with {}", code);
            }
            finish(c->stage, std::move(result));
            c = running.erase(c);
        }
        if (!launched && !reaped) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (std::size_t i : order) {
        auto d = done.find(i);
        if (d != done.end()) {
            report.stages.push_back(d->second);
            continue;
        }
        StageResult r;
        r.stage = m_p.stages[i].name;
        r.outcome = Outcome::skipped;
        r.message = util::interrupted() ? "interrupted before it started" : "an earlier stage failed";
        report.stages.push_back(std::move(r));
    }
    if (util::interrupted()) report.interrupted = true;
    return report;
}

std::vector<StageResult> Runner::status() {
    m_lock = read_lock(m_ws, m_p.lock_file);
    Graph g = build_graph(m_p);
    std::vector<StageResult> out(m_p.stages.size());
    std::vector<bool> stale(m_p.stages.size(), false);
    check_params_files(m_ws, m_p, g.order);
    prefetch(g.order);
    for (std::size_t i : g.order) {
        const Stage& stage = m_p.stages[i];
        const LockedStage* locked = nullptr;
        if (auto it = m_lock.stages.find(stage.name); it != m_lock.stages.end()) locked = &it->second;
        StageCheck check = check_stage(m_probe, stage, locked);
        StageResult& r = out[i];
        r.stage = stage.name;
        r.reasons = check.reasons;
        if (check.frozen) {
            r.outcome = Outcome::frozen;
            r.reasons = frozen_changes(check);
            continue;
        }
        for (std::size_t u : g.upstream[i])
            if (stale[u]) r.reasons.push_back({Reason::Kind::upstream, m_p.stages[u].name, "is stale"});
        stale[i] = !r.reasons.empty();
        r.outcome = stale[i] ? Outcome::would_run : Outcome::up_to_date;
    }
    return out;
}

// The names of the stages that may keep an entry in p's lock file: p's own, and those of the
// other pipeline files of its directory that lock to the same file (cairn.yaml and dvc.yaml
// share cairn.lock; NAME.yaml and NAME.yml share NAME.lock). nullopt when one of those cannot be
// read: then nothing is known to be gone.
std::optional<std::set<std::string>> lock_owners(const workspace::Workspace& ws, const Pipeline& p) {
    std::set<std::string> names;
    for (const auto& s : p.stages) names.insert(s.name);
    stdfs::path file(p.file);
    std::string stem = file.stem().string();
    std::vector<std::string> stems = stem == "cairn" || stem == "dvc" ? std::vector<std::string>{"cairn", "dvc"}
                                                                      : std::vector<std::string>{stem};
    for (const auto& s : stems)
        for (const char* ext : {".yaml", ".yml"}) {
            std::string other = (file.parent_path() / (s + ext)).string();
            if (other == p.file || !fs::lstat_path(ws.absolute(other))) continue;
            try {
                Pipeline q = load(ws, other);
                if (q.lock_file != p.lock_file) continue;
                for (const auto& st : q.stages) names.insert(st.name);
            } catch (const Error&) {
                return std::nullopt;
            }
        }
    return names;
}

} // namespace

std::vector<std::string> removed_stages(const workspace::Workspace& ws, const Pipeline& p) {
    LockFile lock = read_lock(ws, p.lock_file);
    std::vector<std::string> out;
    if (lock.stages.empty()) return out;
    auto owners = lock_owners(ws, p);
    if (!owners) return out;
    for (const auto& entry : lock.stages)
        if (!owners->count(entry.first)) out.push_back(entry.first);
    return out;
}

ReproReport repro(workspace::Workspace& ws, const Pipeline& p, const ReproOptions& options, util::Progress& progress) {
    // One repro of a pipeline at a time: two would run the same stage into the same outputs. The
    // lock is per pipeline file (a sweep trial's copy in its worktree has its own); the children
    // of --jobs are told that their parent holds it.
    std::optional<fs::FileLock> exclusive;
    if (!options.dry_run) {
        std::string id = hash::hash_bytes(ws.absolute(p.file).string()).id().substr(7, 16);
        stdfs::path lock = ws.store_dir() / "locks" / ("repro-" + id);
        const char* held = std::getenv("CAIRN_REPRO_HELD");
        if (!held || lock.string() != held) {
            fs::make_dirs(lock.parent_path());
            exclusive.emplace(lock, fs::LockMode::exclusive, std::chrono::hours(24), [&](const std::string& holder) {
                if (options.notice)
                    options.notice(fmt::format("waiting for another cairn repro of {} ({}) to finish", p.file, holder));
            });
            ::setenv("CAIRN_REPRO_HELD", lock.c_str(), 1);
        }
    }
    Runner runner(ws, p, options, progress);
    ReproReport report = runner.run_all();
    // A full repro brings the lock up to date with the whole file: the entries of stages removed
    // from it go too (a repro of chosen stages says nothing about the others).
    if (options.targets.empty() && !options.dry_run && !report.interrupted)
        if (auto owners = lock_owners(ws, p)) {
            report.removed_from_lock = prune_lock(ws, p.lock_file, *owners);
            for (const auto& name : report.removed_from_lock)
                if (options.notice)
                    options.notice(fmt::format("{}: removed the entry of stage {} (no longer in {})", p.lock_file, name, p.file));
        }
    return report;
}

std::vector<StageResult> stage_status(workspace::Workspace& ws, const Pipeline& p, util::Progress& progress) {
    ReproOptions options;
    Runner runner(ws, p, options, progress);
    return runner.status();
}

run::RunResult run_trial(workspace::Workspace& replica, const std::string& file, const ReproOptions& base,
                         const run::RunOptions& trial) {
    Pipeline p = load(replica, file);
    if (base.targets.size() != 1 || select_stages(p, base.targets.front()).size() != 1)
        fail(ErrorKind::usage, "cairn repro -S sweeps one stage: name exactly one (not a group)");
    // The params files the pipeline reads, the default one first.
    std::vector<std::string> files;
    std::string fallback = p.wdir.empty() ? "params.yaml" : p.wdir + "/params.yaml";
    files.push_back(fallback);
    for (const auto& st : p.stages)
        for (const auto& ref : st.params)
            if (std::find(files.begin(), files.end(), ref.file) == files.end()) files.push_back(ref.file);
    // Each value goes where `cairn run -p` would write it in these files (params::file_for_key),
    // else into the default file.
    struct File {
        std::string rel;
        std::string text;
        std::vector<params::Param> params; // as the file reads before the trial's values
        bool changed = false;
    };
    std::vector<File> present;
    for (const auto& f : files)
        if (auto text = fs::read_file_if_exists(replica.absolute(f)))
            present.push_back({f, *text, params::flatten_params_file(*text, f), false});
    std::vector<const std::vector<params::Param>*> read;
    for (const auto& f : present) read.push_back(&f.params);
    for (const auto& [key, text] : trial.params) {
        params::Param value = params::parse_param(key, text);
        std::vector<std::size_t> targets = params::file_for_key(read, key).files;
        if (targets.empty()) {
            if (present.empty() || present.front().rel != fallback)
                fail(ErrorKind::input, "no params file of {} holds '{}' (and there is no {} to add it to)", file, key, fallback);
            targets = {0};
        }
        for (std::size_t i : targets) {
            present[i].text = params::override_params_file(present[i].text, key, value, present[i].rel);
            present[i].changed = true;
        }
    }
    for (const auto& f : present)
        if (f.changed) fs::write_file_atomic(replica.absolute(f.rel), f.text);

    ReproOptions options = base;
    options.force_targets = true;
    options.jobs = 1;
    options.sweep = trial.sweep;
    options.tags = trial.tags;
    options.snapshot = trial.snapshot;
    options.stdout_to_stderr = trial.stdout_to_stderr;
    options.terminal = trial.terminal;
    util::NoProgress quiet;
    ReproReport report = repro(replica, p, options, quiet);
    run::RunResult result;
    const StageResult* target = report.stages.empty() ? nullptr : &report.stages.back();
    for (const auto& st : report.stages)
        if (st.outcome == StageResult::Outcome::failed && &st != target)
            fail(ErrorKind::input, "stage {} failed: {}{}", st.stage, st.message,
                 st.run.empty() ? "" : fmt::format(" (run {})", st.run.substr(0, 8)));
    if (!target || target->run.empty())
        fail(ErrorKind::input, "stage {} did not run: {}", base.targets.front(), target ? target->message : "nothing selected");
    result.record = run::resolve(replica, target->run);
    result.exit_code = target->exit_code;
    return result;
}

nlohmann::json to_json(const StageResult& r) {
    nlohmann::json j;
    j["stage"] = r.stage;
    j["outcome"] = std::string(to_string(r.outcome));
    nlohmann::json reasons = nlohmann::json::array();
    for (const auto& reason : r.reasons)
        reasons.push_back({{"kind", reason.kind_name()}, {"subject", reason.subject}, {"change", reason.change},
                           {"note", reason.note.empty() ? nlohmann::json() : nlohmann::json(reason.note)},
                           {"text", reason.describe()}});
    j["reasons"] = reasons;
    j["run"] = r.run.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.run);
    j["exit_code"] = r.exit_code;
    if (!r.message.empty()) j["message"] = r.message;
    return j;
}

nlohmann::json to_json(const ReproReport& report) {
    nlohmann::json stages = nlohmann::json::array();
    for (const auto& s : report.stages) stages.push_back(to_json(s));
    return {{"stages", stages},
            {"failed", report.failed},
            {"interrupted", report.interrupted},
            {"removed_from_lock", report.removed_from_lock}};
}

ReproReport report_from_json(const nlohmann::json& j) {
    ReproReport report;
    report.failed = j.at("failed").get<bool>();
    report.interrupted = j.at("interrupted").get<bool>();
    if (j.contains("removed_from_lock")) report.removed_from_lock = j.at("removed_from_lock").get<std::vector<std::string>>();
    for (const auto& s : j.at("stages")) {
        StageResult r;
        r.stage = s.at("stage").get<std::string>();
        r.outcome = outcome_from(s.at("outcome").get<std::string>());
        for (const auto& reason : s.at("reasons"))
            r.reasons.push_back({kind_from(reason.at("kind").get<std::string>()), reason.at("subject").get<std::string>(),
                                 reason.at("change").get<std::string>(),
                                 reason.value("note", nlohmann::json()).is_string() ? reason.at("note").get<std::string>() : ""});
        if (!s.at("run").is_null()) r.run = s.at("run").get<std::string>();
        r.exit_code = s.at("exit_code").get<int>();
        if (s.contains("message")) r.message = s.at("message").get<std::string>();
        report.stages.push_back(std::move(r));
    }
    return report;
}

} // namespace cairn::pipeline
