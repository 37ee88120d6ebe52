#include "core/table/profile.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "core/table/readers.hpp"
#include "core/util/error.hpp"
#include "core/util/parallel.hpp"
#include "core/util/sort.hpp"
#include "core/util/strings.hpp"

namespace cairn::table {
namespace {

// Neumaier's compensated sum: the mean and variance stay exact to a few ulps at millions of
// values (numpy's pairwise sum is the oracle the tests compare with).
class Sum {
public:
    void add(double x) {
        double t = m_sum + x;
        m_c += std::fabs(m_sum) >= std::fabs(x) ? (m_sum - t) + x : (x - t) + m_sum;
        m_sum = t;
    }
    [[nodiscard]] double value() const { return m_sum + m_c; }

private:
    double m_sum = 0, m_c = 0;
};

// numpy's _lerp: from b downwards for t >= 0.5, so that t = 1 gives b exactly. Where b - a
// overflows (values near the double range's ends), a weighted sum, which cannot.
double lerp(double a, double b, double t) {
    double diff = b - a;
    double v = !std::isfinite(diff) ? a * (1 - t) + b * t : t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
    return std::clamp(v, a, b);
}

// numpy.quantile(values, p) with method "linear" over sorted values.
double sorted_quantile(const std::vector<double>& s, double p) {
    double h = static_cast<double>(s.size() - 1) * p;
    double lo = std::floor(h);
    auto i = static_cast<std::size_t>(lo);
    if (i + 1 >= s.size()) return s.back();
    return lerp(s[i], s[i + 1], h - lo);
}

std::string number_text(double x, bool integer) {
    if (integer && std::fabs(x) < 9.2e18) return fmt::format("{}", static_cast<long long>(x));
    return fmt::format("{}", x);
}

// `s` with every byte that is not part of a UTF-8 sequence replaced by U+FFFD.
std::string valid_utf8(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size();) {
        std::size_t n = util::utf8_length(s, i);
        if (n == 0) {
            out += "\xEF\xBF\xBD";
            ++i;
        } else {
            out.append(s, i, n);
            i += n;
        }
    }
    return out;
}

// Category counts: an open-addressing table over the values in insertion order, looked up by
// string_view with a hash of a few multiplications (no string is made for a value already
// counted). Most cells of a categorical column are one of a few values.
class Counts {
public:
    void add(std::string_view value, std::uint64_t by = 1) {
        if (m_slots.empty()) m_slots.assign(16, Slot{});
        const std::uint64_t h = hash(value);
        std::size_t mask = m_slots.size() - 1;
        for (std::size_t i = h & mask;; i = (i + 1) & mask) {
            Slot& slot = m_slots[i];
            if (slot.entry == 0) {
                m_entries.emplace_back(std::string(value), by);
                slot = Slot{h, static_cast<std::uint32_t>(m_entries.size())};
                if (m_entries.size() * 2 > m_slots.size()) grow();
                return;
            }
            if (slot.hash == h && m_entries[slot.entry - 1].first == value) {
                m_entries[slot.entry - 1].second += by;
                return;
            }
        }
    }
    [[nodiscard]] std::size_t size() const { return m_entries.size(); }
    [[nodiscard]] std::vector<std::pair<std::string, std::uint64_t>>& entries() { return m_entries; }
    void clear() {
        std::vector<Slot>().swap(m_slots);
        std::vector<std::pair<std::string, std::uint64_t>>().swap(m_entries);
    }

private:
    struct Slot {
        std::uint64_t hash = 0;
        std::uint32_t entry = 0; // index in m_entries + 1; 0: empty
    };

    static std::uint64_t mix(std::uint64_t x) {
        x ^= x >> 32;
        x *= 0xd6e8feb86659fd93ull;
        x ^= x >> 32;
        return x;
    }
    static std::uint64_t hash(std::string_view s) {
        std::uint64_t h = 0x9e3779b97f4a7c15ull ^ s.size();
        std::size_t i = 0;
        for (; i + 8 <= s.size(); i += 8) {
            std::uint64_t w;
            std::memcpy(&w, s.data() + i, 8);
            h = mix(h ^ w) * 0x9e3779b97f4a7c15ull;
        }
        if (i < s.size()) {
            std::uint64_t w = 0;
            std::memcpy(&w, s.data() + i, s.size() - i);
            h = mix(h ^ w) * 0x9e3779b97f4a7c15ull;
        }
        return mix(h);
    }
    void grow() {
        std::vector<Slot> slots(m_slots.size() * 2);
        const std::size_t mask = slots.size() - 1;
        for (const Slot& old : m_slots) {
            if (old.entry == 0) continue;
            std::size_t i = old.hash & mask;
            while (slots[i].entry != 0) i = (i + 1) & mask;
            slots[i] = old;
        }
        m_slots.swap(slots);
    }

    std::vector<Slot> m_slots;
    std::vector<std::pair<std::string, std::uint64_t>> m_entries;
};

struct Builder {
    ColumnProfile p;
    std::vector<double> finite;
    Counts counts;
    std::uint64_t numbers = 0;      // numeric cells so far
    std::uint64_t backfill_rows = 0; // numbers in rows before this one still lack their category
    std::uint64_t seen_in_row = 0;  // row + 1 of the last value
};

class ProfileSink final : public TableSink {
public:
    // `expected_rows`: how many rows the table (or piece) likely has, so that the numbers of a
    // column are collected without regrowing their array (0: unknown).
    explicit ProfileSink(const std::string& display, std::size_t expected_rows = 0)
        : m_display(display), m_expected_rows(expected_rows) {}

    std::vector<Builder> cols;
    std::uint64_t row = 0;

    void column(std::string_view name) override {
        std::string fixed = valid_utf8(std::string(name));
        // The readers refuse duplicate names; these became equal through the replacement.
        if (!m_names.insert(fixed).second)
            fail(ErrorKind::input, "{}: duplicate column name '{}' (bytes that are not UTF-8 read as U+FFFD)", m_display, fixed);
        cols.emplace_back();
        cols.back().p.name = std::move(fixed);
        // Untouched pages cost nothing: what a categorical column does not use is never faulted in.
        cols.back().finite.reserve(m_expected_rows);
        cols.back().p.missing = row; // the rows before a JSON Lines key first appeared
    }

    void value(std::size_t column, const Value& v) override {
        Builder& b = cols[column];
        b.seen_in_row = row + 1;
        switch (v.type) {
        case Value::Type::null: ++b.p.missing; return;
        case Value::Type::boolean: ++b.p.booleans; return category(b, v.text);
        case Value::Type::nested: ++b.p.nested; return category(b, v.text);
        case Value::Type::number: {
            TextClass cls = std::isnan(v.number) ? TextClass::nan
                            : std::isinf(v.number) ? (v.number > 0 ? TextClass::posinf : TextClass::neginf)
                            : v.integer ? TextClass::integer : TextClass::decimal;
            return number(b, cls, v.number, {}, v.integer);
        }
        case Value::Type::text: {
            Classified c = classify(v.text);
            if (c.cls == TextClass::missing) {
                ++b.p.missing;
                return;
            }
            if (c.cls == TextClass::string) {
                ++b.p.strings;
                return category(b, v.text);
            }
            return number(b, c.cls, c.number, v.text, false);
        }
        }
    }

    bool end_row() override {
        ++row;
        for (auto& b : cols)
            if (b.seen_in_row != row) ++b.p.missing;
        return true;
    }

private:
    const std::string& m_display;
    std::size_t m_expected_rows = 0;
    std::unordered_set<std::string> m_names;

    void number(Builder& b, TextClass cls, double x, std::string_view text, bool integer) {
        ++b.numbers;
        if (cls == TextClass::integer) ++b.p.integers;
        else ++b.p.decimals;
        if (cls == TextClass::nan) ++b.p.nan;
        if (cls == TextClass::posinf) ++b.p.posinf;
        if (cls == TextClass::neginf) ++b.p.neginf;
        if (b.p.numeric) {
            if (std::isfinite(x)) b.finite.push_back(x);
            return;
        }
        if (text.empty())
            b.counts.add(number_text(x, integer || cls == TextClass::integer));
        else
            b.counts.add(text);
    }

    void category(Builder& b, std::string_view text) {
        if (b.p.numeric) {
            // The column turns categorical: the numbers before this row become categories in a
            // second pass (their text is gone), see profile_table.
            b.p.numeric = false;
            if (b.numbers) b.backfill_rows = row;
            std::vector<double>().swap(b.finite);
        }
        b.counts.add(text);
    }
};

// Adds the numbers of the rows before each column turned categorical to its categories.
class BackfillSink final : public TableSink {
public:
    explicit BackfillSink(std::vector<Builder>& cols) : m_cols(cols) {
        for (const auto& b : cols) m_until = std::max(m_until, b.backfill_rows);
    }
    void column(std::string_view) override {}
    void value(std::size_t column, const Value& v) override {
        Builder& b = m_cols[column];
        if (m_row >= b.backfill_rows) return;
        if (v.type == Value::Type::number) {
            b.counts.add(number_text(v.number, v.integer));
        } else if (v.type == Value::Type::text) {
            TextClass cls = classify(v.text).cls;
            if (cls != TextClass::missing && cls != TextClass::string) b.counts.add(v.text);
        }
    }
    bool end_row() override { return ++m_row < m_until; }
    [[nodiscard]] bool needed() const { return m_until > 0; }

private:
    std::vector<Builder>& m_cols;
    std::uint64_t m_row = 0;
    std::uint64_t m_until = 0;
};

void finish(Builder& b, std::uint64_t rows) {
    ColumnProfile& p = b.p;
    p.rows = rows;
    const std::uint64_t specials = (p.nan > 0) + (p.posinf > 0) + (p.neginf > 0);
    if (!p.numeric) {
        std::vector<std::pair<std::string, std::uint64_t>> all = std::move(b.counts.entries());
        b.counts.clear();
        bool recount = false;
        for (const auto& entry : all)
            if (!util::is_utf8(entry.first)) recount = true;
        if (recount) {
            // JSON holds only UTF-8: values with other bytes are kept as their stored form would be.
            std::unordered_map<std::string, std::uint64_t> merged;
            for (auto& [value, count] : all) merged[valid_utf8(value)] += count;
            all.assign(merged.begin(), merged.end());
        }
        p.distinct = all.size();
        p.kind = p.distinct < 2 ? Kind::constant : Kind::categorical;
        auto by_count = [](const auto& x, const auto& y) { return x.second != y.second ? x.second > y.second : x.first < y.first; };
        std::size_t keep = std::min(all.size(), k_top_values);
        std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(keep), all.end(), by_count);
        CategoricalSummary c;
        for (std::size_t i = 0; i < all.size(); ++i) {
            if (i < keep) c.top.push_back(std::move(all[i]));
            else c.other += all[i].second;
        }
        p.categories = std::move(c);
        return;
    }
    std::vector<double>& s = b.finite;
    util::sort_doubles(s);
    p.distinct = specials + !s.empty();
    for (std::size_t i = 1; i < s.size(); ++i) p.distinct += s[i] != s[i - 1];
    p.kind = p.distinct < 2 ? Kind::constant : Kind::numeric;
    if (s.empty()) return;
    NumericSummary n;
    n.count = s.size();
    n.min = s.front();
    n.max = s.back();
    const auto count = static_cast<double>(s.size());
    Sum sum;
    for (double x : s) sum.add(x);
    n.mean = sum.value() / count;
    if (!std::isfinite(n.mean)) { // the sum overflowed
        Sum scaled;
        for (double x : s) scaled.add(x / count);
        n.mean = scaled.value();
    }
    n.mean = std::clamp(n.mean, n.min, n.max);
    if (s.size() >= 2) {
        // Deviations scaled by a power of two (exact) so that x - mean and its square cannot
        // overflow; a deviation beyond the double range leaves std unknown.
        const int e = std::max(std::ilogb(std::max(std::fabs(n.min), std::fabs(n.max))), 0) + 1;
        const double scale = std::ldexp(1.0, -e);
        const double m = n.mean * scale;
        Sum squares;
        for (double x : s) {
            double d = x * scale - m;
            squares.add(d * d);
        }
        double sd = std::ldexp(std::sqrt(squares.value() / (count - 1)), e);
        if (std::isfinite(sd)) n.std = sd;
    }
    for (std::size_t k = 0; k <= 10; ++k) n.edges[k] = sorted_quantile(s, static_cast<double>(k) / 10);
    auto below = [&s](double edge) { return static_cast<std::uint64_t>(std::lower_bound(s.begin(), s.end(), edge) - s.begin()); };
    for (std::size_t k = 0; k < 10; ++k) n.bin_counts[k] = (k == 9 ? s.size() : below(n.edges[k + 1])) - below(n.edges[k]);
    if (s.size() <= k_quantile_steps) {
        n.sorted = std::move(s);
    } else {
        n.quantiles.resize(k_quantile_steps + 1);
        for (std::size_t i = 0; i <= k_quantile_steps; ++i)
            n.quantiles[i] = sorted_quantile(s, static_cast<double>(i) / static_cast<double>(k_quantile_steps));
        std::vector<double>().swap(s);
    }
    p.summary = std::move(n);
}

} // namespace

std::string_view to_string(Kind kind) {
    switch (kind) {
    case Kind::numeric: return "numeric";
    case Kind::categorical: return "categorical";
    case Kind::constant: return "constant";
    }
    return "constant";
}

double NumericSummary::quantile(double p) const {
    p = std::clamp(p, 0.0, 1.0);
    if (!sorted.empty()) return sorted_quantile(sorted, p);
    double h = p * static_cast<double>(quantiles.size() - 1);
    double lo = std::floor(h);
    auto i = static_cast<std::size_t>(lo);
    if (i + 1 >= quantiles.size()) return quantiles.back();
    return lerp(quantiles[i], quantiles[i + 1], h - lo);
}

const ColumnProfile* Profile::column(std::string_view name) const {
    for (const auto& c : columns)
        if (c.name == name) return &c;
    return nullptr;
}

namespace {

// The rows of bytes[begin, end) of a CSV or TSV table, estimated from the lines of its first
// 64 KiB (plus a little, rather than one regrowth), for ProfileSink's reservations.
std::size_t expected_rows(std::string_view bytes, std::size_t begin, std::size_t end) {
    const std::size_t sample = std::min<std::size_t>(end - begin, 64u << 10);
    if (sample == 0) return 0;
    const auto lines = static_cast<std::size_t>(std::count(bytes.begin() + static_cast<std::ptrdiff_t>(begin),
                                                           bytes.begin() + static_cast<std::ptrdiff_t>(begin + sample), '\n'));
    if (lines == 0) return 0;
    const double estimate = static_cast<double>(end - begin) / static_cast<double>(sample) * static_cast<double>(lines) * 1.02 + 16;
    return static_cast<std::size_t>(std::min(estimate, 1e9));
}

// Below this size a table is read on one thread.
constexpr std::size_t k_parallel_min = 4u << 20;

// Adds `from`, the same column profiled over a later piece of the table, to `into`. Both are
// numeric, or both categorical with their backfill done.
void merge(Builder& into, Builder& from) {
    ColumnProfile& a = into.p;
    const ColumnProfile& b = from.p;
    a.missing += b.missing;
    a.nan += b.nan;
    a.posinf += b.posinf;
    a.neginf += b.neginf;
    a.integers += b.integers;
    a.decimals += b.decimals;
    a.strings += b.strings;
    a.booleans += b.booleans;
    a.nested += b.nested;
    into.numbers += from.numbers;
    if (a.numeric) {
        into.finite.insert(into.finite.end(), from.finite.begin(), from.finite.end());
        std::vector<double>().swap(from.finite);
        return;
    }
    if (into.counts.size() < from.counts.size()) std::swap(into.counts, from.counts);
    for (const auto& entry : from.counts.entries()) into.counts.add(entry.first, entry.second);
    from.counts.clear();
}

// A CSV or TSV table read in `jobs` pieces at once, each starting at a line break, into `total`:
// false when a piece turned out not to start at a row (a line break inside a quoted field), in
// which case `total` is left as it was.
bool profile_pieces(std::string_view bytes, char delimiter, const std::string& display, unsigned jobs, ProfileSink& total) {
    std::size_t columns = 0;
    ProfileSink header(display);
    const std::size_t first = detail::read_delimited_header(bytes, delimiter, display, header, columns);
    std::vector<std::size_t> starts{first};
    for (unsigned k = 1; k < jobs; ++k) {
        std::size_t target = first + (bytes.size() - first) * k / jobs;
        const void* nl = std::memchr(bytes.data() + target, '\n', bytes.size() - target);
        if (!nl) break;
        std::size_t at = static_cast<std::size_t>(static_cast<const char*>(nl) - bytes.data()) + 1;
        if (at > starts.back() && at < bytes.size()) starts.push_back(at);
    }
    const std::size_t pieces = starts.size();
    starts.push_back(bytes.size());
    std::vector<std::unique_ptr<ProfileSink>> sinks;
    for (std::size_t k = 0; k < pieces; ++k) {
        sinks.push_back(std::make_unique<ProfileSink>(display, expected_rows(bytes, starts[k], starts[k + 1])));
        for (const auto& b : header.cols) sinks.back()->column(b.p.name);
    }
    std::vector<detail::RowsRead> read(pieces);
    std::vector<std::exception_ptr> errors(pieces);
    util::parallel_for(pieces, [&](std::size_t k) {
        try {
            read[k] = detail::read_delimited_rows(bytes, delimiter, display, columns, starts[k], starts[k + 1], *sinks[k]);
        } catch (const Error&) {
            errors[k] = std::current_exception();
        }
    }, jobs);
    // Piece 0 starts at a row; so does piece k + 1 when piece k ended where it began. The first
    // error of a piece that started at a row is the error reading the whole table gives.
    for (std::size_t k = 0; k < pieces; ++k) {
        if (errors[k]) std::rethrow_exception(errors[k]);
        if (read[k].end != starts[k + 1]) return false;
    }
    std::uint64_t rows = 0;
    for (const auto& r : read) rows += r.rows;
    if (rows == 0) fail(ErrorKind::input, "{}:1: a header row and no data rows", display);

    // A column categorical in any piece is categorical: the numbers of the pieces (or rows of a
    // piece) where it was still numeric become categories, read again from their text.
    std::vector<bool> categorical(columns, false);
    for (const auto& sink : sinks)
        for (std::size_t j = 0; j < columns; ++j) categorical[j] = categorical[j] || !sink->cols[j].p.numeric;
    for (std::size_t k = 0; k < pieces; ++k)
        for (std::size_t j = 0; j < columns; ++j) {
            Builder& b = sinks[k]->cols[j];
            if (!categorical[j] || !b.p.numeric) continue;
            b.p.numeric = false;
            b.backfill_rows = b.numbers ? read[k].rows : 0;
            std::vector<double>().swap(b.finite);
        }
    util::parallel_for(pieces, [&](std::size_t k) {
        BackfillSink backfill(sinks[k]->cols);
        if (backfill.needed()) (void)detail::read_delimited_rows(bytes, delimiter, display, columns, starts[k], starts[k + 1], backfill);
    }, jobs);

    total.cols = std::move(sinks[0]->cols);
    util::parallel_for(columns, [&](std::size_t j) {
        Builder& into = total.cols[j];
        std::size_t finite = into.finite.size();
        for (std::size_t k = 1; k < pieces; ++k) finite += sinks[k]->cols[j].finite.size();
        into.finite.reserve(finite);
        for (std::size_t k = 1; k < pieces; ++k) merge(into, sinks[k]->cols[j]);
    }, jobs);
    total.row = rows;
    return true;
}

} // namespace

Profile profile_table(std::string_view bytes, Format format, const std::string& display, const std::string& object) {
    const unsigned jobs = util::default_jobs();
    const bool delimited = format == Format::csv || format == Format::tsv;
    ProfileSink sink(display, delimited || format == Format::jsonl ? expected_rows(bytes, 0, bytes.size()) : 0);
    if (!(delimited && jobs > 1 && bytes.size() >= k_parallel_min &&
          profile_pieces(bytes, format == Format::csv ? ',' : '\t', display, jobs, sink))) {
        read_table(bytes, format, display, sink);
        BackfillSink backfill(sink.cols);
        if (backfill.needed()) read_table(bytes, format, display, backfill);
    }
    util::parallel_for(sink.cols.size(), [&sink](std::size_t i) { finish(sink.cols[i], sink.row); });
    Profile out;
    out.format = format;
    out.object = object;
    out.bytes = bytes.size();
    out.rows = sink.row;
    for (auto& b : sink.cols) out.columns.push_back(std::move(b.p));
    return out;
}

} // namespace cairn::table
