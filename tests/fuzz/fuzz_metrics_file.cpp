// Metric files a run reads: the `-m FILE` files (read_metric_file: JSON, YAML, CSV, TSV) and the
// live metrics file (parse_metric_line, one line at a time, as the recorder reads it). Property:
// every point accepted is stored in the run's metrics.tsv and reads back unchanged
// (parse_metrics_tsv(to_metrics_tsv(points)) == points).
// Input: one byte choosing the kind ('j' .json, 'y' .yaml, 'c' .csv, 't' .tsv, 'l' live lines;
// any other byte by its value modulo 5), then the file's bytes.

#include "core/run/record.hpp"
#include "core/util/strings.hpp"
#include "tests/fuzz/fuzz.hpp"

using namespace cairn::run;
using namespace cairn::metrics;

namespace {

constexpr std::int64_t k_now = 1764266000000; // unix ms given to points without a time

std::vector<MetricPoint> read_live(const std::string& text) {
    std::vector<MetricPoint> out;
    std::map<std::string, std::int64_t> next;
    for (const auto& line : cairn::util::split(text, '\n')) {
        try {
            if (auto p = parse_metric_line(line, &next, k_now, "metrics line")) out.push_back(*p);
        } catch (const cairn::Error&) {
            // a malformed line is dropped by the recorder too
        }
    }
    return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    static const char* const k_kinds = "jyctl";
    char kind = static_cast<char>(data[0]);
    if (std::string_view(k_kinds).find(kind) == std::string_view::npos) kind = k_kinds[data[0] % 5];
    std::string text = cairn::fuzz::bytes(data + 1, size - 1);
    cairn::fuzz::run_one("metrics_file", [&] {
        std::vector<MetricPoint> points;
        switch (kind) {
        case 'j':
            points = read_metric_file(text, "metrics.json", k_now, {{"loss", 3}});
            break;
        case 'y':
            points = read_metric_file(text, "metrics.yaml", k_now);
            break;
        case 'c':
            points = read_metric_file(text, "metrics.csv", k_now);
            break;
        case 't':
            points = read_metric_file(text, "metrics.tsv", k_now);
            break;
        default:
            points = read_live(text);
            break;
        }
        std::string written = to_metrics_tsv(points);
        RunRecord again;
        try {
            parse_metrics_tsv(written, "metrics.tsv", again);
        } catch (const cairn::Error& e) {
            cairn::fuzz::property_failed(
                "metrics_file",
                std::string("metrics.tsv written from accepted points does not parse: ") + e.what(),
                written);
        }
        if (!cairn::fuzz::same(points, again.metrics))
            cairn::fuzz::property_failed("metrics_file", "points do not survive metrics.tsv",
                                         written, to_metrics_tsv(again.metrics));
    });
    return 0;
}
