#include "core/workspace/workspace.hpp"

#include <algorithm>
#include <functional>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "core/fs/atomic_file.hpp"
#include "core/fs/file.hpp"
#include "core/fs/walk.hpp"
#include "core/util/error.hpp"
#include "core/util/strings.hpp"

namespace cairn::workspace {
namespace {

constexpr std::string_view k_store_gitignore =
    "# Everything in .cairn/ is local (cache, state, staging) except these two files.\n"
    "/*\n"
    "!/.gitignore\n"
    "!/config.yaml\n";

bool is_inside(const stdfs::path& root, const stdfs::path& path) {
    auto rel = path.lexically_relative(root);
    return !rel.empty() && *rel.begin() != "..";
}

std::string escape_gitignore(const std::string& name) {
    std::string out;
    for (char c : name) {
        if (c == '*' || c == '?' || c == '[' || c == '\\') out += '\\';
        out += c;
    }
    if (!out.empty() && (out[0] == '#' || out[0] == '!')) out.insert(out.begin(), '\\');
    std::size_t trailing = out.size();
    while (trailing > 0 && out[trailing - 1] == ' ') --trailing;
    for (std::size_t i = trailing; i < out.size(); i += 2) out.insert(i, 1, '\\');
    return out;
}

// Temp files beside the user's files must never show in `git status` nor be committed by
// `git add -A`. The rule goes to info/exclude, which git reads and nobody commits (a .gitignore
// line would be one more file in every user's history). Reading one small file per command is
// the whole cost when it is already there.
void ignore_temp_files(const git::Repository& repo) {
    stdfs::path exclude = repo.common_dir() / "info" / "exclude";
    std::string content = fs::read_file_if_exists(exclude).value_or("");
    for (const auto& line : util::split(content, '\n'))
        if (util::trim(line) == fs::k_temp_ignore_pattern) return;
    if (!content.empty() && content.back() != '\n') content += '\n';
    content += fmt::format("# temp files of cairn's atomic writes (added by cairn)\n{}\n", fs::k_temp_ignore_pattern);
    fs::make_dirs(exclude.parent_path());
    fs::write_file_atomic(exclude, content);
}

} // namespace

InitResult init(const stdfs::path& cwd, bool create_git) {
    InitResult result;
    auto repo = git::Repository::discover(cwd);
    if (!repo) {
        if (!create_git)
            fail(ErrorKind::environment,
                 "{} is not inside a git repository; run 'git init' first, or 'cairn init --git' to "
                 "create one here",
                 cwd.string());
        repo = git::Repository::init(cwd);
        result.created_git = true;
    }
    result.root = repo->workdir();
    stdfs::path store = result.root / ".cairn";
    result.created_store = !fs::lstat_path(store / "config.yaml").has_value();
    for (const char* dir : {"cache/sha256", "state", "tmp", "runs"}) fs::make_dirs(store / dir);
    if (result.created_store) {
        fs::write_file_atomic(store / ".gitignore", k_store_gitignore);
        fs::write_file_atomic(store / "config.yaml", Config::default_text());
    } else if (!fs::lstat_path(store / ".gitignore")) {
        fs::write_file_atomic(store / ".gitignore", k_store_gitignore);
    }
    ignore_temp_files(*repo);
    return result;
}

std::vector<TrackedData> tracked_data_in(const git::Repository& repo, const std::string& commit) {
    std::vector<TrackedData> out;
    for (auto& [path, text] : repo.blobs_with_suffix(commit, k_pointer_suffix)) {
        Pointer pointer = Pointer::parse(text, path);
        std::string data = (stdfs::path(path).parent_path() / pointer.path).string();
        out.push_back({path, std::move(data), std::move(text), std::move(pointer)});
    }
    return out;
}

Workspace Workspace::discover(const stdfs::path& cwd) {
    auto repo = git::Repository::discover(cwd);
    if (!repo)
        fail(ErrorKind::environment, "not inside a git repository (run 'cairn init --git' to create one)");
    Workspace ws;
    std::error_code ec;
    ws.m_root = stdfs::canonical(repo->workdir(), ec);
    if (ec) ws.m_root = repo->workdir();
    stdfs::path store = ws.m_root / ".cairn";
    ws.m_store = store;
    if (!fs::lstat_path(store / "config.yaml"))
        fail(ErrorKind::environment, "{} has no cairn store; run 'cairn init' first", ws.m_root.string());
    ws.m_config = Config::load(store / "config.yaml", ".cairn/config.yaml");
    try {
        ignore_temp_files(*repo);
    } catch (const Error&) {
        // A repository this user may read but not write: nothing cairn writes there either.
    }
    for (const char* dir : {"cache/sha256", "state", "tmp"}) fs::make_dirs(store / dir);
    ws.m_repo = std::make_unique<git::Repository>(std::move(*repo));
    ws.m_cache = std::make_unique<cache::Cache>(store / "cache", store / "tmp");
    ws.m_state = std::make_unique<state::StatCache>(store / "state");
    return ws;
}

Workspace Workspace::replica(const stdfs::path& root, const stdfs::path& state_dir) const {
    Workspace ws;
    ws.m_root = root;
    ws.m_store = m_store;
    ws.m_config = m_config;
    ws.m_repo = std::make_unique<git::Repository>(git::Repository::open(m_repo->workdir()));
    ws.m_cache = std::make_unique<cache::Cache>(m_cache->root(), m_cache->tmp_dir());
    fs::make_dirs(state_dir);
    ws.m_state = std::make_unique<state::StatCache>(state_dir);
    return ws;
}

std::string Workspace::relative_path(const stdfs::path& cwd, const std::string& user_path) const {
    if (user_path.empty()) fail(ErrorKind::input, "empty path");
    stdfs::path full = stdfs::path(user_path).is_absolute() ? stdfs::path(user_path) : cwd / user_path;
    full = full.lexically_normal();
    if (!full.has_filename() && full.has_parent_path()) full = full.parent_path();
    stdfs::path rel = full.lexically_relative(m_root);
    if (rel.empty() || *rel.begin() == "..")
        fail(ErrorKind::input, "'{}' is outside the workspace {}", user_path, m_root.string());
    if (rel == ".") fail(ErrorKind::input, "'{}' is the workspace root itself; name a file or directory in it", user_path);
    std::string first = rel.begin()->string();
    if (first == ".git" || first == ".cairn")
        fail(ErrorKind::input, "'{}' is inside {}/, which cairn does not track", user_path, first);

    // A symlink anywhere on the path must not lead out of the workspace.
    stdfs::path walk = m_root;
    for (const auto& part : rel) {
        walk /= part;
        auto st = fs::lstat_path(walk);
        if (!st) break;
        if (S_ISLNK(st->st_mode)) {
            std::error_code ec;
            stdfs::path target = stdfs::canonical(walk, ec);
            if (ec || !is_inside(m_root, target))
                fail(ErrorKind::input, "'{}' goes through the symlink {} which leads outside the workspace",
                     user_path, walk.lexically_relative(m_root).string());
        }
    }
    return rel.string();
}

std::vector<std::string> Workspace::relative_paths(const stdfs::path& cwd,
                                                   const std::vector<std::string>& user_paths) const {
    std::vector<std::string> out;
    out.reserve(user_paths.size());
    for (const auto& p : user_paths) out.push_back(relative_path(cwd, p));
    return out;
}

void Workspace::check_no_symlinks(const std::string& relative) const {
    stdfs::path walk = m_root;
    for (const auto& part : stdfs::path(relative)) {
        walk /= part;
        auto st = fs::lstat_path(walk);
        if (!st) return;
        if (S_ISLNK(st->st_mode))
            fail(ErrorKind::input, "refusing to write through the symlink '{}' (from '{}')",
                 walk.lexically_relative(m_root).string(), relative);
    }
}

void Workspace::not_a_pointer(const std::string& path, bool symlink) const {
    // A symlink could make cairn read (and trust) any file; git may well have checked it out.
    if (symlink)
        fail(ErrorKind::input, "{} is a symlink; a pointer file must be a regular file (replace it with the file, or remove it)",
             path);
    warn(fmt::format("{} is not a regular file (a FIFO, socket or device); skipped, not read as a pointer", path));
}

void Workspace::warn(std::string message) const { m_warnings.push_back(std::move(message)); }

std::vector<std::string> Workspace::take_warnings() { return std::exchange(m_warnings, {}); }

std::vector<PointerFile> Workspace::find_pointers(const std::vector<std::string>& under) const {
    std::vector<PointerFile> out;
    std::function<void(const std::string&)> walk_dir = [&](const std::string& rel) {
        std::vector<fs::DirEntry> entries = fs::list_dir(absolute(rel));
        std::set<std::string> names;
        for (const auto& e : entries) names.insert(e.name);
        for (const auto& e : entries) {
            std::string child = rel.empty() ? e.name : rel + "/" + e.name;
            bool pointer_name = util::ends_with(e.name, k_pointer_suffix) && e.name.size() > k_pointer_suffix.size();
            if (e.type == fs::EntryType::directory) {
                if (e.name == ".git" || (rel.empty() && e.name == ".cairn")) continue;
                if (names.count(e.name + std::string(k_pointer_suffix))) continue; // tracked data
                if (m_repo->is_ignored(child + "/")) continue;
                if (pointer_name) warn(fmt::format("{} is a directory, not a pointer file; searched as a directory", child));
                walk_dir(child);
            } else if (!pointer_name) {
                continue;
            } else if (e.type == fs::EntryType::file) {
                out.push_back({child, child.substr(0, child.size() - k_pointer_suffix.size())});
            } else {
                not_a_pointer(child, e.type == fs::EntryType::symlink);
            }
        }
    };
    if (under.empty()) {
        walk_dir("");
    } else {
        for (const auto& rel : under) {
            std::string pointer = util::ends_with(rel, k_pointer_suffix) ? rel : rel + std::string(k_pointer_suffix);
            if (auto st = fs::lstat_path(absolute(pointer)); st && !S_ISDIR(st->st_mode)) {
                if (S_ISLNK(st->st_mode)) not_a_pointer(pointer, true);
                // Named on the command line: not one to skip with a warning.
                if (!S_ISREG(st->st_mode))
                    fail(ErrorKind::input, "{} is not a regular file (a FIFO, socket or device), so not a pointer file",
                         pointer);
                out.push_back({pointer, pointer.substr(0, pointer.size() - k_pointer_suffix.size())});
                continue;
            }
            auto st = fs::lstat_path(absolute(rel));
            if (st && S_ISDIR(st->st_mode)) {
                walk_dir(rel);
                continue;
            }
            fail(ErrorKind::input, "'{}' is not tracked by cairn (no {} pointer file)", rel, pointer);
        }
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.pointer_path < b.pointer_path; });
    out.erase(std::unique(out.begin(), out.end(),
                          [](const auto& a, const auto& b) { return a.pointer_path == b.pointer_path; }),
              out.end());
    return out;
}

Pointer Workspace::read_pointer(const PointerFile& file) const {
    return Pointer::parse(fs::read_file(absolute(file.pointer_path)), file.pointer_path);
}

void Workspace::ignore_in_git(const std::string& data_path) const {
    stdfs::path rel(data_path);
    stdfs::path gitignore = absolute(rel.parent_path().string()) / ".gitignore";
    std::string entry = "/" + escape_gitignore(rel.filename().string());
    std::string content = fs::read_file_if_exists(gitignore).value_or("");
    for (const auto& line : util::split(content, '\n'))
        if (util::trim(line) == entry) return;
    if (!content.empty() && content.back() != '\n') content += '\n';
    content += entry + "\n";
    fs::write_file_atomic(gitignore, content);
}

} // namespace cairn::workspace
