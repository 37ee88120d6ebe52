// cairn profile, cairn drift
#include <iostream>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/app.hpp"
#include "cli/output.hpp"
#include "core/cache/tree.hpp"
#include "core/drift/drift.hpp"
#include "core/drift/profiles.hpp"
#include "core/fs/file.hpp"
#include "cli/drift_reference.hpp"
#include "core/registry/registry.hpp"
#include "core/run/store.hpp"
#include "core/util/error.hpp"
#include "core/util/strings.hpp"
#include "core/workspace/workspace.hpp"

namespace cairn::cli {
namespace {

// Text columns that could hold anything (a category, a column name) are cut to this width.
constexpr std::size_t k_text_width = 24;

std::vector<std::string> profile_row(const table::ColumnProfile& c) {
    std::string low = "-", mean = "-", high = "-";
    if (c.summary) {
        low = number_text(c.summary->min);
        mean = number_text(c.summary->mean);
        high = number_text(c.summary->max);
    } else if (c.categories && !c.categories->top.empty()) {
        const auto& [value, count] = c.categories->top.front();
        low = fmt::format("{} ({})", fit(printable(value), k_text_width), count);
    }
    return {fit(printable(c.name), k_text_width), std::string(table::to_string(c.kind)), std::to_string(c.rows),
            std::to_string(c.missing), low, mean, high, std::to_string(c.distinct)};
}

void print_profile(const drift::ProfiledTable& t) {
    const table::Profile& p = t.profile;
    std::string what = t.path.empty() ? p.object : printable(t.path);
    std::cout << fmt::format("{}: {} row{}, {} column{} ({}{}{})\n", what, p.rows, p.rows == 1 ? "" : "s", p.columns.size(),
                             p.columns.size() == 1 ? "" : "s", table::to_string(p.format),
                             t.path.empty() || p.object.empty() ? "" : ", " + p.object.substr(0, 19), t.stored ? ", stored profile" : "");
    std::vector<std::vector<std::string>> rows = {{"column", "kind", "rows", "missing", "min / top", "mean", "max", "distinct"}};
    for (const auto& c : p.columns) rows.push_back(profile_row(c));
    std::vector<std::string> lines = aligned_lines(rows);
    for (std::size_t r = 0; r < lines.size(); ++r) std::cout << (r == 0 ? paint(lines[r], Color::bold) : lines[r]) << "\n";
}

void register_profile(CLI::App& app, Context& ctx) {
    struct Options {
        std::string path;
        bool json = false;
    };
    auto opts = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("profile", "Profile a table (CSV, TSV, JSON Lines, .npy): column types, counts, statistics");
    cmd->add_option("path", opts->path, "A file, a tracked path whose bytes are in the cache, or an object id sha256:<hex>")->required();
    cmd->add_flag("--json", opts->json, "Print the whole profile as JSON (quantiles, bins, top values)");
    cmd->footer("Examples:\n"
                "  cairn profile data/train.csv\n"
                "  cairn profile data/features.npy --json\n"
                "  cairn profile sha256:1a2b3c4d           # a version of the data by its id\n"
                "The profile of bytes in the cache is kept (.cairn/state/profiles) and read back next time.");
    cmd->callback([opts, &ctx] {
        auto ws = workspace::Workspace::discover(ctx.cwd);
        drift::ProfiledTable t = drift::profile_path(ws, ctx.cwd, opts->path);
        if (!opts->json) return print_profile(t);
        nlohmann::ordered_json j = nlohmann::ordered_json::parse(table::to_json(t.profile));
        j["path"] = t.path.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(t.path);
        j["stored"] = t.stored;
        std::cout << j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
    });
}

// The profile of the object a recorded path names, the format from the path's name.
drift::ProfiledTable profile_recorded(workspace::Workspace& ws, const std::string& object, const std::string& path,
                                      const std::string& display) {
    auto digest = hash::Digest::from_id(object);
    if (!digest) fail(ErrorKind::integrity, "{}: recorded object id '{}' is malformed", display, object);
    if (!ws.cache().has(*digest))
        fail(ErrorKind::integrity, "the bytes of {} ({}) are not in the cache ('cairn pull' fetches missing ones)", display, object);
    auto format = table::format_from_name(path);
    if (!format) {
        fs::Fd fd = fs::open_read(ws.cache().object_path(*digest));
        char head[4096];
        ssize_t n = ::pread(fd.get(), head, sizeof head, 0);
        format = table::sniff_format(std::string_view(head, n > 0 ? static_cast<std::size_t>(n) : 0));
    }
    drift::ProfiledTable t = drift::profile_object(ws, *digest, *format, display);
    t.path = path;
    return t;
}

// The id of file `below` (slash-separated) inside the recorded directory `tree_id`.
std::string object_in_tree(workspace::Workspace& ws, const std::string& tree_id, const std::string& below, const std::string& display) {
    auto digest = hash::Digest::from_id(tree_id);
    if (!digest) fail(ErrorKind::integrity, "{}: recorded object id '{}' is malformed", display, tree_id);
    const std::vector<std::string> parts = util::split(below, '/');
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (!ws.cache().has(*digest))
            fail(ErrorKind::integrity, "the bytes of {} ({}) are not in the cache ('cairn pull' fetches missing ones)", display, digest->id());
        if (!ws.cache().starts_like_tree(*digest)) fail(ErrorKind::input, "{}: not a file inside a recorded directory", display);
        cache::Tree tree = ws.cache().read_tree(*digest);
        const cache::TreeEntry* entry = nullptr;
        for (const auto& e : tree.entries)
            if (e.name == parts[i]) entry = &e;
        if (!entry || (entry->kind == cache::EntryKind::directory) != (i + 1 < parts.size()))
            fail(ErrorKind::input, "{}: no such file in the recorded directory", display);
        digest = entry->digest;
    }
    return digest->id();
}

// `model:NAME[@vN|@ALIAS][:PATH]`: the data that version was trained on.
drift::ProfiledTable model_reference(workspace::Workspace& ws, const std::string& text, std::string& what) {
    std::string spec = text.substr(6);
    std::string path;
    if (auto colon = spec.find(':'); colon != std::string::npos) {
        path = spec.substr(colon + 1);
        spec = spec.substr(0, colon);
    }
    registry::Selector sel = registry::parse_selector(spec);
    registry::Model model = registry::load_model(ws, sel.name);
    const registry::Version& v = registry::select(model, sel);
    std::string list;
    for (const auto& t : v.trained_on) list += (list.empty() ? "" : ", ") + t.path;
    const std::string version = fmt::format("{} v{}", v.name, v.number);
    if (v.trained_on.empty()) fail(ErrorKind::input, "{}: {} records no training data (its run {} had no inputs)", text, version, v.run);
    const registry::TrainedOn* pick = nullptr;
    if (path.empty()) {
        if (v.trained_on.size() > 1)
            fail(ErrorKind::input, "{}: {} was trained on several inputs ({}); pick one with {}:PATH", text, version, list, text);
        pick = &v.trained_on.front();
    } else {
        for (const auto& t : v.trained_on)
            if (t.path == path) pick = &t;
        if (!pick)
            for (const auto& t : v.trained_on)
                if (util::starts_with(path, t.path + "/")) {
                    what = fmt::format("{} ({}, trained on {} in {})", text, version, path, t.path);
                    return profile_recorded(ws, object_in_tree(ws, t.object, path.substr(t.path.size() + 1), path), path,
                                            path + " (" + version + ")");
                }
        if (!pick) fail(ErrorKind::input, "{}: {} was not trained on '{}' (its training data: {})", text, version, path, list);
    }
    what = fmt::format("{} ({}, trained on {})", text, version, pick->path);
    return profile_recorded(ws, pick->object, pick->path, pick->path + " (" + version + ")");
}

} // namespace

// REF of `cairn drift --against`: a model's training data, a file or an object, or RUN:PATH.
drift::ProfiledTable reference_table(workspace::Workspace& ws, const std::filesystem::path& cwd, const std::string& text, std::string& what) {
    if (util::starts_with(text, "model:")) return model_reference(ws, text, what);
    what = text;
    const auto colon = text.rfind(':');
    if (util::starts_with(text, hash::k_id_prefix) || colon == std::string::npos || fs::lstat_path(cwd / text))
        return drift::profile_path(ws, cwd, text);
    const std::string run_name = text.substr(0, colon), path = text.substr(colon + 1);
    std::string note;
    run::RunRecord r = run::resolve(ws, run_name, &note);
    if (!note.empty()) print_warning(note);
    std::vector<std::string> tried = {path};
    try {
        tried.push_back(ws.relative_path(cwd, path));
    } catch (const Error&) {
    }
    for (const auto* files : {&r.outputs, &r.inputs})
        for (const auto& p : tried)
            if (auto it = files->find(p); it != files->end()) {
                what = fmt::format("{} (run {})", text, r.name.empty() ? r.id.substr(0, 8) : r.name);
                return profile_recorded(ws, it->second, it->first, it->first + " (run " + r.id.substr(0, 8) + ")");
            }
    std::string list;
    for (const auto* files : {&r.inputs, &r.outputs})
        for (const auto& [p, id] : *files) list += (list.empty() ? "" : ", ") + p;
    fail(ErrorKind::input, "{}: run {} has no input or output '{}' ({})", text, r.id.substr(0, 8), path,
         list.empty() ? "it recorded none" : "it has " + list);
}

namespace {

std::string side_text(const drift::SideSummary& s) {
    if (!s.present) return "-";
    if (s.mean) return fmt::format("mean {}{}", number_text(*s.mean), s.std ? " sd " + number_text(*s.std) : "");
    if (s.top) return fmt::format("{} {:.0f}% ({} distinct)", fit(printable(*s.top), 12), s.top_share * 100, s.distinct);
    return s.missing == s.rows ? "all missing" : "-";
}

nlohmann::ordered_json side_json(const drift::SideSummary& s) {
    if (!s.present) return nullptr;
    nlohmann::ordered_json j{{"rows", s.rows}, {"missing", s.missing}, {"distinct", s.distinct}};
    auto num = [](const std::optional<double>& v) { return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr); };
    j["mean"] = num(s.mean);
    j["std"] = num(s.std);
    j["min"] = num(s.min);
    j["max"] = num(s.max);
    j["top"] = s.top ? nlohmann::ordered_json(*s.top) : nlohmann::ordered_json(nullptr);
    j["top_share"] = s.top ? nlohmann::ordered_json(s.top_share) : nlohmann::ordered_json(nullptr);
    return j;
}

std::string score_text(const std::optional<double>& v) {
    if (!v) return "-";
    if (*v != 0 && std::fabs(*v) < 1e-4) return fmt::format("{:.2e}", *v);
    return fmt::format("{:.4f}", *v);
}

} // namespace

std::string drift_verdict(const drift::Report& r) {
    std::string keys;
    for (const auto& k : r.key_drifted) keys += (keys.empty() ? "" : ", ") + printable(k);
    return fmt::format("{}: {} of {} column{} drifted ({:.0f}%, threshold {:.0f}%){}{}", r.dataset_drift ? "dataset drift" : "no dataset drift",
                       r.drifted, r.columns.size(), r.columns.size() == 1 ? "" : "s", r.share * 100, r.drift_share * 100,
                       keys.empty() ? "" : "; key column drifted: " + keys,
                       r.warnings ? fmt::format("; {} warning{}", r.warnings, r.warnings == 1 ? "" : "s") : "");
}

void print_drift_table(const drift::Report& report) {
    std::vector<std::vector<std::string>> rows = {{"column", "kind", "test", "score", "threshold", "psi", "reference -> current", "status"}};
    for (const auto& c : report.columns) {
        std::string threshold = "-";
        if (c.threshold) threshold = (c.higher_is_drift ? ">= " : "< ") + score_text(c.threshold);
        std::string status(drift::to_string(c.status));
        if (!c.note.empty()) status += " (" + printable(c.note) + ")";
        if (c.approximate) status += " ~";
        rows.push_back({fit(printable(c.name), k_text_width) + (c.key ? " *" : ""), c.kind, c.test.empty() ? "-" : c.test, score_text(c.score),
                        threshold, score_text(c.psi), side_text(c.reference) + " -> " + side_text(c.current), status});
    }
    std::vector<std::string> lines = aligned_lines(rows);
    for (std::size_t r = 0; r < lines.size(); ++r) {
        const std::string& line = lines[r];
        Color color = Color::none;
        if (r == 0) color = Color::bold;
        else if (report.columns[r - 1].drifted) color = Color::red;
        else if (report.columns[r - 1].warning) color = Color::yellow;
        std::cout << (color == Color::none ? line : paint(line, color)) << "\n";
    }
}

namespace {

nlohmann::ordered_json drift_json(const drift::Report& report) {
    nlohmann::ordered_json cols = nlohmann::ordered_json::array();
    auto opt = [](const std::optional<double>& v) { return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr); };
    for (const auto& c : report.columns) {
        nlohmann::ordered_json j{{"name", c.name}, {"kind", c.kind}};
        j["test"] = c.test.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(c.test);
        j["score"] = opt(c.score);
        j["threshold"] = opt(c.threshold);
        j["drift_when"] = c.test.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(c.higher_is_drift ? "score >= threshold" : "score < threshold");
        j["psi"] = opt(c.psi);
        j["approximate"] = c.approximate;
        j["key"] = c.key;
        j["drifted"] = c.drifted;
        j["warning"] = c.warning;
        j["status"] = std::string(drift::to_string(c.status));
        j["note"] = c.note.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(c.note);
        j["reference"] = side_json(c.reference);
        j["current"] = side_json(c.current);
        cols.push_back(std::move(j));
    }
    nlohmann::ordered_json j;
    j["columns"] = std::move(cols);
    j["drifted"] = report.drifted;
    j["warnings"] = report.warnings;
    j["share"] = report.share;
    j["drift_share"] = report.drift_share;
    j["key_drifted"] = report.key_drifted;
    j["dataset_drift"] = report.dataset_drift;
    return j;
}

std::vector<std::string> column_list(const std::vector<std::string>& values) {
    std::vector<std::string> out;
    for (const auto& v : values)
        for (auto& part : util::split(v, ','))
            if (!part.empty()) out.push_back(part);
    return out;
}

void register_drift_check(CLI::App& app, Context& ctx) {
    struct Options {
        std::string current, against;
        std::vector<std::string> columns, exclude, keys;
        std::string num_test = "auto", cat_test = "auto", fail_on = "drift";
        std::optional<double> threshold;
        double drift_share = 0.5;
        bool json = false;
    };
    auto opts = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("drift", "Compare a table with reference data (a file, an object, RUN:PATH, a model's training data)");
    cmd->add_option("current", opts->current, "The table to check: a file, a tracked path, or an object id sha256:<hex>")->required();
    cmd->add_option("--against", opts->against,
                    "The reference: a file, sha256:<hex>, RUN:PATH (a run's input or output), or model:NAME@ALIAS[:PATH] "
                    "(the data that version was trained on)")
        ->required();
    cmd->add_option("--columns", opts->columns, "Compare only these columns (comma-separated)");
    cmd->add_option("--exclude", opts->exclude, "Leave these columns out (comma-separated)");
    cmd->add_option("--key-columns", opts->keys, "Columns whose drift alone is dataset drift (comma-separated)");
    cmd->add_option("--num-test", opts->num_test, "Test for numeric columns (default auto: ks for references of <= 1000 rows, else wasserstein)")
        ->check(CLI::IsMember({"auto", "ks", "wasserstein", "psi"}));
    cmd->add_option("--cat-test", opts->cat_test,
                    "Test for categorical columns (default auto: chi2, z for two categories, for references of <= 1000 rows, else jensenshannon)")
        ->check(CLI::IsMember({"auto", "chi2", "jensenshannon", "psi"}));
    cmd->add_option("--threshold", opts->threshold, "Replaces the tests' thresholds (default: p < 0.05 for tests, >= 0.1 for distances and PSI)");
    cmd->add_option("--drift-share", opts->drift_share, "Dataset drift when at least this share of columns drifted (default 0.5)");
    cmd->add_option("--fail-on", opts->fail_on, "Exit 1 on: drift (dataset drift, the default), warn (any drifted column or warning), never")
        ->check(CLI::IsMember({"drift", "warn", "never"}));
    cmd->add_flag("--json", opts->json, "Print the report as JSON (schema in docs/reference.md)");
    cmd->footer("Examples:\n"
                "  cairn drift data/new.csv --against data/train.csv\n"
                "  cairn drift new.csv --against model:churn@prod          # the data prod was trained on\n"
                "  cairn drift new.csv --against model:churn@prod:data/train.csv --key-columns plan\n"
                "  cairn drift new.csv --against last:data/train.csv --num-test psi\n"
                "Exit codes: 0 no drift (warnings allowed), 1 drift (per --fail-on), 2 usage, 3+ errors.");
    cmd->callback([opts, &ctx] {
        auto ws = workspace::Workspace::discover(ctx.cwd);
        drift::Options o;
        o.columns = column_list(opts->columns);
        o.exclude = column_list(opts->exclude);
        o.key_columns = column_list(opts->keys);
        o.num_test = opts->num_test == "ks" ? drift::NumTest::ks
                     : opts->num_test == "wasserstein" ? drift::NumTest::wasserstein
                     : opts->num_test == "psi" ? drift::NumTest::psi
                                                : drift::NumTest::automatic;
        o.cat_test = opts->cat_test == "chi2" ? drift::CatTest::chi2
                     : opts->cat_test == "jensenshannon" ? drift::CatTest::jensenshannon
                     : opts->cat_test == "psi" ? drift::CatTest::psi
                                                : drift::CatTest::automatic;
        o.threshold = opts->threshold;
        o.drift_share = opts->drift_share;
        std::string what;
        drift::ProfiledTable ref = reference_table(ws, ctx.cwd, opts->against, what);
        drift::ProfiledTable cur = drift::profile_path(ws, ctx.cwd, opts->current);
        drift::Report report = drift::compare(ref.profile, cur.profile, o);
        bool any = report.drifted > 0 || report.warnings > 0;
        if (opts->fail_on == "drift") ctx.exit_code = report.dataset_drift ? 1 : 0;
        else if (opts->fail_on == "warn") ctx.exit_code = report.dataset_drift || any ? 1 : 0;
        else ctx.exit_code = 0;
        if (opts->json) {
            auto table_json = [](const drift::ProfiledTable& t) {
                nlohmann::ordered_json j;
                j["path"] = t.path.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(t.path);
                j["object"] = t.profile.object.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(t.profile.object);
                j["format"] = std::string(table::to_string(t.profile.format));
                j["rows"] = t.profile.rows;
                return j;
            };
            nlohmann::ordered_json j;
            j["schema"] = "cairn-drift/1";
            j["current"] = table_json(cur);
            j["reference"] = table_json(ref);
            j["reference"]["spec"] = opts->against;
            nlohmann::ordered_json body = drift_json(report);
            for (auto& [k, v] : body.items()) j[k] = v;
            j["verdict"] = drift_verdict(report);
            j["exit_code"] = ctx.exit_code;
            std::cout << j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
            return;
        }
        std::cout << fmt::format("{} ({} rows) against {} ({} rows)\n", printable(cur.path.empty() ? cur.profile.object : cur.path), cur.profile.rows,
                                 printable(what), ref.profile.rows);
        print_drift_table(report);
        bool approx = false;
        for (const auto& c : report.columns) approx = approx || c.approximate;
        if (approx) std::cout << paint("~ computed from the stored quantiles (or top categories), not every value", Color::dim) << "\n";
        std::cout << paint(drift_verdict(report), report.dataset_drift ? Color::red : Color::green) << "\n";
    });
}

} // namespace

void print_input_drift(workspace::Workspace& ws, const std::string& path, const std::string& old_id, const std::string& new_id) {
    std::cout << paint(fmt::format("  data drift of {} (the likely cause): {} -> {}", printable(path), old_id.substr(0, 19), new_id.substr(0, 19)),
                       Color::bold)
              << "\n";
    try {
        drift::ProfiledTable ref = profile_recorded(ws, old_id, path, path + " (recorded)");
        drift::ProfiledTable cur = profile_recorded(ws, new_id, path, path + " (substituted)");
        drift::Report report = drift::compare(ref.profile, cur.profile, {});
        print_drift_table(report);
        std::cout << paint(drift_verdict(report), report.dataset_drift ? Color::red : Color::green) << "\n";
    } catch (const Error& e) {
        // A substituted input need not be a table: the verdict stands without the table.
        std::cout << "  no drift table: " << printable(e.what()) << "\n";
    }
}

std::string input_drift_json(workspace::Workspace& ws, const std::string& path, const std::string& old_id, const std::string& new_id) {
    nlohmann::ordered_json j{{"path", path}, {"recorded", old_id}, {"substituted", new_id}};
    try {
        drift::ProfiledTable ref = profile_recorded(ws, old_id, path, path + " (recorded)");
        drift::ProfiledTable cur = profile_recorded(ws, new_id, path, path + " (substituted)");
        j["drift"] = drift_json(drift::compare(ref.profile, cur.profile, {}));
        j["error"] = nullptr;
    } catch (const Error& e) {
        j["drift"] = nullptr;
        j["error"] = e.what();
    }
    return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

void register_drift(CLI::App& app, Context& ctx) {
    register_profile(app, ctx);
    register_drift_check(app, ctx);
}

} // namespace cairn::cli
