#pragma once
// The S3 peers of the tests, for unit and end-to-end tests alike: s3rver (tests/s3rver/start.js,
// the pinned npm package tests/s3rver/setup.sh installs into .cache/s3rver/) and the
// fault-injecting proxy tests/s3rver/fault_proxy.py, each started on a free port of 127.0.0.1
// and stopped by pid when the object goes. A source file that includes this defines
// CAIRN_SOURCE_DIR (tests/CMakeLists.txt: set_source_files_properties).

#include <catch2/catch.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/temp_dir.hpp"

namespace cairn::test::s3 {

namespace fs = std::filesystem;

inline const fs::path k_source = CAIRN_SOURCE_DIR;

inline std::string find_program(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        if (!dir.empty() && ::access((fs::path(dir) / name).c_str(), X_OK) == 0) return (fs::path(dir) / name).string();
    }
    return {};
}

// Why the s3rver tests cannot run here, or "" when they can.
inline std::string s3rver_missing() {
    if (find_program("node").empty()) return "node is not installed (Debian: nodejs npm; scripts/install-deps.sh)";
    if (!fs::exists(k_source / ".cache/s3rver/node_modules/s3rver/package.json")) {
        return "s3rver is not installed in .cache/s3rver (run tests/s3rver/setup.sh)";
    }
    return {};
}

// A child process whose first line of stdout is a port; killed (SIGTERM, then waited for) on
// destruction.
class Server {
public:
    explicit Server(const std::vector<std::string>& argv) {
        int out[2];
        REQUIRE(::pipe(out) == 0);
        m_pid = ::fork();
        REQUIRE(m_pid >= 0);
        if (m_pid == 0) {
            ::dup2(out[1], 1);
            ::close(out[0]);
            ::close(out[1]);
            std::vector<char*> args;
            for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
            args.push_back(nullptr);
            ::execvp(args[0], args.data());
            ::_exit(127);
        }
        ::close(out[1]);
        std::string line;
        pollfd p{out[0], POLLIN, 0};
        while (line.find('\n') == std::string::npos && ::poll(&p, 1, 30000) > 0) {
            char buf[256];
            ssize_t n = ::read(out[0], buf, sizeof buf);
            if (n <= 0) break;
            line.append(buf, static_cast<std::size_t>(n));
        }
        ::close(out[0]);
        if (line.find('\n') != std::string::npos) m_port = std::atoi(line.c_str());
        if (m_port <= 0) {
            // The destructor does not run for a constructor that throws: stop the child here.
            ::kill(m_pid, SIGKILL);
            ::waitpid(m_pid, nullptr, 0);
            FAIL("could not start " << argv[0] << " " << (argv.size() > 1 ? argv[1] : "") << ": first line '" << line
                                    << "'");
        }
    }
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;
    ~Server() {
        ::kill(m_pid, SIGTERM);
        int status = 0;
        ::waitpid(m_pid, &status, 0);
    }
    [[nodiscard]] int port() const { return m_port; }

private:
    pid_t m_pid = -1;
    int m_port = 0;
};

struct S3rver {
    cairn::test::TempDir dir;
    Server server{{find_program("node"), "--openssl-legacy-provider", (k_source / "tests/s3rver/start.js").string(),
                   (dir / "data").string(), "bucket"}};
    [[nodiscard]] std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(server.port()); }
};

struct Proxy {
    Proxy(int upstream, const std::vector<std::string>& faults, const fs::path& log)
        : server([&] {
              std::vector<std::string> argv{"python3", (k_source / "tests/s3rver/fault_proxy.py").string(),
                                            "127.0.0.1:" + std::to_string(upstream), "--log", log.string()};
              argv.insert(argv.end(), faults.begin(), faults.end());
              return argv;
          }()) {}
    Server server;
    [[nodiscard]] std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(server.port()); }
};

// The credentials s3rver accepts, and `extra` variables, as an aws::Env.
inline std::function<std::optional<std::string>(const char*)> s3rver_env(std::map<std::string, std::string> extra = {}) {
    extra.emplace("AWS_ACCESS_KEY_ID", "S3RVER");
    extra.emplace("AWS_SECRET_ACCESS_KEY", "S3RVER");
    return [extra](const char* name) -> std::optional<std::string> {
        auto it = extra.find(name);
        if (it == extra.end()) return std::nullopt;
        return it->second;
    };
}

} // namespace cairn::test::s3
