#pragma once
// How core reports progress without printing: the CLI passes an implementation that draws on
// stderr; tests and library callers pass nothing.

#include <cstdint>
#include <string_view>

namespace cairn::util {

class Progress {
public:
    virtual ~Progress() = default;
    // Starts a phase ("Hashing", "Checking out") with a total item count (0 when unknown).
    virtual void begin(std::string_view phase, std::uint64_t total) = 0;
    // Adds `items` finished items and `bytes` processed bytes. Called from worker threads.
    virtual void advance(std::uint64_t items, std::uint64_t bytes) = 0;
    // Ends the current phase.
    virtual void end() = 0;
};

// A Progress that ignores everything.
class NoProgress final : public Progress {
public:
    void begin(std::string_view, std::uint64_t) override {}
    void advance(std::uint64_t, std::uint64_t) override {}
    void end() override {}
};

} // namespace cairn::util
