#pragma once
// The model registry, in git: immutable versions of one output of a run, mutable aliases with
// their history, deprecations. Every change is a small commit under refs/cairn/models/NAME/
// holding one YAML record (docs/format.md, "Model registry"), so the registry travels with the
// repository's refs and gc keeps the objects it names. Optionally mirrored as the annotated tags
// DVC's GTO reads.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/run/record.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::registry {

inline constexpr std::string_view k_ref_prefix = "refs/cairn/models/";

// One of the data a version was trained on: an input of its run, and the run that produced it.
struct TrainedOn {
    std::string path;
    std::string object;   // sha256:<hex>
    std::string producer; // run id ("" when no recorded run produced it)
};

struct Version {
    std::string name;
    int number = 0; // vN
    std::string run, run_name;
    std::string path;   // the run's output (workspace-relative)
    std::string object; // sha256:<hex>
    std::uint64_t size = 0;
    std::string description;
    std::string registered_by; // "Name <email>"
    std::int64_t registered_ms = 0;
    std::map<std::string, double> metrics; // the run's last values at registration
    std::vector<TrainedOn> trained_on;
    // Not part of the immutable record: from the deprecation ref and the aliases.
    bool deprecated = false;
    std::string deprecated_by, deprecation_reason;
    std::int64_t deprecated_ms = 0;
    std::vector<std::string> aliases; // sorted
};

// One move of an alias: from `previous` to `version` (0: none; version 0 is a deletion).
struct AliasEvent {
    std::string alias;
    int version = 0, previous = 0;
    std::string by;
    std::int64_t at_ms = 0;
};

struct Model {
    std::string name;
    std::vector<Version> versions;        // by number
    std::map<std::string, int> aliases;   // alias -> version number (deleted ones absent)
    [[nodiscard]] const Version* latest() const; // the newest version not deprecated, else null
};

// What a user names: NAME, NAME@vN, NAME@ALIAS or NAME@latest.
struct Selector {
    std::string name;
    std::optional<int> version;
    std::string alias; // "" unless @ALIAS (not vN, not latest)
};

// Throws Error(input) naming the problem: model names are 1 to 100 of [A-Za-z0-9._-], starting
// and ending with a letter or digit, without ".."; alias names the same, except vN and latest.
void check_model_name(std::string_view name);
void check_alias_name(std::string_view alias);
[[nodiscard]] Selector parse_selector(std::string_view text);

// Names of every registered model, sorted.
[[nodiscard]] std::vector<std::string> model_names(workspace::Workspace& ws);

// What `cairn model ls` shows of a model, read from the names of its refs and its alias records
// only (not its version records: a registry of thousands of versions lists as fast as git lists
// its refs).
struct ModelSummary {
    std::string name;
    std::size_t versions = 0;
    std::optional<int> latest;          // the newest version not deprecated
    std::map<std::string, int> aliases; // alias -> version number (deleted ones absent)
};
// Every registered model, sorted by name.
[[nodiscard]] std::vector<ModelSummary> model_summaries(workspace::Workspace& ws);

// The versions ("NAME@vN") registered from any of the runs `run_ids`, for `cairn rm` to warn.
[[nodiscard]] std::vector<std::string> versions_of_runs(workspace::Workspace& ws, const std::vector<std::string>& run_ids);
// The whole model. Throws Error(input) for an unknown name (suggesting a close one).
[[nodiscard]] Model load_model(workspace::Workspace& ws, const std::string& name);
// The version a selector names. Throws Error(input) for an unknown version or alias; a bare NAME
// or NAME@latest is the newest version that is not deprecated.
[[nodiscard]] const Version& select(const Model& model, const Selector& selector);

// Registers output `path` of the recorded run `r` (path "" when the run has exactly one output)
// as the next version of `name`. Versions are created with a compare-and-swap on their ref: two
// registrations at once get different numbers. Then sets each alias in `aliases` to it.
Version register_version(workspace::Workspace& ws, const std::string& name, const run::RunRecord& r,
                         const std::string& path, const std::string& description,
                         const std::vector<std::string>& aliases = {});

// Points `alias` at version `number` (nullopt: deletes it), recording who, when and from which
// version. A concurrent move of the same alias makes this fail with Error(busy) instead of being
// overwritten. Returns the event recorded.
AliasEvent set_alias(workspace::Workspace& ws, const std::string& name, const std::string& alias,
                     std::optional<int> number);

// Every alias move of a model, newest first.
[[nodiscard]] std::vector<AliasEvent> alias_history(workspace::Workspace& ws, const std::string& name);

// Marks version `number` deprecated (it stays readable, is skipped by NAME / NAME@latest and
// cannot get new aliases). Error(input) when it already is.
void deprecate(workspace::Workspace& ws, const std::string& name, int number, const std::string& reason);

// For `model:NAME[@vN|@ALIAS]` names accepted wherever a run is: the run id of that version;
// nullopt when `text` does not start with "model:".
[[nodiscard]] std::optional<std::string> run_of(workspace::Workspace& ws, std::string_view text);

} // namespace cairn::registry
