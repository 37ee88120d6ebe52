#include "core/workspace/leftovers.hpp"

#include <algorithm>
#include <set>

#include <yaml-cpp/yaml.h>

#include "core/cache/tree.hpp"
#include "core/fs/walk.hpp"
#include "core/util/error.hpp"
#include "core/util/interrupt.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/yaml_util.hpp"

namespace cairn::workspace {
namespace {

// A relative path from stored data that may be looked at: safe components, not in .git or .cairn.
bool is_safe_place(const std::string& rel) {
    if (rel.empty() || rel.front() == '/') return false;
    auto parts = util::split(rel, '/');
    if (parts.front() == ".cairn") return false;
    return std::all_of(parts.begin(), parts.end(), [](const std::string& p) {
        return cache::is_safe_component(p) && p != ".git";
    });
}

} // namespace

std::size_t sweep_work_tree_temps(const Workspace& ws, const std::vector<std::string>& places,
                                  fs::SweepMode mode) {
    std::set<std::string> listed{""}; // directories swept (not below), workspace-relative
    std::vector<std::string> trees;   // directories swept with everything below
    for (const auto& place : places) {
        if (!is_safe_place(place)) continue;
        try {
            ws.check_no_symlinks(place);
        } catch (const Error&) {
            continue;
        }
        listed.insert(stdfs::path(place).parent_path().string());
        if (auto st = fs::lstat_path(ws.absolute(place)); st && S_ISDIR(st->st_mode))
            trees.push_back(place);
    }
    // A tree inside another is walked with it.
    std::sort(trees.begin(), trees.end());
    std::vector<std::string> tops;
    for (const auto& t : trees)
        if (tops.empty() || !(t == tops.back() || util::starts_with(t, tops.back() + "/")))
            tops.push_back(t);

    std::size_t n = 0;
    for (const auto& dir : listed)
        n += fs::sweep_dead_temps(ws.absolute(dir), mode);
    for (const auto& top : tops) {
        std::vector<std::string> stack{top};
        while (!stack.empty()) {
            util::check_interrupted();
            std::string dir = std::move(stack.back());
            stack.pop_back();
            stdfs::path abs = ws.absolute(dir);
            bool swept = listed.count(dir) > 0;
            for (const auto& e : fs::list_dir(abs)) {
                if (e.type == fs::EntryType::directory) {
                    if (e.name != ".git") stack.push_back(dir + "/" + e.name);
                } else if (!swept && fs::is_dead_temp(e.name)) {
                    if (mode == fs::SweepMode::remove) fs::remove_file(abs / e.name);
                    ++n;
                }
            }
        }
    }
    return n;
}

void add_record_places(const std::string& blob_path, std::string_view content,
                       std::vector<std::string>& places) {
    bool outputs = blob_path == "outputs.yaml";
    bool run = blob_path == "run.yaml" && content.find("param_files:") != std::string_view::npos;
    if (!outputs && !run) return;
    try {
        YAML::Node root = parse_yaml(std::string(content), blob_path);
        if (outputs && root.IsMap()) {
            for (const auto& kv : root)
                if (kv.first.IsScalar()) places.push_back(kv.first.as<std::string>());
        } else if (run && root.IsMap() && root["param_files"].IsSequence()) {
            for (const auto& f : root["param_files"])
                if (f.IsScalar()) places.push_back(f.as<std::string>());
        }
    } catch (const std::exception&) {
        // A record gc cannot read says nothing about where temp files are.
    }
}

} // namespace cairn::workspace
