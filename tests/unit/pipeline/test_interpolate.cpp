#include <catch2/catch.hpp>

#include "core/pipeline/interpolate.hpp"
#include "core/pipeline/values.hpp"

using namespace cairn;
using namespace cairn::pipeline;

namespace {

Context context_of(const char* json) {
    Context ctx;
    ctx.merge(Value::parse(json), "params.yaml");
    return ctx;
}

std::string resolve_error(const Context& ctx, const std::string& text, Field field = Field::plain) {
    try {
        (void)ctx.resolve_string(text, field);
    } catch (const ResolveError& e) {
        return e.what();
    }
    FAIL("resolved: " << text);
    return "";
}

} // namespace

TEST_CASE("${} matches as DVC's pattern finds them", "[pipeline][interpolate]") {
    auto m = find_matches("a ${x} b ${y.z[0]} \\${not} ${");
    REQUIRE(m.size() == 2);
    CHECK(m[0].inner == "x");
    CHECK(m[1].inner == "y.z[0]");
    CHECK(find_matches("${a\n}").empty());
    CHECK(parse_expression("layers[0].units") == std::vector<std::string>{"layers", "0", "units"});
    CHECK(parse_expression("item.name") == std::vector<std::string>{"item", "name"});
    for (const char* bad : {"", "a..b", "a[]", "a[0", "a]", ".a", "a."})
        CHECK_THROWS_AS(parse_expression(bad), ResolveError);
}

TEST_CASE("interpolation keeps the type of a whole value and writes values as DVC does",
          "[pipeline][interpolate]") {
    Context ctx =
        context_of(R"({"lr": 0.001, "small": 1e-05, "big": 1e16, "n": 3, "on": true, "none": null,
                                 "name": "x", "layers": [{"units": 64}, {"units": 32}], "neg": [1, 2, 3]})");
    CHECK(ctx.resolve_string("${lr}", Field::plain) == Value(0.001));
    CHECK(ctx.resolve_string("${on}", Field::plain) == Value(true));
    CHECK(ctx.resolve_string("${n}", Field::plain) == Value(3));
    CHECK(ctx.resolve_string("lr=${lr} ${small} ${big} ${on} ${none}", Field::plain) ==
          Value("lr=0.001 1e-05 1e+16 true None"));
    CHECK(ctx.resolve_string("${layers[1].units}/${layers.0.units}", Field::plain) ==
          Value("32/64"));
    CHECK(ctx.resolve_string("${neg[-1]}", Field::plain) == Value(3));
    CHECK(ctx.resolve_string("${ name }", Field::plain) == Value("x"));
    CHECK(ctx.resolve_string("\\${name} ${name}", Field::plain) == Value("${name} x"));
    CHECK(scalar_text(Value(0.1)) == "0.1");
    CHECK(scalar_text(Value(100.0)) == "100.0");
    CHECK(scalar_text(Value(123456.789)) == "123456.789");
    CHECK(scalar_text(Value(0.0001)) == "0.0001");
    CHECK(scalar_text(Value(-2.5e-7)) == "-2.5e-07");
}

TEST_CASE("interpolation errors: a missing key, a mapping or list into a string",
          "[pipeline][interpolate]") {
    Context ctx = context_of(R"({"train": {"lr": 1}, "list": [1, 2]})");
    CHECK_THAT(resolve_error(ctx, "${train.lrr}"), Catch::Contains("could not find 'train.lrr'") &&
                                                       Catch::Contains("did you mean 'train.lr'"));
    CHECK_THAT(resolve_error(ctx, "x ${train}"), Catch::Contains("'${train}' is a mapping"));
    CHECK_THAT(resolve_error(ctx, "${list}"), Catch::Contains("'${list}' is a list"));
    CHECK_THAT(resolve_error(ctx, "x ${list}", Field::cmd), Catch::Contains("is a list"));
    CHECK(ctx.resolve_string("${list}", Field::iterable) == Value::parse("[1, 2]"));
}

TEST_CASE("a mapping in cmd becomes --key value flags (DVC's dict unpacking)",
          "[pipeline][interpolate]") {
    // DVC's documented example, with strings quoted as shlex.quote quotes them.
    Context ctx = context_of(R"({"dict": {"foo": "foo", "bar": 2, "bool": true, "bool-false": false,
                                 "list": [1, 2, "foo", "quoted string"], "nested": {"foo": "foo"}}})");
    CHECK(ctx.resolve_string("Rscript train.r ${dict}", Field::cmd) ==
          Value("Rscript train.r --foo foo --bar 2 --bool --list 1 2 foo 'quoted string' "
                "--nested.foo foo"));
    CHECK(ctx.resolve_string("${dict}", Field::cmd).get<std::string>().rfind("--foo foo", 0) == 0);
    CHECK(cmd_flags(Value::parse(R"({"s": "it's", "e": ""})")) == "--s 'it'\"'\"'s' --e ''");
    CHECK_THROWS_AS(cmd_flags(Value::parse(R"({"l": [[1]]})")), ResolveError);
}

TEST_CASE("vars merge: nested mappings merge, a value defined twice is an error",
          "[pipeline][interpolate]") {
    Context ctx;
    ctx.merge(Value::parse(R"({"model": {"lr": 1}})"), "params.yaml");
    ctx.merge(Value::parse(R"({"model": {"depth": 2}})"), "vars[0]");
    CHECK(ctx.resolve_string("${model.depth}", Field::plain) == Value(2));
    try {
        ctx.merge(Value::parse(R"({"model": {"lr": 3}})"), "vars[1]");
        FAIL("merged");
    } catch (const ResolveError& e) {
        CHECK(std::string(e.what()) ==
              "cannot redefine 'model.lr' from 'vars[1]' as it already exists in 'params.yaml'");
    }
    ctx.set_reserved(Value::parse(R"({"item": 1})"));
    CHECK_THROWS_WITH(ctx.merge(Value::parse(R"({"item": 2})"), "vars[2]"),
                      Catch::Contains("reserved key 'item'"));
}
