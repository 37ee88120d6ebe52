#include "core/pipeline/pipeline.hpp"

#include <algorithm>
#include <filesystem>
#include <set>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "core/cache/tree.hpp"
#include "core/fs/file.hpp"
#include "core/pipeline/interpolate.hpp"
#include "core/pipeline/values.hpp"
#include "core/util/error.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/workspace.hpp"
#include "core/workspace/yaml_util.hpp"

namespace cairn::pipeline {
namespace {

namespace stdfs = std::filesystem;

// DVC's schema (dvc/schema.py): what each section may hold.
const std::vector<std::string> k_top_keys = {"stages", "vars",      "params",  "metrics",
                                             "plots",  "artifacts", "datasets"};
const std::vector<std::string> k_stage_keys = {
    "cmd",    "wdir", "deps", "params",         "outs", "metrics", "plots",
    "frozen", "desc", "meta", "always_changed", "vars", "matrix"};
const std::vector<std::string> k_foreach_keys = {"foreach", "do"};
const std::vector<std::string> k_out_options = {"cache", "persist", "checkpoint", "remote", "push",
                                                "desc",  "type",    "labels",     "meta"};
const std::vector<std::string> k_plot_props = {"template", "x",     "y",     "x_label",
                                               "y_label",  "title", "header"};
const std::vector<std::string> k_top_plot_props = {"x",       "y",     "x_label",
                                                   "y_label", "title", "template"};
const std::vector<std::string> k_artifact_keys = {"path", "desc", "type", "labels", "meta"};

bool contains(const std::vector<std::string>& list, const std::string& word) {
    return std::find(list.begin(), list.end(), word) != list.end();
}

bool is_inside(const std::string& path, const std::string& dir) {
    return dir.empty() || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                           path[dir.size()] == '/');
}

// The known key that `word` spells out in full or misspelled (`cmd` for `command` or `comand`,
// `deps` for `dependencies`): DVC's keys are abbreviations, too far from the long word for an
// edit distance. The key's letters appear in order in `word`, starting with its first; among
// several, the one sharing the longest prefix with `word` wins. "" when none.
std::string abbreviation_in(const std::string& word, const std::vector<std::string>& known) {
    std::string best;
    std::size_t best_prefix = 0;
    for (const auto& k : known) {
        if (k.size() < 3 || k.size() >= word.size() || k[0] != word[0]) continue;
        std::size_t at = 0;
        for (char c : word)
            if (at < k.size() && c == k[at]) ++at;
        if (at != k.size()) continue;
        std::size_t prefix = 0;
        while (prefix < k.size() && k[prefix] == word[prefix]) ++prefix;
        if (prefix > best_prefix) {
            best = k;
            best_prefix = prefix;
        }
    }
    return best;
}

// "a" for "a/b/c"'s parent chain: every proper ancestor of a workspace-relative path.
std::vector<std::string> ancestors(const std::string& path) {
    std::vector<std::string> out;
    for (std::size_t slash = path.find('/'); slash != std::string::npos;
         slash = path.find('/', slash + 1))
        out.push_back(path.substr(0, slash));
    return out;
}

class Loader {
  public:
    Loader(const workspace::Workspace& ws, const std::string& file) : m_ws(ws), m_file(file) {
        m_pipeline.file = file;
        std::string dir = stdfs::path(file).parent_path().string();
        m_pipeline.wdir = dir;
        // cairn.yaml and dvc.yaml lock to cairn.lock; another file NAME.yaml to NAME.lock, as DVC
        // names its lock files, so that two pipelines in one directory keep apart.
        std::string stem = stdfs::path(file).stem().string();
        std::string lock = stem == "cairn" || stem == "dvc" ? "cairn.lock" : stem + ".lock";
        m_pipeline.lock_file = dir.empty() ? lock : dir + "/" + lock;
    }

    Pipeline load() {
        std::optional<std::string> text = fs::read_file_if_exists(m_ws.absolute(m_file));
        if (!text) fail(ErrorKind::input, "pipeline file '{}' does not exist", m_file);
        YAML::Node root = workspace::parse_yaml(*text, m_file);
        if (!root || root.IsNull()) return std::move(m_pipeline);
        if (!root.IsMap())
            fail_at(root, "", "a pipeline file must be a mapping with a 'stages' section");
        std::set<std::string> seen;
        for (const auto& kv : root) {
            std::string key = key_of(kv.first, "");
            if (!seen.insert(key).second)
                fail_at(kv.first, "", fmt::format("section '{}' given twice", key));
            if (!contains(k_top_keys, key))
                unknown_key(kv.first, "", key, k_top_keys, "the top level");
        }

        Context ctx;
        // DVC loads params.yaml beside the pipeline file into the context first, when it exists.
        std::string default_params = join(m_pipeline.wdir, "params.yaml");
        if (fs::lstat_path(m_ws.absolute(default_params))) {
            try {
                ctx.load_file(m_ws, "params.yaml", m_pipeline.wdir);
            } catch (const ResolveError& e) {
                fail(ErrorKind::input, "{} (read for interpolation in {})", e.what(), m_file);
            }
        }
        if (root["vars"]) load_vars(root["vars"], ctx, m_pipeline.wdir, "");

        if (YAML::Node stages = root["stages"]) {
            if (!stages.IsMap() && !stages.IsNull())
                fail_at(stages, "", "'stages' must be a mapping of stage names");
            std::set<std::string> names;
            for (const auto& kv : stages) {
                std::string name = key_of(kv.first, "");
                if (!names.insert(name).second) fail_at(kv.first, name, "stage defined twice");
                if (name.find('@') != std::string::npos)
                    fail_at(
                        kv.first, name,
                        "a stage name cannot contain '@' (it separates generated stages' keys)");
                definition(name, kv.first, kv.second, ctx);
            }
        }
        top_sections(root, ctx);
        check_outputs();
        check_pointers();
        (void)build_graph(m_pipeline);
        return std::move(m_pipeline);
    }

  private:
    static std::string join(const std::string& dir, const std::string& rel) {
        return dir.empty() ? rel : dir + "/" + rel;
    }

    [[nodiscard]] Mark mark_of(const YAML::Node& node) const {
        YAML::Mark m = node.Mark();
        return {m_file, m.line < 0 ? 0 : m.line + 1};
    }

    [[noreturn]] void fail_at(const YAML::Node& node, const std::string& stage,
                              const std::string& message) const {
        std::string prefix = workspace::where(m_file, node);
        if (!stage.empty()) prefix += fmt::format(": stage '{}'", stage);
        fail(ErrorKind::input, "{}: {}", prefix, message);
    }

    [[noreturn]] void unknown_key(const YAML::Node& node, const std::string& stage,
                                  const std::string& key, const std::vector<std::string>& known,
                                  const std::string& where) const {
        std::string near = util::closest(key, known);
        if (near.empty()) near = abbreviation_in(key, known);
        fail_at(node, stage,
                fmt::format("unknown key '{}' in {}{}", key, where,
                            near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near)));
    }

    std::string key_of(const YAML::Node& key, const std::string& stage) const {
        if (!key.IsScalar())
            fail_at(key, stage, "a key must be a plain name, not a list or mapping");
        return key.Scalar();
    }

    // `node` with every string interpolated; errors name the line of the string itself.
    Value resolve(const YAML::Node& node, const Context& ctx, Field field, const std::string& stage,
                  const std::string& what, int depth = 0) const {
        if (depth > k_max_value_depth)
            fail_at(node, stage,
                    fmt::format("{}: nested deeper than {} levels", what, k_max_value_depth));
        if (!node || node.IsNull()) return nullptr;
        auto interpolate = [&](const YAML::Node& scalar, Field f) -> Value {
            Value v = yaml_value(scalar, m_file);
            if (!v.is_string() || !has_interpolation(v.get<std::string>())) {
                if (v.is_string() && v.get<std::string>().find("\\${") != std::string::npos)
                    return ctx.resolve_string(v.get<std::string>(), f); // only unescapes
                return v;
            }
            try {
                return ctx.resolve_string(v.get<std::string>(), f);
            } catch (const ResolveError& e) {
                fail_at(scalar, stage, fmt::format("{}: {}", what, e.what()));
            }
        };
        if (node.IsScalar()) return interpolate(node, field);
        if (node.IsSequence()) {
            Value out = Value::array();
            for (const auto& item : node)
                out.push_back(resolve(item, ctx, field, stage, what, depth + 1));
            return out;
        }
        Value out = Value::object();
        for (const auto& kv : node) {
            Value key = interpolate(kv.first, Field::plain);
            std::string text = key.is_string() ? key.get<std::string>() : scalar_text(key);
            if (out.contains(text))
                fail_at(kv.first, stage, fmt::format("{}: key '{}' given twice", what, text));
            out[text] = resolve(kv.second, ctx, field, stage, what, depth + 1);
        }
        return out;
    }

    // A resolved scalar as a string (`${n}` may stand for a number); mappings and lists refused.
    std::string text_of(const Value& v, const YAML::Node& node, const std::string& stage,
                        const std::string& what) const {
        if (v.is_string()) return v.get<std::string>();
        if (v.is_object() || v.is_array() || v.is_null())
            fail_at(node, stage,
                    fmt::format("{}: expected a string, got a {}", what, type_name(v)));
        return scalar_text(v);
    }

    // A plot property as the report reads it: text for title, labels, template and header; for
    // x and y a column name or a list of them, or (top-level plots only, as DVC's schema has it)
    // a mapping of files to column(s), its files made workspace-relative.
    Value plot_property(const std::string& key, const Value& v, const std::string& dir,
                        const YAML::Node& node, const std::string& stage,
                        const std::string& what, bool top_level) const {
        auto column = [&](const Value& c, const std::string& at) -> Value {
            if (c.is_object() || c.is_array() || c.is_null())
                fail_at(node, stage,
                        fmt::format("{}: {}: expected a column name, got a {}", what, at,
                                    type_name(c)));
            return c.is_string() ? c.get<std::string>() : scalar_text(c);
        };
        if (key != "x" && key != "y") {
            if (key == "header" && v.is_boolean()) return v;
            return column(v, key);
        }
        auto columns = [&](const Value& c, const std::string& at) -> Value {
            if (!c.is_array()) return column(c, at);
            if (c.empty()) fail_at(node, stage, fmt::format("{}: {}: an empty list", what, at));
            Value list = Value::array();
            for (const auto& e : c) list.push_back(column(e, at));
            return list;
        };
        if (!v.is_object()) return columns(v, key);
        if (!top_level)
            fail_at(node, stage,
                    fmt::format("{}: {}: a mapping of files is for the top-level plots; a "
                                "stage's plot names columns of its own file",
                                what, key));
        if (v.empty()) fail_at(node, stage, fmt::format("{}: {}: an empty mapping", what, key));
        Value files = Value::object();
        for (const auto& [file, c] : v.items())
            files[path_in(dir, file, node, stage, fmt::format("{}: {}", what, key))] =
                columns(c, key + "." + file);
        return files;
    }

    bool bool_of(const Value& v, const YAML::Node& node, const std::string& stage,
                 const std::string& what) const {
        if (!v.is_boolean())
            fail_at(node, stage,
                    fmt::format("{}: expected true or false, got a {}", what, type_name(v)));
        return v.get<bool>();
    }

    void check_no_interpolation(const YAML::Node& node, const std::string& stage,
                                const std::string& what) const {
        if (node.IsScalar()) {
            if (has_interpolation(node.Scalar()))
                fail_at(node, stage, fmt::format("{}: interpolating is not allowed", what));
            return;
        }
        for (const auto& item : node) {
            if (node.IsMap()) {
                check_no_interpolation(item.first, stage, what);
                check_no_interpolation(item.second, stage, what);
            } else {
                check_no_interpolation(item, stage, what);
            }
        }
    }

    // `vars`: params files (`file[:key,...]`, relative to `wdir`) and inline mappings.
    void load_vars(const YAML::Node& vars, Context& ctx, const std::string& wdir,
                   const std::string& stage) const {
        if (vars.IsNull()) return;
        if (!vars.IsSequence())
            fail_at(vars, stage, "vars: expected a list of params files and mappings");
        check_no_interpolation(vars, stage, "vars");
        std::size_t index = 0;
        for (const auto& item : vars) {
            try {
                if (item.IsScalar()) {
                    ctx.load_file(m_ws, item.Scalar(), wdir);
                } else if (item.IsMap()) {
                    std::string source =
                        fmt::format("{}{}vars[{}]", stage, stage.empty() ? "" : ".", index);
                    ctx.merge(yaml_value(item, m_file), source);
                } else {
                    fail_at(item, stage, "vars: each entry must be a params file or a mapping");
                }
            } catch (const ResolveError& e) {
                fail_at(item, stage, fmt::format("vars: {}", e.what()));
            }
            ++index;
        }
    }

    // A path written in the file (relative to `wdir`) as a safe workspace-relative path.
    std::string path_in(const std::string& wdir, const std::string& written, const YAML::Node& node,
                        const std::string& stage, const std::string& what) const {
        if (written.empty()) fail_at(node, stage, fmt::format("{}: an empty path", what));
        if (stdfs::path(written).is_absolute())
            fail_at(node, stage,
                    fmt::format("{}: '{}' is an absolute path; write paths relative to the stage's "
                                "wdir, inside the "
                                "workspace",
                                what, written));
        std::string rel;
        try {
            rel = m_ws.relative_path(m_ws.absolute(wdir), written);
        } catch (const Error& e) {
            fail_at(node, stage, fmt::format("{}: {}", what, e.what()));
        }
        for (const auto& part : stdfs::path(rel))
            if (auto why = cache::unsafe_component_reason(part.string()))
                fail_at(node, stage,
                        fmt::format("{}: '{}' cannot be used as a path: {}", what, written, *why));
        return rel;
    }

    // A stage entry: a plain stage, a foreach group or a matrix group.
    void definition(const std::string& name, const YAML::Node& key, const YAML::Node& def,
                    const Context& ctx) {
        if (!def.IsMap()) fail_at(key, name, "a stage must be a mapping with at least a 'cmd'");
        if (def["foreach"] || def["do"]) {
            for (const auto& kv : def) {
                std::string k = key_of(kv.first, name);
                if (!contains(k_foreach_keys, k))
                    unknown_key(kv.first, name, k, k_foreach_keys,
                                "a foreach stage (the stage goes under 'do')");
            }
            if (!def["foreach"]) fail_at(key, name, "'do' without 'foreach'");
            if (!def["do"] || !def["do"].IsMap())
                fail_at(key, name, "'foreach' needs a 'do' mapping with the stage");
            if (def["do"]["matrix"])
                fail_at(def["do"]["matrix"], name, "'matrix' cannot be used inside 'do'");
            foreach_group(name, key, def, ctx);
            return;
        }
        if (def["matrix"]) {
            matrix_group(name, key, def, ctx);
            return;
        }
        stage(name, key, def, ctx);
    }

    void foreach_group(const std::string& name, const YAML::Node& key, const YAML::Node& def,
                       const Context& ctx) {
        YAML::Node data = def["foreach"];
        Value items = resolve(data, ctx, Field::iterable, name, "foreach");
        if (!items.is_object() && !items.is_array())
            fail_at(
                data, name,
                fmt::format("foreach: expected a list or a mapping, got a {}", type_name(items)));
        std::vector<std::pair<std::string, Value>> members;
        auto add = [&](const std::string& k, const Value& v) {
            auto it = std::find_if(members.begin(), members.end(),
                                   [&](const auto& m) { return m.first == k; });
            if (it != members.end())
                it->second = v;
            else
                members.emplace_back(k, v);
        };
        if (items.is_object()) {
            for (const auto& [k, v] : items.items())
                add(k, v);
        } else {
            bool composite = std::any_of(items.begin(), items.end(), [](const Value& v) {
                return v.is_object() || v.is_array();
            });
            std::size_t i = 0;
            for (const auto& v : items)
                add(composite ? std::to_string(i++) : scalar_text(v), v);
        }
        for (const auto& [k, v] : members) {
            Context local = ctx;
            Value reserved = Value::object();
            reserved["item"] = v;
            if (items.is_object()) reserved["key"] = k;
            local.set_reserved(reserved);
            stage(name + "@" + k, key, def["do"], local);
        }
    }

    void matrix_group(const std::string& name, const YAML::Node& key, const YAML::Node& def,
                      const Context& ctx) {
        YAML::Node matrix = def["matrix"];
        if (!matrix.IsMap() || matrix.size() == 0)
            fail_at(matrix, name, "matrix: expected a mapping of names to lists");
        std::vector<std::pair<std::string, Value>> axes;
        for (const auto& kv : matrix) {
            std::string axis = key_of(kv.first, name);
            Value values = resolve(kv.second, ctx, Field::iterable, name, "matrix." + axis);
            if (!values.is_array())
                fail_at(
                    kv.second, name,
                    fmt::format("matrix.{}: expected a list, got a {}", axis, type_name(values)));
            axes.emplace_back(axis, values);
        }
        // The cartesian product, the first axis varying slowest (Python's itertools.product).
        std::vector<std::size_t> index(axes.size(), 0);
        for (const auto& axis : axes)
            if (axis.second.empty()) return;
        std::set<std::string> seen;
        while (true) {
            Value item = Value::object();
            std::vector<std::string> fragments;
            for (std::size_t a = 0; a < axes.size(); ++a) {
                const Value& v = axes[a].second[index[a]];
                item[axes[a].first] = v;
                fragments.push_back(v.is_object() || v.is_array()
                                        ? axes[a].first + std::to_string(index[a])
                                        : scalar_text(v));
            }
            std::string member = fmt::format("{}", fmt::join(fragments, "-"));
            if (seen.insert(member).second) {
                Context local = ctx;
                Value reserved = Value::object();
                reserved["key"] = member;
                reserved["item"] = item;
                local.set_reserved(reserved);
                stage(name + "@" + member, key, def, local);
            }
            std::size_t a = axes.size();
            while (a > 0) {
                --a;
                if (++index[a] < axes[a].second.size()) break;
                index[a] = 0;
                if (a == 0) return;
            }
        }
    }

    void stage(const std::string& name, const YAML::Node& key, const YAML::Node& def, Context ctx) {
        for (const auto& kv : def) {
            std::string k = key_of(kv.first, name);
            if (!contains(k_stage_keys, k)) unknown_key(kv.first, name, k, k_stage_keys, "a stage");
        }
        if (!def["cmd"]) fail_at(key, name, "missing 'cmd'");
        Stage s;
        s.name = name;
        s.mark = mark_of(key);

        s.wdir = m_pipeline.wdir;
        if (YAML::Node wdir = def["wdir"]; wdir && !wdir.IsNull()) {
            std::string written =
                text_of(resolve(wdir, ctx, Field::plain, name, "wdir"), wdir, name, "wdir");
            std::string joined =
                stdfs::path(join(m_pipeline.wdir, written)).lexically_normal().string();
            while (!joined.empty() && joined.back() == '/')
                joined.pop_back();
            if (joined == ".") joined.clear();
            if (!joined.empty()) joined = path_in("", joined, wdir, name, "wdir");
            s.wdir = joined;
        }
        if (YAML::Node vars = def["vars"]) load_vars(vars, ctx, s.wdir, name);

        YAML::Node cmd = def["cmd"];
        Value c = resolve(cmd, ctx, Field::cmd, name, "cmd");
        if (c.is_array()) {
            std::size_t i = 0;
            for (const auto& part : c) {
                YAML::Node at = cmd.IsSequence() && i < cmd.size() ? cmd[i] : cmd;
                std::string text = text_of(part, at, name, "cmd");
                if (!text.empty()) s.cmd.push_back(text);
                ++i;
            }
        } else {
            std::string text = text_of(c, cmd, name, "cmd");
            if (!text.empty()) s.cmd.push_back(text);
        }
        if (s.cmd.empty()) fail_at(cmd, name, "cmd: empty command");

        for_each_entry(def["deps"], name, "deps", [&](const YAML::Node& item) {
            Value v = resolve(item, ctx, Field::plain, name, "deps");
            std::string written = text_of(v, item, name, "deps");
            s.deps.push_back(
                {path_in(s.wdir, written, item, name, "deps"), written, mark_of(item)});
        });
        params(def["params"], ctx, s);
        for (const char* kind : {"outs", "metrics", "plots"})
            outputs(def[kind], ctx, s, kind);

        auto flag = [&](const char* what) {
            YAML::Node node = def[what];
            return node && !node.IsNull() &&
                   bool_of(resolve(node, ctx, Field::plain, name, what), node, name, what);
        };
        s.frozen = flag("frozen");
        s.always_changed = flag("always_changed");
        if (YAML::Node desc = def["desc"]; desc && !desc.IsNull())
            s.desc = text_of(resolve(desc, ctx, Field::plain, name, "desc"), desc, name, "desc");
        if (YAML::Node meta = def["meta"]) (void)resolve(meta, ctx, Field::plain, name, "meta");
        m_pipeline.stages.push_back(std::move(s));
    }

    template <typename F>
    void for_each_entry(const YAML::Node& list, const std::string& stage, const std::string& what,
                        F&& f) const {
        if (!list || list.IsNull()) return;
        if (!list.IsSequence()) fail_at(list, stage, fmt::format("{}: expected a list", what));
        for (const auto& item : list)
            f(item);
    }

    // `params`: `key` (in params.yaml of the wdir), `file: [keys]`, `file:` (every key), merged
    // per file as DVC merges them (a file tracked whole ignores keys named for it).
    void params(const YAML::Node& list, const Context& ctx, Stage& s) const {
        const std::string& name = s.name;
        struct Entry {
            std::string written;
            std::vector<std::string> keys;
            bool all = false;
            YAML::Node node;
        };
        std::vector<Entry> entries;
        auto entry = [&](const std::string& written, const YAML::Node& node) -> Entry& {
            for (auto& e : entries)
                if (e.written == written) return e;
            entries.push_back({written, {}, false, node});
            return entries.back();
        };
        for_each_entry(list, name, "params", [&](const YAML::Node& item) {
            Value v = resolve(item, ctx, Field::plain, name, "params");
            if (!v.is_object()) {
                std::string key = text_of(v, item, name, "params");
                Entry& e = entry("params.yaml", item);
                if (std::find(e.keys.begin(), e.keys.end(), key) == e.keys.end())
                    e.keys.push_back(key);
                return;
            }
            // Resolved keys keep the order (and number) of the written ones.
            auto written = item.begin();
            for (const auto& [file, keys] : v.items()) {
                YAML::Node at = written != item.end() ? written->first : item;
                if (written != item.end()) ++written;
                Entry& e = entry(file, at);
                if (keys.is_null() || (keys.is_array() && keys.empty())) {
                    e.all = true;
                    continue;
                }
                if (!keys.is_array())
                    fail_at(at, name,
                            fmt::format("params: expected a list of keys for '{}', got a {}", file,
                                        type_name(keys)));
                for (const auto& k : keys) {
                    std::string key = text_of(k, at, name, "params");
                    if (std::find(e.keys.begin(), e.keys.end(), key) == e.keys.end())
                        e.keys.push_back(key);
                }
            }
        });
        for (auto& e : entries) {
            if (util::ends_with(e.written, ".py"))
                fail_at(e.node, name,
                        fmt::format("params: '{}': Python params files are not supported; use "
                                    "YAML, JSON or TOML",
                                    e.written));
            ParamsRef ref;
            ref.written = e.written;
            ref.file = path_in(s.wdir, e.written, e.node, name, "params");
            ref.all = e.all;
            if (!e.all) ref.keys = std::move(e.keys);
            ref.mark = mark_of(e.node);
            s.params.push_back(std::move(ref));
        }
    }

    void output_options(Output& out, const Value& opts, const YAML::Node& node,
                        const std::string& stage, const std::string& kind) const {
        if (opts.is_null()) return;
        if (!opts.is_object())
            fail_at(node, stage,
                    fmt::format("{}: the options of '{}' must be a mapping, not a {}", kind,
                                out.written, type_name(opts)));
        bool plot = kind == "plots";
        std::vector<std::string> known = k_out_options;
        if (plot) known.insert(known.end(), k_plot_props.begin(), k_plot_props.end());
        for (const auto& [k, v] : opts.items()) {
            std::string what = fmt::format("{}: '{}'", kind, out.written);
            if (!contains(known, k))
                unknown_key(node, stage, k, known,
                            fmt::format("the options of {} '{}'", kind, out.written));
            if (k == "cache")
                out.cache = bool_of(v, node, stage, what + " cache");
            else if (k == "persist")
                out.persist = bool_of(v, node, stage, what + " persist");
            else if (k == "push")
                out.push = bool_of(v, node, stage, what + " push");
            else if (k == "checkpoint")
                (void)bool_of(v, node, stage, what + " checkpoint");
            else if (k == "desc")
                out.desc = text_of(v, node, stage, what + " desc");
            else if (k == "remote")
                out.remote = text_of(v, node, stage, what + " remote");
            else if (k == "type")
                (void)text_of(v, node, stage, what + " type");
            else if (plot && contains(k_plot_props, k))
                out.plot_options[k] = plot_property(k, v, "", node, stage, what, false);
        }
    }

    void outputs(const YAML::Node& list, const Context& ctx, Stage& s,
                 const std::string& kind) const {
        const std::string& name = s.name;
        Output::Kind k = kind == "outs"      ? Output::Kind::out
                         : kind == "metrics" ? Output::Kind::metric
                                             : Output::Kind::plot;
        for_each_entry(list, name, kind, [&](const YAML::Node& item) {
            Value v = resolve(item, ctx, Field::plain, name, kind);
            std::vector<std::tuple<std::string, Value, YAML::Node>> entries;
            if (v.is_object()) {
                auto kv = item.begin();
                for (const auto& [path, opts] : v.items()) {
                    entries.emplace_back(path, opts, kv != item.end() ? kv->first : item);
                    if (kv != item.end()) ++kv;
                }
            } else {
                entries.emplace_back(text_of(v, item, name, kind), Value(), item);
            }
            for (auto& [written, opts, node] : entries) {
                Output out;
                out.kind = k;
                out.written = written;
                out.path = path_in(s.wdir, written, node, name, kind);
                out.mark = mark_of(node);
                output_options(out, opts, node, name, kind);
                // One path listed twice in a stage (in one list or two) is a mistake: two
                // outputs would own the same bytes, with options that may disagree.
                auto same = std::find_if(s.outs.begin(), s.outs.end(),
                                         [&](const Output& o) { return o.path == out.path; });
                if (same != s.outs.end())
                    fail_at(node, name,
                            fmt::format("{}: '{}' is already an output of this stage (line {})",
                                        kind, written, same->mark.line));
                s.outs.push_back(std::move(out));
            }
        });
    }

    void top_sections(const YAML::Node& root, const Context& ctx) {
        const std::string dir = m_pipeline.wdir;
        for_each_entry(root["params"], "", "params", [&](const YAML::Node& item) {
            std::string written =
                text_of(resolve(item, ctx, Field::plain, "", "params"), item, "", "params");
            if (util::ends_with(written, ".py"))
                fail_at(
                    item, "",
                    fmt::format("params: '{}': Python params files are not supported", written));
            ParamsRef ref;
            ref.written = written;
            ref.file = path_in(dir, written, item, "", "params");
            ref.all = true;
            ref.mark = mark_of(item);
            m_pipeline.params.push_back(std::move(ref));
        });
        for_each_entry(root["metrics"], "", "metrics", [&](const YAML::Node& item) {
            Output out;
            out.kind = Output::Kind::metric;
            out.written =
                text_of(resolve(item, ctx, Field::plain, "", "metrics"), item, "", "metrics");
            out.path = path_in(dir, out.written, item, "", "metrics");
            out.mark = mark_of(item);
            m_pipeline.metrics.push_back(std::move(out));
        });
        for_each_entry(root["plots"], "", "plots", [&](const YAML::Node& item) {
            Value v = resolve(item, ctx, Field::plain, "", "plots");
            std::vector<std::pair<std::string, Value>> entries;
            if (v.is_object())
                for (const auto& [id, props] : v.items())
                    entries.emplace_back(id, props);
            else
                entries.emplace_back(text_of(v, item, "", "plots"), Value());
            for (auto& [id, props] : entries) {
                Output out;
                out.kind = Output::Kind::plot;
                out.written = id;
                out.mark = mark_of(item);
                if (!props.is_null() && !props.is_object())
                    fail_at(item, "",
                            fmt::format("plots: the properties of '{}' must be a mapping", id));
                if (props.is_object())
                    for (const auto& [k, p] : props.items()) {
                        if (!contains(k_top_plot_props, k))
                            unknown_key(item, "", k, k_top_plot_props,
                                        fmt::format("the properties of plot '{}'", id));
                        out.plot_options[k] = plot_property(
                            k, p, dir, item, "", fmt::format("plots: '{}'", id), true);
                    }
                // As DVC: with `y` a mapping of files, the id names the plot, not a file.
                auto y = out.plot_options.find("y");
                if (y == out.plot_options.end() || !y->second.is_object())
                    out.path = path_in(dir, id, item, "", "plots");
                m_pipeline.plots.push_back(std::move(out));
            }
        });
        if (YAML::Node artifacts = root["artifacts"]; artifacts && !artifacts.IsNull()) {
            if (!artifacts.IsMap())
                fail_at(artifacts, "", "artifacts: expected a mapping of names");
            for (const auto& kv : artifacts) {
                Value name = resolve(kv.first, ctx, Field::plain, "", "artifacts");
                std::string text = text_of(name, kv.first, "", "artifacts");
                Value def = resolve(kv.second, ctx, Field::plain, "", "artifacts." + text);
                if (!def.is_object() || !def.contains("path"))
                    fail_at(kv.first, "",
                            fmt::format("artifacts.{}: expected a mapping with a 'path'", text));
                for (const auto& [k, v] : def.items())
                    if (!contains(k_artifact_keys, k))
                        unknown_key(kv.first, "", k, k_artifact_keys,
                                    fmt::format("artifact '{}'", text));
                std::string written =
                    text_of(def["path"], kv.first, "", "artifacts." + text + ".path");
                m_pipeline.artifacts[text] =
                    path_in(dir, written, kv.first, "", "artifacts." + text + ".path");
            }
        }
    }

    // Two outputs on one path, or one inside another (DVC's OutputDuplicationError and
    // OverlappingOutputPathsError), and the pipeline file inside an output.
    void check_outputs() const {
        std::map<std::string, std::pair<const Stage*, const Output*>> by_path;
        for (const auto& s : m_pipeline.stages)
            for (const auto& o : s.outs) {
                auto [it, fresh] = by_path.try_emplace(o.path, &s, &o);
                if (!fresh)
                    fail(ErrorKind::input,
                         "{}:{}: stage '{}': output '{}' is also an output of stage '{}' ({}:{})",
                         m_file, o.mark.line, s.name, o.path, it->second.first->name, m_file,
                         it->second.second->mark.line);
            }
        for (const auto& [path, owner] : by_path) {
            for (const auto& up : ancestors(path))
                if (auto it = by_path.find(up); it != by_path.end())
                    fail(ErrorKind::input,
                         "{}:{}: stage '{}': output '{}' is inside output '{}' of stage '{}' "
                         "({}:{})",
                         m_file, owner.second->mark.line, owner.first->name, path, up,
                         it->second.first->name, m_file, it->second.second->mark.line);
            if (m_file == path || is_inside(m_file, path))
                fail(ErrorKind::input,
                     "{}:{}: stage '{}': output '{}' holds the pipeline file itself", m_file,
                     owner.second->mark.line, owner.first->name, path);
        }
    }

    // An output that `cairn add` tracks (a pointer for it, a directory holding it, or a path
    // inside it) would have two owners.
    void check_pointers() const {
        bool any = std::any_of(m_pipeline.stages.begin(), m_pipeline.stages.end(),
                               [](const Stage& s) { return !s.outs.empty(); });
        if (!any) return;
        std::vector<workspace::PointerFile> pointers = m_ws.find_pointers();
        for (const auto& s : m_pipeline.stages)
            for (const auto& o : s.outs)
                for (const auto& p : pointers)
                    if (p.data_path == o.path || is_inside(o.path, p.data_path) ||
                        is_inside(p.data_path, o.path))
                        fail(
                            ErrorKind::input,
                            "{}:{}: stage '{}': output '{}' is tracked by `cairn add` ({}); a "
                            "stage's outputs are "
                            "tracked by the pipeline: remove the pointer (git rm {}) or the output",
                            m_file, o.mark.line, s.name, o.path, p.pointer_path, p.pointer_path);
    }

    const workspace::Workspace& m_ws;
    std::string m_file;
    Pipeline m_pipeline;
};

} // namespace

const Stage* Pipeline::find(const std::string& name) const {
    for (const auto& s : stages)
        if (s.name == name) return &s;
    return nullptr;
}

std::optional<std::string> pipeline_file(const workspace::Workspace& ws,
                                         const std::filesystem::path& cwd,
                                         const std::string& explicit_file) {
    if (!explicit_file.empty()) {
        std::string rel = ws.relative_path(cwd, explicit_file);
        auto st = fs::lstat_path(ws.absolute(rel));
        if (!st) fail(ErrorKind::input, "pipeline file '{}' does not exist", explicit_file);
        if (!S_ISREG(st->st_mode))
            fail(ErrorKind::input, "pipeline file '{}' is not a regular file", explicit_file);
        return rel;
    }
    for (const char* name : {"cairn.yaml", "dvc.yaml"})
        if (fs::lstat_path(ws.absolute(name))) return std::string(name);
    return std::nullopt;
}

Pipeline load(const workspace::Workspace& ws, const std::string& file) {
    return Loader(ws, file).load();
}

} // namespace cairn::pipeline
