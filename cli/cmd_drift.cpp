// cairn profile
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/app.hpp"
#include "cli/output.hpp"
#include "core/drift/profiles.hpp"
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
    std::vector<std::size_t> width(rows.front().size(), 0);
    for (const auto& row : rows)
        for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], display_width(row[i]));
    for (std::size_t r = 0; r < rows.size(); ++r) {
        std::string line;
        for (std::size_t i = 0; i < rows[r].size(); ++i)
            line += rows[r][i] + (i + 1 < rows[r].size() ? std::string(width[i] - display_width(rows[r][i]) + 2, ' ') : "");
        std::cout << (r == 0 ? paint(line, Color::bold) : line) << "\n";
    }
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

} // namespace

void register_drift(CLI::App& app, Context& ctx) { register_profile(app, ctx); }

} // namespace cairn::cli
