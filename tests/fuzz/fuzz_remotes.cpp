// The remotes of config.yaml / config.local.yaml: parse_remotes, and the round trip through the
// rewrite cairn does (replace_remote_blocks(text, render_remotes(c)) parses back to c).

#include "core/remote/config.hpp"
#include "tests/fuzz/fuzz.hpp"

using cairn::remote::RemoteConfig;
using cairn::remote::RemotesConfig;

namespace {

bool same(const RemotesConfig& a, const RemotesConfig& b) {
    if (a.default_remote != b.default_remote || a.remotes.size() != b.remotes.size()) return false;
    for (std::size_t i = 0; i < a.remotes.size(); ++i) {
        const RemoteConfig& x = a.remotes[i];
        const RemoteConfig& y = b.remotes[i];
        if (x.name != y.name || x.url != y.url || x.endpoint != y.endpoint || x.region != y.region ||
            x.path_style != y.path_style || x.jobs != y.jobs)
            return false;
    }
    return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string text = cairn::fuzz::bytes(data, size);
    cairn::fuzz::run_one("remotes", [&] {
        RemotesConfig c = cairn::remote::parse_remotes(text, ".cairn/config.yaml");
        std::string written = cairn::remote::render_remotes(c);
        RemotesConfig again;
        try {
            again = cairn::remote::parse_remotes(written, ".cairn/config.yaml");
        } catch (const cairn::Error& e) {
            cairn::fuzz::property_failed("remotes", std::string("rendered remotes do not parse: ") + e.what(), written);
        }
        if (!same(c, again)) cairn::fuzz::property_failed("remotes", "parse(render(c)) != c", written, cairn::remote::render_remotes(again));
    });
    return 0;
}
