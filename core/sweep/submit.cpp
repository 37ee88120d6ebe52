#include "core/sweep/submit.hpp"

#include <unistd.h>

#include <chrono>
#include <algorithm>
#include <cstdlib>
#include <random>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "core/fs/atomic_file.hpp"
#include "core/fs/file.hpp"
#include "core/fs/lock.hpp"
#include "core/fs/walk.hpp"
#include "core/run/store.hpp"
#include "core/run/worktree.hpp"
#include "core/util/error.hpp"
#include "core/util/interrupt.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/yaml_util.hpp"

namespace cairn::sweep {
namespace {

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string new_run_id() {
    std::random_device rd;
    return fmt::format("{:08x}{:08x}{:08x}{:08x}", rd(), rd(), rd(), rd());
}

bool is_hex_id(const std::string& s, std::size_t size) {
    return s.size() == size && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// Single-quoted for sh.
std::string sh_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

using Pairs = std::vector<std::pair<std::string, std::string>>;

void emit_pairs(YAML::Emitter& out, const char* key, const Pairs& pairs) {
    out << YAML::Key << key << YAML::Value << YAML::BeginSeq;
    for (const auto& [k, v] : pairs) out << YAML::Flow << YAML::BeginSeq << k << v << YAML::EndSeq;
    out << YAML::EndSeq;
}

Pairs read_pairs(const YAML::Node& node, const std::string& where) {
    Pairs out;
    if (!node) return out;
    if (!node.IsSequence()) fail(ErrorKind::input, "{}: expected a list of [key, value] pairs", where);
    for (const auto& p : node) {
        if (!p.IsSequence() || p.size() != 2 || !p[0].IsScalar() || !p[1].IsScalar())
            fail(ErrorKind::input, "{}: expected a list of [key, value] pairs", where);
        out.emplace_back(p[0].Scalar(), p[1].Scalar());
    }
    return out;
}

std::vector<std::string> read_list(const YAML::Node& node, const std::string& where) {
    std::vector<std::string> out;
    if (!node) return out;
    if (!node.IsSequence()) fail(ErrorKind::input, "{}: expected a list", where);
    for (const auto& v : node) {
        if (!v.IsScalar()) fail(ErrorKind::input, "{}: expected a list of strings", where);
        out.push_back(v.Scalar());
    }
    return out;
}

std::string text(const YAML::Node& node, const char* key) {
    YAML::Node v = node[key];
    return v && v.IsScalar() ? v.Scalar() : std::string();
}

// What submission.yaml holds (docs/format.md, "Cluster submissions").
struct Spec {
    std::string id;
    bool array = false;
    std::int64_t submitted_ms = 0;
    run::RunRecord snapshot; // git fields, large files
    Pairs objects;           // the worktree's restored objects, in order
    std::vector<std::string> output_dirs;
    Pairs request; // sbatch options given
    // The run options every task shares.
    std::string experiment, cwd;
    std::vector<std::string> command, inputs, outputs, metric_files, param_files;
    bool capture = true;
    Pairs params;
    Pairs tags;
    struct Task {
        std::string run, name;
        Pairs params; // the trial's
        Pairs tags;
    };
    std::vector<Task> tasks;
};

std::string to_yaml(const Spec& s) {
    YAML::Emitter out;
    out << YAML::BeginMap;
    out << YAML::Key << "version" << YAML::Value << 1;
    out << YAML::Key << "id" << YAML::Value << s.id;
    out << YAML::Key << "array" << YAML::Value << s.array;
    out << YAML::Key << "submitted" << YAML::Value << run::format_time(s.submitted_ms);
    out << YAML::Key << "git" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "snapshot" << YAML::Value << s.snapshot.git_snapshot;
    out << YAML::Key << "base" << YAML::Value << s.snapshot.git_base;
    out << YAML::Key << "branch" << YAML::Value << s.snapshot.git_branch;
    out << YAML::Key << "dirty" << YAML::Value << s.snapshot.git_dirty;
    out << YAML::EndMap;
    Pairs large(s.snapshot.large_files.begin(), s.snapshot.large_files.end());
    emit_pairs(out, "large_files", large);
    emit_pairs(out, "objects", s.objects);
    out << YAML::Key << "output_dirs" << YAML::Value << YAML::Flow << s.output_dirs;
    emit_pairs(out, "request", s.request);
    out << YAML::Key << "experiment" << YAML::Value << s.experiment;
    out << YAML::Key << "cwd" << YAML::Value << s.cwd;
    out << YAML::Key << "command" << YAML::Value << YAML::Flow << s.command;
    out << YAML::Key << "inputs" << YAML::Value << YAML::Flow << s.inputs;
    out << YAML::Key << "outputs" << YAML::Value << YAML::Flow << s.outputs;
    out << YAML::Key << "metric_files" << YAML::Value << YAML::Flow << s.metric_files;
    out << YAML::Key << "param_files" << YAML::Value << YAML::Flow << s.param_files;
    out << YAML::Key << "capture" << YAML::Value << s.capture;
    emit_pairs(out, "params", s.params);
    emit_pairs(out, "tags", s.tags);
    out << YAML::Key << "tasks" << YAML::Value << YAML::BeginSeq;
    for (const auto& t : s.tasks) {
        out << YAML::BeginMap;
        out << YAML::Key << "run" << YAML::Value << t.run;
        out << YAML::Key << "name" << YAML::Value << t.name;
        emit_pairs(out, "params", t.params);
        emit_pairs(out, "tags", t.tags);
        out << YAML::EndMap;
    }
    out << YAML::EndSeq;
    out << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

Spec parse_spec(const std::string& content, const std::string& where) {
    YAML::Node root = workspace::parse_yaml(content, where);
    if (!root.IsMap()) fail(ErrorKind::input, "{}: not a cairn submission (expected a mapping)", where);
    if (text(root, "version") != "1")
        fail(ErrorKind::input, "{}: submission version '{}' is not supported by this cairn (it reads version 1)", where,
             text(root, "version"));
    try {
        Spec s;
        s.id = text(root, "id");
        s.array = text(root, "array") == "true";
        s.submitted_ms = run::parse_time(text(root, "submitted")).value_or(0);
        YAML::Node git = root["git"];
        if (!git || !git.IsMap()) fail(ErrorKind::input, "{}: missing 'git'", where);
        s.snapshot.git_snapshot = text(git, "snapshot");
        s.snapshot.git_base = text(git, "base");
        s.snapshot.git_branch = text(git, "branch");
        s.snapshot.git_dirty = text(git, "dirty") == "true";
        for (const auto& [k, v] : read_pairs(root["large_files"], where + ": large_files")) s.snapshot.large_files[k] = v;
        s.objects = read_pairs(root["objects"], where + ": objects");
        s.output_dirs = read_list(root["output_dirs"], where + ": output_dirs");
        s.request = read_pairs(root["request"], where + ": request");
        s.experiment = text(root, "experiment");
        s.cwd = text(root, "cwd");
        s.command = read_list(root["command"], where + ": command");
        s.inputs = read_list(root["inputs"], where + ": inputs");
        s.outputs = read_list(root["outputs"], where + ": outputs");
        s.metric_files = read_list(root["metric_files"], where + ": metric_files");
        s.param_files = read_list(root["param_files"], where + ": param_files");
        s.capture = text(root, "capture") != "false";
        s.params = read_pairs(root["params"], where + ": params");
        s.tags = read_pairs(root["tags"], where + ": tags");
        YAML::Node tasks = root["tasks"];
        if (!tasks || !tasks.IsSequence()) fail(ErrorKind::input, "{}: missing 'tasks'", where);
        for (const auto& t : tasks) {
            Spec::Task task;
            task.run = text(t, "run");
            task.name = text(t, "name");
            task.params = read_pairs(t["params"], where + ": tasks.params");
            task.tags = read_pairs(t["tags"], where + ": tasks.tags");
            if (!is_hex_id(task.run, 32)) fail(ErrorKind::input, "{}: a task's run id '{}' is not 32 hex digits", where, task.run);
            s.tasks.push_back(std::move(task));
        }
        if (!is_hex_id(s.id, 16)) fail(ErrorKind::input, "{}: 'id' is not 16 hex digits", where);
        // Paths from the file become paths in a worktree: the record's own check applies.
        run::RunRecord as_run;
        as_run.id = s.id;
        for (const auto& [path, id] : s.objects) run::check_record_path(as_run, path, "restored path");
        for (const auto& d : s.output_dirs) run::check_record_path(as_run, d, "output directory");
        return s;
    } catch (const YAML::Exception& e) {
        fail(ErrorKind::input, "{}: {}", where, e.what());
    }
}

Spec load_spec(const workspace::Workspace& ws, const std::string& id) {
    if (!is_hex_id(id, 16)) fail(ErrorKind::input, "'{}' is not a submission id (16 hex digits)", id);
    std::filesystem::path file = submission_dir(ws, id) / "submission.yaml";
    auto content = fs::read_file_if_exists(file);
    if (!content) fail(ErrorKind::input, "no submission {} ({} does not exist)", id, file.string());
    return parse_spec(*content, file.string());
}

std::optional<std::string> read_job_id(const workspace::Workspace& ws, const std::string& id) {
    auto t = fs::read_file_if_exists(submission_dir(ws, id) / "job");
    if (!t) return std::nullopt;
    std::string s = *t;
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
}

// The run options of task `index`, as run_sweep gives a trial's.
run::RunOptions task_options(const Spec& s, std::size_t index) {
    const Spec::Task& t = s.tasks.at(index);
    run::RunOptions ro;
    ro.id = t.run;
    ro.name = t.name;
    ro.experiment = s.experiment;
    ro.cwd = s.cwd;
    ro.command = s.command;
    ro.inputs = s.inputs;
    ro.outputs = s.outputs;
    ro.metric_files = s.metric_files;
    ro.param_files = s.param_files;
    ro.capture_stdout = s.capture;
    ro.params = s.params;
    ro.params.insert(ro.params.end(), t.params.begin(), t.params.end());
    for (const auto& [k, v] : s.tags) ro.tags[k] = v;
    for (const auto& [k, v] : t.tags) ro.tags[k] = v;
    if (s.array) ro.sweep = s.id;
    ro.executor["type"] = "slurm";
    ro.executor["submission"] = s.id;
    for (const auto& [k, v] : s.request) ro.executor["request." + k] = v;
    return ro;
}

// The record a task has before it runs: what `cairn ls` shows as queued, and what is committed
// for a task that never ran (cancelled, or killed before cairn started).
run::RunRecord queued_record(const Spec& s, std::size_t index, const std::string& host, const std::string& user) {
    run::RunOptions ro = task_options(s, index);
    run::RunRecord r;
    r.id = ro.id;
    r.name = ro.name;
    r.experiment = ro.experiment;
    r.sweep = ro.sweep;
    r.command = run::redact_command(ro.command);
    r.cwd = ro.cwd.empty() ? "." : ro.cwd;
    r.start_ms = s.submitted_ms;
    r.status = "queued";
    r.host = host;
    r.user = user;
    r.cairn_version = CAIRN_VERSION;
    r.git_base = s.snapshot.git_base;
    r.git_branch = s.snapshot.git_branch;
    r.git_dirty = s.snapshot.git_dirty;
    r.git_snapshot = s.snapshot.git_snapshot;
    r.large_files = s.snapshot.large_files;
    r.tags = ro.tags;
    r.executor = ro.executor;
    r.param_files = ro.param_files;
    r.metric_files = ro.metric_files;
    r.capture = ro.capture_stdout;
    for (const auto& [k, v] : ro.params) r.params.push_back(params::parse_param(k, v));
    std::sort(r.params.begin(), r.params.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
    return r;
}

std::filesystem::path queued_file(const workspace::Workspace& ws, const std::string& run) {
    return run::queued_dir(ws) / (run + ".yaml");
}

// Its params.yaml, beside it (run.yaml does not hold params).
std::filesystem::path queued_params(const workspace::Workspace& ws, const std::string& run) {
    return run::queued_dir(ws) / (run + ".params.yaml");
}

void remove_queued(const workspace::Workspace& ws, const std::string& run) {
    std::error_code ec;
    std::filesystem::remove(queued_file(ws, run), ec);
    std::filesystem::remove(queued_params(ws, run), ec);
}

const run::RunRecord* find_listed(const std::vector<run::RunRecord>& runs, const std::string& id) {
    for (const auto& r : runs)
        if (r.id == id) return &r;
    return nullptr;
}

// Commits a task that never ran (its queued record) with `status`, and drops the queued file.
// Returns false when it ran after all (its staging or ref exists: its task records it).
bool record_unstarted(workspace::Workspace& ws, const std::string& run, const std::string& status,
                      const std::string& reason, const std::string& log) {
    std::filesystem::path file = queued_file(ws, run);
    auto text = fs::read_file_if_exists(file);
    if (!text) return false;
    if (fs::lstat_path(ws.store_dir() / "runs" / run)) return false;
    if (!ws.repo().list_refs(std::string(run::k_ref_prefix) + run).empty()) {
        remove_queued(ws, run);
        return false;
    }
    run::RunRecord r;
    run::parse_run_yaml(*text, file.string(), r);
    if (auto p = fs::read_file_if_exists(queued_params(ws, run))) run::parse_params_yaml(*p, "params.yaml", r);
    r.status = status;
    r.reason = reason;
    r.end_ms = std::max(now_ms(), r.start_ms);
    r.exit_code = 0;
    run::commit_run(ws, r, log);
    remove_queued(ws, run);
    return true;
}

std::string marker(const std::string& job_index) { return "cancelled" + job_index; }

} // namespace

std::filesystem::path submission_dir(const workspace::Workspace& ws, const std::string& id) {
    return ws.store_dir() / "runs" / ("slurm-" + id);
}

Submission submit(workspace::Workspace& ws, const SubmitOptions& options) {
    for (const auto& [k, v] : options.slurm) executor::check_option_name(k, "executor option");
    if (!process::find_executable("sbatch"))
        fail(ErrorKind::environment, "sbatch not found on PATH: --executor slurm needs Slurm's client commands (run "
             "cairn on a login node of the cluster)");
    Submission sub;
    sub.id = new_sweep_id();
    sub.array = !options.trials.empty();
    run::recover_crashed(ws);
    std::optional<fs::FileLock> store_lock;
    store_lock.emplace(ws.store_lock_path(), fs::LockMode::shared);
    Prepared prepared = prepare(ws, options.run, sub.id, sub.warnings);
    sub.snapshot = prepared.snapshot.git_snapshot;
    run::TrialWorktree::Source source = trial_source(prepared, options.run);

    Spec s;
    s.id = sub.id;
    s.array = sub.array;
    s.submitted_ms = now_ms();
    s.snapshot = prepared.snapshot;
    s.objects = source.objects;
    s.output_dirs = source.output_dirs;
    s.request = options.slurm;
    const run::RunOptions& ro = options.run;
    s.experiment = ro.experiment;
    s.cwd = ro.cwd;
    s.command = ro.command;
    s.inputs = ro.inputs;
    s.outputs = ro.outputs;
    s.metric_files = ro.metric_files;
    s.param_files = ro.param_files;
    s.capture = ro.capture_stdout;
    s.params = ro.params;
    s.tags = Pairs(ro.tags.begin(), ro.tags.end());
    if (options.seed) s.tags.emplace_back("sweep.seed", std::to_string(*options.seed));
    if (sub.array) {
        for (std::size_t i = 0; i < options.trials.size(); ++i) {
            Spec::Task t;
            t.run = new_run_id();
            t.name = trial_name(options.name_template, options.trials[i], i + 1);
            t.params = options.trials[i];
            t.tags.emplace_back("sweep.trial", std::to_string(i + 1));
            s.tasks.push_back(std::move(t));
        }
    } else {
        Spec::Task t;
        t.run = new_run_id();
        t.name = ro.name;
        s.tasks.push_back(std::move(t));
    }
    for (const auto& t : s.tasks) {
        sub.runs.push_back(t.run);
        sub.names.push_back(t.name);
    }
    sub.trials = options.trials;

    std::filesystem::path dir = submission_dir(ws, sub.id);
    fs::make_dirs(dir);
    fs::write_file_atomic(dir / "submission.yaml", to_yaml(s));
    std::filesystem::path cairn = options.cairn.empty() ? std::filesystem::path("cairn") : options.cairn;
    std::string script = fmt::format(
        "#!/bin/sh\n"
        "# cairn submission {} (docs/guide-cluster.md): each task records one run of {}.\n"
        "exec {} executor-task {} \"${{SLURM_ARRAY_TASK_ID:-0}}\"\n",
        sub.id, sh_quote(ws.root().string()), sh_quote(cairn.string()), sub.id);
    fs::write_file_atomic(dir / "job.sh", script, 0755);

    // Queued before sbatch: a task may start (and record itself) before sbatch returns.
    fs::make_dirs(run::queued_dir(ws));
    std::string host = fs::host_name();
    const char* user = std::getenv("USER");
    for (std::size_t i = 0; i < s.tasks.size(); ++i) {
        run::RunRecord q = queued_record(s, i, host, user ? user : "");
        // Params first: whoever sees the record finds them.
        fs::write_file_atomic(queued_params(ws, q.id), run::to_params_yaml(q.params));
        fs::write_file_atomic(queued_file(ws, q.id), run::to_run_yaml(q));
    }
    store_lock.reset();

    executor::SlurmOptions sbatch = {{"job-name", "cairn-" + sub.id.substr(0, 8)},
                                     {"chdir", ws.root().string()},
                                     {"output", (dir / (sub.array ? "slurm-%A_%a.out" : "slurm-%j.out")).string()}};
    if (sub.array)
        sbatch.emplace_back("array", options.max_parallel
                                         ? fmt::format("0-{}%{}", s.tasks.size() - 1, options.max_parallel)
                                         : fmt::format("0-{}", s.tasks.size() - 1));
    // The user's last: a later option wins in sbatch (job-name, for one).
    sbatch.insert(sbatch.end(), options.slurm.begin(), options.slurm.end());
    try {
        sub.job_id = executor::submit(dir / "job.sh", sbatch, ws.root(), ws.store_dir() / "tmp");
    } catch (const Error&) {
        std::error_code ec;
        for (const auto& t : s.tasks) remove_queued(ws, t.run);
        std::filesystem::remove_all(dir, ec);
        throw;
    }
    fs::write_file_atomic(dir / "job", sub.job_id + "\n");
    return sub;
}

Submission load_submission(const workspace::Workspace& ws, const std::string& id) {
    Spec s = load_spec(ws, id);
    Submission sub;
    sub.id = s.id;
    sub.array = s.array;
    sub.snapshot = s.snapshot.git_snapshot;
    sub.job_id = read_job_id(ws, id).value_or("");
    for (const auto& t : s.tasks) {
        sub.runs.push_back(t.run);
        sub.names.push_back(t.name);
        if (s.array) sub.trials.push_back(t.params);
    }
    return sub;
}

std::optional<run::RunResult> run_task(workspace::Workspace& ws, const std::string& id, std::size_t index) {
    Spec s = load_spec(ws, id);
    if (index >= s.tasks.size())
        fail(ErrorKind::input, "submission {} has {} task(s), not {}", id, s.tasks.size(), index + 1);
    std::filesystem::path dir = submission_dir(ws, id);
    std::string job_index = s.array ? "-" + std::to_string(index) : "";
    if (fs::lstat_path(dir / marker("")) || fs::lstat_path(dir / marker(job_index))) return std::nullopt;

    run::RunOptions ro = task_options(s, index);
    auto env = [](const char* name) {
        const char* v = std::getenv(name);
        return std::string(v ? v : "");
    };
    auto put = [&](const char* key, const char* var) {
        if (std::string v = env(var); !v.empty()) ro.executor[key] = v;
    };
    put("job_id", "SLURM_JOB_ID");
    put("array_job_id", "SLURM_ARRAY_JOB_ID");
    put("array_index", "SLURM_ARRAY_TASK_ID");
    put("node", "SLURMD_NODENAME");
    put("partition", "SLURM_JOB_PARTITION");
    ro.terminal = process::Terminal::background;

    Prepared prepared;
    prepared.snapshot = s.snapshot;
    ro.snapshot = &prepared.snapshot;
    run::TrialWorktree::Source source;
    source.snapshot = &prepared.snapshot;
    source.objects = s.objects;
    source.cwd = s.cwd;
    source.output_dirs = s.output_dirs;
    run::Scratch scratch(ws, fmt::format("sweep-{}-t{}", id.substr(0, 8), index));
    workspace::Workspace replica = ws.replica(scratch.work(), scratch.state());
    run::TrialWorktree worktree(scratch, replica, source);
    util::NoProgress quiet;
    run::RunResult result = run::execute(replica, ro, quiet);
    remove_queued(ws, ro.id);
    // Stopped by Slurm: scancel (cairn cancel, or by hand), its time limit, preemption. The
    // command got SIGTERM, so the run says interrupted; say what happened instead.
    if (result.record.status == "interrupted") {
        bool ours = fs::lstat_path(dir / marker("")) || fs::lstat_path(dir / marker(job_index));
        std::string state, reason;
        if (std::string job = env("SLURM_JOB_ID"); !job.empty()) {
            try {
                for (const auto& j : executor::show_job(job, ws.store_dir() / "tmp"))
                    if (j.id == job) {
                        state = j.state;
                        reason = j.reason;
                    }
            } catch (const Error&) {
            }
        }
        // While its processes are being stopped the job is COMPLETING, with Slurm's reason
        // (TimeLimit, ...) already set; its final state comes after.
        bool has_reason = !reason.empty() && reason != "None";
        if (state == "COMPLETING" && reason == "TimeLimit") state = "TIMEOUT";
        if (ours || state == "CANCELLED") {
            result.record = run::set_status(ws, result.record, "cancelled",
                                            ours ? "cancelled with 'cairn cancel'" : "cancelled by scancel");
        } else if (!state.empty() && state != "RUNNING" && (state != "COMPLETING" || has_reason)) {
            result.record = run::set_status(ws, result.record, "crashed",
                                            fmt::format("killed by Slurm: job {} {}{}", env("SLURM_JOB_ID"), state,
                                                        has_reason ? " (" + reason + ")" : ""));
        }
    }
    return result;
}

std::vector<run::RunRecord> wait(workspace::Workspace& ws, const Submission& sub,
                                 const std::function<void(std::size_t, const run::RunRecord&)>& on_end) {
    std::vector<std::optional<run::RunRecord>> done(sub.runs.size());
    std::size_t left = sub.runs.size();
    std::filesystem::path tmp = ws.store_dir() / "tmp";
    int settled_polls = 0; // polls since Slurm said every task ended
    auto poll = std::chrono::milliseconds(200);
    while (left > 0) {
        util::check_interrupted();
        auto runs = run::list_runs(ws);
        for (std::size_t i = 0; i < sub.runs.size(); ++i) {
            if (done[i]) continue;
            const run::RunRecord* r = find_listed(runs, sub.runs[i]);
            if (r && !r->commit.empty()) {
                done[i] = *r;
                --left;
                if (on_end) on_end(i, *r);
            }
        }
        if (left == 0) break;
        bool all_final = true;
        std::map<std::string, std::pair<std::string, std::string>> ended; // task index -> state, reason
        if (!sub.job_id.empty()) {
            auto jobs = executor::show_job(sub.job_id, tmp);
            for (const auto& j : jobs) {
                if (!executor::is_final_state(j.state)) all_final = false;
                else ended[sub.array ? j.array_task_id : "0"] = {j.state, j.reason};
            }
        }
        settled_polls = all_final ? settled_polls + 1 : 0;
        // Every job ended, and runs still missing a record after a few more polls: their cairn
        // never started or was killed before it could record (SIGKILL after the time limit's
        // grace, a node failure). Record what Slurm says.
        if (settled_polls >= 10) {
            run::recover_crashed(ws);
            for (std::size_t i = 0; i < sub.runs.size(); ++i) {
                if (done[i]) continue;
                auto it = ended.find(std::to_string(i));
                std::string why = it == ended.end()
                                      ? "its Slurm job ended before the run was recorded"
                                      : fmt::format("its Slurm job ended ({}{}) before the run was recorded",
                                                    it->second.first,
                                                    it->second.second.empty() || it->second.second == "None"
                                                        ? ""
                                                        : ", " + it->second.second);
                (void)record_unstarted(ws, sub.runs[i],
                                       it != ended.end() && it->second.first == "CANCELLED" ? "cancelled" : "crashed",
                                       why, "[cairn: " + why + "]\n");
            }
            settled_polls = 5; // look again after a few polls, then record what is left
        }
        std::this_thread::sleep_for(poll);
        if (poll < std::chrono::milliseconds(1000)) poll += std::chrono::milliseconds(100);
    }
    std::vector<run::RunRecord> out;
    for (auto& d : done) out.push_back(std::move(*d));
    return out;
}

CancelResult cancel(workspace::Workspace& ws, const std::string& name, bool sweep) {
    CancelResult result;
    std::string id, run_id;
    std::vector<std::size_t> tasks; // empty: all
    auto runs = run::list_runs(ws);
    if (sweep) {
        id = name;
        if (!fs::lstat_path(submission_dir(ws, id) / "submission.yaml")) {
            // A sweep id prefix.
            std::vector<std::string> matches;
            if (fs::lstat_path(ws.store_dir() / "runs"))
                for (const auto& e : fs::list_dir(ws.store_dir() / "runs"))
                    if (util::starts_with(e.name, "slurm-" + name)) matches.push_back(e.name.substr(6));
            if (matches.size() != 1)
                fail(ErrorKind::input, "{} submitted to Slurm has the id '{}'",
                     matches.empty() ? "no sweep" : "more than one sweep", name);
            id = matches.front();
        }
    } else {
        const run::RunRecord& r = run::find_run(runs, name);
        auto it = r.executor.find("submission");
        if (r.executor.count("type") == 0 || r.executor.at("type") != "slurm" || it == r.executor.end())
            fail(ErrorKind::input, "run {} was not submitted to Slurm: there is nothing to cancel", r.id.substr(0, 8));
        if (!r.commit.empty())
            fail(ErrorKind::input, "run {} has ended already ({})", r.id.substr(0, 8), r.status);
        id = it->second;
        run_id = r.id;
    }
    Spec s = load_spec(ws, id);
    result.submission = id;
    result.job_id = read_job_id(ws, id).value_or("");
    if (result.job_id.empty()) fail(ErrorKind::input, "submission {} has no Slurm job id (it was never submitted)", id);
    std::filesystem::path dir = submission_dir(ws, id);
    std::string target = result.job_id;
    std::string job_index;
    if (!sweep) {
        for (std::size_t i = 0; i < s.tasks.size(); ++i)
            if (s.tasks[i].run == run_id) tasks = {i};
        if (tasks.empty()) fail(ErrorKind::input, "run {} is not in its submission {}", run_id.substr(0, 8), id);
        if (s.array && !tasks.empty()) {
            job_index = "-" + std::to_string(tasks.front());
            target = result.job_id + "_" + std::to_string(tasks.front());
        }
    }
    // The marker first: a task that starts from now on does not run, and one running records
    // itself cancelled when scancel stops it.
    fs::write_file_atomic(dir / marker(job_index), "cancelled\n");
    executor::cancel(target, ws.store_dir() / "tmp");
    std::vector<std::size_t> all;
    if (tasks.empty())
        for (std::size_t i = 0; i < s.tasks.size(); ++i) all.push_back(i);
    else
        all = tasks;
    runs = run::list_runs(ws);
    for (std::size_t i : all) {
        const std::string& run = s.tasks[i].run;
        if (record_unstarted(ws, run, "cancelled", "cancelled with 'cairn cancel' before it started",
                             "[cairn: cancelled with 'cairn cancel' before it started]\n"))
            result.cancelled.push_back(run);
        else if (const run::RunRecord* r = find_listed(runs, run); r && r->commit.empty())
            result.stopping.push_back(run);
    }
    return result;
}

} // namespace cairn::sweep
