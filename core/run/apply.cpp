#include "core/run/apply.hpp"

#include <algorithm>
#include <set>
#include <sys/stat.h>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "core/fs/atomic_file.hpp"
#include "core/fs/file.hpp"
#include "core/hash/hash.hpp"
#include "core/params/params.hpp"
#include "core/run/execute.hpp"
#include "core/run/store.hpp"
#include "core/util/error.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/add.hpp"
#include "core/workspace/checkout.hpp"
#include "core/workspace/compare.hpp"
#include "core/workspace/yaml_util.hpp"

namespace cairn::run {
namespace {

// The pointer a run output is restored through (a file or a directory tree object).
workspace::Pointer output_pointer(workspace::Workspace& ws, const std::string& path, const std::string& id) {
    auto digest = hash::Digest::from_id(id);
    if (!digest) fail(ErrorKind::input, "output {}: not an object id: {}", path, id);
    if (!ws.cache().has(*digest)) fail(ErrorKind::integrity, "output {} ({}) is missing from the cache", path, id);
    try {
        return workspace::pointer_to_object(ws.cache(), std::filesystem::path(path).filename().string(), *digest);
    } catch (const Error& e) {
        throw Error(e.kind(), "output " + path + ": " + e.what());
    }
}

// What an apply saved of the data it overwrote (the stash's saved.cairn).
struct StashData {
    std::string run;
    std::string code; // the commit whose files the apply wrote; "" with --outputs-only
    struct Entry {
        std::string before;  // the bytes the path held before the apply; "" if it did not exist
        std::string applied; // the bytes the apply wrote there; "" if it wrote none
    };
    std::map<std::string, Entry> data;
    std::map<std::string, Entry> params; // parameter files whose values the apply wrote
};

std::string stash_data_text(const StashData& s) {
    YAML::Emitter out;
    out << YAML::BeginMap;
    out << YAML::Key << "version" << YAML::Value << 1;
    out << YAML::Key << "run" << YAML::Value << s.run;
    out << YAML::Key << "code" << YAML::Value << s.code;
    out << YAML::Key << "data" << YAML::Value << YAML::BeginMap;
    auto entries = [&](const std::map<std::string, StashData::Entry>& m) {
        for (const auto& [path, e] : m) {
            out << YAML::Key << path << YAML::Value << YAML::BeginMap;
            out << YAML::Key << "before" << YAML::Value << e.before;
            out << YAML::Key << "applied" << YAML::Value << e.applied;
            out << YAML::EndMap;
        }
    };
    entries(s.data);
    out << YAML::EndMap;
    // Only when there are some, so that a stash of an apply that wrote no parameter file reads
    // as it did before the field existed.
    if (!s.params.empty()) {
        out << YAML::Key << "params" << YAML::Value << YAML::BeginMap;
        entries(s.params);
        out << YAML::EndMap;
    }
    out << YAML::EndMap;
    return "# cairn apply stash: the data 'cairn apply --undo' restores. Written by 'cairn apply --force'.\n" +
           std::string(out.c_str()) + "\n";
}

// The one reader of saved.cairn: it comes from a ref, so every field is checked.
StashData parse_stash_data(const std::string& text, const std::string& display) {
    YAML::Node root = workspace::parse_yaml(text, display);
    if (!root.IsMap()) fail(ErrorKind::input, "{}: expected a mapping", display);
    auto scalar = [&](const YAML::Node& node, const char* field) {
        if (!node || !node.IsScalar()) fail(ErrorKind::input, "{}: '{}' must be a string", workspace::where(display, node ? node : root), field);
        return node.Scalar();
    };
    auto object_id = [&](const YAML::Node& node, const char* field) {
        std::string id = scalar(node, field);
        if (!id.empty() && !hash::Digest::from_id(id))
            fail(ErrorKind::input, "{}: '{}' is not an object id: '{}'", workspace::where(display, node), field, id);
        return id;
    };
    if (scalar(root["version"], "version") != "1")
        fail(ErrorKind::input, "{}: version {} is not supported by this cairn (it reads version 1)", display,
             root["version"].Scalar());
    StashData s;
    s.run = scalar(root["run"], "run");
    s.code = scalar(root["code"], "code");
    if (!s.code.empty() && (s.code.size() != 40 || s.code.find_first_not_of("0123456789abcdef") != std::string::npos))
        fail(ErrorKind::input, "{}: 'code' is not a commit id: '{}'", workspace::where(display, root["code"]), s.code);
    auto entries = [&](const YAML::Node& node, const char* field, std::map<std::string, StashData::Entry>& out) {
        if (!node || !node.IsMap())
            fail(ErrorKind::input, "{}: '{}' must be a mapping", workspace::where(display, node ? node : root), field);
        for (const auto& item : node) {
            std::string path = scalar(item.first, field);
            for (const auto& part : util::split(path, '/'))
                if (auto why = cache::unsafe_component_reason(part))
                    fail(ErrorKind::input, "{}: refusing the unsafe path '{}' ('{}': {})", workspace::where(display, item.first),
                         path, part, *why);
            if (!item.second.IsMap())
                fail(ErrorKind::input, "{}: '{}' must be a mapping", workspace::where(display, item.second), path);
            out[path] = {object_id(item.second["before"], "before"), object_id(item.second["applied"], "applied")};
        }
    };
    entries(root["data"], "data", s.data);
    if (root["params"]) entries(root["params"], "params", s.params);
    for (const auto& [path, e] : s.params)
        if (e.applied.empty())
            fail(ErrorKind::input, "{}: 'params': '{}' has no 'applied' bytes", workspace::where(display, root["params"]), path);
    return s;
}

bool under_any(const std::string& path, const std::map<std::string, StashData::Entry>& data) {
    return std::any_of(data.begin(), data.end(),
                       [&](const auto& d) { return path == d.first || util::starts_with(path, d.first + "/"); });
}


// A parameter file of the run, and the bytes the apply leaves in it.
struct ParamEdit {
    std::string rel;
    std::optional<std::string> current; // its bytes in the work tree now; nullopt when missing
    std::vector<params::Param> base_params;     // as the file reads once the code is applied
    std::string text;                   // that file with the run's values written in
};

// The run's parameter files as the apply leaves them: the code snapshot's (or, for a file the
// snapshot lacks, the work tree's) with every recorded value written in where it differs. Keys
// go where `cairn run -p` put them (params::file_for_key, as ParamFiles::plan places them in the
// files of the work tree): a value in no file is one the command got from its environment only.
std::vector<ParamEdit> plan_params(workspace::Workspace& ws, const RunRecord& run, std::vector<std::string>& warnings) {
    auto& repo = ws.repo();
    const std::string head = repo.head();
    std::vector<ParamEdit> files;
    for (const auto& rel : run.param_files) {
        if (std::any_of(files.begin(), files.end(), [&](const auto& f) { return f.rel == rel; })) continue;
        check_record_path(run, rel, "parameter file");
        ws.check_no_symlinks(rel);
        ParamEdit f{rel, fs::read_file_if_exists(ws.absolute(rel)), {}, {}};
        std::optional<std::string> base = f.current;
        if (auto blob = repo.read_blob(run.git_snapshot, rel)) base = std::move(blob);
        else if (!head.empty() && repo.read_blob(head, rel)) base.reset(); // the checkout removes it
        if (!base) {
            warnings.push_back(fmt::format("parameter file {} of run {} is not in the work tree: its values are not applied",
                                           rel, run.id.substr(0, 8)));
            continue;
        }
        f.base_params = params::flatten_params_file(*base, rel);
        f.text = std::move(*base);
        files.push_back(std::move(f));
    }
    std::vector<const std::vector<params::Param>*> read;
    for (const auto& f : files) read.push_back(&f.base_params);
    for (const auto& value : run.params) {
        params::KeyTarget target = params::file_for_key(read, value.key);
        for (std::size_t i : target.files) {
            ParamEdit& f = files[i];
            auto p = std::find_if(f.base_params.begin(), f.base_params.end(),
                                  [&](const params::Param& q) { return q.key == value.key; });
            if (p == f.base_params.end() || p->type != value.type || p->text != value.text)
                f.text = params::override_params_file(f.text, value.key, value, f.rel);
        }
    }
    return files;
}

// The values that differ between what a parameter file holds now and what the apply leaves in it.
std::vector<ParamChange> param_changes(const ParamEdit& f) {
    std::vector<params::Param> before;
    if (f.current) {
        try {
            before = params::flatten_params_file(*f.current, f.rel);
        } catch (const Error&) {
            before = f.base_params; // a broken file in the work tree: say what the values become
        }
    }
    std::vector<params::Param> after = params::flatten_params_file(f.text, f.rel);
    std::map<std::string, ParamChange> changes;
    for (const auto& p : before) changes[p.key] = {f.rel, p.key, p, std::nullopt};
    for (const auto& p : after) {
        auto& c = changes[p.key];
        c.file = f.rel;
        c.key = p.key;
        c.to = p;
    }
    std::vector<ParamChange> out;
    for (auto& [key, c] : changes)
        if (c.from != c.to) out.push_back(std::move(c));
    return out;
}

} // namespace

ApplyResult apply(workspace::Workspace& ws, const RunRecord& run, const ApplyOptions& options, util::Progress& progress) {
    ApplyResult result;
    auto& repo = ws.repo();
    const bool code = !options.outputs_only;
    if (code && !repo.has_commit(run.git_snapshot))
        fail(ErrorKind::environment, "the code snapshot {} of run {} is not in this repository",
             run.git_snapshot.substr(0, 12), run.id.substr(0, 8));

    std::vector<std::pair<std::string, workspace::Pointer>> outputs;
    for (const auto& [path, id] : run.outputs) {
        check_record_path(run, path, "output");
        outputs.emplace_back(path, output_pointer(ws, path, id));
    }

    // A crashed run may have left a parameter file overridden: put it back before reading it.
    // Like the code, parameter values are left alone with --outputs-only.
    if (code && !run.param_files.empty()) recover_crashed(ws);
    std::vector<ParamEdit> params;
    if (code) params = plan_params(ws, run, result.warnings);
    auto is_param_file = [&](const std::string& p) {
        return std::any_of(params.begin(), params.end(), [&](const auto& f) { return f.rel == p; });
    };

    // What would be lost: code files changed since HEAD, output bytes the cache does not hold.
    std::vector<std::string> in_the_way;
    if (code) {
        for (const auto& p : repo.uncommitted_in_the_way(run.git_snapshot)) {
            // Outputs are handled below (their bytes go to the cache, not the stash), parameter
            // files too (the checkout may write them, but what counts is what the apply leaves).
            bool is_output = std::any_of(outputs.begin(), outputs.end(), [&](const auto& o) {
                return p == o.first || util::starts_with(p, o.first + "/");
            });
            if (!is_output && !is_param_file(p)) in_the_way.push_back(p + " (uncommitted change)");
        }
    }
    // A parameter file with uncommitted changes is in the way when the apply changes its bytes;
    // one that already holds what the apply would leave is not.
    const std::string head = repo.head();
    for (const auto& f : params) {
        if (!f.current || *f.current == f.text) continue;
        auto committed = head.empty() ? std::nullopt : repo.read_blob(head, f.rel);
        if (committed != f.current) in_the_way.push_back(f.rel + " (uncommitted change)");
    }
    for (const auto& f : params) {
        if (f.current == f.text) continue;
        result.param_files.push_back(f.rel);
        for (auto& c : param_changes(f)) result.params.push_back(std::move(c));
    }
    for (const auto& u : workspace::unsaved_data_in_the_way(ws, outputs, progress)) in_the_way.push_back("output " + u);
    // Tracked data whose pointer the code brings in changed: its bytes follow (as `cairn
    // checkout` would), so data not in the cache is in the way too.
    std::vector<std::pair<std::string, workspace::Pointer>> tracked;
    if (code) {
        for (const auto& t : workspace::tracked_data_in(repo, run.git_snapshot)) {
            if (fs::read_file_if_exists(ws.absolute(t.pointer_path)) == t.text) continue;
            check_record_path(run, t.data_path, "tracked data");
            tracked.emplace_back(t.data_path, t.pointer);
            result.pointers_changed.push_back(t.pointer_path);
        }
        for (const auto& u : workspace::unsaved_data_in_the_way(ws, tracked, progress))
            in_the_way.push_back("tracked data " + u);
    }
    if (!in_the_way.empty() && !options.force) {
        std::string list;
        for (std::size_t i = 0; i < in_the_way.size() && i < 20; ++i) list += "\n  " + in_the_way[i];
        if (in_the_way.size() > 20) list += fmt::format("\n  ... and {} more", in_the_way.size() - 20);
        fail(ErrorKind::input,
             "applying run {} would overwrite uncommitted changes:{}\ncommit them, or use --force to save them "
             "(to {} and the cache) and apply anyway",
             run.id.substr(0, 8), list, k_apply_stash_ref);
    }

    if (!in_the_way.empty()) {
        // Save first. Output bytes go to the cache (they may be ignored by git, or large), and
        // the stash records which, for `apply --undo`.
        StashData saved;
        saved.run = run.id;
        if (code) saved.code = run.git_snapshot;
        for (const auto& [path, p] : outputs) saved.data[path].applied = run.outputs.at(path);
        for (const auto& [path, p] : tracked) saved.data[path].applied = p.digest.id();
        // Parameter files: both versions in the cache (the file may be ignored by git, and
        // `--undo` tells the apply's bytes from later edits by their id).
        for (const auto& f : params) {
            if (f.current == f.text) continue;
            auto& e = saved.params[f.rel];
            if (f.current) e.before = ws.cache().put_bytes(*f.current, nullptr).digest.id();
            e.applied = ws.cache().put_bytes(f.text, nullptr).digest.id();
        }
        std::vector<std::string> present;
        for (const auto& [path, p] : outputs)
            if (fs::lstat_path(ws.absolute(path))) present.push_back(path);
        for (const auto& [path, p] : tracked)
            if (fs::lstat_path(ws.absolute(path))) present.push_back(path);
        if (!present.empty()) {
            auto stored = workspace::add(ws, present, progress, workspace::Track::store_only);
            for (const auto& a : stored.paths) {
                saved.data[a.data_path].before = a.digest.id();
                auto recorded = run.outputs.find(a.data_path);
                if (recorded == run.outputs.end() || recorded->second != a.digest.id())
                    result.saved_outputs.emplace_back(a.data_path, a.digest.id());
            }
        }
        // The work tree as a commit, like `git stash -u`, without touching the index.
        auto snap = repo.snapshot_workdir(ws.store_dir() / "tmp" / ("apply-stash-" + run.id.substr(0, 8) + ".index"),
                                          fmt::format("cairn: work tree saved before applying run {}", run.id.substr(0, 8)),
                                          k_snapshot_file_limit);
        if (!snap.left_out.empty()) {
            auto stored = workspace::add(ws, snap.left_out, progress, workspace::Track::store_only);
            for (const auto& a : stored.paths) {
                saved.data[a.data_path].before = a.digest.id();
                result.saved_outputs.emplace_back(a.data_path, a.digest.id());
            }
        }
        {
            // The stash: the work tree's files (so `git checkout <stash> -- .` works too), with
            // HEAD and a commit of saved.cairn as parents. Reachable from refs/cairn/, that file
            // keeps the saved objects from gc.
            std::string meta = repo.write_commit(
                repo.write_tree({{std::string(k_apply_stash_data), repo.write_blob(stash_data_text(saved))}}), {},
                fmt::format("cairn: data saved before applying run {}", run.id.substr(0, 8)));
            std::vector<std::string> parents;
            if (!snap.base.empty()) parents.push_back(snap.base);
            parents.push_back(meta);
            std::string stash = repo.write_commit(snap.commit.empty() ? repo.write_tree({}) : repo.tree_of(snap.commit), parents,
                                                  fmt::format("cairn: work tree saved before applying run {}", run.id.substr(0, 8)));
            std::string ref(k_apply_stash_ref);
            std::string previous;
            for (const auto& r : repo.list_refs(ref))
                if (r.name == ref) previous = r.target;
            if (previous.empty()) {
                repo.create_ref(ref, stash, "cairn apply: save work tree");
            } else {
                std::string keep = ref + "-" + previous.substr(0, 12);
                if (repo.list_refs(keep).empty()) repo.create_ref(keep, previous, "cairn apply: older stash");
                repo.update_ref(ref, stash, previous, "cairn apply: save work tree");
            }
            result.stash_commit = stash;
            result.stash_ref = ref;
        }
    }

    if (code) {
        // Files the checkout changes, for the report.
        if (!head.empty())
            for (const auto& c : repo.diff_commits(head, run.git_snapshot)) result.code_files.push_back(c.path);
        repo.checkout_into_workdir(run.git_snapshot);
        for (const auto& d : workspace::restore_data(ws, tracked, workspace::Overwrite::force, progress))
            result.data.push_back(d.data_path);
    }
    for (const auto& f : params) {
        // After the checkout, which may have written the snapshot's version of the file.
        std::filesystem::path target = ws.absolute(f.rel);
        if (fs::read_file_if_exists(target) == f.text) continue;
        ws.check_no_symlinks(f.rel);
        auto st = fs::lstat_path(target);
        fs::write_file_atomic(target, f.text, st ? (st->st_mode & 07777) : 0644);
    }
    auto done = workspace::restore_data(ws, outputs, workspace::Overwrite::force, progress);
    for (const auto& d : done) result.outputs.push_back(d.data_path);
    return result;
}

UndoResult undo_apply(workspace::Workspace& ws, workspace::Overwrite overwrite, util::Progress& progress) {
    auto& repo = ws.repo();
    const std::string ref(k_apply_stash_ref);
    UndoResult result;
    for (const auto& r : repo.list_refs(ref))
        if (r.name == ref) result.stash_commit = r.target;
    if (result.stash_commit.empty())
        fail(ErrorKind::input, "nothing to undo: there is no {} ('cairn apply --force' saves your work there when it "
                               "overwrites uncommitted changes)", ref);
    std::optional<std::string> text;
    for (const auto& parent : repo.parents(result.stash_commit))
        if ((text = repo.read_blob(parent, std::string(k_apply_stash_data)))) break;
    if (!text)
        fail(ErrorKind::input, "{} ({}) has no record of the data it saved (made by an older cairn?); get its files back "
                               "with 'git checkout {} -- .' and then 'cairn checkout'", ref, result.stash_commit.substr(0, 12), ref);
    StashData saved = parse_stash_data(*text, ref + ":" + std::string(k_apply_stash_data));
    result.run = saved.run;

    // Code: what differs from the stash is in the way unless the apply wrote it.
    std::set<std::string> in_the_way;
    // The bytes of a parameter file the apply edited, by their id (nullopt: the file is missing).
    auto param_id = [&](const std::string& path) -> std::optional<std::string> {
        auto st = fs::lstat_path(ws.absolute(path));
        if (!st || !S_ISREG(st->st_mode)) return std::nullopt;
        return hash::hash_bytes(fs::read_file(ws.absolute(path))).id();
    };
    auto written_by_apply = [&](const std::string& path) {
        if (auto it = saved.params.find(path); it != saved.params.end()) return param_id(path) == it->second.applied;
        if (saved.code.empty()) return false;
        auto st = fs::lstat_path(ws.absolute(path));
        if (!st || !S_ISREG(st->st_mode)) return false;
        auto blob = repo.read_blob(saved.code, path);
        return blob && *blob == fs::read_file(ws.absolute(path));
    };
    for (const auto& p : repo.uncommitted_in_the_way(result.stash_commit))
        if (!under_any(p, saved.data) && !written_by_apply(p)) in_the_way.insert(p + " (changed since the apply)");
    // Files the apply added that the stash lacks are untracked now, and removed when unchanged.
    std::vector<std::string> added;
    if (!saved.code.empty())
        for (const auto& c : repo.diff_commits(result.stash_commit, saved.code)) {
            if (c.status != 'A' || under_any(c.path, saved.data) || !fs::lstat_path(ws.absolute(c.path))) continue;
            if (written_by_apply(c.path)) added.push_back(c.path);
            else in_the_way.insert(c.path + " (changed since the apply)");
        }

    // Parameter files, ignored by git ones too: what is neither the apply's bytes nor the saved
    // ones is a later edit.
    for (const auto& [path, e] : saved.params) {
        ws.check_no_symlinks(path);
        auto id = param_id(path);
        if (id && *id != e.applied && *id != e.before) in_the_way.insert(path + " (changed since the apply)");
        if (!e.before.empty() && !ws.cache().has(*hash::Digest::from_id(e.before)))
            fail(ErrorKind::integrity, "the saved bytes of {} ({}) are missing from the cache", path, e.before);
    }

    // Data: back to the bytes saved, or removed where the apply created it.
    std::vector<std::pair<std::string, workspace::Pointer>> restore, created;
    auto pointer_of = [&](const std::string& path, const std::string& id) {
        return workspace::pointer_to_object(ws.cache(), std::filesystem::path(path).filename().string(),
                                            *hash::Digest::from_id(id));
    };
    for (const auto& [path, e] : saved.data) {
        if (!e.before.empty()) restore.emplace_back(path, pointer_of(path, e.before));
        else if (fs::lstat_path(ws.absolute(path))) {
            if (e.applied.empty()) in_the_way.insert(path + " (not there before the apply)");
            else created.emplace_back(path, pointer_of(path, e.applied));
        }
    }
    for (const auto& u : workspace::unsaved_data_in_the_way(ws, restore, progress)) in_the_way.insert("data " + u);
    for (const auto& u : workspace::unsaved_data_in_the_way(ws, created, progress)) in_the_way.insert("data " + u);
    if (!in_the_way.empty() && overwrite != workspace::Overwrite::force) {
        std::string list;
        std::size_t n = 0;
        for (const auto& p : in_the_way)
            if (++n <= 20) list += "\n  " + p;
        if (in_the_way.size() > 20) list += fmt::format("\n  ... and {} more", in_the_way.size() - 20);
        fail(ErrorKind::input,
             "undoing the apply of run {} would overwrite changes made since:{}\ncommit them (or 'cairn add' the data), "
             "or use --force to discard them",
             saved.run.substr(0, 8), list);
    }

    if (!saved.code.empty())
        for (const auto& c : repo.diff_commits(saved.code, result.stash_commit))
            if (!under_any(c.path, saved.data) && !saved.params.count(c.path)) result.code_files.push_back(c.path);
    repo.checkout_into_workdir(result.stash_commit);
    for (const auto& [path, e] : saved.params) {
        if (e.before.empty()) continue; // created by the apply: removed with the code files it added
        if (param_id(path) != e.before) {
            auto st = fs::lstat_path(ws.absolute(path));
            fs::write_file_atomic(ws.absolute(path), ws.cache().read_verified(*hash::Digest::from_id(e.before)),
                                  st ? (st->st_mode & 07777) : 0644);
        }
        result.param_files.push_back(path);
    }
    for (const auto& p : added) {
        ws.check_no_symlinks(p);
        fs::remove_file(ws.absolute(p));
        result.code_files.push_back(p);
    }
    for (const auto& d : workspace::restore_data(ws, restore, workspace::Overwrite::force, progress))
        result.data.push_back(d.data_path);
    for (const auto& [path, p] : created) {
        ws.check_no_symlinks(path);
        std::error_code ec;
        std::filesystem::remove_all(ws.absolute(path), ec);
        if (ec) fail(ErrorKind::io, "cannot remove {}: {}", path, ec.message());
        result.removed.push_back(path);
    }
    // Dropped once restored, as `git stash pop` does; older stashes stay as stash-<commit>.
    repo.delete_ref(ref);
    std::sort(result.code_files.begin(), result.code_files.end());
    result.code_files.erase(std::unique(result.code_files.begin(), result.code_files.end()), result.code_files.end());
    return result;
}

} // namespace cairn::run
