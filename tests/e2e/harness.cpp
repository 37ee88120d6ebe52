#include "tests/e2e/harness.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <random>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "core/util/strings.hpp"

extern char** environ;

namespace cairn::e2e {
namespace {

std::vector<std::string> env_strings(const std::map<std::string, std::string>& env) {
    std::vector<std::string> out;
    for (const auto& [k, v] : env) out.push_back(k + "=" + v);
    return out;
}

// fork + exec with the given stdout/stderr descriptors (or /dev/null when -1).
pid_t start(const std::vector<std::string>& argv, const stdfs::path& cwd, const std::map<std::string, std::string>& env,
            int out_fd, int err_fd) {
    std::vector<std::string> envs = env_strings(env);
    std::vector<char*> cargv, cenv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    for (const auto& e : envs) cenv.push_back(const_cast<char*>(e.c_str()));
    cenv.push_back(nullptr);
    std::string path_env = env.count("PATH") ? env.at("PATH") : "/usr/bin:/bin";
    pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        int devnull = ::open("/dev/null", O_RDWR);
        ::dup2(devnull, 0);
        ::dup2(out_fd >= 0 ? out_fd : devnull, 1);
        ::dup2(err_fd >= 0 ? err_fd : devnull, 2);
        if (::chdir(cwd.c_str()) != 0) ::_exit(126);
        ::setpgid(0, 0);
        // execvpe searches the PATH of the child's environment.
        ::setenv("PATH", path_env.c_str(), 1);
        ::execvpe(cargv[0], cargv.data(), cenv.data());
        ::_exit(127);
    }
    return pid;
}

int decode(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

} // namespace

Result run_process(const std::vector<std::string>& argv, const stdfs::path& cwd,
                   const std::map<std::string, std::string>& env) {
    int out_pipe[2], err_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    pid_t pid = start(argv, cwd, env, out_pipe[1], err_pipe[1]);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    Result r;
    struct pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    std::string* sinks[2] = {&r.out, &r.err};
    int open_count = 2;
    char buffer[65536];
    while (open_count > 0) {
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
            if (n > 0) {
                sinks[i]->append(buffer, static_cast<std::size_t>(n));
            } else {
                ::close(fds[i].fd);
                fds[i].fd = -1;
                --open_count;
            }
        }
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    r.code = decode(status);
    return r;
}

Child::Child(const std::vector<std::string>& argv, const stdfs::path& cwd, const std::map<std::string, std::string>& env)
    : m_pid(start(argv, cwd, env, -1, -1)) {}

Child::~Child() {
    if (!m_reaped) {
        ::kill(m_pid, SIGKILL);
        wait();
    }
}

void Child::signal(int sig) const { ::kill(m_pid, sig); }

int Child::wait() {
    if (!m_reaped) {
        while (::waitpid(m_pid, &m_status, 0) < 0 && errno == EINTR) {
        }
        m_reaped = true;
    }
    return decode(m_status);
}

Repo::Repo(bool init) : m_root(m_dir.path() / "repo") {
    stdfs::create_directories(m_root);
    stdfs::create_directories(m_dir.path() / "home");
    const char* path = std::getenv("PATH");
    m_env = {{"PATH", path ? path : "/usr/bin:/bin"},
             {"HOME", (m_dir.path() / "home").string()},
             {"XDG_CONFIG_HOME", (m_dir.path() / "home" / ".config").string()},
             {"LANG", "C.UTF-8"},
             {"TMPDIR", m_dir.path().string()},
             {"GIT_CONFIG_NOSYSTEM", "1"},
             {"GIT_AUTHOR_NAME", "cairn test"},
             {"GIT_AUTHOR_EMAIL", "test@example.com"},
             {"GIT_COMMITTER_NAME", "cairn test"},
             {"GIT_COMMITTER_EMAIL", "test@example.com"}};
    // Sanitizer settings reach the cairn under test, so a sanitized build fails tests on UB.
    for (const char* name : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"})
        if (const char* value = std::getenv(name)) m_env[name] = value;
    REQUIRE(git({"init", "-q", "-b", "main"}).code == 0);
    if (init) ok({"init"});
}

Result Repo::cairn(const std::vector<std::string>& args, const std::string& cwd_rel) const {
    std::vector<std::string> argv{CAIRN_EXE};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv, cwd_rel.empty() ? m_root : m_root / cwd_rel, m_env);
}

void Repo::put_cairn_on_path() {
    m_env["PATH"] = stdfs::path(CAIRN_EXE).parent_path().string() + ":" + m_env["PATH"];
}

Result Repo::git(const std::vector<std::string>& args) const {
    std::vector<std::string> argv{"git"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv, m_root, m_env);
}

Result Repo::ok(const std::vector<std::string>& args, const std::string& cwd_rel) const {
    Result r = cairn(args, cwd_rel);
    INFO("cairn " << Catch::Detail::stringify(args) << "\nstdout: " << r.out << "\nstderr: " << r.err);
    REQUIRE(r.code == 0);
    return r;
}

void Repo::write_script(const std::string& rel, const std::string& content) const {
    write(rel, content);
    stdfs::permissions(path(rel), stdfs::perms::owner_exec | stdfs::perms::group_exec | stdfs::perms::others_exec,
                       stdfs::perm_options::add);
}

void Repo::commit(const std::string& message) const {
    REQUIRE(git({"add", "-A"}).code == 0);
    Result r = git({"commit", "-q", "-m", message});
    INFO(r.err);
    REQUIRE(r.code == 0);
}

std::unique_ptr<Child> Repo::spawn(const std::vector<std::string>& args) const {
    std::vector<std::string> argv{CAIRN_EXE};
    argv.insert(argv.end(), args.begin(), args.end());
    return std::make_unique<Child>(argv, m_root, m_env);
}

void Repo::write(const std::string& rel, const std::string& content) const { test::write_text(m_root / rel, content); }
std::string Repo::read(const std::string& rel) const { return test::read_text(m_root / rel); }
bool Repo::exists(const std::string& rel) const {
    std::error_code ec;
    return stdfs::symlink_status(m_root / rel, ec).type() != stdfs::file_type::not_found;
}

void Repo::make_tree(const std::string& dir, int count, int per_dir, std::size_t size, unsigned seed) const {
    for (int i = 0; i < count; ++i)
        write(dir + "/d" + std::to_string(i / per_dir) + "/f" + std::to_string(i),
              random_bytes(size, seed * 1000003u + static_cast<unsigned>(i)));
}

std::string git_out(const Repo& repo, const std::vector<std::string>& args) {
    Result r = repo.git(args);
    INFO(r.err);
    REQUIRE(r.code == 0);
    return r.out;
}

void forge_record_file(const Repo& repo, const std::string& id, const std::string& file, const std::string& content) {
    auto trimmed = [](std::string text) {
        while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
        return text;
    };
    std::string ref = "refs/cairn/runs/" + id;
    repo.write("forged.txt", content);
    std::string blob = trimmed(repo.git({"hash-object", "-w", "forged.txt"}).out);
    std::string tree_text;
    for (const auto& line : cairn::util::split(repo.git({"ls-tree", ref}).out, '\n'))
        if (!line.empty() && line.find("\t" + file) == std::string::npos) tree_text += line + "\n";
    tree_text += "100644 blob " + blob + "\t" + file + "\n";
    repo.write("forged-tree.txt", tree_text);
    Result mktree = run_process({"sh", "-c", "git mktree < forged-tree.txt"}, repo.root(), repo.env());
    REQUIRE(mktree.code == 0);
    std::string parent = trimmed(repo.git({"rev-parse", ref + "^"}).out);
    std::string commit = trimmed(repo.git({"commit-tree", trimmed(mktree.out), "-p", parent, "-m", "forged"}).out);
    REQUIRE(repo.git({"update-ref", ref, commit}).code == 0);
    stdfs::remove(repo.path("forged.txt"));
    stdfs::remove(repo.path("forged-tree.txt"));
}

std::string Repo::object_rel(const std::string& id) {
    std::string hex = id.substr(7);
    return ".cairn/cache/sha256/" + hex.substr(0, 2) + "/" + hex.substr(2);
}

std::string sha256_id_of_file(const stdfs::path& path) {
    Result r = run_process({"sha256sum", path.string()}, path.parent_path(), {{"PATH", "/usr/bin:/bin"}});
    if (r.code != 0) throw std::runtime_error("sha256sum failed");
    return "sha256:" + r.out.substr(0, 64);
}

std::string random_bytes(std::size_t size, unsigned seed) {
    std::mt19937 rng(seed);
    std::string out(size, '\0');
    for (auto& c : out) c = static_cast<char>(rng() & 0xff);
    return out;
}

} // namespace cairn::e2e
