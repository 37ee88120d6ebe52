// Parameter files in TOML: flatten_params_toml, and override_params_toml, which `cairn run -p`,
// `cairn apply` and `cairn repro -S` use to write values into them. Property: after overriding a
// key, the file flattens to the same parameters except that key, which reads back with the new
// value and type (a number as the same number: TOML may spell it otherwise). Input: a TOML file.

#include <cmath>

#include "core/params/params.hpp"
#include "tests/fuzz/fuzz.hpp"

using cairn::params::Param;

namespace {

constexpr const char* k_where = "params.toml";

bool same_value(const Param& want, const Param& got) {
    if (want.key != got.key || want.type != got.type) return false;
    if (want.type != "int" && want.type != "float") return want.text == got.text || want.type == "bool";
    auto a = cairn::params::param_number(want), b = cairn::params::param_number(got);
    return a && b && (*a == *b || (std::isnan(*a) && std::isnan(*b)));
}

void check_override(const std::string& text, const std::vector<Param>& before, const Param& value) {
    std::string edited;
    try {
        edited = cairn::params::override_params_toml(text, value.key, value, k_where);
    } catch (const cairn::Error&) {
        return; // a place the override cannot reach (an inline table, an array) is refused, not a finding
    }
    std::vector<Param> after;
    try {
        after = cairn::params::flatten_params_toml(edited, k_where);
    } catch (const cairn::Error& e) {
        cairn::fuzz::property_failed("params_toml", std::string("an overridden file does not parse: ") + e.what(), text,
                                     edited);
    }
    bool ok = after.size() == before.size();
    for (std::size_t i = 0; ok && i < before.size(); ++i)
        ok = before[i].key == value.key ? same_value(value, after[i])
                                        : cairn::fuzz::same({before[i]}, {after[i]});
    if (!ok)
        cairn::fuzz::property_failed("params_toml",
                                     "overriding '" + value.key + "' with " + value.type + " '" + value.text +
                                         "' changed other values or read back differently:\n" + edited,
                                     cairn::fuzz::show(before), cairn::fuzz::show(after));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string input = cairn::fuzz::bytes(data, size);
    cairn::fuzz::run_one("params_toml", [&] {
        std::vector<Param> params = cairn::params::flatten_params_toml(input, k_where);
        if (params.empty()) return;
        // Dotted names are ambiguous (`"a.b" = 1` and `a.b = 2`): only a key flattened once is checked.
        const Param& first = params.front();
        if (params.size() > 1 && params[1].key == first.key) return;
        check_override(input, params, first);
        check_override(input, params, cairn::params::parse_param(first.key, "-3"));
        check_override(input, params, cairn::params::parse_param(first.key, "1e-3"));
        check_override(input, params, Param{first.key, "string", "0.5"});
        check_override(input, params, Param{first.key, "string", "a = 'b' # c\n\"d\""});
        check_override(input, params, Param{first.key, "bool", "True"});
    });
    return 0;
}
