#include "core/run/runs.hpp"

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
#include "core/fs/walk.hpp"
#include "core/hash/hash.hpp"
#include "core/process/process.hpp"
#include "core/run/index.hpp"
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

bool is_run_id(std::string_view id) {
    return id.size() == 32 && id.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

std::string command_line(const std::vector<std::string>& argv) {
    std::string out;
    for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
    return out;
}

// The points of a staging metrics.tsv, numbered as the recorder numbers them.
// Lines of the staging metrics file that are not metric points.
struct BadMetricLines {
    std::size_t count = 0;
    std::string first; // "line N: <error>"
};

std::vector<MetricPoint> parse_live_metrics(std::string_view text, BadMetricLines* bad = nullptr) {
    std::vector<MetricPoint> out;
    std::map<std::string, std::int64_t> next;
    std::size_t line_no = 0;
    std::int64_t fallback = now_ms();
    std::vector<std::string> lines = util::split(text, '\n');
    for (std::size_t i = 0; i < lines.size(); ++i) {
        ++line_no;
        try {
            if (auto p = parse_metric_line(lines[i], &next, fallback, fmt::format("line {}", line_no))) out.push_back(*p);
        } catch (const Error& e) {
            // A program may die mid-line: an unfinished last line is dropped without a word.
            bool unfinished = i + 1 == lines.size();
            if (bad && !unfinished && bad->count++ == 0) bad->first = e.what();
        }
    }
    return out;
}

std::vector<MetricPoint> read_live_metrics(const std::filesystem::path& file, BadMetricLines* bad = nullptr) {
    auto text = fs::read_file_if_exists(file);
    return text ? parse_live_metrics(*text, bad) : std::vector<MetricPoint>{};
}

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
    std::vector<std::pair<std::string, std::string>> blobs = {
        {"inputs.yaml", repo.write_blob(to_paths_yaml(r.inputs))},
        {"large_files.yaml", repo.write_blob(to_paths_yaml(r.large_files))},
        {"log.txt", repo.write_blob(log_text)},
        {"metrics.tsv", repo.write_blob(to_metrics_tsv(r.metrics))},
        {"outputs.yaml", repo.write_blob(to_paths_yaml(r.outputs))},
        {"params.yaml", repo.write_blob(to_params_yaml(r.params))},
        {"run.yaml", repo.write_blob(to_run_yaml(r))},
    };
    std::string tree = repo.write_tree(blobs);
    std::vector<std::string> parents;
    if (!r.git_snapshot.empty()) parents.push_back(r.git_snapshot);
    r.commit = repo.write_commit(tree, parents, commit_message(r));
    repo.create_ref(std::string(k_ref_prefix) + r.id, r.commit, "cairn run");
}

// staging/outcome: made with its blocks allocated when the run starts and overwritten in place
// when the command ends, so that the real exit status survives a disk that filled up meanwhile
// (the run is then recorded later from staging). Lines `KEY VALUE`, padded with spaces.
constexpr std::size_t k_outcome_size = 512;

struct Ended {
    std::string status;
    int exit_code = 0;
    std::int64_t end_ms = 0;
    std::string log_error; // why the log stops early, if it does
};

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
            if (!known) r.params.push_back(parse_param(f[1], f[2]));
        } else if (f[0] == "tag") {
            r.tags[f[1]] = f[2];
        } else if (f[0] == "artifact") {
            artifacts.push_back(f[1]);
        }
    }
    std::sort(r.params.begin(), r.params.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
    return artifacts;
}

} // namespace

void log_to_run(const std::filesystem::path& run_dir, LogKind kind, const std::string& key, const std::string& value) {
    if (key.empty() || key.find_first_of("\t\n") != std::string::npos || value.find_first_of("\t\n") != std::string::npos)
        fail(ErrorKind::input, "'{}': keys and values cannot be empty or hold tabs or newlines", key);
    fs::FileLock lock(run_dir / "logged.lock", fs::LockMode::exclusive);
    if (kind == LogKind::param) {
        // Immutable: compare with what the run started with and what was logged since.
        RunRecord r;
        if (auto t = fs::read_file_if_exists(run_dir / "params.yaml")) parse_params_yaml(*t, "params.yaml", r);
        apply_logged(run_dir, r);
        Param wanted = parse_param(key, value);
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

void append_metrics(const std::filesystem::path& run_dir, const std::vector<MetricPoint>& points) {
    std::string text;
    for (const auto& p : points)
        text += fmt::format("{} {} {} {}\n", p.key, format_value(p.value), p.step < 0 ? std::string("-") : std::to_string(p.step),
                            p.unix_ms);
    std::filesystem::path file = run_dir / "metrics.tsv";
    fs::Fd fd(::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
    if (!fd.valid()) fail_errno("cannot open " + file.string(), errno);
    // One write per call: O_APPEND keeps concurrent writers' lines whole.
    fs::write_all(fd.get(), text.data(), text.size(), file.string());
}

namespace {

// execute(); `ended` says how the command ended from when it has until the run is committed.
RunResult execute_staged(workspace::Workspace& ws, const RunOptions& options, util::Progress& progress,
                         std::string& ended) {
    const RunRecord* replay = options.replay;
    // A crashed run may have left a parameter file overridden: put it back before reading it.
    // (A replay runs in a replica; its caller recovers in the workspace itself.)
    if (!replay && !options.snapshot) recover_crashed(ws);
    // Built first: a bad pattern in config.yaml fails before anything is staged.
    ScalarCapture capture(ws.config().capture_patterns.value_or(std::vector<std::string>{ScalarCapture::k_default_pattern}),
                          ".cairn/config.yaml: run.capture");
    RunRecord r;
    r.id = new_run_id();
    r.name = options.name;
    r.experiment = options.experiment;
    r.sweep = options.sweep;
    r.cwd = options.cwd.empty() ? "." : options.cwd;
    r.tags = options.tags;
    r.host = fs::host_name();
    r.user = user_name();
    struct utsname uts {};
    if (::uname(&uts) == 0) r.os = fmt::format("{} {} {}", uts.sysname, uts.release, uts.machine);
    r.cpu = cpu_description();
    r.cairn_version = CAIRN_VERSION;
    if (replay) r.reproduces = replay->id;
    for (const auto& [k, v] : options.params) r.params.push_back(parse_param(k, v));
    std::sort(r.params.begin(), r.params.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
    for (std::size_t i = 1; i < r.params.size(); ++i)
        if (r.params[i].key == r.params[i - 1].key) fail(ErrorKind::usage, "parameter '{}' given twice", r.params[i].key);
    // Parameter files: flattened into the record; -p values for keys they hold override them.
    std::vector<std::string> param_files = options.param_files;
    if (param_files.empty() && !replay && fs::lstat_path(ws.absolute("params.yaml"))) param_files.push_back("params.yaml");
    r.param_files = param_files;
    r.metric_files = options.metric_files;
    r.capture = options.capture_stdout;
    std::map<std::string, Param> cli_params;
    for (const auto& p : replay ? replay->params : r.params) cli_params.emplace(p.key, p);
    // Locked from before they are read until the command ends: what the record says is what the
    // command reads (docs/guide-runs.md, "Parameters").
    ParamFiles files(ws, replay || options.snapshot ? ParamFiles::Mode::replay : ParamFiles::Mode::run, options.notice);
    files.open(param_files, cli_params);
    std::map<std::string, Param> merged;
    for (const auto& f : files.files()) {
        for (const auto& p : f.params) {
            auto cli = cli_params.find(p.key);
            merged.insert_or_assign(p.key, cli != cli_params.end() ? cli->second : p);
        }
    }
    for (const auto& [k, p] : cli_params) merged.insert_or_assign(k, p);
    r.params.clear();
    for (auto& [k, p] : merged) r.params.push_back(std::move(p));
    // A replay's argv is the recorded one, placeholders already filled in. The real argv is
    // only for the process: every stored copy (run.yaml, the commit message, the index) holds
    // the redacted one.
    std::vector<std::string> argv = replay ? options.command : substitute_params(options.command, r.params);
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
    r.command = redact_command(argv);

    // The command's environment: cairn's own, with a replay's recorded variables put back:
    // allow-listed ones set as recorded (redacted ones keep today's value), allow-listed ones the
    // run did not have unset.
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
    std::map<std::string, std::string> child_env;
    for (char** e = environ; *e; ++e) {
        std::string_view entry(*e);
        std::size_t eq = entry.find('=');
        std::string key(entry.substr(0, eq));
        if (std::find(env_unset.begin(), env_unset.end(), key) != env_unset.end()) continue;
        child_env[key] = eq == std::string_view::npos ? "" : std::string(entry.substr(eq + 1));
    }
    for (const auto& [k, v] : env_set) child_env[k] = v;
    std::filesystem::path command_cwd = ws.absolute(options.cwd);
    // Resolved once, through the command's own PATH: the executable recorded is the one run.
    auto path_var = child_env.find("PATH");
    std::optional<std::filesystem::path> exe = process::find_executable(
        argv.at(0), command_cwd, path_var == child_env.end() ? process::k_default_path : path_var->second.c_str());
    if (exe) {
        r.executable = exe->string();
        // Recorded relative to the workspace when it lies inside it, so that a replica's copy
        // compares equal to the original's.
        auto rel = exe->lexically_relative(ws.root());
        if (!rel.empty() && *rel.begin() != "..") r.executable = rel.string();
        r.executable_hash = executable_hash(ws, *exe);
    } else if (replay && env_set.count("PATH")) {
        fail(ErrorKind::input, "command not found: {} (in the worktree, with the PATH the run recorded: {})",
             argv.at(0), env_set.at("PATH"));
    } else {
        fail(ErrorKind::input, "command not found: {}", r.command.at(0));
    }
    const auto& allow = ws.config().env_allow;
    for (const auto& [key, value] : child_env) {
        if (std::find(allow.begin(), allow.end(), key) != allow.end())
            r.env[key] = looks_secret(key) ? std::string(k_redacted) : redact_urls(value);
        else
            r.env_names.push_back(key);
    }

    // Until the staging directory names them, the objects stored for this run (inputs, large
    // untracked files) are referenced by nothing gc can see: the store lock, shared, keeps gc out
    // until then; gc counts the ids in staging directories as live (docs/safety.md).
    std::optional<fs::FileLock> store_lock;
    store_lock.emplace(ws.store_lock_path(), fs::LockMode::shared);
    if (!options.inputs.empty()) {
        auto stored = workspace::add(ws, options.inputs, progress, workspace::Track::store_only);
        for (const auto& p : stored.paths) r.inputs[p.data_path] = p.digest.id();
    }

    // The code as the command sees it: taken before it runs, so its own outputs are not in it.
    // Its temporary index lives beside the staging directories, not in tmp/, which gc sweeps.
    // A replay runs the recorded snapshot itself.
    git::Repository::Snapshot snap;
    if (const RunRecord* recorded = replay ? replay : options.snapshot) {
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
    std::vector<std::string> warnings = files.warnings(cli_params, options.command);
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

    // Staging: everything the run produces lands here first, appended as it arrives.
    std::filesystem::path staging = ws.store_dir() / "runs" / r.id;
    // The lock is held until the run is recorded: a staging directory whose lock is free belongs
    // to a cairn that died (kill -9, power loss) and is recovered as a crashed run by the next
    // reader. The directory is prepared under a hidden name and renamed into place with its lock
    // already held and run.yaml written, so a reader never sees it half made.
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
    store_lock.reset(); // the staging directory names them now
    fs::Fd log(::open((staging / "log.txt").c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
    if (!log.valid()) fail_errno("cannot create the run log", errno);

    try {
        files.apply(staging);
    } catch (...) {
        // The command never started: there is no run to record.
        std::error_code ec;
        std::filesystem::remove_all(staging, ec);
        throw;
    }

    process::Command cmd;
    cmd.argv = std::move(argv);
    // Captured points go to the staging metrics file as they arrive, so that a crashed run keeps
    // them; those that could not be written there are kept here for the record.
    std::vector<MetricPoint> captured_unsaved;
    if (options.capture_stdout)
        cmd.on_stdout = [&](std::string_view chunk) {
            capture.feed(chunk);
            auto points = capture.take();
            if (points.empty()) return;
            try {
                append_metrics(staging, points);
            } catch (const Error&) {
                captured_unsaved.insert(captured_unsaved.end(), points.begin(), points.end());
            }
        };
    cmd.cwd = command_cwd;
    if (options.stdout_to_stderr) cmd.stdout_fd = STDERR_FILENO;
    cmd.log_fd = log.get();
    cmd.executable = *exe; // the one recorded
    cmd.env = std::move(child_env);
    cmd.env["CAIRN_RUN_ID"] = r.id;
    cmd.env["CAIRN_RUN_DIR"] = staging.string();
    cmd.env["CAIRN_METRICS_FILE"] = (staging / "metrics.tsv").string();
    for (const auto& p : r.params) cmd.env[param_env_name(p.key)] = p.text;
    if (std::string held = files.held_locks_env(); !held.empty()) cmd.env["CAIRN_LOCKS_HELD"] = held;
    process::Outcome outcome = process::run(cmd);
    r.end_ms = now_ms();
    r.exit_code = outcome.exit_code;
    r.status = outcome.interrupted ? "interrupted" : outcome.exit_code == 0 ? "finished" : "failed";
    log.reset();
    write_outcome(staging, {r.status, r.exit_code, r.end_ms, outcome.log_error});
    ended = fmt::format("run {}: its command {} (exit {})", r.id.substr(0, 8), r.status, r.exit_code);
    files.restore();
    files.release();
    if (!outcome.log_error.empty())
        warnings.push_back(fmt::format("the run's log stops early (the command ran on): {}", outcome.log_error));

    BadMetricLines bad_lines;
    r.metrics = read_live_metrics(staging / "metrics.tsv", &bad_lines);
    if (bad_lines.count)
        warnings.push_back(fmt::format("{} line(s) of $CAIRN_METRICS_FILE are not 'KEY VALUE [STEP [UNIX_MS]]' and were "
                                       "left out; the first: {}",
                                       bad_lines.count, bad_lines.first));
    for (auto& p : captured_unsaved) r.metrics.push_back(std::move(p));
    for (auto& p : capture.finish()) r.metrics.push_back(std::move(p));
    std::vector<std::string> missing_metric_files, bad_metric_files;
    for (const auto& m : options.metric_files) {
        // A metrics file that cannot be read (malformed, a FIFO) fails the command after the run
        // is recorded: nothing logged is dropped for it.
        try {
            auto text = fs::read_file_if_exists(ws.absolute(m));
            if (!text) {
                missing_metric_files.push_back(m);
                continue;
            }
            std::map<std::string, std::int64_t> next;
            for (const auto& p : r.metrics) next[p.key] = std::max(next[p.key], p.step + 1);
            for (auto& p : read_metric_file(*text, m, r.end_ms, next)) r.metrics.push_back(std::move(p));
        } catch (const Error& e) {
            if (e.kind() != ErrorKind::input) throw;
            bad_metric_files.push_back(e.what());
        }
    }
    std::vector<std::string> outputs = options.outputs;
    for (auto& a : apply_logged(staging, r))
        if (std::find(outputs.begin(), outputs.end(), a) == outputs.end()) outputs.push_back(std::move(a));
    std::vector<std::string> missing_outputs;
    std::vector<std::string> present;
    for (const auto& o : outputs) {
        if (fs::lstat_path(ws.absolute(o)))
            present.push_back(o);
        else
            missing_outputs.push_back(o);
    }
    // The outputs' objects are named by nothing until the commit: gc waits until it exists.
    store_lock.emplace(ws.store_lock_path(), fs::LockMode::shared);
    if (!present.empty()) {
        auto stored = workspace::add(ws, present, progress, workspace::Track::store_only);
        for (const auto& p : stored.paths) r.outputs[p.data_path] = p.digest.id();
    }

    // A command that exits 0 without writing what it declared did not do its job: the run is
    // recorded as failed, with the reason.
    if (r.status == "finished" && (!missing_outputs.empty() || !missing_metric_files.empty())) {
        r.status = "failed";
        std::vector<std::string> reasons;
        for (const auto& o : missing_outputs) reasons.push_back(fmt::format("declared output {} was not written", o));
        for (const auto& m : missing_metric_files) reasons.push_back(fmt::format("declared metrics file {} was not written", m));
        r.reason = fmt::format("{}", fmt::join(reasons, "; "));
    }
    commit_run(ws, r, fs::read_file(staging / "log.txt") + (outcome.log_error.empty() ? "" : log_stop_note(outcome.log_error)));
    store_lock.reset();
    ended.clear();
    std::error_code ec;
    std::filesystem::remove_all(staging, ec);
    if (!bad_metric_files.empty())
        fail(ErrorKind::input, "run {} recorded without the metrics of: {}", r.id.substr(0, 8),
             fmt::join(bad_metric_files, "; "));
    // A replay reports what is missing in its verdict instead.
    if (!r.reason.empty() && !replay && !options.snapshot) fail(ErrorKind::input, "run {} failed: {}", r.id.substr(0, 8), r.reason);
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

namespace {

RunRecord load(workspace::Workspace& ws, const std::string& id, const std::string& commit) {
    RunRecord r;
    std::string where = std::string(k_ref_prefix) + id;
    // One tree lookup for all the record's files (a listing loads thousands of runs).
    std::map<std::string, std::string> files = ws.repo().read_top_blobs(commit);
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

std::filesystem::path staging_dir(workspace::Workspace& ws, const std::string& id) {
    return ws.store_dir() / "runs" / id;
}

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
            r.metrics = parse_live_metrics(complete_lines(fs::read_file_if_exists(staging / "metrics.tsv")));
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
        if (!restore_param_files(ws, staging)) continue; // try again later
        r.metrics = read_live_metrics(staging / "metrics.tsv");
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

std::vector<RunRecord> list_runs(workspace::Workspace& ws, std::vector<SkippedRun>* skipped) {
    recover_crashed(ws);
    // Staging before refs: a run that ends in between is then seen twice (and its ref wins),
    // never not at all.
    std::vector<RunRecord> running = running_runs(ws, skipped);
    std::filesystem::path index_dir = ws.store_dir() / "index";
    std::map<std::string, IndexEntry> cached;
    if (auto text = fs::read_file_if_exists(index_dir / "runs"))
        if (auto parsed = parse_index(*text)) cached = std::move(*parsed);

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
            fs::write_file_atomic(index_dir / "runs", serialize_index(fresh), 0644, fs::Durability::deferred);
        } catch (const Error& e) {
            if (e.kind() != ErrorKind::busy && e.kind() != ErrorKind::io) throw;
        }
    }
    std::vector<RunRecord> out;
    out.reserve(fresh.size());
    for (auto& [id, e] : fresh) out.push_back(std::move(e.record));
    for (auto& r : running)
        if (!fresh.count(r.id)) out.push_back(std::move(r));
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
        if (matches.size() > 1 && note) {
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
