// The files of a run's commit, read back by every command that lists or shows runs: run.yaml,
// params.yaml, inputs.yaml/outputs.yaml (paths) and metrics.tsv. Each input goes through all four
// parsers; whatever a parser accepts must survive the round trip through its writer
// (parse(write(parse(x))) == parse(x)). Input: a file's bytes.

#include <tuple>

#include "core/run/record.hpp"
#include "tests/fuzz/fuzz.hpp"

using namespace cairn::run;
using cairn::fuzz::same;

namespace {

auto fields(const RunRecord& r) {
    return std::tie(r.id, r.name, r.experiment, r.stage, r.pipeline, r.sweep, r.command, r.cwd, r.start_ms, r.end_ms, r.status,
                    r.exit_code, r.host, r.user, r.os, r.cpu, r.cairn_version, r.executable,
                    r.executable_hash, r.git_base, r.git_branch, r.git_snapshot, r.git_dirty, r.env,
                    r.env_names, r.tags, r.log_object, r.param_files, r.metric_files, r.capture,
                    r.reproduces);
}

// Reads `written` back with `parse`; a refusal is a finding (the writer produced what its own
// reader rejects).
template <typename Parse> void reread(const char* what, const std::string& written, Parse&& parse) {
    try {
        parse();
    } catch (const cairn::Error& e) {
        cairn::fuzz::property_failed(
            "run_record", std::string(what) + " written by cairn does not parse: " + e.what(),
            written);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string input = cairn::fuzz::bytes(data, size);
    cairn::fuzz::run_one("run_record", [&] {
        RunRecord r;
        parse_run_yaml(input, "run.yaml", r);
        std::string written = to_run_yaml(r);
        RunRecord again;
        reread("run.yaml", written, [&] { parse_run_yaml(written, "run.yaml", again); });
        if (fields(r) != fields(again))
            cairn::fuzz::property_failed("run_record", "run.yaml: parse(write(r)) != r", written,
                                         to_run_yaml(again));
    });
    cairn::fuzz::run_one("run_record", [&] {
        RunRecord r;
        parse_params_yaml(input, "params.yaml", r);
        std::string written = to_params_yaml(r.params);
        RunRecord again;
        reread("params.yaml", written, [&] { parse_params_yaml(written, "params.yaml", again); });
        if (!same(r.params, again.params))
            cairn::fuzz::property_failed("run_record", "params.yaml: parse(write(p)) != p",
                                         cairn::fuzz::show(r.params),
                                         cairn::fuzz::show(again.params));
    });
    cairn::fuzz::run_one("run_record", [&] {
        std::map<std::string, std::string> paths;
        parse_paths_yaml(input, "outputs.yaml", paths);
        std::string written = to_paths_yaml(paths);
        std::map<std::string, std::string> again;
        reread("outputs.yaml", written, [&] { parse_paths_yaml(written, "outputs.yaml", again); });
        if (paths != again)
            cairn::fuzz::property_failed("run_record", "outputs.yaml: parse(write(p)) != p",
                                         written, to_paths_yaml(again));
    });
    cairn::fuzz::run_one("run_record", [&] {
        RunRecord r;
        parse_metrics_tsv(input, "metrics.tsv", r);
        std::string written = to_metrics_tsv(r.metrics);
        RunRecord again;
        reread("metrics.tsv", written, [&] { parse_metrics_tsv(written, "metrics.tsv", again); });
        if (!same(r.metrics, again.metrics))
            cairn::fuzz::property_failed("run_record", "metrics.tsv: parse(write(m)) != m", written,
                                         to_metrics_tsv(again.metrics));
    });
    return 0;
}
