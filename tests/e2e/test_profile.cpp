// cairn profile: statistics checked against numpy, the profile store, tracked paths, errors.
#include <algorithm>
#include <cmath>

#include <catch2/catch.hpp>

#include "tests/e2e/harness.hpp"

using namespace cairn::e2e;
using nlohmann::json;

namespace {

// numpy is the oracle: /usr/bin/python3 (Debian's python3-numpy), not the python3 on PATH.
constexpr const char* k_python = "/usr/bin/python3";

bool have_numpy(const Repo& repo) {
    Result r = run_process({k_python, "-c", "import numpy"}, repo.root(), repo.env());
    if (r.code != 0) WARN("skipped: /usr/bin/python3 cannot import numpy (install python3-numpy): " << r.err);
    return r.code == 0;
}

// Writes the tables and, in expected.json, what numpy says of each numeric column and the
// value counts of each categorical one.
const char* k_generate = R"PY(
import collections, json, sys
import numpy as np

rng = np.random.default_rng(20240611)
n = 3000
x = rng.normal(5.0, 2.0, n)
k = rng.integers(-50, 50, n)
few = rng.exponential(3.0, n)
few_present = rng.random(n) < 0.25          # about 750 values: all of them kept, sorted
colour = rng.choice(["red", "green", "blue, dark", 'say "hi"'], n, p=[0.4, 0.3, 0.2, 0.1])
with open("data/train.csv", "w", newline="") as f:
    f.write("x,k,few,colour\r\n")
    for i in range(n):
        c = colour[i]
        if "," in c or '"' in c:
            c = '"' + c.replace('"', '""') + '"'
        f.write("%r,%d,%s,%s\r\n" % (float(x[i]), k[i], repr(float(few[i])) if few_present[i] else "", c))

m = rng.normal(-1e6, 1e3, (1500, 3))
np.save("data/features.npy", m)
fortran = np.asfortranarray(rng.uniform(0, 1, (400, 2)))
np.save("data/fortran.npy", fortran)
big = rng.normal(0, 1, 1200).astype(">f4")
np.save("data/big.npy", big)

def numeric(v):
    v = np.sort(np.asarray(v, dtype=np.float64))
    edges = np.quantile(v, np.arange(11) / 10)
    left = np.searchsorted(v, edges, side="left")
    counts = [int(left[i + 1] - left[i]) for i in range(9)] + [int(len(v) - left[9])]
    out = {"count": len(v), "min": v.min(), "max": v.max(), "mean": v.mean(), "std": v.std(ddof=1),
           "edges": edges.tolist(), "counts": counts}
    if len(v) <= 1000:
        out["sorted"] = v.tolist()
    else:
        out["quantiles"] = np.quantile(v, np.arange(1001) / 1000).tolist()
    return {key: (float(val) if isinstance(val, np.floating) else val) for key, val in out.items()}

expected = {
    "data/train.csv": {"x": numeric(x), "k": numeric(k), "few": numeric(few[few_present]),
                       "colour": dict(collections.Counter(colour.tolist()))},
    "data/features.npy": {str(j): numeric(m[:, j]) for j in range(3)},
    "data/fortran.npy": {str(j): numeric(fortran[:, j]) for j in range(2)},
    "data/big.npy": {"0": numeric(big)},
}
json.dump(expected, open("expected.json", "w"))
)PY";

void check_close(double got, double want, const std::string& what) {
    INFO(what << ": got " << got << ", numpy " << want);
    CHECK(std::fabs(got - want) <= 1e-9 * std::max({std::fabs(got), std::fabs(want), 1e-300}));
}

void check_numbers(const json& got, const json& want, const std::string& what) {
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) check_close(got[i], want[i], what + "[" + std::to_string(i) + "]");
}

} // namespace

TEST_CASE("profile: statistics of CSV and .npy columns match numpy", "[e2e][profile]") {
    Repo repo;
    if (!have_numpy(repo)) return;
    repo.write("gen.py", k_generate);
    std::filesystem::create_directories(repo.path("data"));
    Result gen = run_process({k_python, "gen.py"}, repo.root(), repo.env());
    REQUIRE(gen.code == 0);
    json expected = json::parse(repo.read("expected.json"));
    for (const auto& [file, columns] : expected.items()) {
        json p = repo.ok({"profile", file, "--json"}).json();
        INFO(file);
        CHECK(p["schema"] == "cairn-profile/1");
        CHECK(p["path"] == file);
        CHECK(p["object"] == sha256_id_of_file(repo.path(file)));
        CHECK(p["format"] == (file.find(".npy") != std::string::npos ? "npy" : "csv"));
        REQUIRE(p["columns"].size() == columns.size());
        for (const auto& c : p["columns"]) {
            const std::string name = c["name"];
            const json& want = columns.at(name);
            INFO("column " << name);
            CHECK(c["counts"]["rows"] == p["rows"]);
            if (name == "colour") {
                CHECK(c["kind"] == "categorical");
                CHECK(c["distinct"] == want.size());
                CHECK(c["categorical"]["other"] == 0);
                for (const auto& t : c["categorical"]["top"]) CHECK(t["count"] == want.at(t["value"].get<std::string>()));
                continue;
            }
            CHECK(c["kind"] == "numeric");
            const json& n = c["numeric"];
            CHECK(n["count"] == want["count"]);
            CHECK(c["counts"]["missing"] == c["counts"]["rows"].get<int>() - want["count"].get<int>());
            for (const char* key : {"min", "max", "mean", "std"}) check_close(n[key], want[key], key);
            check_numbers(n["bins"]["edges"], want["edges"], "edges");
            CHECK(n["bins"]["counts"] == want["counts"]);
            if (want.contains("sorted")) {
                CHECK_FALSE(n.contains("quantiles"));
                check_numbers(n["sorted"], want["sorted"], "sorted");
            } else {
                CHECK_FALSE(n.contains("sorted"));
                check_numbers(n["quantiles"], want["quantiles"], "quantiles");
            }
        }
    }
    // The table view: one line per column.
    Result text = repo.ok({"profile", "data/train.csv"});
    CHECK(contains(text.out, "data/train.csv: 3000 rows, 4 columns (csv"));
    CHECK(contains(text.out, "column  kind         rows  missing  min / top"));
    CHECK(contains(text.out, "colour  categorical  3000  0        red ("));
}

TEST_CASE("profile: the profile of a cached object is stored and read back", "[e2e][profile]") {
    Repo repo;
    repo.write("data/t.csv", "a,b\n1,x\n2,y\n3,x\n");
    repo.ok({"add", "data/t.csv"});
    std::string id = sha256_id_of_file(repo.path("data/t.csv"));
    std::string stored = ".cairn/state/profiles/" + id.substr(7) + ".csv.json";

    json first = repo.ok({"profile", "data/t.csv", "--json"}).json();
    CHECK(first["stored"] == false);
    CHECK(first["columns"][0]["numeric"]["mean"] == 2.0);
    REQUIRE(repo.exists(stored));

    // Profiling the same bytes again reads the stored profile, however they are named: changing
    // it shows.
    std::string text = repo.read(stored);
    auto at = text.find("\"mean\": 2.0");
    REQUIRE(at != std::string::npos);
    text.replace(at, 11, "\"mean\": 2.5");
    repo.write(stored, text);
    for (const std::string& name : {std::string("data/t.csv"), id, id.substr(0, 15), std::string("data/t.csv.cairn")}) {
        json again = repo.ok({"profile", name, "--json"}).json();
        INFO(name);
        CHECK(again["stored"] == true);
        CHECK(again["columns"][0]["numeric"]["mean"] == 2.5);
        CHECK(again["object"] == id);
    }
    // With the workspace copy gone, the tracked path is profiled from the cache.
    std::filesystem::remove(repo.path("data/t.csv"));
    CHECK(repo.ok({"profile", "data/t.csv", "--json"}).json()["path"] == "data/t.csv");

    // A damaged stored profile is computed again and replaced.
    repo.write(stored, "{\"schema\": \"cairn-profile/1\", \"rows\": 3}");
    json fresh = repo.ok({"profile", "data/t.csv", "--json"}).json();
    CHECK(fresh["stored"] == false);
    CHECK(fresh["columns"][0]["numeric"]["mean"] == 2.0);
    CHECK(json::parse(repo.read(stored))["columns"][0]["numeric"]["mean"] == 2.0);

    // gc drops the profiles of the objects it removes.
    std::filesystem::remove(repo.path("data/t.csv.cairn"));
    repo.ok({"gc"});
    CHECK_FALSE(repo.exists(stored));
}

TEST_CASE("profile: files inside a tracked directory, untracked files are not stored", "[e2e][profile]") {
    Repo repo;
    repo.write("data/sets/train/a.jsonl", "{\"v\": 1, \"c\": \"p\"}\n{\"v\": 3, \"c\": \"q\", \"n\": [1]}\n");
    repo.write("data/sets/b.tsv", "h\n1\n");
    repo.ok({"add", "data/sets"});
    std::filesystem::remove_all(repo.path("data/sets"));
    json p = repo.ok({"profile", "data/sets/train/a.jsonl", "--json"}).json();
    CHECK(p["format"] == "jsonl");
    CHECK(p["rows"] == 2);
    CHECK(p["columns"][2]["name"] == "n");
    CHECK(p["columns"][2]["counts"]["missing"] == 1);
    CHECK(p["columns"][2]["types"]["nested"] == 1);
    Result dir = repo.cairn({"profile", "data/sets/train"});
    CHECK(dir.code == 3);
    CHECK(contains(dir.err, "is a directory in the tracked directory data/sets"));
    Result missing = repo.cairn({"profile", "data/sets/c.csv"});
    CHECK(missing.code == 3);
    CHECK(contains(missing.err, "data/sets/c.csv: no such file in the tracked directory data/sets (data/sets.cairn)"));

    repo.write("loose.csv", "a\n1\n2\n");
    CHECK(repo.ok({"profile", "loose.csv", "--json"}).json()["stored"] == false);
    CHECK(repo.ok({"profile", "loose.csv", "--json"}).json()["stored"] == false);
    CHECK_FALSE(repo.exists(".cairn/state/profiles/" + sha256_id_of_file(repo.path("loose.csv")).substr(7) + ".csv.json"));
}

TEST_CASE("profile: malformed tables are one-line errors naming the file and line", "[e2e][profile]") {
    Repo repo;
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"ragged.csv", "a,b\n1,2\n3,4,5\n"},
        {"quote.csv", "a,b\n1,\"never closed\n2,3\n"},
        {"junk.csv", std::string("a,b\n\x89PNG\r\n\x1a\n\0\0\0", 15)},
        {"empty.csv", ""},
        {"header.tsv", "a\tb\n"},
        {"bad.jsonl", "{\"a\": 1}\n{\"a\": 2,}\n"},
        {"bad.npy", std::string("\x93NUMPY\x01\x00\x10\x00{'descr': 'x'}  \n", 27)},
    };
    const std::vector<std::string> messages = {
        "cairn: error: ragged.csv:3: expected 2 fields, found 3\n",
        "cairn: error: quote.csv:2: unterminated quoted field\n",
        "cairn: error: junk.csv:4: NUL byte: binary data, not a CSV table\n",
        "cairn: error: empty.csv: empty file, expected a header row\n",
        "cairn: error: header.tsv:1: a header row and no data rows\n",
        "cairn: error: bad.jsonl:2: invalid JSON at column 9\n",
        "cairn: error: bad.npy: offset 23: bad .npy header: unsupported dtype 'x'\n",
    };
    for (std::size_t i = 0; i < cases.size(); ++i) {
        repo.write(cases[i].first, cases[i].second);
        Result r = repo.cairn({"profile", cases[i].first});
        INFO(cases[i].first);
        CHECK(r.code == 3);
        CHECK(r.err == messages[i]);
        CHECK(r.out.empty());
    }
    Result none = repo.cairn({"profile", "nothing.csv"});
    CHECK(none.code == 3);
    CHECK(none.err == "cairn: error: nothing.csv: no such file, and no pointer file tracks it\n");
    Result obj = repo.cairn({"profile", "sha256:0123456789"});
    CHECK(obj.code == 3);
}
