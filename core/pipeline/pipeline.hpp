#pragma once
// A pipeline file (`cairn.yaml`, or DVC's `dvc.yaml` read as written): its stages after
// `vars`, `${...}` interpolation, `foreach`/`do` and `matrix` expansion, with every path made
// workspace-relative. Described for users in docs/guide-pipelines.md and docs/format.md.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cairn::workspace {
class Workspace;
}

namespace cairn::pipeline {

// Where something was written in the pipeline file, for errors ("dvc.yaml:12: stage 'train': ...").
struct Mark {
    std::string file; // workspace-relative
    int line = 0;     // 1-based; 0 when unknown
};

// An entry of `outs`, `metrics` or `plots`.
struct Output {
    enum class Kind { out, metric, plot };
    std::string path;         // workspace-relative (the stage's wdir applied)
    std::string written;      // as written in the file, relative to the stage's wdir
    Kind kind = Kind::out;
    bool cache = true;        // false: not stored in the cache, not gitignored (git tracks it)
    bool persist = false;     // true: not removed before the stage runs
    bool push = true;
    std::string desc, remote;
    // plots only: title, x_label, y_label, template as strings; x and y a column name (string),
    // a list of them, or (top-level plots) a mapping of workspace-relative file -> column(s).
    std::map<std::string, nlohmann::ordered_json> plot_options;
    Mark mark;
};

// An entry of `params`: keys of one parameters file.
struct ParamsRef {
    std::string file;              // workspace-relative (default: params.yaml in the stage's wdir)
    std::string written;           // the file as written (relative to wdir)
    std::vector<std::string> keys; // dotted keys; empty with `all` = every key of the file
    bool all = false;
    Mark mark;
};

struct Dependency {
    std::string path;    // workspace-relative
    std::string written; // as written, relative to wdir
    Mark mark;
};

struct Stage {
    std::string name;              // `train`, `build@1`, `build@us`, `train@lr0.1-bs32` as DVC forms them
    std::vector<std::string> cmd;  // run one after another; empty strings never appear
    std::string wdir;              // workspace-relative; "" is the root
    std::vector<Dependency> deps;
    std::vector<ParamsRef> params;
    std::vector<Output> outs;      // outs, metrics and plots, in that order
    bool frozen = false;
    bool always_changed = false;
    std::string desc;
    Mark mark;                     // the stage's key (for a generated stage: its foreach/matrix)
};

struct Pipeline {
    std::string file;              // workspace-relative: `cairn.yaml`, `dvc.yaml` or the -f file
    std::string lock_file;         // `cairn.lock` beside it
    std::string wdir;              // the file's directory, workspace-relative ("" the root)
    std::vector<Stage> stages;     // in file order (generated stages in expansion order)
    // Top-level sections, kept as written for later use (report, registry): workspace-relative paths.
    std::vector<ParamsRef> params;
    std::vector<Output> metrics;
    // Top-level plots: `path` is the file, or "" when the entry names a plot whose `y` maps
    // files to columns (`written` is then its name).
    std::vector<Output> plots;
    std::map<std::string, std::string> artifacts; // name -> workspace-relative path

    [[nodiscard]] const Stage* find(const std::string& name) const;
};

// The pipeline file `cairn repro` uses: `explicit_file` (a user path, relative to `cwd`) when
// given, else `cairn.yaml` at the workspace root, else `dvc.yaml` there. nullopt when there is
// none. Workspace-relative.
[[nodiscard]] std::optional<std::string> pipeline_file(const workspace::Workspace& ws, const std::filesystem::path& cwd,
                                                       const std::string& explicit_file);

// The values of a parameters file (workspace-relative), by its extension: `.yaml`/`.yml` (plain
// scalars typed by the YAML 1.2 core schema, as `cairn run` types params), `.json`, `.toml`.
// Throws Error(input) naming the file (and line where the parser gives one) when it is missing
// or malformed, and "Python params files are not supported" for `.py`.
[[nodiscard]] nlohmann::json read_params(const workspace::Workspace& ws, const std::string& file);

// The value at a DVC key path (`train.lr`, `layers[0].units`) in `doc`, or null when absent.
[[nodiscard]] const nlohmann::json* lookup(const nlohmann::json& doc, const std::string& key);

// Every leaf key of `doc` as a dotted path (lists are leaves), sorted.
[[nodiscard]] std::vector<std::string> leaf_keys(const nlohmann::json& doc);

// Reads and expands the pipeline file `file` (workspace-relative). Throws Error(input) naming
// `file:line` and the stage for: malformed YAML, an unknown key, a wrong type, an interpolation
// of a missing key, a stage name used twice, an output or dependency outside the workspace or in
// .git/.cairn, an output listed twice in one stage, two stages writing one output (or one inside another's), an output that a
// `cairn add` pointer tracks, a dependency cycle, a Python params file.
[[nodiscard]] Pipeline load(const workspace::Workspace& ws, const std::string& file);

// The stage graph: edges from a stage to the stages whose outputs it depends on (a dependency
// equal to an output, inside an output directory, or a directory holding an output).
struct Graph {
    std::vector<std::vector<std::size_t>> upstream;   // per stage index (Pipeline::stages)
    std::vector<std::vector<std::size_t>> downstream;
    std::vector<std::size_t> order;                   // topological, ties in file order
};

// Builds the graph. Throws Error(input) naming the stages of a cycle ("a -> b -> a").
[[nodiscard]] Graph build_graph(const Pipeline& p);

// `stage` and every stage it depends on, directly or not, in Graph::order.
[[nodiscard]] std::vector<std::size_t> with_upstream(const Graph& g, std::size_t stage);

// The stages a user's name selects: the stage of that name, or every stage a `foreach`/`matrix`
// group of that name generated (`build` selects `build@us`, `build@uk`). Throws Error(input)
// with the nearest name when none matches.
[[nodiscard]] std::vector<std::size_t> select_stages(const Pipeline& p, const std::string& name);

} // namespace cairn::pipeline
