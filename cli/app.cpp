#include "cli/app.hpp"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string_view>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/output.hpp"
#include "core/git/git.hpp"
#include "core/util/error.hpp"
#include "core/util/interrupt.hpp"
#include "core/util/strings.hpp"

namespace cairn::cli {
namespace {

// The whole command surface, in the order `cairn help` lists it. `commands` names what each
// group registers: a command line naming one of them builds only that group (building all of
// CLI11's parsers costs 0.2 ms, which `cairn log metric` in a loop pays on every point).
struct CommandGroup {
    const char* name;
    void (*register_group)(CLI::App&, Context&);
    std::string_view commands;
};
constexpr CommandGroup k_command_groups[] = {
    {"init", register_init, "init"},
    {"data", register_data, "add status checkout"},
    {"store", register_store, "fsck gc"},
    {"runs", register_runs, "run log ls show metrics diff tag rm"},
    {"reproduce", register_reproduce, "rerun apply lineage"},
    {"pipeline", register_pipeline, "repro dag"},
    {"model", register_model, "model"},
    {"drift", register_drift, "profile drift"},
    {"share", register_share, "remote push pull"},
    {"report", register_report, "plot report fill-series-cache"},
    {"hooks", register_hooks, "hooks"},
    {"cluster", register_cluster, "cancel executor-task"},
};

// The group whose command `word` is, or null.
const CommandGroup* group_of(std::string_view word) {
    for (const auto& group : k_command_groups) {
        std::string_view list = group.commands;
        while (!list.empty()) {
            std::size_t space = list.find(' ');
            if (list.substr(0, space) == word) return &group;
            list = space == std::string_view::npos ? std::string_view() : list.substr(space + 1);
        }
    }
    return nullptr;
}

void register_help(CLI::App& app) {
    auto* help = app.add_subcommand("help", "Show help for cairn or for one command");
    auto topic = std::make_shared<std::string>();
    help->add_option("command", *topic, "Command to describe");
    help->callback([&app, topic] {
        if (topic->empty()) {
            // app.help() would describe the parsed subcommand ("help") instead of cairn.
            std::cout << app.get_formatter()->make_help(&app, "cairn", CLI::AppFormatMode::Normal);
            return;
        }
        for (CLI::App* sub : app.get_subcommands({}))
            if (sub->get_name() == *topic) {
                std::cout << sub->help("cairn");
                return;
            }
        throw Error(ErrorKind::usage, "unknown command '" + *topic + "'; see 'cairn help'");
    });
}

// Every command name, for "did you mean".
std::vector<std::string> command_names() {
    std::vector<std::string> out = {"help"};
    for (const auto& group : k_command_groups)
        for (const auto& name : util::split(group.commands, ' ')) out.push_back(name);
    return out;
}

// A usage error for arguments CLI11 did not expect: an unknown option with its nearest
// spelling, or a stray word.
Error unexpected_arguments(CLI::App& app, const std::vector<std::string>& args, const std::vector<std::string>& extras) {
    const CLI::App* command = &app;
    std::string name = "cairn";
    for (CLI::App* sub : app.get_subcommands({}))
        if (!args.empty() && sub->get_name() == args.front()) {
            command = sub;
            name += " " + args.front();
        }
    if (extras.empty()) return Error(ErrorKind::usage, name + ": unexpected arguments");
    const std::string& first = extras.front();
    if (util::starts_with(first, "-")) return Error(ErrorKind::usage, name + ": " + unknown_option_message(*command, first));
    return Error(ErrorKind::usage, fmt::format("{}: unexpected argument '{}'", name, first));
}

// "cairn diff: missing <run_b> (usage: cairn diff <run_a> <run_b> [options])" for a missing
// positional argument, instead of CLI11's "run_b is required".
Error missing_argument(CLI::App& app, const std::vector<std::string>& args, const CLI::RequiredError& e) {
    std::string message = e.what();
    const std::string suffix = " is required";
    for (CLI::App* sub : app.get_subcommands({})) {
        if (args.empty() || sub->get_name() != args.front()) continue;
        std::string usage = "cairn " + sub->get_name();
        std::string missing;
        for (const CLI::Option* o : sub->get_options()) {
            if (!o->get_positional()) continue;
            std::string name = "<" + o->get_name() + ">";
            usage += " " + (o->get_required() ? name : "[" + name + "]") + (o->get_items_expected_max() > 1 ? "..." : "");
            if (message == o->get_name() + suffix) missing = name;
        }
        if (!missing.empty())
            return Error(ErrorKind::usage, fmt::format("cairn {}: missing {} (usage: {} [options])", sub->get_name(), missing, usage));
    }
    return Error(ErrorKind::usage, message);
}

} // namespace

std::string unknown_option_message(const CLI::App& command, const std::string& word) {
    std::string option = word.substr(0, word.find('='));
    std::vector<std::string> names;
    for (const CLI::Option* o : command.get_options()) {
        for (const auto& l : o->get_lnames()) names.push_back("--" + l);
        for (const auto& s : o->get_snames()) names.push_back("-" + s);
    }
    std::string near = util::closest(option, names);
    return fmt::format("unknown option '{}'{}", option, near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near));
}

std::pair<std::string, std::string> split_assignment(const std::string& text, const char* what) {
    auto eq = text.find('=');
    if (eq == std::string::npos || eq == 0)
        throw Error(ErrorKind::usage, fmt::format("{} '{}' must be KEY=VALUE", what, text));
    return {text.substr(0, eq), text.substr(eq + 1)};
}

namespace {

CLI::Validator number_check(bool allow_zero) {
    return CLI::Validator(
        [allow_zero](std::string& text) -> std::string {
            double v = 0;
            if (!CLI::detail::lexical_cast(text, v)) return "'" + text + "' is not a number";
            if (v < 0 || (v == 0 && !allow_zero) || v != v) return allow_zero ? "must be >= 0" : "must be > 0";
            return {};
        },
        allow_zero ? "NUMBER>=0" : "NUMBER>0");
}

} // namespace

CLI::Validator whole_number(std::int64_t min, std::int64_t max) {
    return CLI::Validator(
        [min, max](std::string& text) -> std::string {
            const std::string range = fmt::format("must be a whole number from {} to {}", min, max);
            auto v = util::parse_integer<std::int64_t>(util::trim(text));
            if (!v) {
                double d = 0;
                if (!CLI::detail::lexical_cast(text, d)) return "'" + text + "' is not a number";
                return fmt::format("'{}': {}", text, range);
            }
            if (*v < min || *v > max) return fmt::format("'{}': {}", text, range);
            return {};
        },
        fmt::format("INT {}..{}", min, max));
}

CLI::Validator non_negative_number() { return number_check(true); }
CLI::Validator positive_number() { return number_check(false); }

int main(int argc, char** argv) {
    git::Library libgit2;
    util::install_interrupt_handlers();

    Context ctx;
    std::error_code ec;
    ctx.cwd = std::filesystem::current_path(ec);

    CLI::App app("cairn — experiment tracking and data versioning in your git repository.", "cairn");
    app.set_version_flag("--version", std::string("cairn ") + CAIRN_VERSION);
    app.require_subcommand(0, 1);
    app.fallthrough(false);
    app.footer("Run 'cairn help <command>' or 'cairn <command> --help' for a command's options.\n"
               "Documentation: docs/ in the cairn source tree.");
    const CommandGroup* only = argc > 1 ? group_of(argv[1]) : nullptr;
    for (const auto& group : k_command_groups)
        if (!only || &group == only) group.register_group(app, ctx);
    register_help(app);

    try {
        if (ec) throw Error(ErrorKind::environment, "cannot determine the current directory: " + ec.message());
        // `cairn run [options] -- COMMAND...`: everything after the first `--` is the command.
        std::vector<std::string> args(argv + 1, argv + argc);
        if (!args.empty() && args.front() == "run") {
            auto dashes = std::find(args.begin(), args.end(), "--");
            if (dashes != args.end()) {
                ctx.passthrough = std::vector<std::string>(dashes + 1, args.end());
                args.erase(dashes, args.end());
            }
        }
        if (!args.empty() && !util::starts_with(args.front(), "-") && !group_of(args.front()) && args.front() != "help") {
            std::string near = util::closest(args.front(), command_names());
            throw Error(ErrorKind::usage, fmt::format("unknown command '{}'{}; see 'cairn help'", args.front(),
                                                      near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near)));
        }
        std::vector<std::string> given = args;
        std::reverse(args.begin(), args.end()); // CLI11 takes the arguments in reverse order
        try {
            app.parse(args);
        } catch (const CLI::ExtrasError&) {
            throw unexpected_arguments(app, given, app.remaining(true));
        } catch (const CLI::RequiredError& e) {
            throw missing_argument(app, given, e);
        }
        if (app.get_subcommands().empty()) {
            std::cerr << app.help();
            return static_cast<int>(ErrorKind::usage);
        }
        return ctx.exit_code;
    } catch (const CLI::Success& e) {
        return app.exit(e); // --help, --version
    } catch (const CLI::ParseError& e) {
        // CLI11's "--sort: 1 required TEXT missing" for an option given without its value.
        std::string message = e.what();
        if (auto colon = message.find(": "); colon != std::string::npos && util::ends_with(message, " missing") &&
                                             message.find(" required ", colon) != std::string::npos)
            message = message.substr(0, colon) + ": needs a value";
        print_error(message);
        std::cerr << "Run 'cairn --help' for usage.\n";
        return static_cast<int>(ErrorKind::usage);
    } catch (const Error& e) {
        print_error(e.what());
        // 128 + the signal, as a shell reports a process the signal ended: 130 for SIGINT, 143
        // for SIGTERM, the same as `cairn run` passes on from a command the signal stopped.
        if (e.kind() == ErrorKind::interrupted && util::received_signal() > 0) return 128 + util::received_signal();
        return e.exit_code();
    } catch (const std::bad_alloc&) {
        print_error("out of memory");
        return static_cast<int>(ErrorKind::io);
    } catch (const std::exception& e) {
        print_error(std::string("internal error (a bug in cairn, please report it): ") + e.what());
        return static_cast<int>(ErrorKind::internal);
    } catch (...) {
        print_error("internal error (a bug in cairn, please report it)");
        return static_cast<int>(ErrorKind::internal);
    }
}

} // namespace cairn::cli
