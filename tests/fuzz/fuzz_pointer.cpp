// Pointer files (`<name>.cairn`): Pointer::parse, and the round trip parse(serialize(p)) == p.
// Input: the pointer's workspace path up to the first newline (the name `path` must match), then
// the pointer's text.

#include "core/workspace/pointer.hpp"
#include "tests/fuzz/fuzz.hpp"

using cairn::workspace::Pointer;

namespace {

bool same(const Pointer& a, const Pointer& b) {
    return a.path == b.path && a.digest == b.digest && a.size == b.size && a.files == b.files;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string input = cairn::fuzz::bytes(data, size);
    std::size_t newline = input.find('\n');
    if (newline == std::string::npos) return 0;
    std::string display = input.substr(0, newline), text = input.substr(newline + 1);
    cairn::fuzz::run_one("pointer", [&] {
        Pointer p = Pointer::parse(text, display);
        std::string written = p.serialize();
        Pointer again;
        try {
            again = Pointer::parse(written, display);
        } catch (const cairn::Error& e) {
            cairn::fuzz::property_failed(
                "pointer", std::string("a serialized pointer does not parse: ") + e.what(),
                written);
        }
        if (!same(p, again))
            cairn::fuzz::property_failed("pointer", "parse(serialize(p)) != p", written,
                                         again.serialize());
    });
    return 0;
}
