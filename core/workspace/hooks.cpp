#include "core/workspace/hooks.hpp"

#include <cstdlib>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

#include "core/fs/atomic_file.hpp"
#include "core/fs/file.hpp"
#include "core/util/error.hpp"
#include "core/workspace/pointer.hpp"

namespace cairn::workspace {
namespace {

// Bumped when a script changes, so that install can tell an older cairn hook (rewritten) from
// one edited by hand (kept).
constexpr int k_hook_version = 1;
constexpr std::string_view k_marker = "# cairn-hook: ";
constexpr std::string_view k_saved_suffix = ".pre-cairn";

// What every hook starts with: run the hook cairn's replaced, then make sure cairn is there.
std::string preamble(const std::string& name, std::string_view what, bool reads_stdin) {
    std::string s = fmt::format("#!/bin/sh\n"
                                "{}{} version {}\n"
                                "# Written by `cairn hooks install`; `cairn hooks uninstall` removes it (and puts back\n"
                                "# {}{} if cairn kept one).\n"
                                "# {}\n",
                                k_marker, name, k_hook_version, name, k_saved_suffix, what);
    s += fmt::format("saved=\"$(dirname \"$0\")/{}{}\"\n", name, k_saved_suffix);
    if (reads_stdin) {
        s += "input=$(cat)\n"
             "if [ -x \"$saved\" ]; then printf '%s\\n' \"$input\" | \"$saved\" \"$@\" || exit $?; fi\n";
    } else {
        s += "if [ -x \"$saved\" ]; then \"$saved\" \"$@\" || exit $?; fi\n";
    }
    s += fmt::format("if ! command -v cairn >/dev/null 2>&1; then\n"
                     "    echo \"cairn: error: the {} hook runs cairn, which is not on PATH (install it, or run 'cairn hooks uninstall')\" >&2\n"
                     "    exit 2\n"
                     "fi\n",
                     name);
    return s;
}

struct Marker {
    bool found = false;
    int version = 0;
};

Marker read_marker(const std::string& content) {
    auto at = content.find(k_marker);
    if (at == std::string::npos) return {};
    auto line_end = content.find('\n', at);
    std::string line = content.substr(at, line_end == std::string::npos ? std::string::npos : line_end - at);
    Marker m{true, 0};
    auto v = line.find(" version ");
    if (v != std::string::npos) m.version = std::atoi(line.c_str() + v + 9);
    return m;
}

bool exists_no_follow(const stdfs::path& p) {
    std::error_code ec;
    return stdfs::symlink_status(p, ec).type() != stdfs::file_type::not_found && !ec;
}

void rename_or_fail(const stdfs::path& from, const stdfs::path& to) {
    std::error_code ec;
    stdfs::rename(from, to, ec);
    if (ec) fail(ErrorKind::io, "cannot rename {} to {}: {}", from.string(), to.string(), ec.message());
}

} // namespace

const std::vector<std::string>& managed_hooks() {
    static const std::vector<std::string> names = {"pre-commit", "post-checkout", "pre-push"};
    return names;
}

stdfs::path hooks_dir(const git::Repository& repo) {
    auto configured = repo.config_string("core.hooksPath");
    if (!configured || configured->empty()) return repo.common_dir() / "hooks";
    std::string value = *configured;
    if (value == "~" || value.rfind("~/", 0) == 0) {
        const char* home = std::getenv("HOME");
        if (!home || !*home) fail(ErrorKind::environment, "core.hooksPath is '{}' but HOME is not set", value);
        value = std::string(home) + value.substr(1);
    }
    stdfs::path p(value);
    // git runs hooks from the top of the work tree, so a relative core.hooksPath is relative to it.
    return p.is_absolute() ? p : repo.workdir() / p;
}

std::string hook_script(const std::string& name) {
    if (name == "pre-commit") {
        return preamble(name, "Refuses a commit whose tracked data is not saved in the cache (run `cairn add`).", false) +
               "exec cairn status --check --staged\n";
    }
    if (name == "post-checkout") {
        return preamble(name, "Restores the data of the pointer files the checkout changed.", false) +
               "exec cairn hooks run post-checkout \"$@\"\n";
    }
    if (name == "pre-push") {
        // Standard input holds one line per ref being pushed: <local ref> <local sha> <remote
        // ref> <remote sha>; a local sha of zeros is a deletion, which carries no data.
        return preamble(name, "Uploads the data that the commits being pushed point to (cairn push --data-only).", true) +
               "set --\n"
               "while read -r local_ref local_sha remote_ref remote_sha; do\n"
               "    case \"$local_sha\" in *[!0]*) set -- \"$@\" --rev \"$local_sha\" ;; esac\n"
               "done <<CAIRN_REFS\n"
               "$input\n"
               "CAIRN_REFS\n"
               "[ $# -eq 0 ] && exit 0\n"
               "exec cairn push --data-only \"$@\"\n";
    }
    fail(ErrorKind::internal, "no cairn hook named {}", name);
}

std::vector<HookChange> install_hooks(const git::Repository& repo, bool force) {
    stdfs::path dir = hooks_dir(repo);
    fs::make_dirs(dir);
    std::vector<HookChange> out;
    for (const auto& name : managed_hooks()) {
        stdfs::path path = dir / name;
        stdfs::path saved = dir / (name + std::string(k_saved_suffix));
        std::string script = hook_script(name);
        std::string action = "installed";
        if (exists_no_follow(path)) {
            std::error_code ec;
            bool regular = stdfs::is_regular_file(stdfs::symlink_status(path, ec));
            std::string current = regular ? fs::read_file(path) : std::string();
            Marker marker = regular ? read_marker(current) : Marker{};
            if (marker.found) {
                if (current == script) {
                    out.push_back({name, path, "unchanged"});
                    continue;
                }
                if (marker.version >= k_hook_version && !force) {
                    out.push_back({name, path, "kept"});
                    continue;
                }
                action = "updated";
            } else if (exists_no_follow(saved)) {
                if (!force) {
                    fail(ErrorKind::input,
                         "{} is not cairn's hook and {} is already taken, so it cannot be chained; move one of them "
                         "away, or use --force to replace {}",
                         path.string(), saved.string(), name);
                }
                action = "updated";
            } else {
                rename_or_fail(path, saved);
                action = "chained";
            }
        }
        fs::write_file_atomic(path, script, 0755);
        out.push_back({name, path, action});
    }
    return out;
}

std::vector<HookChange> uninstall_hooks(const git::Repository& repo) {
    stdfs::path dir = hooks_dir(repo);
    std::vector<HookChange> out;
    for (const auto& name : managed_hooks()) {
        stdfs::path path = dir / name;
        stdfs::path saved = dir / (name + std::string(k_saved_suffix));
        if (!exists_no_follow(path)) {
            if (exists_no_follow(saved)) {
                rename_or_fail(saved, path);
                out.push_back({name, path, "restored"});
            } else {
                out.push_back({name, path, "not installed"});
            }
            continue;
        }
        std::error_code ec;
        bool regular = stdfs::is_regular_file(stdfs::symlink_status(path, ec));
        if (!regular || !read_marker(fs::read_file(path)).found) {
            out.push_back({name, path, "not cairn's"});
            continue;
        }
        if (exists_no_follow(saved)) {
            rename_or_fail(saved, path); // replaces cairn's hook in one step
            out.push_back({name, path, "restored"});
        } else {
            fs::remove_file(path);
            out.push_back({name, path, "removed"});
        }
    }
    return out;
}

std::optional<std::vector<std::string>> changed_data_paths(const git::Repository& repo, const std::string& old_head,
                                                           const std::string& new_head) {
    if (old_head.find_first_not_of('0') == std::string::npos) return std::nullopt;
    std::vector<std::string> out;
    for (const auto& change : repo.diff_commits(old_head, new_head)) {
        if (change.status == 'D') continue;
        std::string_view path = change.path;
        if (path.size() <= k_pointer_suffix.size() || path.substr(path.size() - k_pointer_suffix.size()) != k_pointer_suffix)
            continue;
        out.emplace_back(path.substr(0, path.size() - k_pointer_suffix.size()));
    }
    return out;
}

} // namespace cairn::workspace
