#pragma once
// The statistics behind `cairn drift`, on plain numbers so that each can be checked against
// SciPy: two-sample Kolmogorov-Smirnov, chi-squared goodness of fit, the two-proportion z-test,
// Wasserstein-1, Jensen-Shannon distance and the population stability index. Where a result is
// exact it matches SciPy's to about 1e-12 relative (tests/unit/drift/test_stats.cpp).

#include <cstdint>
#include <vector>

namespace cairn::drift {

// A numeric sample as a profile keeps it: ascending values, each with a weight (the number of
// values it stands for). `exact` when these are the values themselves (weight 1 each); otherwise
// each stands for a slice of the distribution (a quantile interval), and what is computed from
// it is an approximation.
struct Sample {
    std::vector<double> values;  // ascending
    std::vector<double> weights; // same length; all 1 when exact
    std::uint64_t n = 0;         // the number of values the sample describes
    bool exact = true;
};

// A sample of the values themselves, sorted here.
[[nodiscard]] Sample exact_sample(std::vector<double> values);
// A sample described by the k + 1 quantiles at p = i / k of n values: each interval stands for
// n / k values, placed at its midpoint.
[[nodiscard]] Sample quantile_sample(const std::vector<double>& quantiles, std::uint64_t n);

struct TestResult {
    double statistic = 0;
    double pvalue = 1;
};

// scipy.stats.ks_2samp(a, b) with its default method 'auto' (two-sided): D = the largest
// difference of the empirical CDFs; the p-value exact when both samples have at most 10,000
// values (as SciPy's 'auto' chooses), else, or when the exact computation cannot be done in
// doubles, from the asymptotic Kolmogorov distribution. Requires non-empty samples.
[[nodiscard]] TestResult ks_2samp(const Sample& a, const Sample& b);

// The exact two-sided p-value of D for samples of n1 and n2 values (SciPy's
// _attempt_exact_2kssamp); negative when doubles cannot hold the computation.
[[nodiscard]] double ks_exact_pvalue(double d, std::uint64_t n1, std::uint64_t n2);

// scipy.stats.chisquare(observed, expected): sum (o - e)^2 / e and its chi-squared(k - 1)
// survival. A category expected 0 but observed is an infinite statistic, p-value 0.
[[nodiscard]] TestResult chisquare(const std::vector<double>& observed, const std::vector<double>& expected);

// Evidently's two-proportion z-test: `hits1` of `n1` reference values against `hits2` of `n2`
// current ones are one category; two-sided p = 2 (1 - Phi(|z|)), computed as erfc(|z| / sqrt 2).
// Identical proportions (also both 0 or both 1) give z = 0, p = 1.
[[nodiscard]] TestResult z_test(double hits1, double n1, double hits2, double n2);

// scipy.stats.wasserstein_distance(a.values, b.values, a.weights, b.weights).
[[nodiscard]] double wasserstein(const Sample& a, const Sample& b);

// scipy.spatial.distance.jensenshannon(p, q) (base e): both normalised to sum 1 first.
[[nodiscard]] double jensen_shannon(const std::vector<double>& p, const std::vector<double>& q);

// The population stability index of two histograms over the same bins, as Evidently computes
// it: each turned into shares, zero shares replaced by a small one (0.0001, or a millionth of
// the smallest non-zero share when that is smaller), then sum (r - c) ln(r / c).
[[nodiscard]] double psi(const std::vector<double>& reference, const std::vector<double>& current);

// The survival function of chi-squared with `df` degrees of freedom at x (the regularised upper
// incomplete gamma Q(df / 2, x / 2)).
[[nodiscard]] double chi2_sf(double x, double df);

// The counts of `s` in the bins of `edges` (ascending, maybe repeated): bin 0 holds values below
// edges.front(), bin i (1 <= i < edges.size()) those in [edges[i-1], edges[i]) (the last of these
// closed), and a final bin those above edges.back(); edges.size() + 1 bins.
[[nodiscard]] std::vector<double> histogram(const Sample& s, const std::vector<double>& edges);

} // namespace cairn::drift
