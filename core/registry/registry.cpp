#include "core/registry/registry.hpp"

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "core/fs/file.hpp"
#include "core/fs/lock.hpp"
#include "core/hash/hash.hpp"
#include "core/metrics/metrics.hpp"
#include "core/run/lineage.hpp"
#include "core/run/store.hpp"
#include "core/util/error.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/yaml_util.hpp"

namespace cairn::registry {
namespace {

constexpr std::string_view k_version_schema = "cairn-model/1";
constexpr std::string_view k_alias_schema = "cairn-model-alias/1";
constexpr std::string_view k_deprecation_schema = "cairn-model-deprecation/1";
constexpr int k_create_attempts = 100;

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string model_prefix(const std::string& name) { return std::string(k_ref_prefix) + name + "/"; }
std::string version_ref(const std::string& name, int n) { return model_prefix(name) + "versions/v" + std::to_string(n); }
std::string alias_ref(const std::string& name, const std::string& alias) { return model_prefix(name) + "aliases/" + alias; }
std::string deprecation_ref(const std::string& name, int n) {
    return model_prefix(name) + "deprecated/v" + std::to_string(n);
}

bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}
bool alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// Why `text` cannot be a model or alias name, or nullopt.
std::optional<std::string> name_problem(std::string_view text) {
    if (text.empty()) return "is empty";
    if (text.size() > 100) return "is longer than 100 characters";
    for (char c : text)
        if (!name_char(c)) return fmt::format("holds '{}' (use letters, digits, '.', '_' and '-')", c);
    if (!alnum(text.front()) || !alnum(text.back())) return "must start and end with a letter or digit";
    if (text.find("..") != std::string_view::npos) return "holds '..'";
    if (util::ends_with(text, ".lock")) return "ends in '.lock'";
    return std::nullopt;
}

// "v12" -> 12.
std::optional<int> version_number(std::string_view text) {
    if (text.size() < 2 || text[0] != 'v') return std::nullopt;
    auto n = util::parse_integer<int>(text.substr(1));
    if (!n || *n <= 0 || text[1] == '0') return std::nullopt;
    return n;
}

// GTO's artifact and stage names: lowercase letters, digits and inner dashes.
bool gto_name(std::string_view text) {
    if (text.empty() || text.front() == '-' || text.back() == '-') return false;
    return std::all_of(text.begin(), text.end(),
                       [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

std::string gto_version(int n) { return fmt::format("v{}.0.0", n); }

// Held while a registry ref is created or moved. libgit2 checks that a ref is absent before it
// takes the ref's lock, so two creations of one new ref can both succeed, the second overwriting
// the first: the compare-and-swap alone would lose a registration. The lock serialises cairn's
// own writers; the CAS still catches a ref moved under it by anything else (git fetch).
fs::FileLock registry_lock(workspace::Workspace& ws) {
    return fs::FileLock(ws.store_dir() / "registry.lock", fs::LockMode::exclusive, std::chrono::seconds(60));
}

// ---- records --------------------------------------------------------------------------------

std::string version_yaml(const Version& v) {
    YAML::Emitter e;
    e << YAML::BeginMap;
    e << YAML::Key << "schema" << YAML::Value << std::string(k_version_schema);
    e << YAML::Key << "name" << YAML::Value << v.name;
    e << YAML::Key << "version" << YAML::Value << v.number;
    e << YAML::Key << "run" << YAML::Value << v.run;
    e << YAML::Key << "run_name" << YAML::Value << YAML::DoubleQuoted << v.run_name;
    e << YAML::Key << "path" << YAML::Value << YAML::DoubleQuoted << v.path;
    e << YAML::Key << "object" << YAML::Value << v.object;
    e << YAML::Key << "size" << YAML::Value << v.size;
    e << YAML::Key << "description" << YAML::Value << YAML::DoubleQuoted << v.description;
    e << YAML::Key << "registered_by" << YAML::Value << YAML::DoubleQuoted << v.registered_by;
    e << YAML::Key << "registered_ms" << YAML::Value << v.registered_ms;
    e << YAML::Key << "metrics" << YAML::Value << YAML::BeginMap;
    for (const auto& [k, value] : v.metrics)
        e << YAML::Key << YAML::DoubleQuoted << k << YAML::Value << metrics::format_value(value);
    e << YAML::EndMap;
    e << YAML::Key << "trained_on" << YAML::Value << YAML::BeginSeq;
    for (const auto& t : v.trained_on) {
        e << YAML::BeginMap << YAML::Key << "path" << YAML::Value << YAML::DoubleQuoted << t.path;
        e << YAML::Key << "object" << YAML::Value << t.object;
        if (!t.producer.empty()) e << YAML::Key << "producer" << YAML::Value << t.producer;
        e << YAML::EndMap;
    }
    e << YAML::EndSeq << YAML::EndMap;
    return std::string(e.c_str()) + "\n";
}

// Reads field `key` of a record mapping; Error(input) naming the record when absent or malformed.
struct Reader {
    const YAML::Node& node;
    const std::string& where;
    [[nodiscard]] YAML::Node get(const char* key) const {
        YAML::Node v = node[key];
        if (!v) fail(ErrorKind::input, "{}: missing '{}'", where, key);
        return v;
    }
    [[nodiscard]] std::string text(const char* key) const {
        YAML::Node v = get(key);
        if (!v.IsScalar()) fail(ErrorKind::input, "{}: '{}' must be text", where, key);
        return v.Scalar();
    }
    template <typename T> [[nodiscard]] T integer(const char* key) const {
        auto v = util::parse_integer<T>(text(key));
        if (!v) fail(ErrorKind::input, "{}: '{}' must be an integer", where, key);
        return *v;
    }
    void schema(std::string_view expected) const {
        std::string s = text("schema");
        if (s != expected)
            fail(ErrorKind::input, "{}: schema '{}' is not supported by this cairn (expected {})", where, s, expected);
    }
};

// A record's YAML: a mapping whose `schema` is `expected`, else Error(input) naming `where`.
YAML::Node record_root(const std::string& text, const std::string& where, std::string_view expected) {
    YAML::Node root = workspace::parse_yaml(text, where);
    if (!root.IsMap()) fail(ErrorKind::input, "{}: expected a mapping", where);
    Reader{root, where}.schema(expected);
    return root;
}

void check_id(const std::string& id, const std::string& where) {
    if (!hash::Digest::from_id(id)) fail(ErrorKind::input, "{}: '{}' is not an object id", where, id);
}

Version parse_version(const std::string& text, const std::string& where) {
    YAML::Node root = record_root(text, where, k_version_schema);
    Reader r{root, where};
    Version v;
    v.name = r.text("name");
    v.number = r.integer<int>("version");
    v.run = r.text("run");
    v.run_name = r.text("run_name");
    v.path = r.text("path");
    v.object = r.text("object");
    check_id(v.object, where);
    v.size = r.integer<std::uint64_t>("size");
    v.description = r.text("description");
    v.registered_by = r.text("registered_by");
    v.registered_ms = r.integer<std::int64_t>("registered_ms");
    YAML::Node m = r.get("metrics");
    if (!m.IsMap()) fail(ErrorKind::input, "{}: 'metrics' must be a mapping", where);
    for (const auto& kv : m) {
        auto value = kv.second.IsScalar() ? metrics::parse_value(kv.second.Scalar()) : std::nullopt;
        if (!kv.first.IsScalar() || !value) fail(ErrorKind::input, "{}: 'metrics' must map names to numbers", where);
        v.metrics[kv.first.Scalar()] = *value;
    }
    YAML::Node t = r.get("trained_on");
    if (!t.IsSequence()) fail(ErrorKind::input, "{}: 'trained_on' must be a list", where);
    for (const auto& item : t) {
        if (!item.IsMap()) fail(ErrorKind::input, "{}: 'trained_on' entries must be mappings", where);
        Reader ir{item, where};
        TrainedOn on{ir.text("path"), ir.text("object"), item["producer"] ? ir.text("producer") : ""};
        check_id(on.object, where);
        v.trained_on.push_back(std::move(on));
    }
    return v;
}

std::string alias_yaml(const std::string& name, const AliasEvent& a) {
    YAML::Emitter e;
    e << YAML::BeginMap;
    e << YAML::Key << "schema" << YAML::Value << std::string(k_alias_schema);
    e << YAML::Key << "name" << YAML::Value << name;
    e << YAML::Key << "alias" << YAML::Value << a.alias;
    e << YAML::Key << "version" << YAML::Value << a.version;
    e << YAML::Key << "previous" << YAML::Value << a.previous;
    e << YAML::Key << "by" << YAML::Value << YAML::DoubleQuoted << a.by;
    e << YAML::Key << "at_ms" << YAML::Value << a.at_ms;
    e << YAML::EndMap;
    return std::string(e.c_str()) + "\n";
}

AliasEvent parse_alias(const std::string& text, const std::string& where) {
    YAML::Node root = record_root(text, where, k_alias_schema);
    Reader r{root, where};
    AliasEvent a;
    a.alias = r.text("alias");
    a.version = r.integer<int>("version");
    a.previous = r.integer<int>("previous");
    a.by = r.text("by");
    a.at_ms = r.integer<std::int64_t>("at_ms");
    return a;
}

// The blob `file` of the commit a ref points at; Error(input) naming the ref when absent.
std::string ref_blob(git::Repository& repo, const git::Repository::RefTarget& ref, const char* file) {
    if (ref.target.empty()) fail(ErrorKind::input, "{} cannot be resolved", ref.name);
    auto blob = repo.read_blob(ref.target, file);
    if (!blob) fail(ErrorKind::input, "{}: its commit has no {}", ref.name, file);
    return *blob;
}

// A commit holding one record file, with `parents`.
std::string record_commit(git::Repository& repo, const char* file, const std::string& text,
                          const std::vector<std::string>& parents, const std::string& message) {
    std::string blob = repo.write_blob(text);
    std::string tree = repo.write_tree({{file, blob}});
    return repo.write_commit(tree, parents, message);
}

// The git commit GTO's tags point at for a version: the code the run was based on, else HEAD.
std::string gto_commit(git::Repository& repo, const Version& v, workspace::Workspace& ws) {
    std::string base;
    try {
        base = run::resolve(ws, v.run).git_base;
    } catch (const Error&) {
    }
    if (!base.empty() && repo.has_commit(base)) return base;
    return repo.head();
}

// The next N of GTO's incremental `NAME#STAGE#N` / `NAME#STAGE!#N` tags.
int next_gto_assignment(git::Repository& repo, const std::string& name, const std::string& stage) {
    int most = 0;
    for (const auto& prefix : {name + "#" + stage + "#", name + "#" + stage + "!#"})
        for (const auto& ref : repo.list_refs("refs/tags/" + prefix))
            if (auto n = util::parse_integer<int>(std::string_view(ref.name).substr(10 + prefix.size())))
                most = std::max(most, *n);
    return most + 1;
}

void gto_tag(workspace::Workspace& ws, const std::string& tag, const std::string& commit, const std::string& message) {
    if (commit.empty()) fail(ErrorKind::input, "registry.gto: the repository has no commit to tag ({})", tag);
    if (!ws.repo().try_create_tag(tag, commit, message))
        fail(ErrorKind::busy, "registry.gto: git tag {} already exists", tag);
}

// GTO's version tag, when registry.gto was turned on after the version was registered.
void ensure_gto_version_tag(workspace::Workspace& ws, const Version& v, const std::string& commit) {
    if (commit.empty()) return;
    (void)ws.repo().try_create_tag(fmt::format("{}@{}", v.name, gto_version(v.number)), commit,
                                   fmt::format("Registering artifact {} version {}", v.name, gto_version(v.number)));
}

void check_gto_names(workspace::Workspace& ws, const std::string& name, const std::string& alias = "") {
    if (!ws.config().registry_gto) return;
    if (!gto_name(name))
        fail(ErrorKind::input,
             "model name '{}' cannot be a GTO artifact name (registry.gto is on): use lowercase letters, digits "
             "and dashes",
             name);
    if (!alias.empty() && !gto_name(alias))
        fail(ErrorKind::input,
             "alias '{}' cannot be a GTO stage (registry.gto is on): use lowercase letters, digits and dashes", alias);
}

} // namespace

const Version* Model::latest() const {
    for (auto it = versions.rbegin(); it != versions.rend(); ++it)
        if (!it->deprecated) return &*it;
    return nullptr;
}

void check_model_name(std::string_view name) {
    if (auto why = name_problem(name)) fail(ErrorKind::input, "model name '{}' {}", name, *why);
}

void check_alias_name(std::string_view alias) {
    if (auto why = name_problem(alias)) fail(ErrorKind::input, "alias '{}' {}", alias, *why);
    if (alias == "latest" || version_number(alias) || (alias.size() > 1 && alias[0] == 'v' && alias[1] >= '0' && alias[1] <= '9'))
        fail(ErrorKind::input, "alias '{}' is reserved: vN names a version and 'latest' the newest one", alias);
}

Selector parse_selector(std::string_view text) {
    Selector s;
    std::size_t at = text.find('@');
    s.name = std::string(text.substr(0, at));
    check_model_name(s.name);
    if (at == std::string_view::npos) return s;
    std::string_view rest = text.substr(at + 1);
    if (rest == "latest") return s;
    if (auto n = version_number(rest)) {
        s.version = *n;
        return s;
    }
    check_alias_name(rest);
    s.alias = std::string(rest);
    return s;
}

std::vector<std::string> model_names(workspace::Workspace& ws) {
    std::vector<std::string> names;
    for (const auto& ref : ws.repo().list_refs(std::string(k_ref_prefix))) {
        std::string_view rest = std::string_view(ref.name).substr(k_ref_prefix.size());
        std::string name(rest.substr(0, rest.find('/')));
        if (names.empty() || names.back() != name) names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
}

std::vector<ModelSummary> model_summaries(workspace::Workspace& ws) {
    git::Repository& repo = ws.repo();
    std::vector<ModelSummary> out;
    std::set<int> numbers, deprecated;
    auto close = [&] {
        if (out.empty()) return;
        out.back().versions = numbers.size();
        for (auto it = numbers.rbegin(); it != numbers.rend(); ++it)
            if (!deprecated.count(*it)) {
                out.back().latest = *it;
                break;
            }
        numbers.clear();
        deprecated.clear();
    };
    auto refs = repo.list_refs(std::string(k_ref_prefix));
    // By name, so that a model's refs are together.
    std::sort(refs.begin(), refs.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    for (const auto& ref : refs) {
        std::string_view rest = std::string_view(ref.name).substr(k_ref_prefix.size());
        std::size_t slash = rest.find('/');
        if (slash == std::string_view::npos) continue;
        std::string_view name = rest.substr(0, slash), kind = rest.substr(slash + 1);
        if (out.empty() || out.back().name != name) {
            close();
            out.push_back(ModelSummary{std::string(name), 0, std::nullopt, {}});
        }
        if (util::starts_with(kind, "versions/")) {
            if (auto n = version_number(kind.substr(9))) numbers.insert(*n);
        } else if (util::starts_with(kind, "deprecated/")) {
            if (auto n = version_number(kind.substr(11))) deprecated.insert(*n);
        } else if (util::starts_with(kind, "aliases/")) {
            AliasEvent a = parse_alias(ref_blob(repo, ref, "alias.yaml"), ref.name + ":alias.yaml");
            if (a.version > 0) out.back().aliases[a.alias] = a.version;
        }
    }
    close();
    return out;
}

std::vector<std::string> versions_of_runs(workspace::Workspace& ws, const std::vector<std::string>& run_ids) {
    std::vector<std::string> out;
    for (const auto& name : model_names(ws))
        for (const auto& v : load_model(ws, name).versions)
            if (std::find(run_ids.begin(), run_ids.end(), v.run) != run_ids.end()) out.push_back(fmt::format("{}@v{}", name, v.number));
    return out;
}

Model load_model(workspace::Workspace& ws, const std::string& name) {
    check_model_name(name);
    git::Repository& repo = ws.repo();
    auto refs = repo.list_refs(model_prefix(name));
    if (refs.empty()) {
        std::string hint = util::closest(name, model_names(ws));
        fail(ErrorKind::input, "no model named '{}'{}", name,
             hint.empty() ? " (cairn model ls lists them)" : fmt::format(" (did you mean '{}'?)", hint));
    }
    Model m;
    m.name = name;
    std::map<int, std::pair<std::string, std::string>> deprecations; // n -> (by, reason)
    std::map<int, std::int64_t> deprecated_at;
    for (const auto& ref : refs) {
        std::string_view rest = std::string_view(ref.name).substr(model_prefix(name).size());
        if (util::starts_with(rest, "versions/")) {
            auto n = version_number(rest.substr(9));
            if (!n) continue;
            Version v = parse_version(ref_blob(repo, ref, "model.yaml"), ref.name + ":model.yaml");
            if (v.name != name || v.number != *n)
                fail(ErrorKind::input, "{}: the record is of {}@v{}, not of this ref", ref.name, v.name, v.number);
            m.versions.push_back(std::move(v));
        } else if (util::starts_with(rest, "aliases/")) {
            AliasEvent a = parse_alias(ref_blob(repo, ref, "alias.yaml"), ref.name + ":alias.yaml");
            if (a.version > 0) m.aliases[a.alias] = a.version;
        } else if (util::starts_with(rest, "deprecated/")) {
            auto n = version_number(rest.substr(11));
            if (!n) continue;
            std::string where = ref.name + ":deprecation.yaml";
            YAML::Node root = record_root(ref_blob(repo, ref, "deprecation.yaml"), where, k_deprecation_schema);
            Reader r{root, where};
            deprecations[*n] = {r.text("by"), r.text("reason")};
            deprecated_at[*n] = r.integer<std::int64_t>("at_ms");
        }
    }
    std::sort(m.versions.begin(), m.versions.end(), [](const Version& a, const Version& b) { return a.number < b.number; });
    for (auto& v : m.versions) {
        if (auto it = deprecations.find(v.number); it != deprecations.end()) {
            v.deprecated = true;
            v.deprecated_by = it->second.first;
            v.deprecation_reason = it->second.second;
            v.deprecated_ms = deprecated_at[v.number];
        }
        for (const auto& [alias, n] : m.aliases)
            if (n == v.number) v.aliases.push_back(alias);
    }
    return m;
}

const Version& select(const Model& model, const Selector& selector) {
    auto by_number = [&](int n) -> const Version& {
        for (const auto& v : model.versions)
            if (v.number == n) return v;
        fail(ErrorKind::input, "model '{}' has no version v{} (it has {})", model.name, n,
             model.versions.empty()         ? std::string("none")
             : model.versions.size() == 1 ? fmt::format("only v{}", model.versions.front().number)
                                          : fmt::format("v{} to v{}", model.versions.front().number, model.versions.back().number));
    };
    if (selector.version) return by_number(*selector.version);
    if (!selector.alias.empty()) {
        auto it = model.aliases.find(selector.alias);
        if (it == model.aliases.end()) {
            std::vector<std::string> names;
            for (const auto& [a, n] : model.aliases) names.push_back(a);
            std::string hint = util::closest(selector.alias, names);
            fail(ErrorKind::input, "model '{}' has no alias '{}'{}", model.name, selector.alias,
                 hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint));
        }
        return by_number(it->second);
    }
    if (const Version* v = model.latest()) return *v;
    fail(ErrorKind::input, "model '{}' has no version that is not deprecated", model.name);
}

Version register_version(workspace::Workspace& ws, const std::string& name, const run::RunRecord& r,
                         const std::string& path, const std::string& description,
                         const std::vector<std::string>& aliases) {
    check_model_name(name);
    for (const auto& a : aliases) {
        check_alias_name(a);
        check_gto_names(ws, name, a);
    }
    check_gto_names(ws, name);
    if (r.status != "finished")
        fail(ErrorKind::input, "run {} is {}, not finished: only a finished run's output can be registered",
             r.id.substr(0, 8), r.status);
    if (r.outputs.empty()) fail(ErrorKind::input, "run {} recorded no outputs to register", r.id.substr(0, 8));
    std::string out = path;
    if (out.empty()) {
        if (r.outputs.size() > 1) {
            std::string list;
            for (const auto& [p, id] : r.outputs) list += (list.empty() ? "" : ", ") + p;
            fail(ErrorKind::usage, "run {} has {} outputs ({}): name one as RUN:PATH", r.id.substr(0, 8),
                 r.outputs.size(), list);
        }
        out = r.outputs.begin()->first;
    }
    auto found = r.outputs.find(out);
    if (found == r.outputs.end()) {
        std::vector<std::string> paths;
        for (const auto& [p, id] : r.outputs) paths.push_back(p);
        std::string hint = util::closest(out, paths);
        fail(ErrorKind::input, "run {} has no output '{}'{}", r.id.substr(0, 8), out,
             hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint));
    }
    auto digest = hash::Digest::from_id(found->second);
    if (!digest) fail(ErrorKind::input, "run {}: output {} has no object id", r.id.substr(0, 8), out);

    Version v;
    v.name = name;
    v.run = r.id;
    v.run_name = r.name;
    v.path = out;
    v.object = found->second;
    if (auto tree = ws.cache().tree_if_any(*digest))
        v.size = tree->total_size();
    else if (auto st = fs::lstat_path(ws.cache().object_path(*digest)))
        v.size = static_cast<std::uint64_t>(st->st_size);
    else
        fail(ErrorKind::integrity, "run {}: output {} ({}) is not in the cache", r.id.substr(0, 8), out, v.object);
    v.description = description;
    v.registered_by = ws.repo().signature_text();
    v.registered_ms = now_ms();
    for (const auto& [k, s] : r.metric_summary()) v.metrics[k] = s.last;
    run::LineageIndex lineage(run::list_runs(ws));
    for (const auto& [p, id] : r.inputs) {
        TrainedOn t{p, id, ""};
        if (const run::RunRecord* producer = lineage.producer_for(id, &r)) t.producer = producer->id;
        v.trained_on.push_back(std::move(t));
    }

    git::Repository& repo = ws.repo();
    std::optional<fs::FileLock> lock;
    lock.emplace(registry_lock(ws));
    for (int attempt = 0; attempt < k_create_attempts; ++attempt) {
        int next = 1;
        for (const auto& ref : repo.list_refs(model_prefix(name) + "versions/"))
            if (auto n = version_number(std::string_view(ref.name).substr(model_prefix(name).size() + 9)))
                next = std::max(next, *n + 1);
        v.number = next;
        std::string commit = record_commit(repo, "model.yaml", version_yaml(v), {},
                                           fmt::format("cairn: model {} v{} from run {}", name, next, r.id.substr(0, 8)));
        bool created = false;
        try {
            created = repo.try_create_ref(version_ref(name, next), commit, fmt::format("cairn model register {}", name));
        } catch (const Error& e) {
            if (e.kind() != ErrorKind::busy) throw;
            std::this_thread::sleep_for(std::chrono::milliseconds(5 + attempt));
        }
        if (!created) continue; // someone registered v`next` meanwhile: take the number after it
        lock.reset();
        if (ws.config().registry_gto)
            gto_tag(ws, fmt::format("{}@{}", name, gto_version(next)), gto_commit(repo, v, ws),
                    fmt::format("Registering artifact {} version {}", name, gto_version(next)));
        for (const auto& a : aliases) set_alias(ws, name, a, next);
        v.aliases = aliases;
        std::sort(v.aliases.begin(), v.aliases.end());
        return v;
    }
    fail(ErrorKind::busy, "cannot register a version of '{}': its version refs keep changing", name);
}

AliasEvent set_alias(workspace::Workspace& ws, const std::string& name, const std::string& alias,
                     std::optional<int> number) {
    check_alias_name(alias);
    check_gto_names(ws, name, alias);
    fs::FileLock lock = registry_lock(ws);
    Model m = load_model(ws, name);
    const Version* target = nullptr;
    if (number) {
        target = &select(m, Selector{name, *number, ""});
        if (target->deprecated)
            fail(ErrorKind::input, "{}@v{} is deprecated: it cannot get an alias", name, *number);
    }
    git::Repository& repo = ws.repo();
    std::string ref = alias_ref(name, alias);
    std::string old_commit;
    AliasEvent event;
    event.alias = alias;
    for (const auto& r : repo.list_refs(ref))
        if (r.name == ref) {
            old_commit = r.target;
            event.previous = parse_alias(ref_blob(repo, r, "alias.yaml"), ref + ":alias.yaml").version;
        }
    if (!number && event.previous == 0) fail(ErrorKind::input, "model '{}' has no alias '{}'", name, alias);
    event.version = number.value_or(0);
    event.by = repo.signature_text();
    event.at_ms = now_ms();
    std::string message = number ? fmt::format("cairn: {}@{} -> v{}", name, alias, *number)
                                 : fmt::format("cairn: {}@{} deleted", name, alias);
    std::string commit = record_commit(repo, "alias.yaml", alias_yaml(name, event),
                                       old_commit.empty() ? std::vector<std::string>{} : std::vector<std::string>{old_commit},
                                       message);
    if (old_commit.empty()) {
        if (!repo.try_create_ref(ref, commit, message))
            fail(ErrorKind::busy, "alias {}@{} was set by another process meanwhile; look at it and try again", name,
                 alias);
    } else {
        try {
            repo.update_ref(ref, commit, old_commit, message);
        } catch (const Error& e) {
            if (e.kind() != ErrorKind::busy) throw;
            fail(ErrorKind::busy, "alias {}@{} was moved by another process meanwhile; look at it and try again",
                 name, alias);
        }
    }
    if (ws.config().registry_gto) {
        int n = next_gto_assignment(repo, name, alias);
        const Version& tagged = select(m, Selector{name, number ? *number : event.previous, ""});
        std::string tag = number ? fmt::format("{}#{}#{}", name, alias, n) : fmt::format("{}#{}!#{}", name, alias, n);
        std::string at = gto_commit(repo, tagged, ws);
        ensure_gto_version_tag(ws, tagged, at);
        gto_tag(ws, tag, at,
                number ? fmt::format("Assigning stage {} to artifact {} version {}", alias, name, gto_version(*number))
                       : fmt::format("Unassigning stage {} from artifact {}", alias, name));
    }
    return event;
}

std::vector<AliasEvent> alias_history(workspace::Workspace& ws, const std::string& name) {
    (void)load_model(ws, name); // unknown names fail here
    git::Repository& repo = ws.repo();
    std::vector<AliasEvent> events;
    for (const auto& ref : repo.list_refs(model_prefix(name) + "aliases/")) {
        std::string commit = ref.target;
        for (std::size_t depth = 0; !commit.empty() && depth < 100000; ++depth) {
            auto blob = repo.read_blob(commit, "alias.yaml");
            if (!blob) fail(ErrorKind::input, "{}: commit {} has no alias.yaml", ref.name, commit.substr(0, 12));
            events.push_back(parse_alias(*blob, ref.name + "@" + commit.substr(0, 12) + ":alias.yaml"));
            auto parents = repo.parents(commit);
            commit = parents.empty() ? "" : parents.front();
        }
    }
    std::stable_sort(events.begin(), events.end(), [](const AliasEvent& a, const AliasEvent& b) { return a.at_ms > b.at_ms; });
    return events;
}

void deprecate(workspace::Workspace& ws, const std::string& name, int number, const std::string& reason) {
    Model m = load_model(ws, name);
    const Version& v = select(m, Selector{name, number, ""});
    if (v.deprecated) fail(ErrorKind::input, "{}@v{} is already deprecated", name, number);
    if (!v.aliases.empty())
        fail(ErrorKind::input, "{}@v{} still has alias {}: move or delete it first (cairn model alias)", name, number,
             v.aliases.front());
    git::Repository& repo = ws.repo();
    YAML::Emitter e;
    e << YAML::BeginMap << YAML::Key << "schema" << YAML::Value << std::string(k_deprecation_schema);
    e << YAML::Key << "name" << YAML::Value << name << YAML::Key << "version" << YAML::Value << number;
    e << YAML::Key << "by" << YAML::Value << YAML::DoubleQuoted << repo.signature_text();
    e << YAML::Key << "at_ms" << YAML::Value << now_ms();
    e << YAML::Key << "reason" << YAML::Value << YAML::DoubleQuoted << reason << YAML::EndMap;
    std::string message = fmt::format("cairn: {}@v{} deprecated", name, number);
    std::string commit = record_commit(repo, "deprecation.yaml", std::string(e.c_str()) + "\n", {}, message);
    if (!repo.try_create_ref(deprecation_ref(name, number), commit, message))
        fail(ErrorKind::input, "{}@v{} is already deprecated", name, number);
    if (ws.config().registry_gto) {
        std::string at = gto_commit(repo, v, ws);
        ensure_gto_version_tag(ws, v, at);
        gto_tag(ws, fmt::format("{}@{}!", name, gto_version(number)), at,
                fmt::format("Deregistering artifact {} version {}", name, gto_version(number)));
    }
}

std::optional<std::string> run_of(workspace::Workspace& ws, std::string_view text) {
    constexpr std::string_view prefix = "model:";
    if (!util::starts_with(text, prefix)) return std::nullopt;
    Selector s = parse_selector(text.substr(prefix.size()));
    Model m = load_model(ws, s.name);
    return select(m, s).run;
}

} // namespace cairn::registry
