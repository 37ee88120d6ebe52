#include "core/run/execute.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fcntl.h>
#include <pwd.h>
#include <optional>
#include <random>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fmt/format.h>

#include "core/fs/atomic_file.hpp"
#include "core/fs/file.hpp"
#include "core/fs/lock.hpp"
#include "core/hash/hash.hpp"
#include "core/plot/series_cache.hpp"
#include "core/process/process.hpp"
#include "core/run/store.hpp"
#include "core/state/state.hpp"
#include "core/util/error.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/add.hpp"

extern char** environ;

namespace cairn::run {
namespace {

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string new_run_id() {
    std::random_device rd;
    std::string out;
    for (int i = 0; i < 4; ++i) out += fmt::format("{:08x}", rd());
    return out;
}

std::string user_name() {
    if (const char* u = std::getenv("USER"); u && *u) return u;
    if (struct passwd* pw = ::getpwuid(::getuid())) return pw->pw_name;
    return "unknown";
}

// The executable's SHA-256, remembered by its stat data in .cairn/state/executables/ (a stat
// cache of its own) so that a 7 MB python3 is not hashed again on every run.
std::string executable_hash(const workspace::Workspace& ws, const std::filesystem::path& exe) {
    struct stat st {};
    if (::stat(exe.c_str(), &st) != 0) return hash::hash_file(exe).id();
    std::filesystem::path dir = ws.store_dir() / "state" / "executables";
    try {
        fs::make_dirs(dir);
        state::StatCache known(dir);
        if (auto d = known.lookup(exe.string(), st)) return d->id();
        std::int64_t started = state::now_ns();
        hash::Digest d = hash::hash_file(exe);
        known.record(exe.string(), state::make_entry(st, d, started));
        known.save();
        return d.id();
    } catch (const Error& e) {
        if (e.kind() != ErrorKind::io && e.kind() != ErrorKind::busy) throw;
        return hash::hash_file(exe).id(); // the cache is only an accelerator
    }
}

// "<model name> x<logical CPUs>". Only the start of /proc/cpuinfo is read: on a machine with
// many cores the whole file is large and slow for the kernel to produce.
std::string cpu_description() {
    std::string model;
    fs::Fd fd(::open("/proc/cpuinfo", O_RDONLY | O_CLOEXEC));
    if (fd.valid()) {
        char buffer[4096];
        ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
        if (n > 0) {
            for (const auto& line : util::split(std::string_view(buffer, static_cast<std::size_t>(n)), '\n')) {
                if (!util::starts_with(line, "model name") && !util::starts_with(line, "Model")) continue;
                if (auto colon = line.find(':'); colon != std::string::npos)
                    model = std::string(util::trim(std::string_view(line).substr(colon + 1)));
                break;
            }
        }
    }
    if (model.empty()) {
        struct utsname uts {};
        model = ::uname(&uts) == 0 ? uts.machine : "unknown";
    }
    return fmt::format("{} x{}", model, std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)));
}

std::string param_env_name(const std::string& key) {
    std::string out = "CAIRN_PARAM_";
    for (char c : key) out += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::toupper(c)) : '_';
    return out;
}

std::string command_line(const std::vector<std::string>& argv) {
    std::string out;
    for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
    return out;
}

// staging/outcome: made with its blocks allocated when the run starts and overwritten in place
// when the command ends, so that the real exit status survives a disk that filled up meanwhile
// (the run is then recorded later from staging). Lines `KEY VALUE`, padded with spaces.
constexpr std::size_t k_outcome_size = 512;

void write_outcome(const std::filesystem::path& staging, const Ended& e) {
    std::string text = fmt::format("status {}\nexit_code {}\nend_ms {}\n", e.status, e.exit_code, e.end_ms);
    if (!e.log_error.empty()) text += "log_error " + e.log_error.substr(0, 300) + "\n";
    text.resize(k_outcome_size - 1, ' ');
    text += '\n';
    fs::Fd fd(::open((staging / "outcome").c_str(), O_WRONLY | O_CLOEXEC));
    // Best effort: without it, the run is still recorded from here, or as crashed later.
    if (fd.valid()) {
        [[maybe_unused]] ssize_t n = ::pwrite(fd.get(), text.data(), text.size(), 0);
    }
}

} // namespace
std::string commit_message(const RunRecord& r) {
    return fmt::format("run {}: {}", r.id.substr(0, 8), command_line(r.command));
}

// Writes the run's commit (parent: its code snapshot) and creates refs/cairn/runs/<id>.
void commit_run(workspace::Workspace& ws, RunRecord& r, const std::string& full_log) {
    auto& repo = ws.repo();
    // A large log goes to the cache (the git history stays small); log.txt keeps its tail.
    std::string log_text = full_log;
    if (full_log.size() > k_log_limit) {
        r.log_object = ws.cache().put_bytes(full_log, nullptr).digest.id();
        log_text = fmt::format("[cairn: {} of log; the whole log is {} in the cache; 'cairn show' reads it]\n",
                               util::human_size(full_log.size()), r.log_object) +
                   full_log.substr(full_log.size() - k_log_tail);
    }
    const std::map<std::string, std::string> files = {
        {"inputs.yaml", to_paths_yaml(r.inputs)},   {"large_files.yaml", to_paths_yaml(r.large_files)},
        {"log.txt", log_text},                      {"metrics.tsv", to_metrics_tsv(r.metrics)},
        {"outputs.yaml", to_paths_yaml(r.outputs)}, {"params.yaml", to_params_yaml(r.params)},
        {"run.yaml", to_run_yaml(r)},
    };
    const std::string& metrics_tsv = files.at("metrics.tsv");
    std::vector<std::pair<std::string, std::string>> blobs;
    for (const auto& [name, text] : files) blobs.emplace_back(name, repo.write_blob(text));
    std::string tree = repo.write_tree(blobs);
    std::vector<std::string> parents;
    if (!r.git_snapshot.empty()) parents.push_back(r.git_snapshot);
    r.commit = repo.write_commit(tree, parents, commit_message(r));
    repo.create_ref(std::string(k_ref_prefix) + r.id, r.commit, "cairn run");
    // The chart series `cairn report` draws, cut now while the points are in memory, so that no
    // report has to inflate and parse this metrics.tsv again. Best effort (derived data): a
    // failure leaves it to the first report.
    plot::fill_series_cache(ws, r.commit, metrics_tsv);
    // Its run index entry, from the same texts, so that the next listing does not read it back.
    index_recorded(ws, r.id, r.commit, files);
}

std::optional<Ended> read_outcome(const std::filesystem::path& staging) {
    auto text = fs::read_file_if_exists(staging / "outcome");
    if (!text) return std::nullopt;
    Ended e;
    bool has_status = false, has_end = false;
    for (const auto& line : util::split(*text, '\n')) {
        std::string_view l = util::trim(line);
        auto space = l.find(' ');
        if (space == std::string_view::npos) continue;
        std::string key(l.substr(0, space)), value(util::trim(l.substr(space + 1)));
        try {
            if (key == "status") has_status = !(e.status = value).empty();
            if (key == "exit_code") e.exit_code = std::stoi(value);
            if (key == "end_ms") has_end = (e.end_ms = std::stoll(value)) > 0;
            if (key == "log_error") e.log_error = value;
        } catch (const std::exception&) {
            return std::nullopt;
        }
    }
    if (!has_status || !has_end) return std::nullopt;
    return e;
}

std::string log_stop_note(const std::string& log_error) {
    return fmt::format("\n[cairn: the log stops here; the command ran on: {}]\n", log_error);
}

// Applies the lines `cairn log param|tag|artifact` left in staging/logged.tsv to a record.
// Returns the artifact paths.
std::vector<std::string> apply_logged(const std::filesystem::path& staging, RunRecord& r) {
    std::vector<std::string> artifacts;
    auto text = fs::read_file_if_exists(staging / "logged.tsv");
    if (!text) return artifacts;
    for (const auto& line : util::split(*text, '\n')) {
        auto f = util::split(line, '\t');
        if (f.size() != 3) continue;
        if (f[0] == "param") {
            bool known = false;
            for (const auto& p : r.params) known |= p.key == f[1];
            if (!known) r.params.push_back(params::parse_param(f[1], f[2]));
        } else if (f[0] == "tag") {
            r.tags[f[1]] = f[2];
        } else if (f[0] == "artifact") {
            artifacts.push_back(f[1]);
        }
    }
    std::sort(r.params.begin(), r.params.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
    return artifacts;
}

void log_to_run(const std::filesystem::path& run_dir, LogKind kind, const std::string& key, const std::string& value) {
    if (key.empty() || key.find_first_of("\t\n") != std::string::npos || value.find_first_of("\t\n") != std::string::npos)
        fail(ErrorKind::input, "'{}': keys and values cannot be empty or hold tabs or newlines", key);
    fs::FileLock lock(run_dir / "logged.lock", fs::LockMode::exclusive);
    if (kind == LogKind::param) {
        // Immutable: compare with what the run started with and what was logged since.
        RunRecord r;
        if (auto t = fs::read_file_if_exists(run_dir / "params.yaml")) parse_params_yaml(*t, "params.yaml", r);
        apply_logged(run_dir, r);
        params::Param wanted = params::parse_param(key, value);
        for (const auto& p : r.params) {
            if (p.key != key) continue;
            if (p.text == wanted.text) return;
            fail(ErrorKind::input, "parameter '{}' is already {} in this run; params cannot change once logged", key, p.text);
        }
    }
    const char* name = kind == LogKind::param ? "param" : kind == LogKind::tag ? "tag" : "artifact";
    std::string line = fmt::format("{}\t{}\t{}\n", name, key, value);
    fs::Fd fd(::open((run_dir / "logged.tsv").c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
    if (!fd.valid()) fail_errno("cannot open " + (run_dir / "logged.tsv").string(), errno);
    fs::write_all(fd.get(), line.data(), line.size(), "logged.tsv");
}

void append_metrics(const std::filesystem::path& run_dir, const std::vector<metrics::MetricPoint>& points) {
    std::string text;
    for (const auto& p : points)
        text += fmt::format("{} {} {} {}\n", p.key, metrics::format_value(p.value),
                            p.step < 0 ? std::string("-") : std::to_string(p.step), p.unix_ms);
    std::filesystem::path file = run_dir / "metrics.tsv";
    fs::Fd fd(::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
    if (!fd.valid()) fail_errno("cannot open " + file.string(), errno);
    // One write per call: O_APPEND keeps concurrent writers' lines whole.
    fs::write_all(fd.get(), text.data(), text.size(), file.string());
}

namespace {

// The record as it starts: who runs what, where; the -p params typed, sorted, each given once.
RunRecord new_record(const RunOptions& options) {
    RunRecord r;
    r.id = options.id.empty() ? new_run_id() : options.id;
    r.executor = options.executor;
    r.name = options.name;
    r.experiment = options.experiment;
    r.stage = options.stage;
    r.pipeline = options.pipeline;
    r.sweep = options.sweep;
    r.stage_key = options.stage_key;
    r.cwd = options.cwd.empty() ? "." : options.cwd;
    r.tags = options.tags;
    r.host = fs::host_name();
    r.user = user_name();
    struct utsname uts {};
    if (::uname(&uts) == 0) r.os = fmt::format("{} {} {}", uts.sysname, uts.release, uts.machine);
    r.cpu = cpu_description();
    r.cairn_version = CAIRN_VERSION;
    if (options.replay) r.reproduces = options.replay->id;
    for (const auto& [k, v] : options.params) r.params.push_back(params::parse_param(k, v));
    std::sort(r.params.begin(), r.params.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
    for (std::size_t i = 1; i < r.params.size(); ++i)
        if (r.params[i].key == r.params[i - 1].key) fail(ErrorKind::usage, "parameter '{}' given twice", r.params[i].key);
    r.metric_files = options.metric_files;
    r.capture = options.capture_stdout;
    return r;
}

// Parameter files: opened (locked) in `files` and flattened into the record; the overrides (-p
// values, or a replay's recorded params) win for keys they hold. Returns the overrides.
std::map<std::string, params::Param> read_params(workspace::Workspace& ws, const RunOptions& options,
                                                 params::ParamFiles& files, RunRecord& r) {
    const RunRecord* replay = options.replay;
    std::vector<std::string> param_files = options.param_files;
    // A pipeline stage reads the params files it names, and no other.
    if (param_files.empty() && !replay && options.stage.empty() && fs::lstat_path(ws.absolute("params.yaml"))) param_files.push_back("params.yaml");
    r.param_files = param_files;
    std::map<std::string, params::Param> cli_params;
    for (const auto& p : replay ? replay->params : r.params) cli_params.emplace(p.key, p);
    files.open(param_files, cli_params);
    std::map<std::string, params::Param> merged;
    for (const auto& f : files.files()) {
        for (const auto& p : f.params) {
            auto cli = cli_params.find(p.key);
            merged.insert_or_assign(p.key, cli != cli_params.end() ? cli->second : p);
        }
    }
    for (const auto& [k, p] : cli_params) merged.insert_or_assign(k, p);
    r.params.clear();
    for (auto& [k, p] : merged) r.params.push_back(std::move(p));
    return cli_params;
}

// The argv to run, and in r.command the one every stored copy (run.yaml, the commit message, the
// index) holds: redacted. A replay's argv is the recorded one, placeholders already filled in.
std::vector<std::string> command_argv(const RunOptions& options, RunRecord& r) {
    std::vector<std::string> argv =
        options.replay ? options.command : params::substitute_params(options.command, r.params);
    // A record is UTF-8 text: bytes that are not would be recorded as U+FFFD, not as what ran.
    for (std::size_t i = 0; i < argv.size(); ++i)
        if (!util::is_utf8(argv[i]))
            fail(ErrorKind::input, "argument {} of the command is not UTF-8 text, which a run record cannot hold as it is", i + 1);
    for (const auto& p : r.params)
        if (!util::is_utf8(p.key) || !util::is_utf8(p.text))
            fail(ErrorKind::input, "parameter '{}' is not UTF-8 text, which a run record cannot hold as it is", p.key);
    for (const auto& [k, v] : r.tags)
        if (!util::is_utf8(k) || !util::is_utf8(v)) fail(ErrorKind::input, "tag '{}' is not UTF-8 text", k);
    if (!util::is_utf8(r.name) || !util::is_utf8(r.experiment))
        fail(ErrorKind::input, "the run's name and experiment must be UTF-8 text");
    for (const auto& [field, value] : {std::pair{"stage", &r.stage}, {"pipeline", &r.pipeline}, {"sweep", &r.sweep}})
        if (auto why = label_problem(*value)) fail(ErrorKind::input, "the run's {} '{}' {}", field, *value, *why);
    r.command = redact_command(argv);
    return argv;
}

// What the command is started with.
struct Launch {
    std::vector<std::string> argv; // as run, not redacted
    std::filesystem::path cwd;
    std::filesystem::path executable;
    std::map<std::string, std::string> env;
};

// The command's environment: cairn's own, with a replay's recorded variables put back:
// allow-listed ones set as recorded (redacted ones keep today's value), allow-listed ones the
// run did not have unset. Returns the variables set from the replay.
std::map<std::string, std::string> child_environment(const workspace::Workspace& ws, const RunRecord* replay,
                                                     std::map<std::string, std::string>& child_env) {
    std::map<std::string, std::string> env_set;
    std::vector<std::string> env_unset;
    if (replay) {
        for (const auto& [k, v] : replay->env)
            if (v.find(k_redacted) == std::string::npos) env_set[k] = v;
        for (const auto& k : ws.config().env_allow)
            if (!replay->env.count(k) &&
                std::find(replay->env_names.begin(), replay->env_names.end(), k) == replay->env_names.end())
                env_unset.push_back(k);
    }
    for (char** e = environ; *e; ++e) {
        std::string_view entry(*e);
        std::size_t eq = entry.find('=');
        std::string key(entry.substr(0, eq));
        if (std::find(env_unset.begin(), env_unset.end(), key) != env_unset.end()) continue;
        child_env[key] = eq == std::string_view::npos ? "" : std::string(entry.substr(eq + 1));
    }
    for (const auto& [k, v] : env_set) child_env[k] = v;
    return env_set;
}

// Resolves the program once, through the command's own PATH, so that the executable recorded
// (with its hash) is the one run. Throws Error(input) when it is not found.
void record_executable(workspace::Workspace& ws, const std::map<std::string, std::string>& replayed_env,
                       Launch& launch, RunRecord& r) {
    auto path_var = launch.env.find("PATH");
    std::optional<std::filesystem::path> exe = process::find_executable(
        launch.argv.at(0), launch.cwd, path_var == launch.env.end() ? process::k_default_path : path_var->second.c_str());
    if (exe) {
        r.executable = exe->string();
        // Recorded relative to the workspace when it lies inside it, so that a replica's copy
        // compares equal to the original's.
        auto rel = exe->lexically_relative(ws.root());
        if (!rel.empty() && *rel.begin() != "..") r.executable = rel.string();
        r.executable_hash = executable_hash(ws, *exe);
        launch.executable = *exe;
    } else if (replayed_env.count("PATH")) {
        fail(ErrorKind::input, "command not found: {} (in the worktree, with the PATH the run recorded: {})",
             launch.argv.at(0), replayed_env.at("PATH"));
    } else {
        fail(ErrorKind::input, "command not found: {}", r.command.at(0));
    }
}

// The environment as the record keeps it: allow-listed variables with their values (secrets
// redacted), the names only of all others.
void record_environment(const workspace::Workspace& ws, const std::map<std::string, std::string>& env, RunRecord& r) {
    const auto& allow = ws.config().env_allow;
    for (const auto& [key, value] : env) {
        if (std::find(allow.begin(), allow.end(), key) != allow.end())
            r.env[key] = looks_secret(key) ? std::string(k_redacted) : redact_urls(value);
        else
            r.env_names.push_back(key);
    }
}

// Prepares the record and what the command is started with: params (their files opened in
// `files`), command, environment, executable. Returns the overrides (for files.warnings()).
std::map<std::string, params::Param> prepare(workspace::Workspace& ws, const RunOptions& options,
                                             params::ParamFiles& files, RunRecord& r, Launch& launch) {
    std::map<std::string, params::Param> cli_params = read_params(ws, options, files, r);
    launch.argv = command_argv(options, r);
    std::map<std::string, std::string> replayed_env = child_environment(ws, options.replay, launch.env);
    launch.cwd = ws.absolute(options.cwd);
    record_executable(ws, replayed_env, launch, r);
    record_environment(ws, launch.env, r);
    return cli_params;
}

// Stores the declared inputs in the cache and records their ids (the caller holds the store lock).
void hash_inputs(workspace::Workspace& ws, const std::vector<std::string>& inputs, util::Progress& progress, RunRecord& r) {
    if (inputs.empty()) return;
    auto stored = workspace::add(ws, inputs, progress, workspace::Track::store_only);
    for (const auto& p : stored.paths) r.inputs[p.data_path] = p.digest.id();
}

// The code as the command sees it: taken before it runs, so its own outputs are not in it. Its
// temporary index lives beside the staging directories, not in tmp/, which gc sweeps. A replay
// runs the recorded snapshot itself. Large untracked files go to the cache (the caller holds
// the store lock).
void snapshot_code(workspace::Workspace& ws, const RunOptions& options, util::Progress& progress, RunRecord& r,
                   std::vector<std::string>& warnings) {
    git::Repository::Snapshot snap;
    if (const RunRecord* recorded = options.replay ? options.replay : options.snapshot) {
        snap.commit = recorded->git_snapshot;
        snap.base = recorded->git_base;
        snap.branch = recorded->git_branch;
        snap.dirty = recorded->git_dirty;
        r.large_files = recorded->large_files;
    } else {
        // The declared inputs and outputs are recorded as data; left in the code snapshot, a
        // previous run's model or a dataset would be committed to git with every later run.
        std::vector<std::string> data_paths = options.outputs;
        data_paths.insert(data_paths.end(), options.inputs.begin(), options.inputs.end());
        snap = ws.repo().snapshot_workdir(ws.store_dir() / "runs" / ("." + r.id + ".index"),
                                          fmt::format("cairn: code snapshot for run {}", r.id.substr(0, 8)),
                                          k_snapshot_file_limit, data_paths);
    }
    if (!snap.nested.empty())
        warnings.push_back(fmt::format("nested git repositories are not part of the code snapshot: {}",
                                       fmt::join(snap.nested, ", ")));
    if (!snap.left_out.empty()) {
        auto stored = workspace::add(ws, snap.left_out, progress, workspace::Track::store_only);
        for (const auto& p : stored.paths) r.large_files[p.data_path] = p.digest.id();
        warnings.push_back(fmt::format("{} untracked file(s) over {} kept out of the code snapshot and stored in the "
                                       "cache instead: {} (track them with 'cairn add' or ignore them)",
                                       snap.left_out.size(), util::human_size(k_snapshot_file_limit),
                                       fmt::join(snap.left_out, ", ")));
    }
    r.git_base = snap.base;
    r.git_branch = snap.branch;
    r.git_dirty = snap.dirty;
    r.git_snapshot = snap.commit;
}

// A published staging directory, held by its run.
struct Staging {
    std::filesystem::path dir;
    // Held until the run is recorded: a staging directory whose lock is free belongs to a cairn
    // that died (kill -9, power loss) and is recovered as a crashed run by the next reader.
    fs::FileLock lock;
    fs::Fd log; // log.txt, open for appending
};

// Stages the record (status running) in .cairn/runs/<id>/: everything the run produces lands
// there first, appended as it arrives. The directory is prepared under a hidden name and renamed
// into place with its lock already held and run.yaml written, so a reader never sees it half made.
Staging stage(workspace::Workspace& ws, const RunOptions& options, RunRecord& r) {
    std::filesystem::path staging = ws.store_dir() / "runs" / r.id;
    std::filesystem::path preparing = ws.store_dir() / "runs" / ("." + r.id);
    fs::make_dirs(preparing);
    fs::FileLock run_lock(preparing / "lock", fs::LockMode::exclusive);
    r.start_ms = now_ms();
    r.status = "running";
    // Not fsynced: staging guards against cairn dying, and the run itself is not durable until
    // its commit exists; an fsync per file here would cost more than the git commit.
    // Plain writes: nobody reads inside `.<id>` before the rename below publishes it whole.
    auto write_new = [](const std::filesystem::path& path, const std::string& text) {
        fs::Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        if (!fd.valid()) fail_errno("cannot write " + path.string(), errno);
        fs::write_all(fd.get(), text.data(), text.size(), path.string());
    };
    write_new(preparing / "run.yaml", to_run_yaml(r) + fmt::format("pid: {}\n", ::getpid()));
    write_new(preparing / "params.yaml", to_params_yaml(r.params));
    write_new(preparing / "inputs.yaml", to_paths_yaml(r.inputs));
    write_new(preparing / "outcome", std::string(k_outcome_size - 1, ' ') + "\n");
    if (!options.outputs.empty()) write_new(preparing / "outputs.txt", fmt::format("{}\n", fmt::join(options.outputs, "\n")));
    if (!r.large_files.empty()) write_new(preparing / "large_files.yaml", to_paths_yaml(r.large_files));
    if (::rename(preparing.c_str(), staging.c_str()) != 0) fail_errno("cannot create " + staging.string(), errno);
    fs::Fd log(::open((staging / "log.txt").c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
    if (!log.valid()) fail_errno("cannot create the run log", errno);
    return {staging, std::move(run_lock), std::move(log)};
}

// Runs the command with the run's variables, its output passed through and teed to the staging
// log. Stdout scalars go to the staging metrics file as they arrive, so that a crashed run keeps
// them; those that could not be written there are added to *unsaved, for the record.
process::Outcome spawn(Launch launch, const RunOptions& options, const RunRecord& r, const Staging& staging,
                       const std::string& held_locks, metrics::ScalarCapture& capture,
                       std::vector<metrics::MetricPoint>& unsaved) {
    process::Command cmd;
    cmd.argv = std::move(launch.argv);
    if (options.capture_stdout)
        cmd.on_stdout = [&](std::string_view chunk) {
            capture.feed(chunk);
            auto points = capture.take();
            if (points.empty()) return;
            try {
                append_metrics(staging.dir, points);
            } catch (const Error&) {
                unsaved.insert(unsaved.end(), points.begin(), points.end());
            }
        };
    cmd.cwd = launch.cwd;
    cmd.terminal = options.terminal;
    // Written as soon as the command runs: if cairn dies (kill -9) before the run is recorded,
    // crash recovery stops the command's process group before recording the run as crashed.
    cmd.on_start = [&](pid_t pid) {
        if (auto group = process::describe_group(pid))
            fs::write_file_atomic(staging.dir / "command", process::format_group(*group), 0644, fs::Durability::deferred);
    };
    if (options.stdout_to_stderr) cmd.stdout_fd = STDERR_FILENO;
    cmd.log_fd = staging.log.get();
    cmd.executable = launch.executable; // the one recorded
    cmd.env = std::move(launch.env);
    cmd.env["CAIRN_RUN_ID"] = r.id;
    cmd.env["CAIRN_RUN_DIR"] = staging.dir.string();
    cmd.env["CAIRN_METRICS_FILE"] = (staging.dir / "metrics.tsv").string();
    for (const auto& p : r.params) cmd.env[param_env_name(p.key)] = p.text;
    if (!held_locks.empty()) cmd.env["CAIRN_LOCKS_HELD"] = held_locks;
    return process::run(cmd);
}

// The `-m` files that could not be taken into the record.
struct MetricFileProblems {
    std::vector<std::string> missing; // declared, not written
    std::vector<std::string> bad;     // malformed or unreadable: the errors
};

// Collects the run's metrics once its command ended: the staging metrics file, the captured
// scalars, then the `-m` files (their points without a step continue each key's count).
MetricFileProblems collect_metrics(workspace::Workspace& ws, const RunOptions& options,
                                   const std::filesystem::path& staging, metrics::ScalarCapture& capture,
                                   std::vector<metrics::MetricPoint> unsaved, RunRecord& r,
                                   std::vector<std::string>& warnings) {
    metrics::BadMetricLines bad_lines;
    r.metrics = metrics::read_live_metrics(staging / "metrics.tsv", &bad_lines);
    if (bad_lines.count)
        warnings.push_back(fmt::format("{} line(s) of $CAIRN_METRICS_FILE are not 'KEY VALUE [STEP [UNIX_MS]]' and were "
                                       "left out; the first: {}",
                                       bad_lines.count, bad_lines.first));
    for (auto& p : unsaved) r.metrics.push_back(std::move(p));
    for (auto& p : capture.finish()) r.metrics.push_back(std::move(p));
    MetricFileProblems problems;
    for (const auto& m : options.metric_files) {
        // A metrics file that cannot be read (malformed, a FIFO) fails the command after the run
        // is recorded: nothing logged is dropped for it.
        try {
            auto text = fs::read_file_if_exists(ws.absolute(m));
            if (!text) {
                problems.missing.push_back(m);
                continue;
            }
            std::map<std::string, std::int64_t> next;
            for (const auto& p : r.metrics) next[p.key] = std::max(next[p.key], p.step + 1);
            for (auto& p : metrics::read_metric_file(*text, m, r.end_ms, next)) r.metrics.push_back(std::move(p));
        } catch (const Error& e) {
            if (e.kind() != ErrorKind::input) throw;
            problems.bad.push_back(e.what());
        }
    }
    return problems;
}

// The declared outputs and logged artifacts that exist, and those that do not.
struct OutputPaths {
    std::vector<std::string> present, missing;
};

OutputPaths find_outputs(workspace::Workspace& ws, const RunOptions& options, const std::filesystem::path& staging,
                         RunRecord& r) {
    std::vector<std::string> outputs = options.outputs;
    for (auto& a : apply_logged(staging, r))
        if (std::find(outputs.begin(), outputs.end(), a) == outputs.end()) outputs.push_back(std::move(a));
    OutputPaths found;
    for (const auto& o : outputs) {
        if (fs::lstat_path(ws.absolute(o)))
            found.present.push_back(o);
        else
            found.missing.push_back(o);
    }
    return found;
}

// Stores the outputs that exist in the cache and records their ids (the caller holds the store lock).
void hash_outputs(workspace::Workspace& ws, const std::vector<std::string>& present, util::Progress& progress, RunRecord& r) {
    if (present.empty()) return;
    auto stored = workspace::add(ws, present, progress, workspace::Track::store_only);
    for (const auto& p : stored.paths) r.outputs[p.data_path] = p.digest.id();
}

// A command that exits 0 without writing what it declared did not do its job: the run is
// recorded as failed, with the reason.
void fail_unwritten(const std::vector<std::string>& missing_outputs, const std::vector<std::string>& missing_metric_files,
                    RunRecord& r) {
    if (r.status != "finished" || (missing_outputs.empty() && missing_metric_files.empty())) return;
    r.status = "failed";
    std::vector<std::string> reasons;
    for (const auto& o : missing_outputs) reasons.push_back(fmt::format("declared output {} was not written", o));
    for (const auto& m : missing_metric_files) reasons.push_back(fmt::format("declared metrics file {} was not written", m));
    r.reason = fmt::format("{}", fmt::join(reasons, "; "));
}

// execute(); `ended` says how the command ended from when it has until the run is committed.
RunResult execute_staged(workspace::Workspace& ws, const RunOptions& options, util::Progress& progress,
                         std::string& ended) {
    // A crashed run may have left a parameter file overridden: put it back before reading it.
    // (A replay runs in a replica; its caller recovers in the workspace itself.)
    if (!options.replay && !options.snapshot) recover_crashed(ws);
    // Built first: a bad pattern in config.yaml fails before anything is staged.
    metrics::ScalarCapture capture(
        ws.config().capture_patterns.value_or(std::vector<std::string>{metrics::ScalarCapture::k_default_pattern}),
        ".cairn/config.yaml: run.capture");
    RunRecord r = new_record(options);
    // Locked from before they are read until the command ends: what the record says is what the
    // command reads (docs/guide-runs.md, "Parameters").
    params::ParamFiles files(ws, options.replay || options.snapshot ? params::ParamFiles::Mode::replay : params::ParamFiles::Mode::run,
                             options.notice);
    Launch launch;
    std::map<std::string, params::Param> cli_params = prepare(ws, options, files, r, launch);

    // Until the staging directory names them, the objects stored for this run (inputs, large
    // untracked files) are referenced by nothing gc can see: the store lock, shared, keeps gc out
    // until then; gc counts the ids in staging directories as live (docs/safety.md).
    std::optional<fs::FileLock> store_lock;
    store_lock.emplace(ws.store_lock_path(), fs::LockMode::shared);
    hash_inputs(ws, options.inputs, progress, r);
    std::vector<std::string> warnings = files.warnings(cli_params, options.command);
    snapshot_code(ws, options, progress, r, warnings);
    Staging staging = stage(ws, options, r);
    store_lock.reset(); // the staging directory names them now
    try {
        files.apply(staging.dir);
    } catch (...) {
        // The command never started: there is no run to record.
        std::error_code ec;
        std::filesystem::remove_all(staging.dir, ec);
        throw;
    }

    std::vector<metrics::MetricPoint> unsaved;
    process::Outcome outcome = spawn(std::move(launch), options, r, staging, files.held_locks_env(), capture, unsaved);
    // The command has ended and been reaped: its group id may be another's from now on.
    try {
        fs::remove_file(staging.dir / "command");
    } catch (const Error&) {
        // The outcome written below says the same to crash recovery.
    }
    staging.log.reset();
    r.end_ms = now_ms();
    r.exit_code = outcome.exit_code;
    r.status = outcome.interrupted ? "interrupted" : outcome.exit_code == 0 ? "finished" : "failed";
    write_outcome(staging.dir, {r.status, r.exit_code, r.end_ms, outcome.log_error});
    ended = fmt::format("run {}: its command {} (exit {})", r.id.substr(0, 8), r.status, r.exit_code);
    files.restore();
    files.release();
    if (!outcome.log_error.empty())
        warnings.push_back(fmt::format("the run's log stops early (the command ran on): {}", outcome.log_error));

    MetricFileProblems metric_files = collect_metrics(ws, options, staging.dir, capture, std::move(unsaved), r, warnings);
    OutputPaths outputs = find_outputs(ws, options, staging.dir, r);
    // An interrupted command's outputs are whatever it had half written, and hashing them would
    // itself stop at the interrupt, leaving the run unrecorded: it is recorded without them.
    if (outcome.interrupted) outputs = {};
    // The outputs' objects are named by nothing until the commit: gc waits until it exists.
    store_lock.emplace(ws.store_lock_path(), fs::LockMode::shared);
    hash_outputs(ws, outputs.present, progress, r);
    fail_unwritten(outputs.missing, metric_files.missing, r);
    commit_run(ws, r,
               fs::read_file(staging.dir / "log.txt") + (outcome.log_error.empty() ? "" : log_stop_note(outcome.log_error)));
    store_lock.reset();
    ended.clear();
    std::error_code ec;
    std::filesystem::remove_all(staging.dir, ec);
    if (!metric_files.bad.empty() && !options.stage.empty())
        warnings.push_back(fmt::format("recorded without the metrics of: {}", fmt::join(metric_files.bad, "; ")));
    else if (!metric_files.bad.empty())
        fail(ErrorKind::input, "run {} recorded without the metrics of: {}", r.id.substr(0, 8),
             fmt::join(metric_files.bad, "; "));
    // A replay reports what is missing in its verdict instead.
    // A replay, a trial and a pipeline stage report it in their results instead.
    if (!r.reason.empty() && !options.replay && !options.snapshot && options.stage.empty()) fail(ErrorKind::input, "run {} failed: {}", r.id.substr(0, 8), r.reason);
    return {r, outcome.exit_code, warnings};
}

} // namespace

RunResult execute(workspace::Workspace& ws, const RunOptions& options, util::Progress& progress) {
    std::string ended;
    try {
        return execute_staged(ws, options, progress, ended);
    } catch (const Error& e) {
        if (ended.empty()) throw;
        // The command ran: its staging directory stays, with its outcome, and the next cairn
        // command that reads runs records it (docs/guide-runs.md, "When things go wrong").
        fail(e.kind(), "{}, but it cannot be recorded now ({}); it stays staged in .cairn/runs/ and the next cairn "
             "command records it", ended, e.what());
    }
}

} // namespace cairn::run
