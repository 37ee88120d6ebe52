#include <cmath>

#include <catch2/catch.hpp>

#include "core/metrics/metrics.hpp"
#include "core/run/index.hpp"
#include "core/run/record.hpp"
#include "core/util/error.hpp"

using namespace cairn;

TEST_CASE("run records round-trip through their files", "[run]") {
    run::RunRecord r;
    r.id = std::string(32, 'a');
    r.name = "n";
    r.command = {"python3", "train.py", "--x", "a b"};
    r.cwd = ".";
    r.start_ms = 1764265991269;
    r.end_ms = 1764265992001;
    r.status = "finished";
    r.git_dirty = true;
    r.env = {{"PATH", "/bin"}};
    r.tags = {{"t", "v"}};
    r.params = {params::parse_param("b", "true"), params::parse_param("s", "123abc"), params::parse_param("z", "007")};
    run::RunRecord back;
    run::parse_run_yaml(run::to_run_yaml(r), "run.yaml", back);
    run::parse_params_yaml(run::to_params_yaml(r.params), "params.yaml", back);
    CHECK(back.id == r.id);
    CHECK(back.command == r.command);
    CHECK(back.start_ms == r.start_ms);
    CHECK(back.end_ms == r.end_ms);
    CHECK(back.git_dirty);
    CHECK(back.env == r.env);
    CHECK(back.tags == r.tags);
    REQUIRE(back.params.size() == 3);
    CHECK(back.params[0].type == "bool");
    CHECK(back.params[1].type == "string");
    CHECK(back.params[2].type == "int");
    CHECK(back.params[2].text == "007");
    CHECK(run::parse_time(run::format_time(r.start_ms)) == r.start_ms);
    CHECK_THROWS_AS(run::parse_run_yaml("id: [", "run.yaml", back), Error);
}

TEST_CASE("run index entries round-trip, escapes included, damage is detected", "[run][index]") {
    run::RunRecord r;
    r.id = std::string(32, 'b');
    r.name = "tab\there\nnewline \\ backslash";
    r.command = {"sh", "-c", "echo 'a\tb'"};
    r.status = "failed";
    r.exit_code = 3;
    r.start_ms = 10;
    r.end_ms = 20;
    r.git_dirty = true;
    r.params = {params::parse_param("lr", "0.1"), params::parse_param("s", "x\ty")};
    r.tags = {{"k", "v"}};
    r.outputs = {{"out dir/f", "sha256:00"}};
    r.env_names = {"HOME"};
    r.metrics = {{"loss", 0, 2, 0}, {"loss", 5, std::nan(""), 0}};
    std::map<std::string, run::IndexEntry> entries;
    entries[r.id] = {"c0ffee", r};
    auto back = run::parse_index(run::serialize_index(entries));
    REQUIRE(back);
    const auto& b = back->at(r.id).record;
    CHECK(back->at(r.id).commit == "c0ffee");
    CHECK(b.name == r.name);
    CHECK(b.command == r.command);
    CHECK(b.exit_code == 3);
    CHECK(b.git_dirty);
    CHECK(b.params[1].text == "x\ty");
    CHECK(b.outputs == r.outputs);
    auto s = b.metric_summary();
    CHECK(s.at("loss").count == 2);
    CHECK(s.at("loss").step == 5);
    CHECK(std::isnan(s.at("loss").last));
    CHECK(s.at("loss").max == 2);
    CHECK_FALSE(run::parse_index("cairn-run-index 4\n"));
    CHECK_FALSE(run::parse_index("cairn-run-index 3\na\tname\tx\n")); // attribute before any run
    CHECK_FALSE(run::parse_index("cairn-run-index 3\nR\tid\tc\nz\tq\n"));
}

TEST_CASE("stage, pipeline and sweep are written only when set and read back strictly", "[run]") {
    run::RunRecord r;
    r.id = std::string(32, 'c');
    r.experiment = "e";
    r.status = "finished";
    r.start_ms = 1000;
    std::string plain = run::to_run_yaml(r);
    CHECK(plain.find("stage") == std::string::npos);
    CHECK(plain.find("pipeline") == std::string::npos);
    CHECK(plain.find("sweep") == std::string::npos);

    r.stage = "train";
    r.pipeline = "sub/dvc.yaml";
    r.sweep = "lr-grid-1";
    std::string text = run::to_run_yaml(r);
    CHECK(text.find("experiment: e\nstage: train\npipeline: sub/dvc.yaml\nsweep: lr-grid-1\n") != std::string::npos);
    run::RunRecord back;
    run::parse_run_yaml(text, "run.yaml", back);
    CHECK(back.stage == "train");
    CHECK(back.pipeline == "sub/dvc.yaml");
    CHECK(back.sweep == "lr-grid-1");
    run::RunRecord none;
    run::parse_run_yaml(plain, "run.yaml", none);
    CHECK(none.stage.empty());
    CHECK(none.pipeline.empty());
    CHECK(none.sweep.empty());

    // Kept in the run index.
    std::map<std::string, run::IndexEntry> entries;
    entries[r.id] = {"c0ffee", r};
    auto indexed = run::parse_index(run::serialize_index(entries));
    REQUIRE(indexed);
    CHECK(indexed->at(r.id).record.stage == "train");
    CHECK(indexed->at(r.id).record.pipeline == "sub/dvc.yaml");
    CHECK(indexed->at(r.id).record.sweep == "lr-grid-1");
    // An index of the version before these fields is rebuilt, not trusted.
    CHECK_FALSE(run::parse_index("cairn-run-index 2\n"));

    const std::string head = "version: 1\nid: " + r.id + "\n";
    CHECK_THROWS_WITH(run::parse_run_yaml(head + "stage: \"tr\\x1bain\"\n", "run.yaml", back),
                      Catch::Equals("run.yaml:3: 'stage' must be a string without control characters"));
    CHECK_THROWS_WITH(run::parse_run_yaml(head + "sweep: [a]\n", "run.yaml", back),
                      Catch::Equals("run.yaml:3: 'sweep' must be a string"));
    CHECK_THROWS_WITH(run::parse_run_yaml(head + "pipeline: \"a\\tb\"\n", "run.yaml", back),
                      Catch::Contains("'pipeline' must be a string without control characters"));
    CHECK(run::label_problem("train") == std::nullopt);
    CHECK(run::label_problem("tr\nain") == std::string("holds a control character"));
    CHECK(run::label_problem("\xff") == std::string("is not UTF-8 text"));
}

TEST_CASE("paths read from a run record must stay inside the workspace", "[run]") {
    run::RunRecord r;
    r.id = "0123456789abcdef0123456789abcdef";
    for (const char* ok : {"out.txt", "data/raw/file.bin", "a.b/c"}) CHECK_NOTHROW(run::check_record_path(r, ok, "output"));
    for (const char* bad : {"", "/etc/passwd", "../up", "a/../../b", "./x", "a//b", "a/", ".git/config", ".cairn/cache",
                            "a\nb"}) {
        INFO(bad);
        CHECK_THROWS_WITH(run::check_record_path(r, bad, "output"),
                          Catch::Contains("run 01234567: refusing the unsafe output path"));
    }
}

TEST_CASE("run record files are strict: version 1, typed fields named with file:line", "[run]") {
    const std::string where = "refs/cairn/runs/aaaa:run.yaml";
    auto run_error = [&](const std::string& text) -> std::string {
        run::RunRecord r;
        try {
            run::parse_run_yaml(text, where, r);
        } catch (const Error& e) {
            CHECK(e.kind() == ErrorKind::input);
            return e.what();
        }
        FAIL("accepted: " << text);
        return "";
    };
    std::string id = "id: " + std::string(32, 'a') + "\n";
    // The version: required, 1 only, a newer one with a hint.
    CHECK_THAT(run_error(id), Catch::Equals(where + ": missing 'version' (a run record says version: 1)"));
    CHECK_THAT(run_error("version: 2\n" + id),
               Catch::Equals(where + ":1: run record version 2 is not supported by this cairn (it reads version 1); upgrade cairn"));
    CHECK_THAT(run_error("version: x\n" + id), Catch::Equals(where + ":1: 'version' must be 1, not 'x'"));
    CHECK_THAT(run_error("version: [1]\n" + id), Catch::Contains("'version' must be 1"));
    // Each field's type, named (yaml-cpp alone says "bad conversion").
    std::string v = "version: 1\n" + id;
    struct Case {
        std::string text, expect;
    };
    for (const auto& c : {Case{v + "exit_code: zero\n", where + ":3: 'exit_code' must be an integer"},
                          Case{v + "exit_code: 99999999999\n", "'exit_code' must be an integer"},
                          Case{v + "name: [a]\n", where + ":3: 'name' must be a string"},
                          Case{v + "command: python\n", where + ":3: 'command' must be a list of strings"},
                          Case{v + "command: [[a]]\n", "'command' must be a list of strings"},
                          Case{v + "git: {dirty: perhaps}\n", where + ":3: 'git.dirty' must be true or false"},
                          Case{v + "git: [a]\n", "'git' must be a mapping"},
                          Case{v + "tags: {a: [1]}\n", "'tags' must be a mapping of names to strings"},
                          Case{v + "env: x\n", "'env' must be a mapping of names to strings"},
                          Case{v + "start: yesterday\n", where + ":3: 'start' must be a UTC time"},
                          Case{v + "capture: sometimes\n", "'capture' must be true or false"},
                          Case{v + "log: sha256:ABC\n", "'log' must be an object id"},
                          Case{"version: 1\nname: n\n", where + ": missing 'id'"}}) {
        CAPTURE(c.text);
        std::string message = run_error(c.text);
        CHECK_THAT(message, Catch::StartsWith(c.expect) || Catch::Contains(c.expect));
        CHECK_THAT(message, !Catch::Contains("bad conversion"));
    }
    run::RunRecord ok;
    run::parse_run_yaml(v + "name: null\nexit_code: -1\ntags: {}\n", where, ok);
    CHECK(ok.exit_code == -1);
    CHECK(ok.name.empty());

    // The other files of a record.
    auto other_error = [](auto parse) -> std::string {
        try {
            parse();
        } catch (const Error& e) {
            return e.what();
        }
        FAIL("accepted");
        return "";
    };
    run::RunRecord r;
    CHECK_THAT(other_error([&] { run::parse_params_yaml("a: 1\nb: {c: 2}\n", "ref:params.yaml", r); }),
               Catch::Equals("ref:params.yaml:2: expected 'key: value' with a single value"));
    CHECK_THAT(other_error([&] { run::parse_params_yaml("- 1\n", "ref:params.yaml", r); }),
               Catch::StartsWith("ref:params.yaml:1: expected a mapping"));
    std::map<std::string, std::string> paths;
    std::string good = "sha256:" + std::string(64, 'a');
    run::parse_paths_yaml("m.bin: " + good + "\n", "ref:outputs.yaml", paths);
    CHECK(paths.at("m.bin") == good);
    for (const std::string& bad : {"m.bin: sha256:" + std::string(64, 'A'), "m.bin: " + std::string(64, 'a'),
                                   "m.bin: [" + good + "]", std::string("m.bin:")}) {
        CAPTURE(bad);
        CHECK_THAT(other_error([&] { run::parse_paths_yaml("ok: " + good + "\n" + bad + "\n", "ref:outputs.yaml", paths); }),
                   Catch::Equals("ref:outputs.yaml:2: expected 'path: sha256:<64 lowercase hex>'"));
    }
    CHECK_THAT(other_error([&] { run::parse_metrics_tsv("a\t0\t1\t5\nb\tx\t1\t5\n", "ref:metrics.tsv", r); }),
               Catch::StartsWith("ref:metrics.tsv:2: malformed metric line (expected KEY<TAB>STEP<TAB>VALUE<TAB>UNIX_MS"));
    // Parameter and metric files with keys that are not names.
    CHECK_THAT(other_error([&] { (void)params::flatten_params_yaml("a: 1\n? [x]\n: 2\n", "params.yaml"); }),
               Catch::StartsWith("params.yaml:2: a parameter name must be a plain name"));
    CHECK_THAT(other_error([&] { (void)metrics::read_metric_file("? [x]\n: 2\n", "m.yaml", 0); }),
               Catch::StartsWith("m.yaml:1: a metric name must be a plain name"));
}

TEST_CASE("a metrics.tsv key with a control character is refused", "[run]") {
    cairn::run::RunRecord r;
    CHECK_THROWS_WITH(cairn::run::parse_metrics_tsv("a\x1b[31m\t0\t1\t0\n", "metrics.tsv", r), Catch::Contains("control character"));
}

TEST_CASE("record times are read only in the exact form cairn writes", "[run]") {
    CHECK(run::parse_time("2026-11-27T17:53:12.001Z") == 1795801992001);
    CHECK(run::format_time(1795801992001) == "2026-11-27T17:53:12.001Z");
    for (const char* bad : {"1970-01-01T00:00:00.-901Z", "1013-01-27T17:53:13.000Z", "2026-02-30T00:00:00.000Z",
                            "2026-11-27T25:00:00.000Z", "26-01-27T17:53:13.000Z", "2026-11-27T17:53:12Z",
                            "2026-11-27 17:53:12.001Z", "+026-11-27T17:53:12.001Z"})
        CHECK_FALSE(run::parse_time(bad));
    // Before 1970 (a clock set wrong) still prints as a time, never with a negative millisecond.
    CHECK(run::format_time(-1) == "1969-12-31T23:59:59.999Z");
}
