// The JSON form of profiles (docs/format.md, "Profiles"), and its strict reader.
#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/hash/hash.hpp"
#include "core/table/profile.hpp"
#include "core/util/error.hpp"

namespace cairn::table {
namespace {

using Json = nlohmann::ordered_json;

Json numbers(const std::vector<double>& values) {
    Json out = Json::array();
    for (double v : values) out.push_back(v);
    return out;
}

Json column_json(const ColumnProfile& c) {
    Json j = {{"name", c.name},
              {"kind", to_string(c.kind)},
              {"type", c.numeric ? "numeric" : "categorical"},
              {"counts", {{"rows", c.rows}, {"missing", c.missing}, {"nan", c.nan}, {"posinf", c.posinf}, {"neginf", c.neginf}}},
              {"types",
               {{"integer", c.integers}, {"float", c.decimals}, {"string", c.strings}, {"bool", c.booleans}, {"nested", c.nested}}},
              {"distinct", c.distinct}};
    if (c.summary) {
        const NumericSummary& n = *c.summary;
        Json s = {{"count", n.count}, {"min", n.min}, {"max", n.max}, {"mean", n.mean}, {"std", nullptr}};
        if (n.std) s["std"] = *n.std;
        if (n.sorted.empty()) s["quantiles"] = numbers(n.quantiles);
        else s["sorted"] = numbers(n.sorted);
        s["bins"] = {{"edges", numbers({n.edges.begin(), n.edges.end()})}, {"counts", n.bin_counts}};
        j["numeric"] = std::move(s);
    }
    if (c.categories) {
        Json top = Json::array();
        for (const auto& [value, count] : c.categories->top) top.push_back({{"value", value}, {"count", count}});
        j["categorical"] = {{"top", std::move(top)}, {"other", c.categories->other}};
    }
    return j;
}

// Field access that names the field in its errors: "<display>: columns[1].counts.rows: ...".
class Reader {
public:
    explicit Reader(const std::string& display) : m_display(display) {}

    [[noreturn]] void bad(const std::string& where, const std::string& what) const {
        fail(ErrorKind::input, "{}: {}: {}", m_display, where, what);
    }
    const Json& field(const Json& obj, const char* key, const std::string& where) const {
        if (!obj.is_object()) bad(where, "expected an object");
        auto it = obj.find(key);
        if (it == obj.end()) bad(where.empty() ? key : where + "." + key, "missing");
        return *it;
    }
    std::uint64_t count(const Json& obj, const char* key, const std::string& where) const {
        const Json& v = field(obj, key, where);
        if (!v.is_number_unsigned()) bad(join(where, key), "expected a non-negative integer");
        return v.get<std::uint64_t>();
    }
    double number(const Json& v, const std::string& where) const {
        if (!v.is_number()) bad(where, "expected a number");
        return v.get<double>();
    }
    std::string text(const Json& obj, const char* key, const std::string& where) const {
        const Json& v = field(obj, key, where);
        if (!v.is_string()) bad(join(where, key), "expected a string");
        return v.get<std::string>();
    }
    std::vector<double> sorted_numbers(const Json& v, std::size_t size, const std::string& where) const {
        if (!v.is_array() || v.size() != size) bad(where, fmt::format("expected an array of {} numbers", size));
        std::vector<double> out;
        out.reserve(size);
        for (std::size_t i = 0; i < size; ++i) out.push_back(number(v[i], fmt::format("{}[{}]", where, i)));
        if (!std::is_sorted(out.begin(), out.end())) bad(where, "not in ascending order");
        return out;
    }
    static std::string join(const std::string& where, const char* key) { return where.empty() ? key : where + "." + key; }

private:
    const std::string& m_display;
};

ColumnProfile parse_column(const Reader& r, const Json& j, const std::string& where, std::uint64_t rows) {
    ColumnProfile c;
    c.name = r.text(j, "name", where);
    std::string kind = r.text(j, "kind", where);
    if (kind == "numeric") c.kind = Kind::numeric;
    else if (kind == "categorical") c.kind = Kind::categorical;
    else if (kind == "constant") c.kind = Kind::constant;
    else r.bad(where + ".kind", "unknown kind '" + kind + "'");
    std::string type = r.text(j, "type", where);
    if (type != "numeric" && type != "categorical") r.bad(where + ".type", "unknown type '" + type + "'");
    c.numeric = type == "numeric";
    const Json& counts = r.field(j, "counts", where);
    const std::string cw = where + ".counts";
    c.rows = r.count(counts, "rows", cw);
    c.missing = r.count(counts, "missing", cw);
    c.nan = r.count(counts, "nan", cw);
    c.posinf = r.count(counts, "posinf", cw);
    c.neginf = r.count(counts, "neginf", cw);
    const Json& types = r.field(j, "types", where);
    const std::string tw = where + ".types";
    c.integers = r.count(types, "integer", tw);
    c.decimals = r.count(types, "float", tw);
    c.strings = r.count(types, "string", tw);
    c.booleans = r.count(types, "bool", tw);
    c.nested = r.count(types, "nested", tw);
    c.distinct = r.count(j, "distinct", where);
    const std::uint64_t values = c.integers + c.decimals + c.strings + c.booleans + c.nested;
    if (c.rows != rows || c.missing + values != c.rows)
        r.bad(cw, fmt::format("{} rows, {} missing and {} values do not add up to the table's {} rows", c.rows, c.missing, values, rows));
    if (c.nan + c.posinf + c.neginf > c.integers + c.decimals) r.bad(cw, "more NaN and infinite values than numbers");
    if (c.numeric && c.strings + c.booleans + c.nested) r.bad(where + ".type", "a numeric column with non-numeric values");
    if ((c.kind == Kind::constant) != (c.distinct < 2) || (c.kind == Kind::numeric && !c.numeric) ||
        (c.kind == Kind::categorical && c.numeric))
        r.bad(where + ".kind", "'" + kind + "' does not fit the column's type and distinct values");

    const std::uint64_t finite = c.numeric ? c.integers + c.decimals - c.nan - c.posinf - c.neginf : 0;
    auto numeric = j.find("numeric");
    if ((numeric != j.end()) != (finite > 0))
        r.bad(where + ".numeric", finite ? "missing" : "present in a column without finite numbers");
    if (finite) {
        const std::string nw = where + ".numeric";
        NumericSummary n;
        n.count = r.count(*numeric, "count", nw);
        if (n.count != finite) r.bad(nw + ".count", fmt::format("{} finite values, the counts say {}", n.count, finite));
        n.min = r.number(r.field(*numeric, "min", nw), nw + ".min");
        n.max = r.number(r.field(*numeric, "max", nw), nw + ".max");
        n.mean = r.number(r.field(*numeric, "mean", nw), nw + ".mean");
        const Json& sd = r.field(*numeric, "std", nw);
        if (!sd.is_null()) n.std = r.number(sd, nw + ".std");
        if (n.std && n.count < 2) r.bad(nw + ".std", "expected null below 2 values");
        if (n.count <= k_quantile_steps) n.sorted = r.sorted_numbers(r.field(*numeric, "sorted", nw), n.count, nw + ".sorted");
        else n.quantiles = r.sorted_numbers(r.field(*numeric, "quantiles", nw), k_quantile_steps + 1, nw + ".quantiles");
        const auto& ends = n.sorted.empty() ? n.quantiles : n.sorted;
        if (ends.front() != n.min || ends.back() != n.max) r.bad(nw, "min and max differ from the sorted values");
        const Json& bins = r.field(*numeric, "bins", nw);
        auto edges = r.sorted_numbers(r.field(bins, "edges", nw + ".bins"), 11, nw + ".bins.edges");
        std::copy(edges.begin(), edges.end(), n.edges.begin());
        const Json& bc = r.field(bins, "counts", nw + ".bins");
        if (!bc.is_array() || bc.size() != 10) r.bad(nw + ".bins.counts", "expected an array of 10 counts");
        std::uint64_t total = 0;
        for (std::size_t i = 0; i < 10; ++i) {
            if (!bc[i].is_number_unsigned()) r.bad(fmt::format("{}.bins.counts[{}]", nw, i), "expected a non-negative integer");
            n.bin_counts[i] = bc[i].get<std::uint64_t>();
            total += n.bin_counts[i];
        }
        if (total != n.count) r.bad(nw + ".bins.counts", fmt::format("add up to {}, not {}", total, n.count));
        c.summary = std::move(n);
    }
    auto categorical = j.find("categorical");
    if ((categorical != j.end()) == c.numeric) r.bad(where + ".categorical", c.numeric ? "present in a numeric column" : "missing");
    if (!c.numeric) {
        const std::string gw = where + ".categorical";
        CategoricalSummary g;
        const Json& top = r.field(*categorical, "top", gw);
        if (!top.is_array() || top.size() > k_top_values || top.size() > c.distinct)
            r.bad(gw + ".top", fmt::format("expected an array of at most {} values, and no more than 'distinct'", k_top_values));
        std::uint64_t total = 0;
        for (std::size_t i = 0; i < top.size(); ++i) {
            const std::string ew = fmt::format("{}.top[{}]", gw, i);
            g.top.emplace_back(r.text(top[i], "value", ew), r.count(top[i], "count", ew));
            total += g.top.back().second;
        }
        g.other = r.count(*categorical, "other", gw);
        if (total + g.other != values) r.bad(gw, fmt::format("counts add up to {}, not the {} values", total + g.other, values));
        c.categories = std::move(g);
    }
    return c;
}

} // namespace

std::string to_json(const Profile& profile) {
    Json columns = Json::array();
    for (const auto& c : profile.columns) columns.push_back(column_json(c));
    Json j = {{"schema", k_profile_schema},
              {"format", to_string(profile.format)},
              {"object", profile.object.empty() ? Json(nullptr) : Json(profile.object)},
              {"bytes", profile.bytes},
              {"rows", profile.rows},
              {"columns", std::move(columns)}};
    return j.dump(1) + "\n";
}

Profile parse_profile(std::string_view text, const std::string& display) {
    Json j;
    try {
        j = Json::parse(text.begin(), text.end());
    } catch (const Json::parse_error& e) {
        fail(ErrorKind::input, "{}: invalid JSON at byte {}", display, e.byte);
    } catch (const Json::exception&) {
        fail(ErrorKind::input, "{}: a number beyond the double range", display);
    }
    Reader r(display);
    if (!j.is_object()) r.bad("profile", "expected a JSON object");
    std::string schema = r.text(j, "schema", "");
    if (schema != k_profile_schema)
        fail(ErrorKind::input, "{}: profile schema '{}' is not supported (a newer cairn wrote it?)", display, schema);
    Profile p;
    std::string format = r.text(j, "format", "");
    auto f = parse_format(format);
    if (!f) r.bad("format", "unknown format '" + format + "'");
    p.format = *f;
    const Json& object = r.field(j, "object", "");
    if (!object.is_null()) {
        if (!object.is_string() || !hash::Digest::from_id(object.get<std::string>()))
            r.bad("object", "expected null or an object id sha256:<64 hex>");
        p.object = object.get<std::string>();
    }
    p.bytes = r.count(j, "bytes", "");
    p.rows = r.count(j, "rows", "");
    const Json& columns = r.field(j, "columns", "");
    if (!columns.is_array()) r.bad("columns", "expected an array");
    for (std::size_t i = 0; i < columns.size(); ++i) {
        p.columns.push_back(parse_column(r, columns[i], fmt::format("columns[{}]", i), p.rows));
        for (std::size_t k = 0; k + 1 < p.columns.size(); ++k)
            if (p.columns[k].name == p.columns.back().name) r.bad(fmt::format("columns[{}].name", i), "duplicate column '" + p.columns.back().name + "'");
    }
    return p;
}

} // namespace cairn::table
