#pragma once
// Shared by the libFuzzer targets of tests/fuzz/. A parser meeting bad input must throw
// cairn::Error, which is a normal outcome here; any other exception, a crash, a sanitizer report,
// a leak or a broken round-trip property is a finding, reported and turned into an abort so that
// libFuzzer saves the input.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cxxabi.h>
#include <exception>
#include <memory>
#include <string>
#include <typeinfo>
#include <vector>

#include "core/run/record.hpp" // Param, MetricPoint
#include "core/util/error.hpp"

namespace cairn::fuzz {

// `text` with bytes outside printable ASCII (newline and tab kept) as \xNN, so that a report
// shows where two strings differ.
inline std::string escape(const std::string& text) {
    std::string out;
    for (unsigned char c : text) {
        if ((c >= 0x20 && c < 0x7f) || c == '\n' || c == '\t') {
            out += static_cast<char>(c);
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        }
    }
    return out;
}

// Reports a failed property (`what`, with the two sides printed, escaped) and aborts.
[[noreturn]] inline void property_failed(const char* target, const std::string& what,
                                         const std::string& first = {},
                                         const std::string& second = {}) {
    std::fprintf(stderr, "\n==cairn-fuzz== %s: property failed: %s\n", target,
                 escape(what).c_str());
    if (!first.empty() || !second.empty())
        std::fprintf(stderr, "--- first:\n%s\n--- second:\n%s\n---\n", escape(first).c_str(),
                     escape(second).c_str());
    std::abort();
}

// Runs `body`; a cairn::Error is the parser refusing the input and is ignored. Any other
// exception is a finding: its type and message are printed before aborting.
template <typename Body> void run_one(const char* target, Body&& body) {
    try {
        body();
    } catch (const cairn::Error&) {
    } catch (const std::exception& e) {
        int status = 0;
        std::unique_ptr<char, decltype(&std::free)> name(
            abi::__cxa_demangle(typeid(e).name(), nullptr, nullptr, &status), &std::free);
        std::fprintf(stderr,
                     "\n==cairn-fuzz== %s: exception other than cairn::Error escaped: %s: %s\n",
                     target, status == 0 && name ? name.get() : typeid(e).name(), e.what());
        std::abort();
    } catch (...) {
        std::fprintf(stderr, "\n==cairn-fuzz== %s: a non-std exception escaped\n", target);
        std::abort();
    }
}

inline std::string bytes(const std::uint8_t* data, std::size_t size) {
    return std::string(reinterpret_cast<const char*>(data), size);
}

inline bool same(const std::vector<params::Param>& a, const std::vector<params::Param>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i].key != b[i].key || a[i].type != b[i].type || a[i].text != b[i].text) return false;
    return true;
}

inline std::string show(const std::vector<params::Param>& params) {
    std::string out;
    for (const auto& p : params)
        out += p.key + " (" + p.type + ") = " + p.text + "\n";
    return out;
}

// Equal points; nan equals nan.
inline bool same(const std::vector<metrics::MetricPoint>& a, const std::vector<metrics::MetricPoint>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        bool value = a[i].value == b[i].value || (std::isnan(a[i].value) && std::isnan(b[i].value));
        if (a[i].key != b[i].key || a[i].step != b[i].step || !value ||
            a[i].unix_ms != b[i].unix_ms)
            return false;
    }
    return true;
}

} // namespace cairn::fuzz
