#include "core/util/sort.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>

namespace cairn::util {
namespace {

constexpr int k_bits = 11;
constexpr std::size_t k_buckets = std::size_t{1} << k_bits;
constexpr int k_passes = (64 + k_bits - 1) / k_bits;
// Below this, the passes over 2,048 buckets cost more than std::sort's n log n.
constexpr std::size_t k_radix_min = 4096;

// The bits of a double as an unsigned key that orders as the double does: negatives with every
// bit flipped (larger magnitude, smaller key), others with the sign bit set.
std::uint64_t key_of(double x) {
    auto u = std::bit_cast<std::uint64_t>(x);
    return (u & (std::uint64_t{1} << 63)) ? ~u : u | (std::uint64_t{1} << 63);
}

double double_of(std::uint64_t k) {
    return std::bit_cast<double>((k & (std::uint64_t{1} << 63)) ? k & ~(std::uint64_t{1} << 63) : ~k);
}

} // namespace

void sort_doubles(std::vector<double>& values) {
    const std::size_t n = values.size();
    if (n < k_radix_min) {
        std::sort(values.begin(), values.end());
        return;
    }
    // The keys replace the values in place (a double and its key are both 8 bytes), and one
    // scratch array, left uninitialised, takes every other pass.
    static_assert(sizeof(double) == sizeof(std::uint64_t));
    auto* a = reinterpret_cast<std::uint64_t*>(values.data());
    std::unique_ptr<std::uint64_t[]> scratch(new std::uint64_t[n]);
    std::uint64_t* b = scratch.get();
    // Every pass's histogram, counted in one read of the keys.
    std::vector<std::array<std::size_t, k_buckets>> counts(k_passes);
    for (auto& c : counts) c.fill(0);
    for (std::size_t i = 0; i < n; ++i) {
        std::uint64_t k = key_of(values[i]);
        std::memcpy(a + i, &k, sizeof k); // not through a uint64_t lvalue: the storage holds doubles
        for (int p = 0; p < k_passes; ++p) ++counts[static_cast<std::size_t>(p)][(k >> (p * k_bits)) & (k_buckets - 1)];
    }
    std::uint64_t* from = a;
    std::uint64_t* to = b;
    for (int p = 0; p < k_passes; ++p) {
        auto& c = counts[static_cast<std::size_t>(p)];
        const int shift = p * k_bits;
        // Every key has this digit: the pass would leave the order as it is.
        if (c[(from[0] >> shift) & (k_buckets - 1)] == n) continue;
        std::size_t sum = 0;
        for (auto& slot : c) {
            std::size_t here = slot;
            slot = sum;
            sum += here;
        }
        for (std::size_t i = 0; i < n; ++i) {
            std::uint64_t k = from[i];
            to[c[(k >> shift) & (k_buckets - 1)]++] = k;
        }
        std::swap(from, to);
    }
    if (from != a) std::memcpy(a, from, n * sizeof(std::uint64_t));
    for (std::size_t i = 0; i < n; ++i) {
        std::uint64_t k;
        std::memcpy(&k, a + i, sizeof k);
        values[i] = double_of(k);
    }
}

} // namespace cairn::util
