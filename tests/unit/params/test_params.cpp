#include <cmath>
#include <map>

#include <catch2/catch.hpp>

#include "core/params/params.hpp"
#include "core/run/record.hpp"
#include "core/util/error.hpp"

using namespace cairn;

namespace {

params::Param param(const std::string& key, const std::string& value) { return params::parse_param(key, value); }

std::string set(const std::string& text, const std::string& key, const std::string& value) {
    return params::override_params_yaml(text, key, param(key, value), "params.yaml");
}

} // namespace

TEST_CASE("parameters are typed by the YAML 1.2 core schema and keep their text", "[params]") {
    auto typed = [](const std::string& v) { return param("k", v).type; };
    CHECK(typed("3") == "int");
    CHECK(typed("007") == "int");
    CHECK(typed("-12") == "int");
    CHECK(typed("0x1F") == "int");
    CHECK(typed("0o17") == "int");
    CHECK(typed("1.0") == "float");
    CHECK(typed("1e3") == "float");
    CHECK(typed(".5") == "float");
    CHECK(typed("-.inf") == "float");
    CHECK(typed(".nan") == "float");
    CHECK(typed("true") == "bool");
    CHECK(typed("True") == "bool");
    CHECK(typed("FALSE") == "bool");
    CHECK(typed("yes") == "string"); // YAML 1.1 only
    CHECK(typed("nan") == "string");
    CHECK(typed("1.2.3") == "string");
    CHECK(typed("") == "string");
    CHECK(typed("99999999999999999999") == "float");
    // Quotes force a string; the text is what is inside them.
    CHECK(param("k", "\"007\"") == params::Param{"k", "string", "007"});
    CHECK(param("k", "'1.0'") == params::Param{"k", "string", "1.0"});
    // The text is kept as typed...
    CHECK(param("k", "1.0").text == "1.0");
    CHECK(param("k", "1e3").text == "1e3");
    CHECK(param("k", "007").text == "007");
    // ...and numbers are read from it.
    CHECK(params::param_integer(param("k", "007")) == 7);
    CHECK(params::param_integer(param("k", "0x1F")) == 31);
    CHECK(params::param_integer(param("k", "0o17")) == 15);
    CHECK(params::param_integer(param("k", "-9223372036854775808")) == INT64_MIN);
    CHECK(params::param_number(param("k", "1e3")) == 1000.0);
    CHECK(std::isinf(*params::param_number(param("k", "-.inf"))));
    CHECK(std::isnan(*params::param_number(param("k", ".NaN"))));
    CHECK_FALSE(params::param_number(param("k", "x")));
    CHECK(params::param_bool(param("k", "True")) == true);
    CHECK(params::param_bool(param("k", "false")) == false);
}

TEST_CASE("values read from a parameters file follow the same rules", "[params]") {
    auto ps = params::flatten_params_yaml("version: \"1.10\"\nrun_id: '007'\nflag: yes\nn: 007\nlr: 1.0\n"
                                       "t: !!str 5\nb: |\n  two\n  lines\nl: [1, 2]\n",
                                       "params.yaml");
    std::map<std::string, params::Param> by_key;
    for (const auto& p : ps) by_key[p.key] = p;
    CHECK(by_key["version"] == params::Param{"version", "string", "1.10"});
    CHECK(by_key["run_id"] == params::Param{"run_id", "string", "007"});
    CHECK(by_key["flag"] == params::Param{"flag", "string", "yes"});
    CHECK(by_key["n"] == params::Param{"n", "int", "007"});
    CHECK(by_key["lr"] == params::Param{"lr", "float", "1.0"});
    CHECK(by_key["t"] == params::Param{"t", "string", "5"});
    CHECK(by_key["b"] == params::Param{"b", "string", "two\nlines\n"});
    CHECK(by_key["l"].type == "string");
}

TEST_CASE("the run record keeps each param's type and text", "[params]") {
    run::RunRecord r;
    for (const char* v : {"1.0", "1e3", "007", "0x1F", "True", "yes", "\"007\"", "a: b # c", "-.inf", "null", ""})
        r.params.push_back(param(std::string("k") + std::to_string(r.params.size()), v));
    run::RunRecord back;
    run::parse_params_yaml(run::to_params_yaml(r.params), "params.yaml", back);
    CHECK(back.params == r.params);
}

TEST_CASE("an override changes only the bytes of its value", "[params]") {
    const std::string text = "# settings\nversion: \"1.10\"   # keep\nrun_id: '007'\nflag: yes\n"
                             "train:\n  lr: 0.1 # learning rate\n  epochs: 3\n  opt: {name: adam, beta: 0.9}\n"
                             "note: |\n  some\n  text\n\nempty:\ntilde: ~\nlast: x";
    CHECK(set(text, "train.lr", "0.5") ==
          "# settings\nversion: \"1.10\"   # keep\nrun_id: '007'\nflag: yes\n"
          "train:\n  lr: 0.5 # learning rate\n  epochs: 3\n  opt: {name: adam, beta: 0.9}\n"
          "note: |\n  some\n  text\n\nempty:\ntilde: ~\nlast: x");
    // Quoted values keep their quotes; a value that would re-type is quoted.
    CHECK(set(text, "version", "'1.11'").find("version: \"1.11\"   # keep\n") != std::string::npos);
    CHECK(set(text, "run_id", "\"008\"").find("run_id: '008'\n") != std::string::npos);
    CHECK(set(text, "flag", "'no'").find("flag: \"no\"\n") != std::string::npos);
    CHECK(set(text, "flag", "maybe").find("flag: maybe\n") != std::string::npos);
    CHECK(set(text, "flag", "'a: b # c'").find("flag: \"a: b # c\"\n") != std::string::npos);
    CHECK(set(text, "flag", "\"it's\"").find("flag: \"it's\"\n") != std::string::npos);
    CHECK(set(text, "run_id", "\"it's\"").find("run_id: 'it''s'\n") != std::string::npos);
    // Flow mappings, block scalars, empty values, the last line without a newline.
    CHECK(set(text, "train.opt.beta", "0.99").find("opt: {name: adam, beta: 0.99}\n") != std::string::npos);
    CHECK(set(text, "train.opt.name", "'sgd, fast'").find("opt: {name: \"sgd, fast\", beta: 0.9}\n") != std::string::npos);
    CHECK(set(text, "note", "short").find("note: short\n\nempty:\n") != std::string::npos);
    CHECK(set(text, "empty", "5").find("\nempty: 5\ntilde: ~\n") != std::string::npos);
    CHECK(set(text, "tilde", "5").find("\ntilde: 5\n") != std::string::npos);
    CHECK(set(text, "last", "z").substr(set(text, "last", "z").size() - 8) == "\nlast: z");
    // Each edit reads back as typed, the rest as before.
    for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
             {"version", "1.0"}, {"flag", "'007'"}, {"train.epochs", "1e3"}, {"note", "'x\ny'"}}) {
        auto edited = set(text, k, v);
        auto before = params::flatten_params_yaml(text, "p");
        auto after = params::flatten_params_yaml(edited, "p");
        for (auto& p : before)
            if (p.key == k) p = param(k, v);
        CHECK(after == before);
    }
}

TEST_CASE("a key a file does not hold is added at its nesting", "[params]") {
    CHECK(set("train:\n  lr: 0.1\n  epochs: 3\n# models\nmodel: a\n", "train.wd", "0.01") ==
          "train:\n  lr: 0.1\n  epochs: 3\n  wd: 0.01\n# models\nmodel: a\n");
    CHECK(set("a:\n    b: 1\n", "a.c.d", "x") == "a:\n    b: 1\n    c:\n      d: x\n");
    CHECK(set("a: 1", "b", "2") == "a: 1\nb: 2\n");
    CHECK(set("", "b", "2") == "b: 2\n");
    CHECK_THROWS_WITH(set("a: {b: 1}\n", "a.c", "2"), Catch::Contains("flow mapping"));
    CHECK_THROWS_WITH(set("a: 1\n", "a.b", "2"), Catch::Contains("not a mapping"));
    CHECK_THROWS_WITH(set("a:\n  b: 1\n", "a", "2"), Catch::Contains("not a single value"));
    CHECK_THROWS_WITH(set("a: [1, 2]\n", "a", "2"), Catch::Contains("not a single value"));
}

TEST_CASE("nearest key", "[params]") {
    CHECK(params::nearest_key("train.lrr", {"model", "train.lr", "train.epochs"}) == "train.lr");
    CHECK(params::nearest_key("x", {}).empty());
}

TEST_CASE("parameters are typed from their text", "[params]") {
    CHECK(params::parse_param("a", "3").type == "int");
    CHECK(params::parse_param("a", "-12").text == "-12");
    CHECK(params::parse_param("a", "0.1").type == "float");
    CHECK(params::parse_param("a", "1e-3").text == "1e-3"); // kept as typed (YAML 1.2 core schema)
    CHECK(params::parse_param("a", ".nan").type == "float");
    CHECK(params::parse_param("a", "nan").type == "string");
    CHECK(params::parse_param("a", "true").type == "bool");
    CHECK(params::parse_param("a", "True").type == "bool");
    CHECK(params::parse_param("a", "resnet50").type == "string");
    CHECK(params::parse_param("a", "1.2.3").type == "string");
    CHECK(params::parse_param("a", "").type == "string");
}

TEST_CASE("a parameter value of 200,000 characters is typed without exhausting the stack", "[params]") {
    // std::regex recursed once per character here and crashed cairn (SIGSEGV).
    CHECK(params::parse_param("big", std::string(200000, '1')).type == "float");
    CHECK(params::parse_param("text", std::string(200000, 'a')).type == "string");
}

TEST_CASE("placeholders in arguments", "[params]") {
    std::vector<params::Param> ps = {params::parse_param("lr", "0.1"), params::parse_param("model", "resnet")};
    auto out = params::substitute_params({"train.py", "--lr={lr}", "{model}-{model}", "{unknown}", "{}"}, ps);
    CHECK(out == std::vector<std::string>{"train.py", "--lr=0.1", "resnet-resnet", "{unknown}", "{}"});
}

namespace {

std::string set_toml(const std::string& text, const std::string& key, const std::string& value) {
    return params::override_params_toml(text, key, param(key, value), "params.toml");
}

std::map<std::string, params::Param> flat_toml(const std::string& text) {
    std::map<std::string, params::Param> out;
    for (auto& p : params::flatten_params_toml(text, "params.toml")) out.emplace(p.key, p);
    return out;
}

} // namespace

TEST_CASE("a TOML file flattens as a YAML one, numbers keep their text where YAML reads it alike", "[params]") {
    auto ps = flat_toml("lr = 1e-3\nn = 1_000\nh = 0x1f\nb = true\ni = -inf\nx = nan\ns = 'a b'\nd = 1979-05-27\n"
                        "l = [1, 2]\n[model]\ndepth = 50\nopt = { beta = 0.9 }\n[model.head]\n\"k.é\" = 1\n");
    CHECK(ps.at("lr") == params::Param{"lr", "float", "1e-3"});
    CHECK(ps.at("n") == params::Param{"n", "int", "1000"});
    CHECK(ps.at("h") == params::Param{"h", "int", "0x1f"});
    CHECK(ps.at("b") == params::Param{"b", "bool", "true"});
    CHECK(ps.at("i") == params::Param{"i", "float", "-.inf"});
    CHECK(ps.at("x") == params::Param{"x", "float", ".nan"});
    CHECK(ps.at("s") == params::Param{"s", "string", "a b"});
    CHECK(ps.at("d") == params::Param{"d", "string", "1979-05-27"});
    CHECK(ps.at("l") == params::Param{"l", "string", "[1, 2]"});
    CHECK(ps.at("model.depth").type == "int");
    CHECK(ps.at("model.opt.beta") == params::Param{"model.opt.beta", "float", "0.9"});
    CHECK(ps.count("model.head.k.é") == 1);
    CHECK_THROWS_WITH(params::flatten_params_toml("a = 1\nb = = 2\n", "p.toml"), Catch::StartsWith("p.toml:2:"));
}

TEST_CASE("a TOML override changes the bytes of one value only", "[params]") {
    const std::string text = "# top\nlr = 0.1  # rate\nname = 'base'\n\n[train]\nepochs = 3\nwhen = 2024-01-01\n\n"
                             "# next\n[model]\ndepth = 50\n";
    auto with = [&](const std::string& from, const std::string& to) {
        std::string out = text;
        out.replace(out.find(from), from.size(), to);
        return out;
    };
    CHECK(set_toml(text, "lr", "1e-4") == with("0.1", "1e-4"));
    CHECK(set_toml(text, "lr", ".5") == with("0.1", "0.5"));     // TOML's spelling of a YAML float
    CHECK(set_toml(text, "lr", "007") == with("0.1", "7"));
    CHECK(set_toml(text, "lr", "True") == with("0.1", "true"));
    CHECK(set_toml(text, "name", "it's") == with("'base'", "\"it's\""));
    CHECK(set_toml(text, "name", "wide") == with("'base'", "'wide'")); // a literal string stays literal
    CHECK(set_toml(text, "train.epochs", "'5'") == with("epochs = 3", "epochs = \"5\""));
    CHECK(set_toml(text, "train.when", "2025-02-03") == with("2024-01-01", "2025-02-03")); // a date stays a date
    CHECK(set_toml(text, "train.bs", "8") == with("when = 2024-01-01\n", "when = 2024-01-01\nbs = 8\n"));
    CHECK(set_toml(text, "model.head.size", "2") == text + "head.size = 2\n");
    CHECK(set_toml("a = 1", "b", "2") == "a = 1\nb = 2\n");
    CHECK(set_toml("[t]\nx = 1\n", "top", "2") == "top = 2\n[t]\nx = 1\n");
    CHECK_THROWS_WITH(set_toml("t = { a = 1 }\n", "t.b", "2"), Catch::Contains("inline table"));
    CHECK_THROWS_WITH(set_toml("t.a = 1\n", "t.b", "2"), Catch::Contains("no [t] header"));
    CHECK_THROWS_WITH(set_toml("a = 1\n", "a.b", "2"), Catch::Contains("not a table"));
    CHECK_THROWS_WITH(set_toml("[a]\nb = 1\n", "a", "2"), Catch::Contains("not a single value"));
    CHECK_THROWS_WITH(set_toml("a = [1, 2]\n", "a", "2"), Catch::Contains("not a single value"));
    // A quoted key holding a dot is not the dotted key: adding that would give two of one name.
    CHECK_THROWS_WITH(set_toml("\"a.b\" = 1\n", "a.b", "2"), Catch::Contains("in place"));
}

TEST_CASE("file_for_key: every file holding the key, else the deepest mapping of one", "[params]") {
    auto flat = [](const std::string& yaml) { return params::flatten_params_yaml(yaml, "p.yaml"); };
    auto a = flat("seed: 1\ntrain:\n  lr: 0.1\n");
    auto b = flat("seed: 2\nmodel:\n  head:\n    size: 3\n");
    auto c = flat("model:\n  depth: 50\nx: 1\n");
    std::vector<const std::vector<params::Param>*> files = {&a, &b, &c};
    auto at = [&](const std::string& key) { return params::file_for_key(files, key); };
    CHECK(at("seed").files == std::vector<std::size_t>{0, 1});
    CHECK_FALSE(at("seed").added);
    CHECK(at("train.wd").files == std::vector<std::size_t>{0});
    CHECK(at("train.wd").added);
    CHECK(at("model.head.dim").files == std::vector<std::size_t>{1}); // deeper than c's `model`
    CHECK(at("model.dropout").files == std::vector<std::size_t>{1});  // a tie: the first file
    CHECK(at("nothing").files.empty());
    CHECK(at("x.y").files.empty());  // `x` is a value
    CHECK(at("model").files.empty()); // a mapping
}
