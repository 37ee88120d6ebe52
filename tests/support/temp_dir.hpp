#pragma once
// A fresh temporary directory per test, removed when the test passes and kept (its path printed)
// when it fails, so a failure can be inspected.

#include <filesystem>
#include <string>

namespace cairn::test {

class TempDir {
public:
    TempDir();
    [[nodiscard]] const std::filesystem::path& path() const { return m_path; }
    [[nodiscard]] std::filesystem::path operator/(const std::string& rel) const { return m_path / rel; }

private:
    std::filesystem::path m_path;
};

// Writes `content` to `path`, creating parent directories.
void write_text(const std::filesystem::path& path, const std::string& content);
// Reads a whole file.
[[nodiscard]] std::string read_text(const std::filesystem::path& path);

} // namespace cairn::test
