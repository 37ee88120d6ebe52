#include "core/drift/stats.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace cairn::drift {
namespace {

constexpr double k_pi = 3.14159265358979323846;
// SciPy's ks_2samp 'auto' is exact up to this many values per sample.
constexpr std::uint64_t k_exact_ks_max = 10000;

double total(const Sample& s) { return std::accumulate(s.weights.begin(), s.weights.end(), 0.0); }

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return -floor_div(-a, b); }

// Pr(D_{n,n} >= h/n): 2 (A0 (1 - A1 (1 - A2 (...)))), the alternating sum of binomial ratios
// evaluated Horner-style to avoid cancellation.
double prob_outside_square(std::int64_t n, std::int64_t h) {
    double p = 0;
    for (std::int64_t k = n / h; k >= 0; --k) {
        double term = 1;
        for (std::int64_t j = 0; j < h; ++j)
            term = static_cast<double>(n - k * h - j) * term / static_cast<double>(n + k * h + j + 1);
        p = term * (1 - p);
    }
    return 2 * p;
}

// The share of lattice paths from (0, 0) to (m, n) that leave the band |x/m - y/n| < h / lcm.
// Column by column, P(i, j) = (i P(i-1, j) + j P(i, j-1)) / (i + j) is that share for paths to
// (i, j) (1 outside the band): it stays in [0, 1], so nothing overflows (Viehmann's form).
double prob_outside_band(std::int64_t m, std::int64_t n, std::int64_t g, std::int64_t h) {
    if (m < n) std::swap(m, n);
    const std::int64_t mg = m / g, ng = n / g;
    // Entries at and above the current window hold 1 (outside the band).
    std::vector<double> column(static_cast<std::size_t>(n) + 2, 1.0);
    std::int64_t lo = 0, hi = std::min(ceil_div(h, mg), n + 1);
    for (std::int64_t j = lo; j < hi; ++j) column[static_cast<std::size_t>(j)] = 0;
    for (std::int64_t i = 1; i <= m; ++i) {
        const std::int64_t last_lo = lo, last_len = hi - lo;
        lo = std::min(std::max(floor_div(ng * i - h, mg) + 1, std::int64_t{0}), n);
        hi = std::min(ceil_div(ng * i + h, mg), n + 1);
        if (hi <= lo) return 1.0;
        double below = lo == 0 ? 0.0 : 1.0;
        // The window only moves up, so reading at k + (lo - last_lo) >= k never reads a
        // value already overwritten in this column.
        for (std::int64_t k = 0; k < hi - lo; ++k) {
            const std::int64_t j = k + lo;
            below = (column[static_cast<std::size_t>(k + lo - last_lo)] * static_cast<double>(i) + below * static_cast<double>(j)) /
                    static_cast<double>(i + j);
            column[static_cast<std::size_t>(k)] = below;
        }
        for (std::int64_t k = hi - lo; k < last_len; ++k) column[static_cast<std::size_t>(k)] = 1;
    }
    return column[static_cast<std::size_t>(hi - lo - 1)];
}

// The limiting Kolmogorov survival function at lambda = sqrt(n1 n2 / (n1 + n2)) D, with
// Stephens' finite-sample correction.
double ks_asymptotic_pvalue(double d, double n1, double n2) {
    const double en = std::sqrt(n1 * n2 / (n1 + n2));
    const double lambda = (en + 0.12 + 0.11 / en) * d;
    if (lambda <= 0) return 1;
    if (lambda < 1) {
        // The series in exp(-(2k-1)^2 pi^2 / (8 lambda^2)) converges fast for small lambda.
        double sum = 0;
        for (int k = 1; k <= 20; ++k) {
            const double t = (2.0 * k - 1) * k_pi / lambda;
            sum += std::exp(-t * t / 8);
        }
        return std::clamp(1 - std::sqrt(2 * k_pi) / lambda * sum, 0.0, 1.0);
    }
    double sum = 0;
    for (int k = 1; k <= 100; ++k) {
        const double term = std::exp(-2.0 * k * k * lambda * lambda);
        sum += (k % 2 ? term : -term);
        if (term < 1e-300) break;
    }
    return std::clamp(2 * sum, 0.0, 1.0);
}

// The regularised lower incomplete gamma P(a, x) by its series (x < a + 1).
double gamma_p_series(double a, double x) {
    double term = 1 / a, sum = term;
    for (int k = 1; k < 100000; ++k) {
        term *= x / (a + k);
        sum += term;
        if (std::fabs(term) < std::fabs(sum) * 1e-17) break;
    }
    return sum * std::exp(-x + a * std::log(x) - std::lgamma(a));
}

// The regularised upper incomplete gamma Q(a, x) by its continued fraction (x >= a + 1),
// evaluated with the modified Lentz method.
double gamma_q_fraction(double a, double x) {
    constexpr double tiny = 1e-300;
    double b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
    for (int i = 1; i < 100000; ++i) {
        const double an = -i * (i - a);
        b += 2;
        d = an * d + b;
        if (std::fabs(d) < tiny) d = tiny;
        c = b + an / c;
        if (std::fabs(c) < tiny) c = tiny;
        d = 1 / d;
        const double delta = d * c;
        h *= delta;
        if (std::fabs(delta - 1) < 1e-17) break;
    }
    return std::exp(-x + a * std::log(x) - std::lgamma(a)) * h;
}

} // namespace

Sample exact_sample(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    Sample s;
    s.n = values.size();
    s.weights.assign(values.size(), 1.0);
    s.values = std::move(values);
    return s;
}

Sample quantile_sample(const std::vector<double>& quantiles, std::uint64_t n) {
    Sample s;
    s.n = n;
    s.exact = false;
    if (quantiles.size() < 2) return s;
    const double weight = static_cast<double>(n) / static_cast<double>(quantiles.size() - 1);
    for (std::size_t i = 0; i + 1 < quantiles.size(); ++i) {
        s.values.push_back(quantiles[i] + (quantiles[i + 1] - quantiles[i]) / 2);
        s.weights.push_back(weight);
    }
    return s;
}

double ks_exact_pvalue(double d, std::uint64_t n1, std::uint64_t n2) {
    const auto a = static_cast<std::int64_t>(n1), b = static_cast<std::int64_t>(n2);
    const std::int64_t g = std::gcd(a, b);
    const std::int64_t lcm = (a / g) * b;
    const auto h = static_cast<std::int64_t>(std::nearbyint(d * static_cast<double>(lcm)));
    if (h == 0) return 1.0;
    const double p = a == b ? prob_outside_square(a, h) : prob_outside_band(a, b, g, h);
    if (!(p >= 0 && p <= 1)) return -1;
    return p;
}

TestResult ks_2samp(const Sample& a, const Sample& b) {
    const double wa = total(a), wb = total(b);
    double ca = 0, cb = 0, d = 0;
    std::size_t i = 0, j = 0;
    // Both empirical CDFs (side 'right') at every value of either sample.
    while (i < a.values.size() || j < b.values.size()) {
        double x = i == a.values.size() ? b.values[j]
                   : j == b.values.size() ? a.values[i]
                                          : std::min(a.values[i], b.values[j]);
        while (i < a.values.size() && a.values[i] <= x) ca += a.weights[i++];
        while (j < b.values.size() && b.values[j] <= x) cb += b.weights[j++];
        d = std::max(d, std::fabs(ca / wa - cb / wb));
    }
    TestResult r;
    r.statistic = d;
    double p = -1;
    if (std::max(a.n, b.n) <= k_exact_ks_max) {
        p = ks_exact_pvalue(d, a.n, b.n);
        if (p >= 0) {
            // SciPy reports D on the lattice of the exact computation: h / lcm.
            const auto n1 = static_cast<std::int64_t>(a.n), n2 = static_cast<std::int64_t>(b.n);
            const std::int64_t lcm = (n1 / std::gcd(n1, n2)) * n2;
            r.statistic = std::nearbyint(d * static_cast<double>(lcm)) / static_cast<double>(lcm);
        }
    }
    if (p < 0) p = ks_asymptotic_pvalue(d, static_cast<double>(a.n), static_cast<double>(b.n));
    r.pvalue = std::clamp(p, 0.0, 1.0);
    return r;
}

double chi2_sf(double x, double df) {
    if (std::isnan(x)) return std::numeric_limits<double>::quiet_NaN();
    if (x <= 0) return 1;
    if (std::isinf(x)) return 0;
    const double a = df / 2, y = x / 2;
    if (y < a + 1) return std::clamp(1 - gamma_p_series(a, y), 0.0, 1.0);
    return std::clamp(gamma_q_fraction(a, y), 0.0, 1.0);
}

TestResult chisquare(const std::vector<double>& observed, const std::vector<double>& expected) {
    TestResult r;
    double stat = 0;
    for (std::size_t i = 0; i < observed.size(); ++i) {
        const double diff = observed[i] - expected[i];
        if (expected[i] == 0) {
            if (observed[i] != 0) stat = std::numeric_limits<double>::infinity();
            continue;
        }
        stat += diff * diff / expected[i];
    }
    r.statistic = stat;
    r.pvalue = observed.size() < 2 ? 1.0 : chi2_sf(stat, static_cast<double>(observed.size() - 1));
    return r;
}

TestResult z_test(double hits1, double n1, double hits2, double n2) {
    const double p1 = hits1 / n1, p2 = hits2 / n2;
    const double pooled = (hits1 + hits2) / (n1 + n2);
    const double se = std::sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
    TestResult r;
    if (p1 == p2 || se == 0) return r;
    r.statistic = (p1 - p2) / se;
    r.pvalue = std::erfc(std::fabs(r.statistic) / std::sqrt(2.0));
    return r;
}

double wasserstein(const Sample& a, const Sample& b) {
    const double wa = total(a), wb = total(b);
    double ca = 0, cb = 0, sum = 0;
    std::size_t i = 0, j = 0;
    bool started = false;
    double prev = 0;
    // Between consecutive values of the pooled samples both CDFs are constant: integrate
    // |F_a - F_b| piece by piece.
    while (i < a.values.size() || j < b.values.size()) {
        double x = i == a.values.size() ? b.values[j]
                   : j == b.values.size() ? a.values[i]
                                          : std::min(a.values[i], b.values[j]);
        if (started) sum += std::fabs(ca / wa - cb / wb) * (x - prev);
        while (i < a.values.size() && a.values[i] <= x) ca += a.weights[i++];
        while (j < b.values.size() && b.values[j] <= x) cb += b.weights[j++];
        prev = x;
        started = true;
    }
    return sum;
}

double jensen_shannon(const std::vector<double>& p, const std::vector<double>& q) {
    const double sp = std::accumulate(p.begin(), p.end(), 0.0), sq = std::accumulate(q.begin(), q.end(), 0.0);
    double js = 0;
    for (std::size_t i = 0; i < p.size(); ++i) {
        const double x = p[i] / sp, y = q[i] / sq, m = (x + y) / 2;
        if (x > 0) js += x * std::log(x / m);
        if (y > 0) js += y * std::log(y / m);
    }
    return std::sqrt(std::max(js, 0.0) / 2);
}

double psi(const std::vector<double>& reference, const std::vector<double>& current) {
    auto shares = [](const std::vector<double>& counts) {
        const double sum = std::accumulate(counts.begin(), counts.end(), 0.0);
        std::vector<double> s;
        double smallest = std::numeric_limits<double>::infinity();
        for (double c : counts) {
            s.push_back(sum > 0 ? c / sum : 0);
            if (s.back() != 0) smallest = std::min(smallest, s.back());
        }
        const double fill = smallest <= 0.0001 ? smallest / 1e6 : 0.0001;
        for (double& x : s)
            if (x == 0) x = fill;
        return s;
    };
    const std::vector<double> r = shares(reference), c = shares(current);
    double sum = 0;
    for (std::size_t i = 0; i < r.size(); ++i) sum += (r[i] - c[i]) * std::log(r[i] / c[i]);
    return sum;
}

std::vector<double> histogram(const Sample& s, const std::vector<double>& edges) {
    std::vector<double> counts(edges.size() + 1, 0.0);
    for (std::size_t i = 0; i < s.values.size(); ++i) {
        const double x = s.values[i];
        auto bin = static_cast<std::size_t>(std::upper_bound(edges.begin(), edges.end(), x) - edges.begin());
        if (bin == edges.size() && !edges.empty() && x == edges.back()) --bin;
        counts[bin] += s.weights[i];
    }
    return counts;
}

} // namespace cairn::drift
