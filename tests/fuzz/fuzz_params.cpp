// Parameter files the user's command reads (params.yaml and the like): flatten_params_yaml, and
// override_params_yaml, which `cairn run -p` and `cairn rerun` use to write values back. Property:
// after overriding a key, the file flattens to the same parameters except that key, which reads
// back with the new value and type. Input: a parameters file.

#include "core/params/params.hpp"
#include "tests/fuzz/fuzz.hpp"

using cairn::params::Param;

namespace {

constexpr const char* k_where = "params.yaml";

void check_override(const std::string& text, const std::vector<Param>& before, const Param& value) {
    std::string edited;
    try {
        edited = cairn::params::override_params_yaml(text, value.key, value, k_where);
    } catch (const cairn::Error&) {
        return; // a key the override cannot reach (a dotted name, say) is refused, not a finding
    }
    std::vector<Param> after;
    try {
        after = cairn::params::flatten_params_yaml(edited, k_where);
    } catch (const cairn::Error& e) {
        cairn::fuzz::property_failed(
            "params", std::string("an overridden file does not parse: ") + e.what(), text, edited);
    }
    std::vector<Param> expected = before;
    for (auto& p : expected)
        if (p.key == value.key) p = value;
    if (!cairn::fuzz::same(expected, after))
        cairn::fuzz::property_failed(
            "params",
            "overriding '" + value.key + "' with " + value.type + " '" + value.text +
                "' changed other values or read back differently:\n" + edited,
            cairn::fuzz::show(expected), cairn::fuzz::show(after));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string input = cairn::fuzz::bytes(data, size);
    cairn::fuzz::run_one("params", [&] {
        std::vector<Param> params = cairn::params::flatten_params_yaml(input, k_where);
        if (params.empty()) return;
        // Dotted names are ambiguous (`a.b: 1` and `a: {b: 2}`): only a key flattened once is
        // checked.
        const Param& first = params.front();
        if (params.size() > 1 && params[1].key == first.key) return;
        check_override(input, params, first);
        check_override(input, params, cairn::params::parse_param(first.key, "-3"));
        check_override(input, params, Param{first.key, "string", "0.5"});
        check_override(input, params, Param{first.key, "string", "a: b # c"});
    });
    return 0;
}
