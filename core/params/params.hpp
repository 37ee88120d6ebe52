#pragma once
// Parameters: typing by the YAML 1.2 core schema, flattening of parameter files into dotted keys,
// overrides that edit the bytes of one value in a user's file (never re-emit it), `{name}`
// substitution in a command, and the locks that keep a parameter file still while a run's
// command may read it. Described for users in docs/guide-runs.md and docs/reference.md (`cairn run`).

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cairn::workspace {
class Workspace;
}
namespace cairn::fs {
class FileLock;
}

namespace cairn::params {

struct Param {
    std::string key;
    std::string type; // "int", "float", "bool", "string"
    std::string text; // the value as typed or as written in the file (for a quoted string: inside the quotes)
    bool operator==(const Param&) const = default;
};

// Types the text of a plain YAML scalar by the YAML 1.2 core schema, keeping the text as is:
// `3`, `007`, `0x1f`, `0o17` int; `1.0`, `1e3`, `.5`, `.inf`, `-.inf`, `.nan` float;
// `true`/`True`/`TRUE`/`false`/... bool; anything else (`yes`, `nan`, `1.2.3`, ``) string.
// An integer beyond 64 bits is a float.
[[nodiscard]] Param resolve_param(const std::string& key, const std::string& text);

// A command-line value (`-p KEY=VALUE`): typed as resolve_param, except that a value written in
// single or double quotes (`-p 'v="007"'`) is the string inside them.
[[nodiscard]] Param parse_param(const std::string& key, const std::string& value);

// The number an int or float parameter stands for (`0x1f` is 31, `007` is 7, `.inf`); nullopt
// for other types or text that is not a number.
[[nodiscard]] std::optional<double> param_number(const Param& p);
[[nodiscard]] std::optional<std::int64_t> param_integer(const Param& p);
// The truth value of a bool parameter (`true`, `True`, `TRUE`, ...); nullopt for other types.
[[nodiscard]] std::optional<bool> param_bool(const Param& p);

// Flattens a YAML (or JSON) parameters file into typed params with dotted keys (`train.lr`),
// sorted by key. Plain scalars are typed by resolve_param; quoted and block scalars, and `!!str`,
// are strings; lists are kept as their YAML flow text; null is an empty string. Throws
// Error(input) with `<where>:<line>` for malformed YAML or a non-mapping document.
[[nodiscard]] std::vector<Param> flatten_params_yaml(const std::string& text, const std::string& where);

// `text` (a params YAML file) with the value at dotted `key` set to `value`, changing only the
// bytes of that value: quoting, comments, order and every other byte stay. A string is written
// in the value's own quoting style where it allows, plain when that reads back as the same
// string, else double-quoted. A key the file does not hold is added at the end of its nearest
// existing block mapping, with the mappings it needs. Throws Error(input) naming `where` if the
// key names a mapping or a list, if its place is inside a flow mapping, or if the edited file
// would not read back as the original with just this value changed.
[[nodiscard]] std::string override_params_yaml(const std::string& text, const std::string& key, const Param& value,
                                               const std::string& where);

// Flattens a TOML parameters file as flatten_params_yaml does a YAML one: tables (inline ones
// too) give dotted keys; integers are int, floats float, booleans bool, strings string. A number
// keeps the text it is written in where the YAML 1.2 core schema reads that as the same value
// (`1e-3`, `0x1f`), else it is written out (`1_000` is `1000`, `inf` is `.inf`); dates, times and
// arrays are strings holding their TOML text. Throws Error(input) with `<where>:<line>` for
// malformed TOML.
[[nodiscard]] std::vector<Param> flatten_params_toml(const std::string& text, const std::string& where);

// override_params_yaml for a TOML file: the bytes of the value at dotted `key` are replaced by
// the value's TOML text (as given when TOML reads it as the same value, else as toml++ writes
// it; a literal string stays literal where it can, a date stays a date), every other byte kept.
// A key the file does not hold is added as `name = value` after the last key-value line of the
// nearest table holding its parent, when that is the top of the file or a table with a
// `[header]`. Throws Error(input) naming `where` if the key names a table or an array, if its
// place is in an inline table or a table defined by dotted keys, or if the edited file would not
// read back as the original with just this value changed.
[[nodiscard]] std::string override_params_toml(const std::string& text, const std::string& key, const Param& value,
                                               const std::string& where);

// flatten_params_toml for a file named `*.toml`, flatten_params_yaml for any other (JSON is YAML;
// DVC reads other names as YAML too). `where` is the file's name.
[[nodiscard]] std::vector<Param> flatten_params_file(const std::string& text, const std::string& where);
// override_params_toml or override_params_yaml, by `where` as flatten_params_file chooses.
[[nodiscard]] std::string override_params_file(const std::string& text, const std::string& key, const Param& value,
                                               const std::string& where);

// Where an override of `key` goes among parameter files (`files`: each one's flattened params, in
// the order the run names them). Every file that holds `key`; when none does, the one whose
// mappings hold the longest prefix of it (`train` of `train.lr`; the first such file on a tie),
// where it is added; else none. Never a file in which a prefix of `key` is itself a value, or
// `key` a mapping. `cairn run -p`, `cairn apply` and `cairn repro -S` all place values so.
struct KeyTarget {
    std::vector<std::size_t> files; // indices into `files`
    bool added = false;             // the key is new in the one file named
};
[[nodiscard]] KeyTarget file_for_key(const std::vector<const std::vector<Param>*>& files, const std::string& key);

// Replaces `{key}` in each argument by the parameter's value; other braces are left alone.
[[nodiscard]] std::vector<std::string> substitute_params(const std::vector<std::string>& argv,
                                                         const std::vector<Param>& params);

// The key of `keys` nearest to `key` (edit distance), or "" when `keys` is empty.
[[nodiscard]] std::string nearest_key(const std::string& key, const std::vector<std::string>& keys);

// The parameter files one run reads, and the edits its overrides make to them.
//
// Locking: every file is locked from before it is read for the record until the run's command
// has ended: shared when the run only reads it, exclusive when it changes values in it (then the
// original is put back before the lock is dropped). So a command never sees a file change under
// it, and its record holds what it read. Writers go first: a run waiting to override a file
// holds its gate, so runs that come later wait behind it instead of starving it. Locks on several
// files are taken in one order (by lock path), so two runs cannot deadlock. A run inside another
// run's command that needs a lock its enclosing run holds fails at once (Error(busy)) instead of
// waiting for it forever: each run tells its command which locks it holds (CAIRN_LOCKS_HELD).
//
// Disk full: before a file is changed, its original is kept as a hard link (or, where links are
// refused, a copy) `.cairn/params-<hash>.orig`; restoring is a rename, which needs no free space.
// A run that finds that file under its lock knows the overriding run died, and restores it first.
class ParamFiles {
public:
    enum class Mode {
        run,    // the user's workspace: locks, and edits put back when the command ends
        replay, // a rerun's private replica: no locks, edits stay
    };
    using Notice = std::function<void(const std::string&)>;

    ParamFiles(workspace::Workspace& ws, Mode mode, Notice notice);
    // Restores what apply() changed (best effort: a crashed restore is redone by the next reader)
    // and drops the locks.
    ~ParamFiles();
    ParamFiles(const ParamFiles&) = delete;
    ParamFiles& operator=(const ParamFiles&) = delete;

    // Locks and reads `files` (workspace-relative) and plans the edits for `overrides` (key ->
    // value): a key a file holds with another type or text is changed in it; equal values change
    // nothing (and need no exclusive lock); a dotted key under a mapping of a file is added to it.
    // Throws Error(input) for a missing or malformed file or an edit that cannot be made in place,
    // Error(busy) for a lock held by an enclosing run.
    void open(const std::vector<std::string>& files, const std::map<std::string, Param>& overrides);

    struct File {
        std::string rel;
        std::vector<Param> params; // as read from the file, before any override
        std::string original;
        std::optional<std::string> edited; // the text the command will read, when it differs
        std::vector<std::string> added;    // override keys the file did not hold
    };
    [[nodiscard]] const std::vector<File>& files() const { return m_files; }

    // Warnings for override keys the files did not hold: added ones, and ones in no file that
    // the command (`argv`, before substitution) does not use as `{KEY}` either. Names the files
    // searched and the nearest existing key.
    [[nodiscard]] std::vector<std::string> warnings(const std::map<std::string, Param>& overrides,
                                                    const std::vector<std::string>& argv) const;

    // Writes the planned edits. In Mode::run the paths of changed files go into
    // `<staging>/restore/<n>.path` first, so that crash recovery can find them.
    void apply(const std::filesystem::path& staging);

    // Puts every changed file back (a rename of the kept original). Throws Error(io).
    void restore();

    // Drops every lock (after restore()).
    void release();

    // CAIRN_LOCKS_HELD for the command: the enclosing runs' locks and this run's.
    [[nodiscard]] std::string held_locks_env() const;

private:
    struct Held;
    void acquire(const std::string& rel, bool exclusive);
    void plan(const std::map<std::string, Param>& overrides);

    workspace::Workspace& m_ws;
    Mode m_mode;
    Notice m_notice;
    std::vector<File> m_files;
    std::vector<std::unique_ptr<Held>> m_held;
    std::vector<std::string> m_applied; // rels whose original is kept, in order of change
};

// Puts back the parameter files a dead run (its staging directory `staging`) had overridden and
// no later reader has restored yet. False when one is locked by a live run (try again later).
[[nodiscard]] bool restore_param_files(workspace::Workspace& ws, const std::filesystem::path& staging);

} // namespace cairn::params
