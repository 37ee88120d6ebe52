#include "core/run/rerun.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "core/fs/file.hpp"
#include "core/fs/lock.hpp"
#include "core/metrics/metrics.hpp"
#include "core/run/lineage.hpp"
#include "core/run/execute.hpp"
#include "core/run/store.hpp"
#include "core/run/worktree.hpp"
#include "core/util/error.hpp"
#include "core/util/interrupt.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/compare.hpp"
#include "core/workspace/pointer.hpp"

namespace cairn::run {
namespace {

namespace stdfs = std::filesystem;

// Variables that differ between any two shells and explain nothing.
bool is_volatile_variable(const std::string& name) {
    static const std::set<std::string> k_volatile = {"_", "OLDPWD", "PWD", "SHLVL", "TERM", "COLUMNS", "LINES",
                                                     "SSH_CLIENT", "SSH_CONNECTION", "SSH_TTY", "XDG_SESSION_ID"};
    return k_volatile.count(name) || util::starts_with(name, "CAIRN_");
}

void check_record_paths(const RunRecord& r) {
    for (const auto& [p, id] : r.inputs) check_record_path(r, p, "input");
    for (const auto& [p, id] : r.outputs) check_record_path(r, p, "output");
    for (const auto& [p, id] : r.large_files) check_record_path(r, p, "large file");
    for (const auto& p : r.param_files) check_record_path(r, p, "parameter file");
    for (const auto& p : r.metric_files) check_record_path(r, p, "metrics file");
    if (r.cwd != ".") check_record_path(r, r.cwd, "working directory");
    if (r.command.empty()) fail(ErrorKind::input, "run {} recorded no command", r.id.substr(0, 8));
    if (r.git_snapshot.empty()) fail(ErrorKind::input, "run {} recorded no code snapshot", r.id.substr(0, 8));
}

// The objects below `tree` (at `depth` levels below the one a record names) that the cache
// lacks. Entries say whether they are directories: only those are read as trees.
void needed_below(cache::Cache& cache, const cache::Tree& tree, std::vector<std::string>& missing_out,
                  std::size_t depth) {
    for (const auto& e : tree.entries) {
        if (!cache.has(e.digest)) {
            missing_out.push_back(e.digest.id());
            continue;
        }
        if (e.kind != cache::EntryKind::directory) continue;
        if (depth == cache::k_max_tree_depth)
            fail(ErrorKind::integrity, "tree object {} nests directories more than {} levels deep (cairn's limit)",
                 e.digest.id(), cache::k_max_tree_depth);
        needed_below(cache, cache.read_tree(e.digest), missing_out, depth + 1);
    }
}

// Every object id a tree or file object needs (itself and, for a tree, everything below).
void needed_objects(cache::Cache& cache, const std::string& id, std::vector<std::string>& missing_out) {
    auto digest = hash::Digest::from_id(id);
    if (!digest || !cache.has(*digest)) {
        missing_out.push_back(id);
        return;
    }
    if (auto tree = cache.tree_if_any(*digest)) needed_below(cache, *tree, missing_out, 0);
}

std::string describe_missing(const LineageIndex& lineage, const std::string& what, const std::string& id,
                             const RunRecord& consumer) {
    std::string out = fmt::format("{} ({})", what, id.substr(0, 19));
    if (const RunRecord* p = lineage.producer_for(id, &consumer))
        out += fmt::format(", produced by run {}{}", p->id.substr(0, 8), p->name.empty() ? "" : " (" + p->name + ")");
    return out;
}

// Fills step.missing: every object the step needs that the cache lacks.
void check_objects(workspace::Workspace& ws, const LineageIndex& lineage, RerunStep& step,
                   const std::set<std::string>& produced_earlier) {
    auto& cache = ws.cache();
    auto need = [&](const std::string& what, const std::string& id) {
        std::vector<std::string> missing;
        needed_objects(cache, id, missing);
        for (const auto& m : missing)
            step.missing.push_back(describe_missing(lineage, m == id ? what : "part of " + what, m, step.original));
    };
    for (const auto& [path, id] : step.inputs)
        if (!produced_earlier.count(id)) need("input " + path, id);
    for (const auto& [path, id] : step.original.large_files) need("large file " + path, id);
    if (!ws.repo().has_commit(step.original.git_snapshot)) return; // reported when the step runs
    step.tracked = workspace::tracked_data_in(ws.repo(), step.original.git_snapshot);
    for (const auto& t : step.tracked) need("tracked data " + t.data_path, t.pointer.digest.id());
}

bool looks_text(const std::string& s) { return s.find('\0') == std::string::npos; }

// Up to 40 characters of `line` around column `at`.
std::string excerpt(const std::string& line, std::size_t at) {
    constexpr std::size_t k_width = 40;
    std::size_t start = at > 12 ? at - 12 : 0;
    std::string out = line.substr(start, k_width);
    if (start > 0) out = "..." + out;
    if (start + k_width < line.size()) out += "...";
    return out;
}

// `line 3: "a" -> "b"; 1 line(s) removed, 1 added` for two text files.
std::string text_difference(const std::string& a, const std::string& b) {
    auto la = util::split(a, '\n'), lb = util::split(b, '\n');
    std::size_t first = 0;
    while (first < la.size() && first < lb.size() && la[first] == lb[first]) ++first;
    std::multiset<std::string> ma(la.begin(), la.end());
    std::size_t common = 0;
    for (const auto& l : lb)
        if (auto it = ma.find(l); it != ma.end()) {
            ma.erase(it);
            ++common;
        }
    std::string old_line = first < la.size() ? la[first] : "", new_line = first < lb.size() ? lb[first] : "";
    std::size_t col = 0;
    while (col < old_line.size() && col < new_line.size() && old_line[col] == new_line[col]) ++col;
    return fmt::format("line {}: \"{}\" -> \"{}\"; {} line(s) removed, {} added", first + 1, excerpt(old_line, col),
                       excerpt(new_line, col), la.size() - common, lb.size() - common);
}

OutputVerdict compare_output(cache::Cache& cache, const std::string& path, const std::string& old_id,
                             const std::string& new_id) {
    OutputVerdict v;
    v.path = path;
    v.old_id = old_id;
    v.new_id = new_id;
    v.identical = old_id == new_id;
    // Each object read once: whether it is a directory, and its size.
    auto pointer_for = [&](const std::string& id) -> std::optional<workspace::Pointer> {
        auto digest = hash::Digest::from_id(id);
        if (!digest || !cache.has(*digest)) return std::nullopt;
        return workspace::pointer_to_object(cache, path, *digest);
    };
    auto a = pointer_for(old_id);
    auto b = new_id.empty() || v.identical ? a : pointer_for(new_id);
    v.old_size = a ? a->size : 0;
    v.new_size = new_id.empty() ? 0 : b ? b->size : 0;
    if (v.identical) return v;
    if (new_id.empty()) {
        v.detail = "not produced by the re-run";
        return v;
    }
    if (!a || !b) return v;
    if (a->is_directory() || b->is_directory()) {
        if (a->is_directory() && b->is_directory()) {
            auto ea = workspace::flatten(cache, *a), eb = workspace::flatten(cache, *b);
            std::size_t changed = 0, added = 0, removed = 0;
            for (const auto& [f, e] : ea.files) {
                auto it = eb.files.find(f);
                if (it == eb.files.end()) ++removed;
                else if (it->second.digest != e.digest) ++changed;
            }
            for (const auto& [f, e] : eb.files) added += ea.files.count(f) ? 0 : 1;
            v.detail = fmt::format("{} file(s) changed, {} added, {} removed", changed, added, removed);
        } else {
            v.detail = a->is_directory() ? "was a directory, now a file" : "was a file, now a directory";
        }
        return v;
    }
    constexpr std::uint64_t k_text_limit = 4u << 20;
    if (v.old_size > k_text_limit || v.new_size > k_text_limit) return v;
    std::string ca = cache.read_verified(a->digest), cb = cache.read_verified(b->digest);
    v.detail = looks_text(ca) && looks_text(cb) ? text_difference(ca, cb) : "binary files differ";
    return v;
}

bool same_value(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

} // namespace

std::string metric_verdict(double old_value, double new_value, double rtol, double atol) {
    if (same_value(old_value, new_value)) return "equal";
    if (std::isfinite(old_value) && std::isfinite(new_value) &&
        std::fabs(new_value - old_value) <= atol + rtol * std::fabs(old_value))
        return "within tolerance";
    return "differs";
}

bool higher_is_better_by_name(const std::string& key) {
    std::string k;
    for (char c : key) k += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const char* word : {"loss", "error", "mse", "mae", "rmse", "mape", "perplexity"})
        if (k.find(word) != std::string::npos) return false;
    return true;
}

ThresholdVerdict judge_metric(const MetricThreshold& t, std::optional<double> old_value, std::optional<double> new_value) {
    ThresholdVerdict v;
    v.key = t.key;
    v.old_value = old_value;
    v.new_value = new_value;
    v.higher_is_better = t.higher_is_better.value_or(higher_is_better_by_name(t.key));
    std::vector<std::string> parts;
    if (t.max_drop) parts.push_back(fmt::format("max drop {}", metrics::format_value(*t.max_drop)));
    if (t.max_rel_drop) parts.push_back(fmt::format("max relative drop {}%", metrics::format_value(*t.max_rel_drop * 100)));
    v.threshold = fmt::format("{}", fmt::join(parts, ", "));
    if (!old_value) {
        v.held = false;
        v.detail = "the original run recorded no value";
        return v;
    }
    if (!new_value || std::isnan(*new_value)) {
        v.held = false;
        v.detail = new_value ? "the re-run's value is NaN" : "the re-run recorded no value";
        return v;
    }
    // How much worse the new value is (negative: better).
    double drop = v.higher_is_better ? *old_value - *new_value : *new_value - *old_value;
    if (t.max_drop && drop > *t.max_drop) {
        v.held = false;
        v.detail = fmt::format("{} by {} (more than {})", v.higher_is_better ? "dropped" : "rose",
                               metrics::format_value(drop), metrics::format_value(*t.max_drop));
    }
    if (t.max_rel_drop && v.held) {
        double rel = *old_value == 0 ? (drop > 0 ? INFINITY : 0) : drop / std::fabs(*old_value);
        if (rel > *t.max_rel_drop) {
            v.held = false;
            v.detail = fmt::format("{} by {}% (more than {}%)", v.higher_is_better ? "dropped" : "rose",
                                   metrics::format_value(rel * 100), metrics::format_value(*t.max_rel_drop * 100));
        }
    }
    return v;
}

void check_substitutions(const std::vector<RerunStep>& plan, const std::map<std::string, std::string>& substitute) {
    for (const auto& entry : substitute) {
        const std::string& path = entry.first;
        bool read = std::any_of(plan.begin(), plan.end(), [&](const RerunStep& s) { return s.original.inputs.count(path) > 0; });
        if (read) continue;
        const RunRecord& last = plan.back().original;
        std::vector<std::string> inputs;
        for (const auto& [p, i] : last.inputs) inputs.push_back(p);
        std::string hint = util::closest(path, inputs);
        fail(ErrorKind::input, "--with {}: run {} did not read {}{}", path, last.id.substr(0, 8), path,
             !hint.empty()        ? fmt::format(" (did you mean {}?)", hint)
             : inputs.empty()     ? " (it recorded no inputs)"
                                  : fmt::format(" (its inputs: {})", fmt::join(inputs, ", ")));
    }
}

std::vector<RerunStep> plan_rerun(workspace::Workspace& ws, const std::string& name, bool upstream, std::string* note) {
    std::vector<SkippedRun> skipped;
    LineageIndex lineage(list_runs(ws, &skipped));
    const RunRecord& listed = find_run(lineage.runs(), name, skipped, note);
    std::vector<RerunStep> plan;
    std::set<std::string> visiting, done, produced;
    // Depth first, producers before their consumers; a cycle (possible only with records from
    // clocks that disagree) is cut where it closes.
    std::function<void(const RunRecord&)> visit = [&](const RunRecord& summary) {
        if (done.count(summary.id) || visiting.count(summary.id)) return;
        visiting.insert(summary.id);
        RunRecord full = load_run(ws, summary);
        check_record_paths(full);
        if (upstream)
            for (const auto& [path, id] : full.inputs)
                if (const RunRecord* producer = lineage.producer_for(id, &summary)) visit(*producer);
        visiting.erase(summary.id);
        done.insert(summary.id);
        RerunStep step;
        step.original = std::move(full);
        step.inputs = step.original.inputs;
        check_objects(ws, lineage, step, produced);
        for (const auto& [path, id] : step.original.outputs) produced.insert(id);
        plan.push_back(std::move(step));
    };
    visit(listed);
    return plan;
}

void check_plan(workspace::Workspace& ws, const std::vector<RerunStep>& plan) {
    std::vector<std::string> missing;
    for (const auto& step : plan) {
        if (!ws.repo().has_commit(step.original.git_snapshot))
            fail(ErrorKind::environment,
                 "the code snapshot {} of run {} is not in this repository (fetch it with the run refs: git fetch "
                 "<remote> 'refs/cairn/*:refs/cairn/*')",
                 step.original.git_snapshot.substr(0, 12), step.original.id.substr(0, 8));
        for (const auto& m : step.missing) missing.push_back(fmt::format("run {}: {}", step.original.id.substr(0, 8), m));
        // The record holds no secret, so its command is not the one that ran: running it would
        // pass `<redacted>` to the program.
        if (auto arg = redacted_argument(step.original.command))
            fail(ErrorKind::input,
                 "run {} cannot be re-run: its command was recorded with a secret redacted ('{}'), and cairn "
                 "never stores secrets. Have the program read the secret from an environment variable instead "
                 "(e.g. API_KEY=... in the environment, not on the command line): variables outside run.env "
                 "are recorded by name only, and a re-run takes their values from its own environment",
                 step.original.id.substr(0, 8), *arg);
    }
    // (plan_rerun left out the objects an earlier step will produce.)
    if (!missing.empty()) {
        std::string list;
        for (const auto& m : missing) list += "\n  " + m;
        fail(ErrorKind::integrity, "{} object(s) needed to re-run are missing from the cache:{}", missing.size(), list);
    }
}

RerunReport rerun(workspace::Workspace& ws, std::vector<RerunStep> plan, const RerunOptions& options,
                  util::Progress& progress) {
    check_plan(ws, plan);
    RerunReport report;
    std::map<std::string, std::string> fed; // original output id -> the re-run's id
    for (std::size_t n = 0; n < plan.size(); ++n) {
        RerunStep& step = plan[n];
        const RunRecord& orig = step.original;
        if (options.notice)
            options.notice(fmt::format("re-running {}run {}{}: {}",
                                       plan.size() > 1 ? fmt::format("step {}/{}, ", n + 1, plan.size()) : "",
                                       orig.id.substr(0, 8), orig.name.empty() ? "" : " (" + orig.name + ")",
                                       fmt::join(orig.command, " ")));
        StepReport sr;
        // Inputs produced by an earlier step take that step's new bytes.
        for (auto& [path, id] : step.inputs) {
            auto it = fed.find(id);
            if (it == fed.end() || it->second == id) continue;
            sr.fed_inputs.push_back({path, id, it->second});
            id = it->second;
        }
        // --with: the new bytes win over both the recorded and the fed-forward ones.
        for (auto& [path, id] : step.inputs) {
            auto it = options.substitute.find(path);
            if (it == options.substitute.end() || it->second == id) continue;
            sr.substituted.push_back({path, id, it->second});
            id = it->second;
        }

        Scratch scratch(ws, "rerun-" + orig.id.substr(0, 8));
        if (options.keep) scratch.keep("kept by cairn rerun --keep");
        ws.repo().materialize_worktree(orig.git_snapshot, orig.git_dirty ? orig.git_base : orig.git_snapshot,
                                       orig.git_branch, scratch.work());
        workspace::Workspace replica = ws.replica(scratch.work(), scratch.state());
        {
            fs::FileLock store_lock(ws.store_lock_path(), fs::LockMode::shared);
            progress.begin("Restoring data", step.tracked.size() + orig.large_files.size() + step.inputs.size());
            for (const auto& t : step.tracked) {
                restore_object(replica, t.data_path, t.pointer.digest.id());
                progress.advance(1, t.pointer.size);
            }
            for (const auto& [path, id] : orig.large_files) {
                restore_object(replica, path, id);
                progress.advance(1, 0);
            }
            for (const auto& [path, id] : step.inputs) {
                restore_object(replica, path, id);
                progress.advance(1, 0);
            }
            progress.end();
            util::check_interrupted();
        }
        fs::make_dirs(replica.absolute(orig.cwd == "." ? "" : orig.cwd));
        // As DVC does: the directories the declared outputs go in exist (a directory the work tree
        // had but git does not track, e.g. an empty one made with mkdir, is not in the snapshot).
        for (const auto& [path, id] : orig.outputs) {
            std::string parent = stdfs::path(path).parent_path().string();
            if (parent.empty()) continue;
            replica.check_no_symlinks(parent);
            fs::make_dirs(replica.absolute(parent));
        }

        RunOptions ro;
        ro.experiment = orig.experiment;
        ro.command = orig.command;
        ro.cwd = orig.cwd == "." ? "" : orig.cwd;
        for (const auto& [path, id] : orig.inputs) ro.inputs.push_back(path);
        for (const auto& [path, id] : orig.outputs) ro.outputs.push_back(path);
        ro.metric_files = orig.metric_files;
        ro.capture_stdout = orig.capture;
        ro.stdout_to_stderr = options.stdout_to_stderr;
        ro.param_files = orig.param_files;
        if (ro.param_files.empty() && fs::lstat_path(replica.absolute("params.yaml"))) ro.param_files.push_back("params.yaml");
        ro.replay = &orig;

        RunResult result = execute(replica, ro, progress);
        sr.original = orig;
        sr.rerun = result.record;
        if (options.keep) sr.worktree = scratch.work().string();
        if (sr.rerun.status == "interrupted" || util::interrupted()) {
            sr.verdict = "interrupted";
            report.steps.push_back(std::move(sr));
            report.interrupted = true;
            report.verdict = "interrupted";
            return report;
        }

        // Outputs.
        bool any_differs = false, any_tolerance = false;
        for (const auto& [path, old_id] : orig.outputs) {
            auto it = sr.rerun.outputs.find(path);
            std::string new_id = it == sr.rerun.outputs.end() ? "" : it->second;
            sr.outputs.push_back(compare_output(ws.cache(), path, old_id, new_id));
            any_differs |= !sr.outputs.back().identical;
            if (!new_id.empty()) fed[old_id] = new_id;
        }
        // Metrics: the last value of each.
        for (const auto& change : compare_metrics(orig, sr.rerun)) {
            MetricVerdict mv;
            mv.key = change.key;
            mv.old_value = change.old_value;
            mv.new_value = change.new_value;
            if (mv.old_value && mv.new_value) {
                mv.verdict = metric_verdict(*mv.old_value, *mv.new_value, options.rtol, options.atol);
                if (std::isfinite(*mv.old_value) && std::isfinite(*mv.new_value) && *mv.old_value != 0)
                    mv.rel_delta = (*mv.new_value - *mv.old_value) / std::fabs(*mv.old_value);
            } else {
                mv.verdict = "differs";
            }
            any_differs |= mv.verdict == "differs";
            any_tolerance |= mv.verdict == "within tolerance";
            sr.metrics.push_back(std::move(mv));
        }
        sr.exit_same = orig.exit_code == sr.rerun.exit_code;
        any_differs |= !sr.exit_same;
        if (!sr.exit_same) {
            // The first thing to look at: why the command failed (or stopped failing) this time.
            constexpr std::size_t k_tail_lines = 10;
            std::vector<std::string> lines = util::split(read_log(ws, sr.rerun), '\n');
            while (!lines.empty() && lines.back().empty()) lines.pop_back();
            std::size_t from = lines.size() > k_tail_lines ? lines.size() - k_tail_lines : 0;
            sr.log_tail.assign(lines.begin() + static_cast<std::ptrdiff_t>(from), lines.end());
        }
        sr.verdict = any_differs ? "diverged" : any_tolerance ? "reproduced within tolerance" : "reproduced";

        if (sr.verdict == "diverged") {
            for (auto& c : compare_environment(orig, sr.rerun)) {
                if (util::starts_with(c.key, "env.") && is_volatile_variable(c.key.substr(4))) continue;
                if (c.key == "cpu" && !c.old_value) continue; // recorded by an older cairn
                sr.causes.push_back(std::move(c));
            }
            for (const auto& [path, id] : orig.inputs) {
                auto it = sr.rerun.inputs.find(path);
                if (it != sr.rerun.inputs.end() && it->second != id) sr.causes.push_back({"input " + path, id, it->second});
            }
            sr.nondeterministic = sr.causes.empty() && sr.exit_same;
        }
        report.steps.push_back(std::move(sr));
    }

    if (!options.substitute.empty() && !report.steps.empty()) {
        // Re-evaluation on new data: outputs are expected to differ; the requested run's metrics
        // are judged against the thresholds instead.
        StepReport& last = report.steps.back();
        report.verdict = "held";
        for (const auto& t : options.thresholds) {
            std::optional<double> old_value, new_value;
            auto o = last.original.metric_summary();
            auto n = last.rerun.metric_summary();
            if (auto it = o.find(t.key); it != o.end()) old_value = it->second.last;
            if (auto it = n.find(t.key); it != n.end()) new_value = it->second.last;
            last.judged.push_back(judge_metric(t, old_value, new_value));
            if (!last.judged.back().held) report.verdict = "degraded";
        }
        if (last.rerun.status != "finished") report.verdict = "degraded";
        return report;
    }
    auto rank = [](const std::string& v) { return v == "diverged" ? 2 : v == "reproduced within tolerance" ? 1 : 0; };
    report.verdict = "reproduced";
    for (const auto& s : report.steps)
        if (rank(s.verdict) > rank(report.verdict)) report.verdict = s.verdict;
    return report;
}

} // namespace cairn::run
