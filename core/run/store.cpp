#include "core/run/store.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "core/fs/atomic_file.hpp"
#include "core/fs/file.hpp"
#include "core/fs/lock.hpp"
#include "core/fs/walk.hpp"
#include "core/hash/hash.hpp"
#include "core/plot/series_cache.hpp"
#include "core/process/process.hpp"
#include "core/run/execute.hpp"
#include "core/run/index.hpp"
#include "core/util/error.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/add.hpp"

namespace cairn::run {
namespace {

bool is_run_id(std::string_view id) {
    return id.size() == 32 && id.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// The newest modification time (ms) of a file or anything in a directory.
std::int64_t newest_mtime_ms(const std::filesystem::path& path) {
    std::int64_t newest = 0;
    if (auto st = fs::lstat_path(path)) newest = fs::mtime_ns(*st) / 1000000;
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        for (auto it = std::filesystem::recursive_directory_iterator(path, ec); !ec && it != decltype(it)(); it.increment(ec))
            if (auto st = fs::lstat_path(it->path())) newest = std::max(newest, fs::mtime_ns(*st) / 1000000);
    return newest;
}

RunRecord parse_files(const std::string& id, const std::string& commit, const std::map<std::string, std::string>& files) {
    RunRecord r;
    std::string where = std::string(k_ref_prefix) + id;
    auto file = [&](const char* name) -> const std::string* {
        auto it = files.find(name);
        return it == files.end() ? nullptr : &it->second;
    };
    const std::string* run_yaml = file("run.yaml");
    if (!run_yaml) fail(ErrorKind::input, "{}: no run.yaml", where);
    parse_run_yaml(*run_yaml, where + ":run.yaml", r);
    if (r.id != id) fail(ErrorKind::input, "{}: run.yaml names another run ({})", where, r.id);
    if (auto t = file("params.yaml")) parse_params_yaml(*t, where + ":params.yaml", r);
    if (auto t = file("metrics.tsv")) parse_metrics_tsv(*t, where + ":metrics.tsv", r);
    if (auto t = file("inputs.yaml")) parse_paths_yaml(*t, where + ":inputs.yaml", r.inputs);
    if (auto t = file("outputs.yaml")) parse_paths_yaml(*t, where + ":outputs.yaml", r.outputs);
    if (auto t = file("large_files.yaml")) parse_paths_yaml(*t, where + ":large_files.yaml", r.large_files);
    r.commit = commit;
    return r;
}

RunRecord load(workspace::Workspace& ws, const std::string& id, const std::string& commit) {
    // One tree lookup for all the record's files (a listing loads thousands of runs).
    return parse_files(id, commit, ws.repo().read_top_blobs(commit));
}

std::filesystem::path staging_dir(workspace::Workspace& ws, const std::string& id) {
    return ws.store_dir() / "runs" / id;
}

} // namespace

std::filesystem::path queued_dir(const workspace::Workspace& ws) { return ws.store_dir() / "runs" / "queued"; }

namespace {

// The runs in progress, read from their staging directories without writing to them: a live
// cairn holds the directory's lock from before it appears until the run is committed. What a
// run logged so far is taken up to the last complete line (the next may be half written).
std::vector<RunRecord> running_runs(workspace::Workspace& ws, std::vector<SkippedRun>* skipped) {
    std::vector<RunRecord> out;
    std::filesystem::path runs_dir = ws.store_dir() / "runs";
    if (!fs::lstat_path(runs_dir)) return out;
    auto complete_lines = [](std::optional<std::string> text) {
        if (!text) return std::string();
        text->resize(text->rfind('\n') == std::string::npos ? 0 : text->rfind('\n') + 1);
        return std::move(*text);
    };
    for (const auto& entry : fs::list_dir(runs_dir)) {
        if (entry.type != fs::EntryType::directory || !is_run_id(entry.name)) continue;
        std::filesystem::path staging = runs_dir / entry.name;
        try {
            // A free lock is a dead run that recover_crashed left alone.
            if (!fs::FileLock::is_held(staging / "lock")) continue;
            auto run_yaml = fs::read_file_if_exists(staging / "run.yaml");
            if (!run_yaml) continue; // finished and cleaned up meanwhile: its ref is read next
            RunRecord r;
            parse_run_yaml(*run_yaml, (staging / "run.yaml").string(), r);
            if (r.id != entry.name) fail(ErrorKind::input, "{}: run.yaml names another run ({})", staging.string(), r.id);
            if (auto t = fs::read_file_if_exists(staging / "params.yaml")) parse_params_yaml(*t, (staging / "params.yaml").string(), r);
            if (auto t = fs::read_file_if_exists(staging / "inputs.yaml")) parse_paths_yaml(*t, (staging / "inputs.yaml").string(), r.inputs);
            r.metrics = metrics::parse_live_metrics(complete_lines(fs::read_file_if_exists(staging / "metrics.tsv")));
            apply_logged(staging, r);
            r.status = "running";
            r.end_ms = 0;
            r.exit_code = 0;
            r.commit.clear();
            out.push_back(std::move(r));
        } catch (const Error& e) {
            if (fs::lstat_path(staging) && skipped) skipped->push_back({entry.name, e.what()});
        }
    }
    return out;
}

// The runs submitted to a cluster and not started yet: .cairn/runs/queued/<id>.yaml, a run.yaml
// written at submission (core/sweep/submit.cpp) and removed once the run is recorded.
std::vector<RunRecord> queued_runs(workspace::Workspace& ws, std::vector<SkippedRun>* skipped) {
    std::vector<RunRecord> out;
    std::filesystem::path dir = queued_dir(ws);
    if (!fs::lstat_path(dir)) return out;
    for (const auto& entry : fs::list_dir(dir)) {
        if (entry.type != fs::EntryType::file || !util::ends_with(entry.name, ".yaml")) continue;
        std::string id = entry.name.substr(0, entry.name.size() - 5);
        if (!is_run_id(id)) continue;
        try {
            auto text = fs::read_file_if_exists(dir / entry.name);
            if (!text) continue; // recorded meanwhile
            RunRecord r;
            parse_run_yaml(*text, (dir / entry.name).string(), r);
            if (r.id != id) fail(ErrorKind::input, "{}: names another run ({})", (dir / entry.name).string(), r.id);
            if (auto p = fs::read_file_if_exists(dir / (id + ".params.yaml")))
                parse_params_yaml(*p, (dir / (id + ".params.yaml")).string(), r);
            out.push_back(std::move(r));
        } catch (const Error& e) {
            if (skipped) skipped->push_back({id, e.what()});
        }
    }
    return out;
}

// Kills the process group of the command of a dead run's staging directory, when the command had
// not ended (no outcome) and the group is still the one recorded (process::kill_group).
void stop_orphan(const std::filesystem::path& staging) {
    if (read_outcome(staging)) return;
    std::optional<std::string> text;
    try {
        text = fs::read_file_if_exists(staging / "command");
    } catch (const Error&) {
        return;
    }
    if (!text) return;
    if (auto group = process::parse_group(*text)) (void)process::kill_group(*group);
}

// Refuses what needs a run's record (its commit) for a run still in progress.
void require_recorded(workspace::Workspace& ws, const RunRecord& r) {
    // No commit and no live staging: a ref whose record cannot be read (`cairn rm` removes those).
    if (!r.commit.empty() || !fs::FileLock::is_held(staging_dir(ws, r.id) / "lock")) return;
    fail(ErrorKind::busy, "run {} is still running ({}); it is recorded when it ends", r.id.substr(0, 8),
         fs::describe_lock_holder(staging_dir(ws, r.id) / "lock"));
}

} // namespace

std::vector<std::string> recover_crashed(workspace::Workspace& ws) {
    std::vector<std::string> recovered;
    std::filesystem::path runs_dir = ws.store_dir() / "runs";
    if (!fs::lstat_path(runs_dir)) return recovered;
    for (const auto& entry : fs::list_dir(runs_dir)) {
        if (entry.type != fs::EntryType::directory || !is_run_id(entry.name)) continue;
        std::filesystem::path staging = runs_dir / entry.name;
        // A live run holds its lock; only a dead one's can be taken (and by one reader at a time).
        std::optional<fs::FileLock> lock;
        try {
            lock.emplace(staging / "lock", fs::LockMode::exclusive, std::chrono::milliseconds(0));
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::busy) continue;
            if (!fs::lstat_path(staging)) continue; // the run finished and cleaned up meanwhile
            throw;
        }
        auto run_yaml = fs::read_file_if_exists(staging / "run.yaml");
        std::error_code ec;
        if (!run_yaml) continue; // not made by cairn run: never delete what we cannot read
        // Its cairn died while the command ran (kill -9): the command would go on writing outputs
        // and reading overridden parameter files, or in a worktree that gc removes. It is stopped
        // first, if its process group is still the one recorded.
        stop_orphan(staging);
        RunRecord r;
        try {
            parse_run_yaml(*run_yaml, (staging / "run.yaml").string(), r);
            if (auto t = fs::read_file_if_exists(staging / "params.yaml")) parse_params_yaml(*t, "params.yaml", r);
            if (auto t = fs::read_file_if_exists(staging / "inputs.yaml")) parse_paths_yaml(*t, "inputs.yaml", r.inputs);
            if (auto t = fs::read_file_if_exists(staging / "large_files.yaml"))
                parse_paths_yaml(*t, "large_files.yaml", r.large_files);
        } catch (const Error&) {
            continue; // leave it for a human; never delete what we cannot read
        }
        if (!params::restore_param_files(ws, staging)) continue; // try again later
        r.metrics = metrics::read_live_metrics(staging / "metrics.tsv");
        std::vector<std::string> artifacts = apply_logged(staging, r);
        std::string log = fs::read_file_if_exists(staging / "log.txt").value_or("");
        // The last sign of life: the newest write to the staging directory.
        std::int64_t last = r.start_ms;
        for (const char* f : {"log.txt", "metrics.tsv", "run.yaml"})
            if (auto st = fs::lstat_path(staging / f)) last = std::max(last, fs::mtime_ns(*st) / 1000000);
        r.end_ms = last;
        r.status = "crashed";
        r.exit_code = -1;
        if (!ws.repo().list_refs(std::string(k_ref_prefix) + r.id).empty()) {
            std::filesystem::remove_all(staging, ec); // recorded already, then died while cleaning up
            continue;
        }
        // Outputs of a crashed run are not stored: they may be half written. When its command had
        // ended (the record failed after that, e.g. on a full disk), they are stored if nothing
        // touched them since.
        std::vector<std::string> outputs;
        if (auto ended = read_outcome(staging)) {
            r.status = ended->status;
            r.exit_code = ended->exit_code;
            r.end_ms = ended->end_ms;
            if (!ended->log_error.empty()) log += log_stop_note(ended->log_error);
            std::vector<std::string> declared = util::split(fs::read_file_if_exists(staging / "outputs.txt").value_or(""), '\n');
            declared.insert(declared.end(), artifacts.begin(), artifacts.end());
            std::vector<std::string> changed, missing;
            for (const auto& o : declared) {
                if (o.empty() || std::find(outputs.begin(), outputs.end(), o) != outputs.end()) continue;
                if (!fs::lstat_path(ws.absolute(o))) {
                    missing.push_back(o);
                    continue;
                }
                if (newest_mtime_ms(ws.absolute(o)) > r.end_ms)
                    changed.push_back(o);
                else
                    outputs.push_back(o);
            }
            // The same rule as a run recorded at once: exit 0 without what it declared is a failure.
            if (r.status == "finished" && !missing.empty()) {
                r.status = "failed";
                std::vector<std::string> reasons;
                for (const auto& o : missing) reasons.push_back(fmt::format("declared output {} was not written", o));
                r.reason = fmt::format("{}", fmt::join(reasons, "; "));
            }
            log += fmt::format("\n[cairn: recorded after its cairn process ended, from its staging directory; the command "
                               "had ended with exit {}{}]\n",
                               r.exit_code,
                               changed.empty() ? "" : fmt::format("; outputs changed since then, not stored: {}", fmt::join(changed, ", ")));
        }
        try {
            if (!outputs.empty()) {
                util::NoProgress quiet;
                for (const auto& p : workspace::add(ws, outputs, quiet, workspace::Track::store_only).paths)
                    r.outputs[p.data_path] = p.digest.id();
            }
            commit_run(ws, r, log);
        } catch (const Error& e) {
            // No space (or no permission) now: the staging stays for a later command; reading
            // runs must work on a full disk.
            if (e.kind() == ErrorKind::io) continue;
            throw;
        }
        std::filesystem::remove_all(staging, ec);
        recovered.push_back(r.id);
    }
    return recovered;
}

namespace {

// The run index is two files under .cairn/index/: `runs`, every run's entry, and `runs.log`, the
// entries of the runs recorded since `runs` was last written, in the same format. A recorder
// rewrites only the small log (appending its run), so recording N runs costs O(N) in all, not
// O(N^2); once the log outgrows a quarter of `runs` (at least k_log_merge bytes) it is merged
// into `runs`. Every write is atomic (temp + rename) under index/lock; a reader overlays the log
// on `runs` and still uses an entry only when the run's ref points at its commit.
constexpr std::size_t k_log_merge = 256 * 1024;

std::map<std::string, IndexEntry> read_log(const std::filesystem::path& index_dir) {
    auto text = fs::read_file_if_exists(index_dir / "runs.log");
    if (!text) return {};
    auto parsed = parse_index(*text);
    return parsed ? std::move(*parsed) : std::map<std::string, IndexEntry>{};
}

// Under the lock: `entries` (with the log's entries over them) become `runs`, and the log goes.
// `seen`: the log entries (id -> commit) the caller already weighed, not put back.
void write_index(const std::filesystem::path& index_dir, std::map<std::string, IndexEntry> entries,
                 const std::map<std::string, std::string>& seen = {}) {
    for (auto& [id, e] : read_log(index_dir))
        if (auto it = seen.find(id); it == seen.end() || it->second != e.commit) entries[id] = std::move(e);
    fs::write_file_atomic(index_dir / "runs", serialize_index(entries), 0644, fs::Durability::deferred);
    std::error_code ec;
    // Left behind by a crash, its entries are only applied again: the same ones, checked by commit.
    std::filesystem::remove(index_dir / "runs.log", ec);
}

} // namespace

void index_recorded(workspace::Workspace& ws, const std::string& id, const std::string& commit,
                    const std::map<std::string, std::string>& files) noexcept {
    try {
        RunRecord r = parse_files(id, commit, files); // what a listing would read back from git
        r.summary = r.metric_summary();
        r.metrics.clear();
        std::filesystem::path index_dir = ws.store_dir() / "index";
        std::error_code ec;
        if (!std::filesystem::exists(index_dir / "runs", ec)) return; // no index yet: the first listing builds it whole
        fs::FileLock lock(index_dir / "lock", fs::LockMode::exclusive, std::chrono::milliseconds(0));
        auto base_size = std::filesystem::file_size(index_dir / "runs", ec); // as it is under the lock
        if (ec) return;
        std::string log = fs::read_file_if_exists(index_dir / "runs.log").value_or(std::string());
        if (log.compare(0, index_header().size(), index_header()) != 0) log = std::string(index_header());
        std::map<std::string, IndexEntry> one;
        one.emplace(id, IndexEntry{commit, std::move(r)});
        log += serialize_index(one).substr(index_header().size());
        if (log.size() < std::max<std::uintmax_t>(k_log_merge, base_size / 4)) {
            fs::write_file_atomic(index_dir / "runs.log", log, 0644, fs::Durability::deferred);
            return;
        }
        auto base = fs::read_file_if_exists(index_dir / "runs");
        auto entries = base ? parse_index(*base) : std::nullopt;
        auto logged = parse_index(log);
        if (!entries || !logged) { // the next listing rebuilds the index from the refs
            std::filesystem::remove(index_dir / "runs.log", ec);
            return;
        }
        for (auto& [k, e] : *logged) (*entries)[k] = std::move(e);
        write_index(index_dir, std::move(*entries));
    } catch (...) {
        // A cache: the next listing reads the run from git.
    }
}

std::vector<RunRecord> list_runs(workspace::Workspace& ws, std::vector<SkippedRun>* skipped) {
    recover_crashed(ws);
    // Queued before staging before refs: a run that starts or ends in between is then seen
    // twice (the later state wins), never not at all.
    std::vector<RunRecord> queued = queued_runs(ws, skipped);
    std::vector<RunRecord> running = running_runs(ws, skipped);
    std::filesystem::path index_dir = ws.store_dir() / "index";
    std::map<std::string, IndexEntry> cached;
    if (auto text = fs::read_file_if_exists(index_dir / "runs"))
        if (auto parsed = parse_index(*text)) cached = std::move(*parsed);
    std::map<std::string, std::string> logged; // id -> commit of the log's entries read here
    for (auto& [id, e] : read_log(index_dir)) { // the runs recorded since `runs` was written
        logged[id] = e.commit;
        cached[id] = std::move(e);
    }

    std::map<std::string, IndexEntry> fresh;
    bool changed = false;
    for (const auto& ref : ws.repo().list_refs(std::string(k_ref_prefix))) {
        std::string id = ref.name.substr(k_ref_prefix.size());
        // An entry is used only if it was built from the commit the ref points to now.
        if (auto it = cached.find(id); it != cached.end() && it->second.commit == ref.target && !ref.target.empty()) {
            fresh.emplace(id, std::move(it->second));
            continue;
        }
        try {
            if (!is_run_id(id) || ref.target.empty()) fail(ErrorKind::input, "{}: not a cairn run", ref.name);
            RunRecord r = load(ws, id, ref.target);
            r.summary = r.metric_summary();
            r.metrics.clear();
            fresh.emplace(id, IndexEntry{ref.target, std::move(r)});
            changed = true;
        } catch (const Error& e) {
            if (skipped) skipped->push_back({id, e.what()});
        }
    }
    if (changed || fresh.size() != cached.size()) {
        // The index is a cache: if another process is writing it, skip; the next reader will.
        try {
            fs::make_dirs(index_dir);
            fs::FileLock lock(index_dir / "lock", fs::LockMode::exclusive, std::chrono::milliseconds(0));
            write_index(index_dir, fresh, logged); // with the runs recorded meanwhile, which the log holds now
        } catch (const Error& e) {
            if (e.kind() != ErrorKind::busy && e.kind() != ErrorKind::io) throw;
        }
    }
    std::vector<RunRecord> out;
    out.reserve(fresh.size());
    for (auto& [id, e] : fresh) out.push_back(std::move(e.record));
    std::set<std::string> seen;
    for (auto& r : running)
        if (!fresh.count(r.id)) {
            seen.insert(r.id);
            out.push_back(std::move(r));
        }
    for (auto& r : queued)
        if (!fresh.count(r.id) && !seen.count(r.id)) out.push_back(std::move(r));
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return a.start_ms != b.start_ms ? a.start_ms > b.start_ms : a.id > b.id;
    });
    return out;
}

const RunRecord& find_run(const std::vector<RunRecord>& runs, const std::string& name,
                          const std::vector<SkippedRun>& skipped, std::string* note) {
    if (name == "last" || util::starts_with(name, "last~")) {
        std::size_t n = 0;
        if (name.size() > 5) {
            try {
                n = std::stoul(name.substr(5));
            } catch (...) {
                fail(ErrorKind::input, "'{}': expected last~N with N a number", name);
            }
        }
        if (n >= runs.size())
            fail(ErrorKind::input, "'{}': there {} only {} run(s)", name, runs.size() == 1 ? "is" : "are", runs.size());
        return runs[n];
    }
    auto named = [&](const std::string& wanted) {
        std::vector<const RunRecord*> out;
        for (const auto& r : runs)
            if (r.name == wanted) out.push_back(&r);
        return out;
    };
    // A reused name means its latest run (the listing is newest first), as a branch name means
    // its tip; NAME~N counts back from there. A name spelled with '~' itself still matches first.
    std::vector<const RunRecord*> matches = named(name);
    if (!matches.empty()) {
        // Stage runs share their stage's name by design: the latest execution is what the name
        // means, and saying so each time would be noise. A name shared with anything else is noted.
        bool one_stage = std::all_of(matches.begin(), matches.end(), [&](const RunRecord* r) {
            return !r->stage.empty() && r->stage == matches[0]->stage && r->pipeline == matches[0]->pipeline;
        });
        if (matches.size() > 1 && note && !one_stage) {
            *note = fmt::format("'{}' names {} runs; using the latest, {} (started {}); the others:", name, matches.size(),
                                matches[0]->id.substr(0, 8), format_time(matches[0]->start_ms));
            for (std::size_t i = 1; i < matches.size() && i <= 10; ++i)
                *note += fmt::format("\n  {}~{}  {}  started {}", name, i, matches[i]->id.substr(0, 8),
                                     format_time(matches[i]->start_ms));
            if (matches.size() > 11) *note += fmt::format("\n  ... and {} more", matches.size() - 11);
        }
        return *matches.front();
    }
    if (auto tilde = name.rfind('~'); tilde != std::string::npos && tilde > 0) {
        std::string base = name.substr(0, tilde), count = name.substr(tilde + 1);
        matches = named(base);
        if (!matches.empty()) {
            if (count.empty() || count.size() > 9 || count.find_first_not_of("0123456789") != std::string::npos)
                fail(ErrorKind::input, "'{}': expected {}~N with N a number", name, base);
            std::size_t n = std::stoul(count);
            if (n >= matches.size())
                fail(ErrorKind::input, "'{}': only {} run(s) are named '{}' ({}~0 to {}~{})", name, matches.size(), base,
                     base, base, matches.size() - 1);
            return *matches[n];
        }
    }
    bool id_prefix = name.size() >= 4 && name.find_first_not_of("0123456789abcdef") == std::string::npos;
    if (id_prefix)
        for (const auto& r : runs)
            if (util::starts_with(r.id, name)) matches.push_back(&r);
    if (matches.size() == 1) return *matches.front();
    if (matches.empty())
        for (const auto& s : skipped)
            if (s.id == name || (id_prefix && util::starts_with(s.id, name)))
                fail(ErrorKind::input, "run {} cannot be read: {}\n(remove it with 'cairn rm {}')", s.id.substr(0, 8),
                     s.reason, s.id);
    if (matches.empty())
        fail(ErrorKind::input,
             "no run named '{}' (a run is named by an id prefix of 4+ hex digits, its name, NAME~N, last or last~N)", name);
    std::string list;
    for (std::size_t i = 0; i < matches.size() && i < 10; ++i)
        list += fmt::format("\n  {} {}", matches[i]->id.substr(0, 12), matches[i]->name);
    fail(ErrorKind::input, "'{}' is ambiguous; it names {} runs:{}", name, matches.size(), list);
}

RunRecord load_run(workspace::Workspace& ws, const RunRecord& listed) {
    require_recorded(ws, listed);
    return load(ws, listed.id, listed.commit);
}

RunRecord view_run(workspace::Workspace& ws, const RunRecord& listed) {
    return listed.commit.empty() ? listed : load(ws, listed.id, listed.commit);
}

RunRecord resolve(workspace::Workspace& ws, const std::string& name, std::string* note) {
    std::vector<SkippedRun> skipped;
    auto runs = list_runs(ws, &skipped);
    return load_run(ws, find_run(runs, name, skipped, note));
}

RunRecord set_tags(workspace::Workspace& ws, const RunRecord& record,
                   const std::map<std::string, std::optional<std::string>>& changes) {
    require_recorded(ws, record);
    RunRecord r = record;
    for (const auto& [k, v] : changes) {
        if (v)
            r.tags[k] = *v;
        else if (!r.tags.erase(k))
            fail(ErrorKind::input, "run {} has no tag '{}'", r.id.substr(0, 8), k);
    }
    auto& repo = ws.repo();
    auto blobs = repo.top_blobs(record.commit);
    for (auto& [name, blob] : blobs)
        if (name == "run.yaml") blob = repo.write_blob(to_run_yaml(r));
    std::string commit = repo.write_commit(repo.write_tree(blobs), repo.parents(record.commit), commit_message(r));
    repo.update_ref(std::string(k_ref_prefix) + r.id, commit, record.commit, "cairn tag");
    // Same metrics.tsv: the chart series cut for the old commit hold for the new one (best
    // effort; `cairn gc` removes the old commit's files).
    for (std::size_t columns : plot::k_cut_columns)
        if (auto cut = plot::read_series_cache(plot::series_cache_path(ws, record.commit, columns)))
            plot::write_series_cache(plot::series_cache_path(ws, commit, columns), *cut);
    r.commit = commit;
    return r;
}

RunRecord set_status(workspace::Workspace& ws, const RunRecord& record, const std::string& status,
                     const std::string& reason) {
    require_recorded(ws, record);
    RunRecord r = load(ws, record.id, record.commit);
    r.status = status;
    r.reason = reason;
    auto& repo = ws.repo();
    auto blobs = repo.top_blobs(record.commit);
    for (auto& [name, blob] : blobs)
        if (name == "run.yaml") blob = repo.write_blob(to_run_yaml(r));
    std::string commit = repo.write_commit(repo.write_tree(blobs), repo.parents(record.commit), commit_message(r));
    repo.update_ref(std::string(k_ref_prefix) + r.id, commit, record.commit, "cairn status");
    r.commit = commit;
    return r;
}

void remove_run(workspace::Workspace& ws, const RunRecord& record) {
    require_recorded(ws, record);
    if (!ws.repo().delete_ref(std::string(k_ref_prefix) + record.id))
        fail(ErrorKind::input, "run {} no longer exists", record.id.substr(0, 8));
}

std::string read_log(workspace::Workspace& ws, const RunRecord& record) {
    if (record.commit.empty()) // running: what its log holds so far
        return fs::read_file_if_exists(staging_dir(ws, record.id) / "log.txt").value_or("");
    if (auto d = hash::Digest::from_id(record.log_object); d && ws.cache().has(*d)) return ws.cache().read_verified(*d);
    return ws.repo().read_blob(record.commit, "log.txt").value_or("");
}

} // namespace cairn::run
