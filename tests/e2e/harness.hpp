#pragma once
// Drives the built cairn binary (CAIRN_EXE) in a fresh git repository with a clean environment,
// exactly as a user would.

#include <filesystem>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/temp_dir.hpp"

namespace cairn::e2e {

namespace stdfs = std::filesystem;

struct Result {
    int code = -1;
    std::string out;
    std::string err;
    [[nodiscard]] nlohmann::json json() const { return nlohmann::json::parse(out); }
};

// Runs argv[0] (searched in PATH) in `cwd` with `env`, capturing stdout and stderr.
Result run_process(const std::vector<std::string>& argv, const stdfs::path& cwd,
                   const std::map<std::string, std::string>& env);

// A process started in the background; killed (SIGKILL) and reaped on destruction if still running.
class Child {
public:
    Child(const std::vector<std::string>& argv, const stdfs::path& cwd, const std::map<std::string, std::string>& env);
    ~Child();
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    [[nodiscard]] pid_t pid() const { return m_pid; }
    // Sends a signal.
    void signal(int sig) const;
    // Waits and returns the exit code (128 + signal when killed by one).
    int wait();

private:
    pid_t m_pid = -1;
    bool m_reaped = false;
    int m_status = 0;
};

class Repo {
public:
    // A new temp directory with `git init` and a test identity; `cairn init` unless init=false.
    explicit Repo(bool init = true);

    [[nodiscard]] const stdfs::path& root() const { return m_root; }
    [[nodiscard]] stdfs::path path(const std::string& rel) const { return m_root / rel; }
    [[nodiscard]] const std::map<std::string, std::string>& env() const { return m_env; }
    // Sets a variable of the environment every later command of this repo runs with.
    void set_env(const std::string& key, const std::string& value) { m_env[key] = value; }
    // Puts the directory of the cairn under test first on PATH, for what git runs (hooks).
    void put_cairn_on_path();

    Result cairn(const std::vector<std::string>& args, const std::string& cwd_rel = "") const;
    Result git(const std::vector<std::string>& args) const;
    // Runs cairn, requiring exit code 0; returns its result.
    Result ok(const std::vector<std::string>& args, const std::string& cwd_rel = "") const;
    // Starts cairn in the background.
    [[nodiscard]] std::unique_ptr<Child> spawn(const std::vector<std::string>& args) const;

    void write(const std::string& rel, const std::string& content) const;
    // write(), then make the file executable (a script for `cairn run`).
    void write_script(const std::string& rel, const std::string& content) const;
    // `git add -A` and `git commit`, requiring success.
    void commit(const std::string& message = "work") const;
    [[nodiscard]] std::string read(const std::string& rel) const;
    [[nodiscard]] bool exists(const std::string& rel) const;
    // Writes `count` files of `size` pseudo-random bytes as <dir>/d<k>/f<i>.
    void make_tree(const std::string& dir, int count, int per_dir, std::size_t size, unsigned seed = 1) const;

    // Path of the cache object for an id ("sha256:..."), relative to the repo root.
    [[nodiscard]] static std::string object_rel(const std::string& id);

private:
    test::TempDir m_dir;
    stdfs::path m_root;
    std::map<std::string, std::string> m_env;
};

// git's stdout for `args` in the repository, requiring exit 0.
[[nodiscard]] std::string git_out(const Repo& repo, const std::vector<std::string>& args);

// Replaces (or adds) `file` in the tree of run `id`'s commit (parent kept), as a forged record
// fetched from elsewhere, or one written by a future cairn, would be. Requires git to succeed.
void forge_record_file(const Repo& repo, const std::string& id, const std::string& file, const std::string& content);

// "sha256:<hex>" of a string, computed independently of cairn (by `sha256sum`).
[[nodiscard]] std::string sha256_id_of_file(const stdfs::path& path);

// Pseudo-random bytes, deterministic for a seed.
[[nodiscard]] std::string random_bytes(std::size_t size, unsigned seed);

// True when `text` contains `needle`.
[[nodiscard]] inline bool contains(const std::string& text, const std::string& needle) {
    return text.find(needle) != std::string::npos;
}

} // namespace cairn::e2e
