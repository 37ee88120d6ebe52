#include "core/run/index.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "core/util/strings.hpp"

namespace cairn::run {
namespace {

constexpr std::string_view k_header = "cairn-run-index 3\n";

std::string escape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        if (c == '\\') out += "\\\\";
        else if (c == '\t') out += "\\t";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

std::string unescape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 1 < s.size()) {
            char n = s[++i];
            out += n == 't' ? '\t' : n == 'n' ? '\n' : n;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::int64_t to_i64(std::string_view s) {
    std::int64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
}

double to_double(const std::string& s) {
    if (s == "nan") return std::nan("");
    if (s == "inf") return HUGE_VAL;
    if (s == "-inf") return -HUGE_VAL;
    return std::strtod(s.c_str(), nullptr);
}

} // namespace

std::string_view index_header() { return k_header; }

std::string serialize_index(const std::map<std::string, IndexEntry>& entries) {
    std::string out(k_header);
    auto it = std::back_inserter(out);
    for (const auto& [id, e] : entries) {
        const RunRecord& r = e.record;
        fmt::format_to(it, "R\t{}\t{}\n", id, e.commit);
        auto attr = [&](const char* key, std::string_view value) { fmt::format_to(it, "a\t{}\t{}\n", key, escape(value)); };
        attr("name", r.name);
        attr("experiment", r.experiment);
        if (!r.stage.empty()) attr("stage", r.stage);
        if (!r.pipeline.empty()) attr("pipeline", r.pipeline);
        if (!r.sweep.empty()) attr("sweep", r.sweep);
        attr("cwd", r.cwd);
        attr("status", r.status);
        if (!r.reason.empty()) attr("reason", r.reason);
        attr("exit_code", std::to_string(r.exit_code));
        attr("start_ms", std::to_string(r.start_ms));
        attr("end_ms", std::to_string(r.end_ms));
        attr("host", r.host);
        attr("user", r.user);
        attr("os", r.os);
        attr("cpu", r.cpu);
        attr("reproduces", r.reproduces);
        attr("cairn_version", r.cairn_version);
        attr("executable", r.executable);
        attr("executable_hash", r.executable_hash);
        attr("git_base", r.git_base);
        attr("git_branch", r.git_branch);
        attr("git_dirty", r.git_dirty ? "1" : "0");
        attr("git_snapshot", r.git_snapshot);
        // As attributes, which a reader that does not know them skips.
        for (const auto& [k, v] : r.executor) fmt::format_to(it, "a\texecutor.{}\t{}\n", escape(k), escape(v));
        for (const auto& c : r.command) fmt::format_to(it, "c\t{}\n", escape(c));
        for (const auto& p : r.params) fmt::format_to(it, "p\t{}\t{}\t{}\n", p.type, escape(p.key), escape(p.text));
        for (const auto& [k, v] : r.tags) fmt::format_to(it, "t\t{}\t{}\n", escape(k), escape(v));
        for (const auto& [k, v] : r.inputs) fmt::format_to(it, "i\t{}\t{}\n", escape(k), v);
        for (const auto& [k, v] : r.outputs) fmt::format_to(it, "o\t{}\t{}\n", escape(k), v);
        for (const auto& [k, s] : r.metric_summary())
            fmt::format_to(it, "m\t{}\t{}\t{}\t{}\t{}\t{}\n", escape(k), metrics::format_value(s.last),
                           metrics::format_value(s.min), metrics::format_value(s.max), s.count, s.step);
    }
    return out;
}

std::optional<std::map<std::string, IndexEntry>> parse_index(const std::string& text) {
    if (text.compare(0, k_header.size(), k_header) != 0) return std::nullopt;
    std::map<std::string, IndexEntry> out;
    IndexEntry* current = nullptr;
    std::size_t pos = k_header.size();
    while (pos < text.size()) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string::npos) return std::nullopt;
        std::string_view line(text.data() + pos, end - pos);
        pos = end + 1;
        auto f = util::split(line, '\t');
        if (f.empty()) return std::nullopt;
        const std::string& kind = f[0];
        if (kind == "R") {
            if (f.size() != 3) return std::nullopt;
            current = &out[f[1]];
            current->commit = f[2];
            current->record.id = f[1];
            current->record.commit = f[2];
            current->record.summary.emplace();
            continue;
        }
        if (!current) return std::nullopt;
        RunRecord& r = current->record;
        if (kind == "a" && f.size() == 3) {
            std::string v = unescape(f[2]);
            const std::string& k = f[1];
            if (k == "name") r.name = v;
            else if (k == "experiment") r.experiment = v;
            else if (k == "stage") r.stage = v;
            else if (k == "pipeline") r.pipeline = v;
            else if (k == "sweep") r.sweep = v;
            else if (k == "cwd") r.cwd = v;
            else if (k == "status") r.status = v;
            else if (k == "reason") r.reason = v;
            else if (k == "exit_code") r.exit_code = static_cast<int>(to_i64(v));
            else if (k == "start_ms") r.start_ms = to_i64(v);
            else if (k == "end_ms") r.end_ms = to_i64(v);
            else if (k == "host") r.host = v;
            else if (k == "user") r.user = v;
            else if (k == "os") r.os = v;
            else if (k == "cpu") r.cpu = v;
            else if (k == "reproduces") r.reproduces = v;
            else if (k == "cairn_version") r.cairn_version = v;
            else if (k == "executable") r.executable = v;
            else if (k == "executable_hash") r.executable_hash = v;
            else if (k == "git_base") r.git_base = v;
            else if (k == "git_branch") r.git_branch = v;
            else if (k == "git_dirty") r.git_dirty = v == "1";
            else if (k == "git_snapshot") r.git_snapshot = v;
            else if (k.rfind("executor.", 0) == 0) r.executor[unescape(k.substr(9))] = v;
        } else if (kind == "c" && f.size() == 2) {
            r.command.push_back(unescape(f[1]));
        } else if (kind == "p" && f.size() == 4) {
            r.params.push_back({unescape(f[2]), f[1], unescape(f[3])});
        } else if (kind == "t" && f.size() == 3) {
            r.tags[unescape(f[1])] = unescape(f[2]);
        } else if (kind == "i" && f.size() == 3) {
            r.inputs[unescape(f[1])] = f[2];
        } else if (kind == "o" && f.size() == 3) {
            r.outputs[unescape(f[1])] = f[2];
        } else if (kind == "e" && f.size() == 3) {
            r.env[unescape(f[1])] = unescape(f[2]);
        } else if (kind == "n" && f.size() == 2) {
            r.env_names.push_back(unescape(f[1]));
        } else if (kind == "m" && f.size() == 7) {
            metrics::MetricSummary s;
            s.last = to_double(f[2]);
            s.min = to_double(f[3]);
            s.max = to_double(f[4]);
            s.count = static_cast<std::uint64_t>(to_i64(f[5]));
            s.step = to_i64(f[6]);
            (*r.summary)[unescape(f[1])] = s;
        } else {
            return std::nullopt;
        }
    }
    return out;
}

} // namespace cairn::run
