// The drift statistics against SciPy: the test runs /usr/bin/python3 (Debian's python3-scipy)
// on seeded samples and compares every result, to 1e-9 relative where the method is exact.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/drift/stats.hpp"

using namespace cairn;
using nlohmann::json;

namespace {

// Runs the script with /usr/bin/python3 and returns its stdout parsed, or null (after WARN) when
// scipy cannot be imported there.
json scipy_says(const std::string& script) {
    std::FILE* probe = ::popen("/usr/bin/python3 -c 'import scipy, numpy' 2>&1", "r");
    std::string probe_out;
    char buf[4096];
    if (probe) {
        while (std::size_t n = std::fread(buf, 1, sizeof buf, probe)) probe_out.append(buf, n);
        if (::pclose(probe) != 0) probe = nullptr;
    }
    if (!probe) {
        WARN("skipped: /usr/bin/python3 cannot import scipy (install python3-scipy): " << probe_out);
        return nullptr;
    }
    std::string command = "/usr/bin/python3 -c '" + script + "'";
    std::FILE* p = ::popen(command.c_str(), "r");
    REQUIRE(p);
    std::string out;
    while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    REQUIRE(::pclose(p) == 0);
    return json::parse(out);
}

std::vector<double> doubles(const json& j) { return j.get<std::vector<double>>(); }

void close(double got, double want, double rel = 1e-9) {
    INFO("got " << got << ", scipy " << want);
    if (std::isinf(want)) {
        CHECK(got == want);
        return;
    }
    CHECK(std::fabs(got - want) <= rel * std::max(std::fabs(want), 1e-300));
}

// Seeded samples with known shifts; no single quote in the script (it is passed in '...').
const char* k_samples = R"PY(
import json, warnings
warnings.simplefilter("ignore")
import numpy as np
from scipy import stats
from scipy.spatial import distance
rng = np.random.default_rng(20261202)
def ks(a, b):
    r = stats.ks_2samp(a, b)
    return {"a": list(map(float, a)), "b": list(map(float, b)), "d": float(r.statistic), "p": float(r.pvalue)}
out = {"ks": [], "ks_asymp": [], "w": [], "ww": [], "chi": [], "z": [], "js": [], "psi": [], "sf": []}
out["ks"].append(ks(rng.normal(0, 1, 50), rng.normal(0, 1, 50)))
out["ks"].append(ks(rng.normal(0, 1, 200), rng.normal(0.3, 1, 300)))
out["ks"].append(ks(rng.normal(0, 1, 500), rng.normal(0, 1.5, 500)))
out["ks"].append(ks(rng.normal(0, 1, 1000), rng.normal(0.05, 1, 800)))
out["ks"].append(ks(rng.integers(0, 5, 30), rng.integers(0, 6, 1000)))
out["ks"].append(ks(rng.normal(0, 1, 7), rng.normal(1, 1, 13)))
out["ks"].append(ks(rng.normal(0, 1, 3000), rng.normal(0.02, 1, 2000)))
out["ks"].append(ks(rng.uniform(0, 1, 400), rng.uniform(0, 1, 400) + 2))
out["ks_asymp"].append(ks(rng.normal(0, 1, 12000), rng.normal(0.05, 1, 500)))
out["ks_asymp"].append(ks(rng.normal(0, 1, 20000), rng.normal(0.0, 1, 15000)))
for a, b in [(rng.normal(0, 1, 100), rng.normal(0.5, 2, 70)), (rng.exponential(2, 1000), rng.exponential(2.2, 1000)),
             (rng.integers(0, 3, 20), rng.integers(0, 3, 25))]:
    out["w"].append({"a": a.tolist(), "b": b.tolist(), "w": float(stats.wasserstein_distance(a, b))})
a, b = np.sort(rng.normal(0, 1, 60)), np.sort(rng.normal(1, 1, 40))
wa, wb = rng.uniform(0.5, 3, 60), rng.uniform(0.5, 3, 40)
out["ww"].append({"a": a.tolist(), "b": b.tolist(), "wa": wa.tolist(), "wb": wb.tolist(),
                  "w": float(stats.wasserstein_distance(a, b, wa, wb))})
for obs, exp in [([30, 40, 30], [33.3, 33.3, 33.4]), ([100, 5, 400, 495], [120, 10, 380, 490]),
                 ([10, 20], [15, 15]), ([500, 480, 20], [510.0, 490.0, 0.0]), ([1, 2, 3, 4, 5, 6, 7, 8], [4.5] * 8)]:
    r = stats.chisquare(obs, exp)
    out["chi"].append({"obs": obs, "exp": exp, "stat": float(r.statistic) if np.isfinite(r.statistic) else None, "p": float(r.pvalue)})
for h1, n1, h2, n2 in [(40, 100, 55, 120), (500, 1000, 510, 1000), (3, 50, 30, 60), (900, 1000, 100, 1000)]:
    p1, p2 = h1 / n1, h2 / n2
    P = (h1 + h2) / (n1 + n2)
    z = (p1 - p2) / np.sqrt(P * (1 - P) * (1 / n1 + 1 / n2))
    out["z"].append({"h1": h1, "n1": n1, "h2": h2, "n2": n2, "z": float(z), "p": float(2 * stats.norm.sf(abs(z)))})
for p, q in [([1, 2, 3, 4], [4, 3, 2, 1]), ([10, 0, 5, 5], [0, 10, 5, 5]), (rng.uniform(0, 1, 12).tolist(), rng.uniform(0, 1, 12).tolist()),
             ([5, 5], [5, 5])]:
    out["js"].append({"p": p, "q": q, "d": float(distance.jensenshannon(p, q))})
def psi(r, c):
    r = np.asarray(r, dtype=float) / np.sum(r)
    c = np.asarray(c, dtype=float) / np.sum(c)
    for v in (r, c):
        m = min(v[v != 0])
        np.place(v, v == 0, m / 10**6 if m <= 0.0001 else 0.0001)
    return float(np.sum((r - c) * np.log(r / c)))
for r, c in [([10, 20, 30, 40], [12, 18, 33, 37]), ([0, 50, 50, 0], [5, 45, 40, 10]), ([100000, 1, 0], [50000, 50000, 1])]:
    out["psi"].append({"r": r, "c": c, "psi": psi(r, c)})
for x, df in [(0.5, 1), (3.84, 1), (10, 3), (100, 2), (2500, 7), (1e-3, 10), (45.5, 40), (7, 200)]:
    out["sf"].append({"x": x, "df": df, "p": float(stats.chi2.sf(x, df))})
print(json.dumps(out))
)PY";

} // namespace

TEST_CASE("drift statistics match SciPy", "[drift]") {
    // Once for all sections (Catch runs the test case once per section).
    static const json want = scipy_says(k_samples);
    if (want.is_null()) return;

    SECTION("ks_2samp, exact") {
        for (const auto& c : want["ks"]) {
            auto r = drift::ks_2samp(drift::exact_sample(doubles(c["a"])), drift::exact_sample(doubles(c["b"])));
            INFO("n1 = " << c["a"].size() << ", n2 = " << c["b"].size());
            close(r.statistic, c["d"].get<double>());
            close(r.pvalue, c["p"].get<double>());
        }
    }
    SECTION("ks_2samp, asymptotic beyond 10,000 values: D exact, p approximate") {
        for (const auto& c : want["ks_asymp"]) {
            auto r = drift::ks_2samp(drift::exact_sample(doubles(c["a"])), drift::exact_sample(doubles(c["b"])));
            close(r.statistic, c["d"].get<double>());
            CHECK(std::fabs(r.pvalue - c["p"].get<double>()) < 0.01);
        }
    }
    SECTION("wasserstein_distance") {
        for (const auto& c : want["w"])
            close(drift::wasserstein(drift::exact_sample(doubles(c["a"])), drift::exact_sample(doubles(c["b"]))), c["w"].get<double>());
        for (const auto& c : want["ww"]) {
            drift::Sample a{doubles(c["a"]), doubles(c["wa"]), 60, false};
            drift::Sample b{doubles(c["b"]), doubles(c["wb"]), 40, false};
            close(drift::wasserstein(a, b), c["w"].get<double>());
        }
    }
    SECTION("chisquare, with a category expected 0") {
        for (const auto& c : want["chi"]) {
            auto r = drift::chisquare(doubles(c["obs"]), doubles(c["exp"]));
            close(r.statistic, c["stat"].is_null() ? INFINITY : c["stat"].get<double>());
            close(r.pvalue, c["p"].get<double>());
        }
    }
    SECTION("two-proportion z-test") {
        for (const auto& c : want["z"]) {
            auto r = drift::z_test(c["h1"].get<double>(), c["n1"].get<double>(), c["h2"].get<double>(), c["n2"].get<double>());
            close(r.statistic, c["z"].get<double>());
            close(r.pvalue, c["p"].get<double>(), 1e-6); // SciPy's side is 2 sf(|z|), ours erfc
        }
    }
    SECTION("jensenshannon, base e") {
        for (const auto& c : want["js"]) {
            const double d = c["d"].get<double>();
            if (d == 0) CHECK(drift::jensen_shannon(doubles(c["p"]), doubles(c["q"])) == 0);
            else close(drift::jensen_shannon(doubles(c["p"]), doubles(c["q"])), d);
        }
    }
    SECTION("PSI as Evidently computes it") {
        for (const auto& c : want["psi"]) close(drift::psi(doubles(c["r"]), doubles(c["c"])), c["psi"].get<double>());
    }
    SECTION("chi2.sf") {
        for (const auto& c : want["sf"]) close(drift::chi2_sf(c["x"].get<double>(), c["df"].get<double>()), c["p"].get<double>());
    }
}

TEST_CASE("drift samples from quantiles approximate the values", "[drift]") {
    std::vector<double> v;
    for (int i = 0; i < 5000; ++i) v.push_back(std::sin(i * 0.7) * 3 + i * 0.001);
    drift::Sample exact = drift::exact_sample(v);
    std::vector<double> q;
    for (int i = 0; i <= 1000; ++i) {
        const double h = (static_cast<double>(exact.values.size()) - 1) * i / 1000.0;
        const auto lo = static_cast<std::size_t>(h);
        const double hi = lo + 1 < exact.values.size() ? exact.values[lo + 1] : exact.values[lo];
        q.push_back(exact.values[lo] + (h - static_cast<double>(lo)) * (hi - exact.values[lo]));
    }
    drift::Sample approx = drift::quantile_sample(q, exact.n);
    CHECK_FALSE(approx.exact);
    CHECK(drift::ks_2samp(exact, approx).statistic < 0.002);
    CHECK(drift::wasserstein(exact, approx) < 0.01);
    std::vector<double> edges = {-2, -1, 0, 1, 2};
    auto he = drift::histogram(exact, edges), ha = drift::histogram(approx, edges);
    REQUIRE(he.size() == 6);
    for (std::size_t i = 0; i < he.size(); ++i) CHECK(std::fabs(he[i] - ha[i]) <= 10);
}
