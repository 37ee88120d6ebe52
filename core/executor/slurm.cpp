#include "core/executor/slurm.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <random>

#include <fmt/format.h>

#include "core/fs/file.hpp"
#include "core/process/process.hpp"
#include "core/util/error.hpp"
#include "core/util/strings.hpp"

extern char** environ;

namespace cairn::executor {
namespace {

// Options cairn writes itself into every script: a user's value would break what it relies on.
constexpr const char* k_reserved[] = {"array", "output", "error", "parsable", "wrap", "chdir", "wait", "test-only"};

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
}

} // namespace

void check_option_name(const std::string& name, const std::string& where) {
    bool shape = !name.empty() && name.front() >= 'a' && name.front() <= 'z';
    for (char c : name) shape &= (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!shape)
        fail(ErrorKind::usage, "{}: '{}' is not an sbatch long option name (lower-case letters, digits and '-', as in "
             "partition, time, cpus-per-task)", where, name);
    for (const char* r : k_reserved)
        if (name == r)
            fail(ErrorKind::usage, "{}: cairn sets the sbatch option '{}' itself; leave it out", where, name);
}

std::pair<std::string, std::string> parse_option(const std::string& text) {
    auto eq = text.find('=');
    if (eq == std::string::npos || eq == 0)
        fail(ErrorKind::usage, "--slurm {}: expected OPT=VALUE (an sbatch long option without '--', as in time=10:00)",
             text);
    std::string name = text.substr(0, eq);
    if (util::starts_with(name, "--")) name = name.substr(2);
    check_option_name(name, "--slurm " + text);
    return {name, text.substr(eq + 1)};
}

Output run_client(const std::vector<std::string>& argv, const std::filesystem::path& cwd,
                  const std::filesystem::path& tmp_dir) {
    auto exe = process::find_executable(argv.at(0), cwd);
    if (!exe || ::access(exe->c_str(), X_OK) != 0)
        fail(ErrorKind::environment, "{} not found on PATH: --executor slurm needs Slurm's client commands (run cairn "
             "on a login node of the cluster, or install slurm-client)", argv[0]);
    fs::make_dirs(tmp_dir);
    std::random_device rd;
    std::string base = fmt::format("{}/slurm-{:08x}{:08x}", tmp_dir.string(), rd(), rd());
    std::string out_path = base + ".out", err_path = base + ".err";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
    pid_t pid = 0;
    int rc = ::posix_spawn(&pid, exe->c_str(), &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) fail_errno("cannot start " + exe->string(), rc);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) fail_errno("waiting for " + argv[0], errno);
    Output o;
    o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    o.out = fs::read_file_if_exists(out_path).value_or("");
    o.err = fs::read_file_if_exists(err_path).value_or("");
    std::error_code ec;
    std::filesystem::remove(out_path, ec);
    std::filesystem::remove(err_path, ec);
    return o;
}

std::string submit(const std::filesystem::path& script, const SlurmOptions& options, const std::filesystem::path& cwd,
                   const std::filesystem::path& tmp_dir) {
    std::vector<std::string> argv = {"sbatch", "--parsable"};
    for (const auto& [k, v] : options) argv.push_back(v.empty() ? "--" + k : "--" + k + "=" + v);
    argv.push_back(script.string());
    Output o = run_client(argv, cwd, tmp_dir);
    if (o.exit_code != 0)
        fail(ErrorKind::input, "Slurm refused the job (sbatch exit {}): {}", o.exit_code,
             trim(o.err.empty() ? o.out : o.err));
    // --parsable prints `JOBID` or `JOBID;CLUSTER`.
    std::string id = trim(o.out);
    id = id.substr(0, id.find(';'));
    if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos)
        fail(ErrorKind::input, "sbatch printed no job id: '{}'", trim(o.out));
    return id;
}

std::vector<JobInfo> show_job(const std::string& id, const std::filesystem::path& tmp_dir) {
    Output o = run_client({"scontrol", "show", "job", "-o", id}, "/", tmp_dir);
    std::vector<JobInfo> jobs;
    if (o.exit_code != 0) return jobs; // "Invalid job id specified": Slurm has forgotten it
    for (const auto& line : util::split(o.out, '\n')) {
        if (line.empty()) continue;
        JobInfo j;
        // `KEY=VALUE KEY=VALUE ...`; a value may hold spaces only for a few keys (Command,
        // WorkDir with spaces...), which are kept as they come until the next ` KEY=`.
        std::string key;
        std::size_t i = 0;
        while (i < line.size()) {
            while (i < line.size() && line[i] == ' ') ++i;
            std::size_t eq = line.find('=', i);
            if (eq == std::string::npos) break;
            key = line.substr(i, eq - i);
            std::size_t end = line.find(' ', eq + 1);
            // Extend past spaces not followed by KEY=.
            while (end != std::string::npos) {
                std::size_t next_eq = line.find('=', end + 1), next_sp = line.find(' ', end + 1);
                if (next_eq != std::string::npos && (next_sp == std::string::npos || next_eq < next_sp)) break;
                end = next_sp;
            }
            j.fields[key] = line.substr(eq + 1, end == std::string::npos ? std::string::npos : end - eq - 1);
            i = end == std::string::npos ? line.size() : end + 1;
        }
        j.id = j.fields["JobId"];
        j.state = j.fields["JobState"];
        j.reason = j.fields["Reason"];
        j.node = j.fields["BatchHost"];
        j.array_job_id = j.fields["ArrayJobId"];
        j.array_task_id = j.fields["ArrayTaskId"];
        jobs.push_back(std::move(j));
    }
    return jobs;
}

bool is_final_state(const std::string& state) {
    return state == "COMPLETED" || state == "FAILED" || state == "CANCELLED" || state == "TIMEOUT" ||
           state == "NODE_FAIL" || state == "PREEMPTED" || state == "OUT_OF_MEMORY" || state == "BOOT_FAIL" ||
           state == "DEADLINE" || state == "REVOKED" || state == "SPECIAL_EXIT";
}

void cancel(const std::string& id, const std::filesystem::path& tmp_dir) {
    Output o = run_client({"scancel", id}, "/", tmp_dir);
    if (o.exit_code != 0)
        fail(ErrorKind::input, "scancel {} failed: {}", id, trim(o.err.empty() ? o.out : o.err));
}

} // namespace cairn::executor
