#pragma once
// DVC's templating of pipeline files: the context (`params.yaml` of the pipeline's directory,
// then `vars`), and `${...}` interpolation of strings against it. Errors are ResolveError, a
// message without a location: the loader adds file, line and stage.

#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/pipeline/values.hpp"

namespace cairn::workspace {
class Workspace;
}

namespace cairn::pipeline {

class ResolveError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Where a value is interpolated, which decides what it may be (DVC's validate_value): a
// mapping or list only as the whole value of `foreach`/`matrix` data, a mapping into `cmd` as
// `--key value` flags.
enum class Field { plain, cmd, iterable };

// The `${...}` expressions of a string: DVC's `(?<!\\)\$\{(.*?)\}` on one line.
struct Match {
    std::size_t begin = 0, end = 0; // of `${...}` in the string
    std::string inner;
};
[[nodiscard]] std::vector<Match> find_matches(const std::string& text);

// True when `text` has a `${...}` to interpolate.
[[nodiscard]] bool has_interpolation(const std::string& text);

// The key path of an expression (`a.b[0]`, `item.name`) as its parts; throws ResolveError for
// one that is not `word(.word|[word])*` with words free of `.`, `[` and `]`.
[[nodiscard]] std::vector<std::string> parse_expression(const std::string& inner);

// A mapping as DVC writes `${dict}` into a `cmd`: `--key value` per flattened key (`--a.b 1`),
// strings shell-quoted, `--flag` for true and nothing for false, a list as `--key v1 v2`.
// Throws ResolveError for a list holding lists or mappings.
[[nodiscard]] std::string cmd_flags(const Value& mapping);

// The values `${...}` reads, with where each came from (for "defined twice" errors).
class Context {
  public:
    // Merges the mapping `data`, read from `source` (a file or `vars[0]`), as DVC merges
    // vars: nested mappings merge, anything else defined twice is a ResolveError naming both
    // sources.
    void merge(const Value& data, const std::string& source);

    // Loads one `vars` entry `file[:key1,key2]` (the file relative to `wdir`, both
    // workspace-relative): the whole file, or those top-level keys of it. A file loaded whole
    // twice is loaded once; loading it partially after wholly (or keys twice) is a ResolveError.
    void load_file(const workspace::Workspace& ws, const std::string& item,
                   const std::string& wdir);

    // Sets `values` (item, key) for one generated stage; they cannot be redefined by its vars.
    void set_reserved(const Value& values);

    // The value at an expression; ResolveError "could not find 'a.b'" when absent.
    [[nodiscard]] const Value& select(const std::string& inner) const;

    // `text` interpolated: the value itself (typed) when the string is one `${...}`, else the
    // string with each value written in (scalar_text; a mapping as cmd_flags in Field::cmd),
    // and `\${` unescaped to `${`.
    [[nodiscard]] Value resolve_string(const std::string& text, Field field) const;

    [[nodiscard]] bool contains(const std::string& top_key) const {
        return m_data.contains(top_key);
    }

  private:
    Value m_data = Value::object();
    std::map<std::string, std::string> m_sources; // dotted path -> source
    std::map<std::string, std::optional<std::vector<std::string>>>
        m_imports; // file -> keys (nullopt: whole)
    std::set<std::string> m_reserved;
};

} // namespace cairn::pipeline
