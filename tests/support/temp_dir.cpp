#include "tests/support/temp_dir.hpp"

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <vector>

#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include <catch2/catch.hpp>

namespace cairn::test {
namespace {

std::vector<std::filesystem::path>& live_dirs() {
    static std::vector<std::filesystem::path> dirs;
    return dirs;
}

struct TempDirListener : Catch::TestEventListenerBase {
    using TestEventListenerBase::TestEventListenerBase;
    void testCaseEnded(const Catch::TestCaseStats& stats) override {
        bool failed = stats.totals.assertions.failed > 0 || stats.totals.testCases.failed > 0;
        for (const auto& dir : live_dirs()) {
            if (failed) {
                std::cerr << "kept temporary directory of failed test: " << dir.string() << "\n";
            } else {
                std::error_code ec;
                std::filesystem::remove_all(dir, ec);
            }
        }
        live_dirs().clear();
    }
};

} // namespace

CATCH_REGISTER_LISTENER(TempDirListener)

TempDir::TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/cairn-test.XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    m_path = std::filesystem::canonical(pattern);
    live_dirs().push_back(m_path);
}

void write_text(const std::filesystem::path& path, const std::string& content) {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write " + path.string());
    out << content;
}

std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path.string());
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

} // namespace cairn::test
