// cairn drift: seeded synthetic data with known shifts (none, mean, variance, a new category, a
// missing column), the tests Evidently's defaults pick, exit codes, and the references a user
// can name (a file, RUN:PATH, model:NAME@ALIAS).
#include <cmath>
#include <cstdint>
#include <string>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;
using nlohmann::json;

namespace {

// A small deterministic generator (SplitMix64), so that the data is the same everywhere.
class Rng {
public:
    explicit Rng(std::uint64_t seed) : m_state(seed) {}
    double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    double normal(double mean, double sd) {
        const double u = uniform(), v = uniform();
        return mean + sd * std::sqrt(-2 * std::log(1 - u)) * std::cos(6.283185307179586 * v);
    }

private:
    std::uint64_t next() {
        std::uint64_t z = (m_state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    std::uint64_t m_state;
};

struct Shape {
    double x_mean = 0, x_sd = 1, y_mean = 5, y_sd = 2;
    double new_category = 0; // share of rows whose plan is "enterprise" (a multiple of 0.1)
    bool with_y = true;
};

std::string table(std::uint64_t seed, int rows, const Shape& s) {
    Rng rng(seed);
    std::string out = s.with_y ? "x,y,plan,flag\n" : "x,plan,flag\n";
    for (int i = 0; i < rows; ++i) {
        const double x = rng.normal(s.x_mean, s.x_sd), y = rng.normal(s.y_mean, s.y_sd);
        // Categories in exact proportions (per 10 rows): a shift is only what the shape says.
        const double u = (i % 10) / 10.0, w = ((i * 7) % 10) / 10.0;
        std::string plan = u < s.new_category ? "enterprise" : u < 0.5 ? "basic" : u < 0.8 ? "pro" : "team";
        std::string flag = w < 0.3 ? "yes" : "no";
        out += s.with_y ? fmt::format("{:.6f},{:.6f},{},{}\n", x, y, plan, flag) : fmt::format("{:.6f},{},{}\n", x, plan, flag);
    }
    return out;
}

const json& column(const json& report, const std::string& name) {
    for (const auto& c : report["columns"])
        if (c["name"] == name) return c;
    FAIL("no column " << name << " in " << report.dump());
    static const json none;
    return none;
}

struct Data {
    Repo repo;
    Data() {
        repo.write("ref.csv", table(101, 500, {}));
        repo.write("same.csv", table(102, 400, {}));
        repo.write("mean.csv", table(3, 400, {.x_mean = 0.6, .y_mean = 6.0}));
        repo.write("variance.csv", table(4, 400, {.x_sd = 2.0, .y_sd = 4.0}));
        repo.write("category.csv", table(5, 400, {.new_category = 0.2}));
        repo.write("nocolumn.csv", table(6, 400, {.with_y = false}));
    }
    Result drift(const std::string& current, std::vector<std::string> extra = {}) const {
        std::vector<std::string> args = {"drift", current, "--against", "ref.csv", "--json"};
        args.insert(args.end(), extra.begin(), extra.end());
        return repo.cairn(args);
    }
};

} // namespace

TEST_CASE("drift: no shift is exit 0, with K-S, chi-squared and z-test for a small reference", "[drift]") {
    Data d;
    Result r = d.drift("same.csv");
    INFO(r.out << r.err);
    REQUIRE(r.code == 0);
    json j = r.json();
    CHECK(j["schema"] == "cairn-drift/1");
    CHECK(j["dataset_drift"] == false);
    CHECK(j["drifted"] == 0);
    CHECK(j["reference"]["rows"] == 500);
    CHECK(j["current"]["rows"] == 400);
    CHECK(column(j, "x")["test"] == "ks");
    CHECK(column(j, "y")["test"] == "ks");
    CHECK(column(j, "plan")["test"] == "chi2");
    CHECK(column(j, "flag")["test"] == "z");
    for (const auto& c : j["columns"]) {
        CHECK(c["status"] == "ok");
        CHECK(c["score"].get<double>() >= 0.05);
        CHECK(c["approximate"] == false);
        CHECK(c["psi"].is_number());
    }
    Result text = d.repo.cairn({"drift", "same.csv", "--against", "ref.csv"});
    CHECK(text.code == 0);
    CHECK(contains(text.out, "no dataset drift: 0 of 4 columns drifted"));
}

TEST_CASE("drift: a mean shift and a variance shift are dataset drift, exit 1", "[drift]") {
    Data d;
    for (const char* file : {"mean.csv", "variance.csv"}) {
        Result r = d.drift(file);
        INFO(file << ": " << r.out << r.err);
        CHECK(r.code == 1);
        json j = r.json();
        CHECK(j["dataset_drift"] == true);
        CHECK(column(j, "x")["status"] == "drift");
        CHECK(column(j, "y")["status"] == "drift");
        CHECK(column(j, "x")["score"].get<double>() < 0.05);
        CHECK(column(j, "plan")["status"] == "ok");
        CHECK(j["share"].get<double>() >= 0.5);
    }
    Result text = d.repo.cairn({"drift", "mean.csv", "--against", "ref.csv"});
    CHECK(text.code == 1);
    CHECK(contains(text.out, "dataset drift: 2 of 4 columns drifted"));
    // --fail-on never reports it and exits 0.
    CHECK(d.repo.cairn({"drift", "mean.csv", "--against", "ref.csv", "--fail-on", "never"}).code == 0);
}

TEST_CASE("drift: a new category drifts its column, a key column's drift is dataset drift", "[drift]") {
    Data d;
    Result r = d.drift("category.csv");
    INFO(r.out << r.err);
    CHECK(r.code == 0); // 1 of 4 columns: under the drift share, but reported
    json j = r.json();
    CHECK(column(j, "plan")["status"] == "drift");
    CHECK(column(j, "plan")["test"] == "chi2");
    CHECK(column(j, "plan")["score"].get<double>() == 0); // a category expected 0 times
    CHECK(d.drift("category.csv", {"--fail-on", "warn"}).code == 1);
    Result keyed = d.drift("category.csv", {"--key-columns", "plan"});
    CHECK(keyed.code == 1);
    CHECK(keyed.json()["key_drifted"] == json::array({"plan"}));
}

TEST_CASE("drift: a missing column counts as drifted", "[drift]") {
    Data d;
    Result r = d.drift("nocolumn.csv", {"--drift-share", "0.25"});
    INFO(r.out << r.err);
    CHECK(r.code == 1);
    json j = r.json();
    CHECK(column(j, "y")["status"] == "missing");
    CHECK(column(j, "y")["drifted"] == true);
    CHECK(column(j, "x")["status"] == "ok");
    // Only the columns asked for.
    Result only = d.drift("nocolumn.csv", {"--columns", "x,plan"});
    CHECK(only.code == 0);
    CHECK(only.json()["columns"].size() == 2);
    Result typo = d.drift("nocolumn.csv", {"--columns", "plam"});
    CHECK(typo.code == 3);
    CHECK(contains(typo.err, "did you mean 'plan'"));
}

TEST_CASE("drift: a large reference gets normalised Wasserstein and Jensen-Shannon", "[drift]") {
    Data d;
    d.repo.write("big.csv", table(7, 3000, {}));
    d.repo.write("big_shift.csv", table(8, 3000, {.x_mean = 0.5}));
    Result same = d.repo.cairn({"drift", "same.csv", "--against", "big.csv", "--json"});
    INFO(same.out << same.err);
    CHECK(same.code == 0);
    json j = same.json();
    CHECK(column(j, "x")["test"] == "wasserstein");
    CHECK(column(j, "plan")["test"] == "jensenshannon");
    CHECK(column(j, "x")["score"].get<double>() < 0.1);
    Result shifted = d.repo.cairn({"drift", "big_shift.csv", "--against", "big.csv", "--json", "--key-columns", "x"});
    CHECK(shifted.code == 1);
    json s = shifted.json();
    CHECK(column(s, "x")["score"].get<double>() >= 0.1);
    CHECK(column(s, "x")["approximate"] == true); // 3000 values: from the stored quantiles
    // The test can be chosen.
    json psi = d.repo.cairn({"drift", "same.csv", "--against", "big.csv", "--json", "--num-test", "psi"}).json();
    CHECK(column(psi, "x")["test"] == "psi");
    CHECK(d.repo.cairn({"drift", "same.csv", "--against", "big.csv", "--num-test", "bogus"}).code == 2);
}

TEST_CASE("drift --against model:NAME@prod compares with the data that version was trained on", "[drift]") {
    Data d;
    Repo& repo = d.repo;
    repo.write("data/ref.csv", table(101, 500, {}));
    repo.write("data/labels.csv", "id\n1\n2\n");
    repo.ok({"add", "data/ref.csv"});
    repo.ok({"add", "data/labels.csv"});
    repo.write_script("train.sh", "#!/bin/sh\nwc -l data/ref.csv > model.bin\n");
    repo.commit("data and code");
    std::string run = repo.ok({"run", "--json", "-n", "train", "-d", "data/ref.csv", "-o", "model.bin", "--", "./train.sh"}).json()["id"];
    repo.ok({"model", "register", "m", run, "--alias", "prod"});
    Result same = repo.cairn({"drift", "same.csv", "--against", "model:m@prod", "--json"});
    INFO(same.out << same.err);
    CHECK(same.code == 0);
    CHECK(same.json()["reference"]["path"] == "data/ref.csv");
    Result text = repo.cairn({"drift", "mean.csv", "--against", "model:m@prod"});
    CHECK(text.code == 1);
    CHECK(contains(text.out, "trained on data/ref.csv"));
    // RUN:PATH names the same bytes.
    CHECK(repo.cairn({"drift", "mean.csv", "--against", run.substr(0, 8) + ":data/ref.csv"}).code == 1);
    CHECK(repo.cairn({"drift", "same.csv", "--against", "train:data/ref.csv"}).code == 0);
    Result nopath = repo.cairn({"drift", "same.csv", "--against", "model:m@prod:data/other.csv"});
    CHECK(nopath.code == 3);
    CHECK(contains(nopath.err, "was not trained on 'data/other.csv'"));

    // Trained on two inputs: PATH picks one, and without it the error lists them.
    std::string two = repo.ok({"run", "--json", "-d", "data/ref.csv", "-d", "data/labels.csv", "-o", "model.bin", "--", "./train.sh"})
                          .json()["id"];
    repo.ok({"model", "register", "m", two, "--alias", "staging"});
    Result several = repo.cairn({"drift", "same.csv", "--against", "model:m@staging"});
    CHECK(several.code == 3);
    CHECK(contains(several.err, "data/labels.csv"));
    CHECK(contains(several.err, "data/ref.csv"));
    CHECK(repo.cairn({"drift", "same.csv", "--against", "model:m@staging:data/ref.csv"}).code == 0);
}

TEST_CASE("drift: a degraded re-evaluation prints the drift table of the substituted input", "[drift]") {
    Data d;
    Repo& repo = d.repo;
    repo.write("data/test.csv", table(101, 500, {}));
    repo.ok({"add", "data/test.csv"});
    // accuracy: the share of rows whose plan is "basic" (half of them in the reference).
    repo.write_script("eval.sh", "#!/bin/sh\nawk -F, 'NR > 1 { n++; if ($3 == \"basic\") k++ } END { print \"accuracy: \" k / n }' "
                                 "data/test.csv\necho done > report.txt\n");
    repo.commit("eval");
    std::string id = repo.ok({"run", "--json", "-n", "eval", "-d", "data/test.csv", "-o", "report.txt", "--", "./eval.sh"}).json()["id"];
    Result degraded = repo.cairn({"rerun", id.substr(0, 8), "--with", "data/test.csv=category.csv", "--max-rel-drop", "accuracy=0.05"});
    INFO(degraded.out << degraded.err);
    CHECK(degraded.code == 1);
    CHECK(contains(degraded.out, "verdict: degraded"));
    CHECK(contains(degraded.out, "data drift of data/test.csv"));
    CHECK(contains(degraded.out, "no dataset drift: 1 of 4 columns drifted")); // plan, with its new category
    Result held = repo.cairn({"rerun", id.substr(0, 8), "--with", "data/test.csv=same.csv", "--max-rel-drop", "accuracy=0.05"});
    CHECK(held.code == 0);
    CHECK_FALSE(contains(held.out, "data drift of"));
}

TEST_CASE("drift --against model:NAME@ALIAS:PATH picks a file inside a tracked training directory", "[drift]") {
    Data d;
    Repo& repo = d.repo;
    repo.write("data/sets/train.csv", table(101, 500, {}));
    repo.write("data/sets/extra/labels.csv", "id\n1\n2\n");
    repo.ok({"add", "data/sets"});
    repo.write_script("train.sh", "#!/bin/sh\nls data/sets > model.bin\n");
    repo.commit("data and code");
    std::string run = repo.ok({"run", "--json", "-d", "data/sets", "-o", "model.bin", "--", "./train.sh"}).json()["id"];
    repo.ok({"model", "register", "dirs", run, "--alias", "prod"});
    Result whole = repo.cairn({"drift", "same.csv", "--against", "model:dirs@prod"});
    CHECK(whole.code == 3);
    CHECK(contains(whole.err, "is a directory"));
    Result file = repo.cairn({"drift", "same.csv", "--against", "model:dirs@prod:data/sets/train.csv", "--json"});
    INFO(file.out << file.err);
    CHECK(file.code == 0);
    CHECK(file.json()["reference"]["rows"] == 500);
    CHECK(repo.cairn({"drift", "mean.csv", "--against", "model:dirs@prod:data/sets/train.csv"}).code == 1);
    Result none = repo.cairn({"drift", "same.csv", "--against", "model:dirs@prod:data/sets/nope.csv"});
    CHECK(none.code == 3);
    CHECK(contains(none.err, "no such file in the recorded directory"));
}
