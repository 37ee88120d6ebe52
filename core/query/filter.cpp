#include "core/query/filter.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>

#include <fmt/format.h>

#include "core/util/error.hpp"

namespace cairn::query {
namespace {

const std::vector<std::string> k_attributes = {"id",   "name",      "experiment", "status", "start",      "end",
                                                "duration", "exit_code", "user",   "host",   "reproduces", "stage",
                                                "pipeline", "sweep"};

struct Token {
    enum Kind { ident, number, string, op, lparen, rparen, comma, end } kind;
    std::string text;
    std::size_t column; // 1-based
};

[[noreturn]] void syntax_error(const std::string& source, std::size_t column, const std::string& what) {
    // A window of the expression around the column: a generated filter can be very long.
    constexpr std::size_t k_context = 40;
    std::size_t at = column > 0 ? column - 1 : 0;
    std::size_t from = at > k_context ? at - k_context : 0;
    std::string excerpt = source.substr(from, 2 * k_context);
    std::size_t caret = at - from;
    if (from > 0) excerpt = "..." + excerpt, caret += 3;
    if (from + 2 * k_context < source.size()) excerpt += "...";
    fail(ErrorKind::usage, "filter: {} at column {}\n  {}\n  {}^", what, column, excerpt, std::string(caret, ' '));
}

std::vector<Token> tokenize(const std::string& s) {
    std::vector<Token> out;
    std::size_t i = 0;
    while (i < s.size()) {
        char c = s[i];
        std::size_t col = i + 1;
        if (std::isspace(static_cast<unsigned char>(c))) {
            ++i;
        } else if (c == '(') {
            out.push_back({Token::lparen, "(", col}), ++i;
        } else if (c == ')') {
            out.push_back({Token::rparen, ")", col}), ++i;
        } else if (c == ',') {
            out.push_back({Token::comma, ",", col}), ++i;
        } else if (c == '\'' || c == '"') {
            std::size_t j = i + 1;
            std::string text;
            while (j < s.size() && s[j] != c) text += s[j++];
            if (j >= s.size()) syntax_error(s, col, "unterminated string");
            out.push_back({Token::string, text, col});
            i = j + 1;
        } else if (c == '=' || c == '!' || c == '<' || c == '>') {
            std::size_t len = i + 1 < s.size() && s[i + 1] == '=' ? 2 : 1;
            std::string op = s.substr(i, len);
            if (op == "!") syntax_error(s, col, "'!' must be followed by '='");
            if (op == "==") op = "=";
            out.push_back({Token::op, op, col});
            i += len;
        } else if (std::isdigit(static_cast<unsigned char>(c)) || ((c == '-' || c == '.') && i + 1 < s.size() &&
                                                                   (std::isdigit(static_cast<unsigned char>(s[i + 1])) || s[i + 1] == '.'))) {
            std::size_t j = i + 1;
            while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '.' ||
                                    ((s[j] == '-' || s[j] == '+') && (s[j - 1] == 'e' || s[j - 1] == 'E'))))
                ++j;
            out.push_back({Token::number, s.substr(i, j - i), col});
            i = j;
        } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == '`') {
            // An identifier: dotted segments, each plain or `backquoted`.
            std::string text;
            std::size_t j = i;
            while (j < s.size()) {
                if (s[j] == '`') {
                    std::size_t k = s.find('`', j + 1);
                    if (k == std::string::npos) syntax_error(s, j + 1, "unterminated `name`");
                    text += s.substr(j + 1, k - j - 1);
                    j = k + 1;
                } else if (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_' || s[j] == '-' || s[j] == '/') {
                    text += s[j++];
                } else {
                    break;
                }
                if (j < s.size() && s[j] == '.') {
                    text += '.';
                    ++j;
                    continue;
                }
                if (j < s.size() && s[j] != '`' && !(std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_' ||
                                                     s[j] == '-' || s[j] == '/'))
                    break;
            }
            out.push_back({Token::ident, text, col});
            i = j;
        } else {
            syntax_error(s, col, fmt::format("unexpected character '{}'", c));
        }
    }
    out.push_back({Token::end, "", s.size() + 1});
    return out;
}

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::optional<FieldRef> field_from(const std::string& text) {
    auto dot = text.find('.');
    std::string head = lower(text.substr(0, dot));
    if (dot != std::string::npos && (head == "metrics" || head == "params" || head == "tags" || head == "attributes" ||
                                     head == "metric" || head == "param" || head == "tag" || head == "attribute")) {
        if (head.back() != 's') head += 's';
        std::string name = text.substr(dot + 1);
        if (name.empty()) return std::nullopt;
        if (head == "attributes" && std::find(k_attributes.begin(), k_attributes.end(), name) == k_attributes.end())
            return std::nullopt;
        return FieldRef{head, name, ""};
    }
    if (dot == std::string::npos && std::find(k_attributes.begin(), k_attributes.end(), text) != k_attributes.end())
        return FieldRef{"attributes", text, ""};
    return std::nullopt;
}

int compare_values(const Value& a, const Value& b, bool& comparable) {
    comparable = true;
    if (std::holds_alternative<double>(a) && std::holds_alternative<double>(b)) {
        double x = std::get<double>(a), y = std::get<double>(b);
        if (std::isnan(x) || std::isnan(y)) {
            comparable = false;
            return 0;
        }
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (std::holds_alternative<std::string>(a) && std::holds_alternative<std::string>(b))
        return std::get<std::string>(a).compare(std::get<std::string>(b)) < 0   ? -1
               : std::get<std::string>(a).compare(std::get<std::string>(b)) > 0 ? 1
                                                                                : 0;
    if (std::holds_alternative<bool>(a) && std::holds_alternative<bool>(b))
        return static_cast<int>(std::get<bool>(a)) - static_cast<int>(std::get<bool>(b));
    comparable = false;
    return 0;
}

// A literal written as a string compares with a number field when it reads as one, and the
// reverse: `params.lr = '0.1'` and `params.model = 3` behave as a user expects.
Value coerce(const Value& literal, const Value& field) {
    if (std::holds_alternative<double>(field) && std::holds_alternative<std::string>(literal)) {
        char* end = nullptr;
        const std::string& s = std::get<std::string>(literal);
        double v = std::strtod(s.c_str(), &end);
        if (!s.empty() && end == s.c_str() + s.size()) return v;
    }
    if (std::holds_alternative<std::string>(field) && std::holds_alternative<double>(literal))
        return metrics::format_value(std::get<double>(literal));
    if (std::holds_alternative<bool>(field) && std::holds_alternative<std::string>(literal)) {
        if (std::get<std::string>(literal) == "true") return true;
        if (std::get<std::string>(literal) == "false") return false;
    }
    return literal;
}

} // namespace

bool like(const std::string& text, const std::string& pattern, bool fold) {
    std::string t = fold ? lower(text) : text, p = fold ? lower(pattern) : pattern;
    // Iterative wildcard match with backtracking on the last '%'.
    std::size_t ti = 0, pi = 0, star = std::string::npos, mark = 0;
    while (ti < t.size()) {
        if (pi < p.size() && (p[pi] == '_' || p[pi] == t[ti])) {
            ++ti, ++pi;
        } else if (pi < p.size() && p[pi] == '%') {
            star = pi++, mark = ti;
        } else if (star != std::string::npos) {
            pi = star + 1, ti = ++mark;
        } else {
            return false;
        }
    }
    while (pi < p.size() && p[pi] == '%') ++pi;
    return pi == p.size();
}

Value FieldRef::eval(const run::RunRecord& r) const {
    if (scope == "metrics") {
        auto summary = r.metric_summary();
        auto it = summary.find(name);
        if (it == summary.end()) return aggregate == "count" ? Value(0.0) : Value();
        const auto& s = it->second;
        if (aggregate == "min") return s.min;
        if (aggregate == "max") return s.max;
        if (aggregate == "count") return static_cast<double>(s.count);
        return s.last;
    }
    if (scope == "params") {
        for (const auto& p : r.params) {
            if (p.key != name) continue;
            if (auto d = params::param_number(p)) return *d;
            if (auto b = params::param_bool(p)) return *b;
            return p.text;
        }
        return {};
    }
    if (scope == "tags") {
        auto it = r.tags.find(name);
        return it == r.tags.end() ? Value() : Value(it->second);
    }
    if (name == "id") return r.id;
    if (name == "name") return r.name;
    if (name == "experiment") return r.experiment;
    if (name == "sweep") return r.sweep.empty() ? Value() : Value(r.sweep);
    if (name == "stage") return r.stage.empty() ? Value() : Value(r.stage);
    if (name == "pipeline") return r.pipeline.empty() ? Value() : Value(r.pipeline);
    if (name == "status") return r.status;
    if (name == "start") return run::format_time(r.start_ms);
    if (name == "end") return r.end_ms ? Value(run::format_time(r.end_ms)) : Value();
    if (name == "duration") return static_cast<double>(r.duration_ms()) / 1000.0;
    if (name == "exit_code") return static_cast<double>(r.exit_code);
    if (name == "user") return r.user;
    if (name == "host") return r.host;
    if (name == "reproduces") return r.reproduces.empty() ? Value() : Value(r.reproduces);
    if (name == "stage") return r.stage.empty() ? Value() : Value(r.stage);
    if (name == "pipeline") return r.pipeline.empty() ? Value() : Value(r.pipeline);
    if (name == "sweep") return r.sweep.empty() ? Value() : Value(r.sweep);
    return {};
}

std::string FieldRef::text() const {
    std::string base = scope == "attributes" ? name : scope + "." + name;
    return aggregate.empty() ? base : aggregate + "(" + base + ")";
}

struct Filter::Node {
    enum Kind { op_and, op_or, op_not, compare, exists } kind;
    // Operands of and/or (a chain `a and b and c` is one node, so that its length never adds to
    // the depth of the tree), or the one operand of not.
    std::vector<std::shared_ptr<const Node>> children;
    FieldRef field;
    std::string op;
    Value literal;
};

namespace {

class Parser {
public:
    explicit Parser(const std::string& source) : m_source(source), m_tokens(tokenize(source)) {}

    std::shared_ptr<const Filter::Node> parse() {
        auto node = parse_or();
        if (peek().kind != Token::end) error("unexpected '" + peek().text + "'");
        return node;
    }

private:
    using NodePtr = std::shared_ptr<const Filter::Node>;
    const Token& peek() const { return m_tokens[m_pos]; }
    const Token& next() { return m_tokens[m_pos++]; }
    [[noreturn]] void error(const std::string& what) const { syntax_error(m_source, peek().column, what); }
    bool keyword(const char* word) const { return peek().kind == Token::ident && lower(peek().text) == word; }

    NodePtr parse_or() { return parse_chain("or", Filter::Node::op_or, [this] { return parse_and(); }); }
    NodePtr parse_and() { return parse_chain("and", Filter::Node::op_and, [this] { return parse_unary(); }); }
    template <typename Operand> NodePtr parse_chain(const char* word, Filter::Node::Kind kind, Operand operand) {
        NodePtr first = operand();
        if (!keyword(word)) return first;
        Filter::Node node{kind, {std::move(first)}, {}, {}, {}};
        while (keyword(word)) {
            next();
            node.children.push_back(operand());
        }
        return std::make_shared<Filter::Node>(std::move(node));
    }
    // Parentheses and `not` are the only ways to nest; each level is a few stack frames here
    // and in eval(), so the depth is bounded rather than left to the stack.
    void enter() {
        if (++m_depth > k_max_filter_depth)
            error(fmt::format("expression nested deeper than {} levels (parentheses and 'not')", k_max_filter_depth));
    }
    NodePtr parse_unary() {
        if (keyword("not")) {
            enter();
            next();
            auto node = std::make_shared<Filter::Node>(Filter::Node{Filter::Node::op_not, {parse_unary()}, {}, {}, {}});
            --m_depth;
            return node;
        }
        if (peek().kind == Token::lparen) {
            enter();
            next();
            auto inner = parse_or();
            if (peek().kind != Token::rparen) error("expected ')'");
            next();
            --m_depth;
            return inner;
        }
        if (keyword("exists")) {
            next();
            if (peek().kind != Token::lparen) error("expected '(' after exists");
            next();
            FieldRef f = parse_field_token();
            if (peek().kind != Token::rparen) error("expected ')'");
            next();
            return std::make_shared<Filter::Node>(Filter::Node{Filter::Node::exists, {}, f, {}, {}});
        }
        FieldRef f = parse_operand_field();
        std::string op;
        if (peek().kind == Token::op) {
            op = next().text;
        } else if (keyword("like") || keyword("ilike")) {
            op = lower(next().text);
        } else {
            error("expected an operator (= != < <= > >= like ilike) after '" + f.text() + "'");
        }
        Value lit = parse_literal();
        if ((op == "like" || op == "ilike") && !std::holds_alternative<std::string>(lit))
            syntax_error(m_source, m_tokens[m_pos - 1].column, op + " needs a 'string' pattern");
        return std::make_shared<Filter::Node>(Filter::Node{Filter::Node::compare, {}, f, op, lit});
    }
    FieldRef parse_operand_field() {
        if (peek().kind == Token::ident) {
            std::string word = lower(peek().text);
            if ((word == "min" || word == "max" || word == "count" || word == "last") &&
                m_tokens[m_pos + 1].kind == Token::lparen) {
                next();
                next();
                FieldRef f = parse_field_token();
                if (f.scope != "metrics") error(word + "() applies to metrics only");
                f.aggregate = word;
                if (peek().kind != Token::rparen) error("expected ')'");
                next();
                return f;
            }
        }
        return parse_field_token();
    }
    FieldRef parse_field_token() {
        if (peek().kind != Token::ident) error("expected a field such as metrics.acc, params.lr or status");
        auto f = field_from(peek().text);
        if (!f) error("unknown field '" + peek().text + "' (use metrics.KEY, params.KEY, tags.KEY or an attribute: id, name, "
                                                          "experiment, status, start, end, duration, exit_code, user, host, "
                                                          "reproduces, stage, pipeline, sweep)");
        next();
        return *f;
    }
    Value parse_literal() {
        const Token& t = peek();
        if (t.kind == Token::number) {
            char* end = nullptr;
            double v = std::strtod(t.text.c_str(), &end);
            if (end != t.text.c_str() + t.text.size()) error("malformed number '" + t.text + "'");
            next();
            return v;
        }
        if (t.kind == Token::string) return next().text;
        if (t.kind == Token::ident && (lower(t.text) == "true" || lower(t.text) == "false")) return lower(next().text) == "true";
        if (t.kind == Token::ident && (lower(t.text) == "nan" || lower(t.text) == "inf")) {
            next();
            return lower(t.text) == "nan" ? std::nan("") : HUGE_VAL;
        }
        error("expected a value (a number, 'string', true or false)");
    }

    const std::string& m_source;
    std::vector<Token> m_tokens;
    std::size_t m_pos = 0;
    int m_depth = 0;
};

bool eval(const Filter::Node& n, const run::RunRecord& r) {
    switch (n.kind) {
    case Filter::Node::op_and:
        return std::all_of(n.children.begin(), n.children.end(), [&](const auto& c) { return eval(*c, r); });
    case Filter::Node::op_or:
        return std::any_of(n.children.begin(), n.children.end(), [&](const auto& c) { return eval(*c, r); });
    case Filter::Node::op_not: return !eval(*n.children.front(), r);
    case Filter::Node::exists: return !std::holds_alternative<std::monostate>(n.field.eval(r));
    case Filter::Node::compare: {
        Value v = n.field.eval(r);
        if (std::holds_alternative<std::monostate>(v)) return false;
        if (n.op == "like" || n.op == "ilike") {
            std::string text = std::holds_alternative<std::string>(v)   ? std::get<std::string>(v)
                               : std::holds_alternative<double>(v)      ? metrics::format_value(std::get<double>(v))
                                                                        : (std::get<bool>(v) ? "true" : "false");
            return like(text, std::get<std::string>(n.literal), n.op == "ilike");
        }
        bool comparable = false;
        int c = compare_values(v, coerce(n.literal, v), comparable);
        if (!comparable) return n.op == "!=";
        if (n.op == "=") return c == 0;
        if (n.op == "!=") return c != 0;
        if (n.op == "<") return c < 0;
        if (n.op == "<=") return c <= 0;
        if (n.op == ">") return c > 0;
        return c >= 0;
    }
    }
    return false;
}

} // namespace

Filter Filter::parse(const std::string& text) {
    Filter f;
    f.m_root = Parser(text).parse();
    return f;
}

bool Filter::matches(const run::RunRecord& run) const { return eval(*m_root, run); }

FieldRef parse_field(const std::string& text) {
    std::string s = text;
    std::string aggregate;
    for (const char* agg : {"min", "max", "count", "last"}) {
        std::string prefix = std::string(agg) + "(";
        if (s.rfind(prefix, 0) == 0 && !s.empty() && s.back() == ')') {
            aggregate = agg;
            s = s.substr(prefix.size(), s.size() - prefix.size() - 1);
        }
    }
    auto f = field_from(s);
    if (!f) fail(ErrorKind::usage, "unknown field '{}' (use metrics.KEY, params.KEY, tags.KEY or an attribute such as status)", text);
    if (!aggregate.empty() && f->scope != "metrics") fail(ErrorKind::usage, "{}() applies to metrics only", aggregate);
    f->aggregate = aggregate;
    return *f;
}

SortKey parse_sort_key(const std::string& text) {
    if (!text.empty() && text[0] == '-') return {parse_field(text.substr(1)), true};
    if (!text.empty() && text[0] == '+') return {parse_field(text.substr(1)), false};
    return {parse_field(text), false};
}

void sort_runs(std::vector<run::RunRecord>& runs, const std::vector<SortKey>& keys) {
    std::stable_sort(runs.begin(), runs.end(), [&](const run::RunRecord& a, const run::RunRecord& b) {
        for (const auto& k : keys) {
            Value va = k.field.eval(a), vb = k.field.eval(b);
            bool ma = std::holds_alternative<std::monostate>(va), mb = std::holds_alternative<std::monostate>(vb);
            if (ma != mb) return mb; // present before missing, whatever the direction
            if (ma) continue;
            bool comparable = false;
            int c = compare_values(va, vb, comparable);
            if (!comparable || c == 0) continue;
            return k.descending ? c > 0 : c < 0;
        }
        return false;
    });
}

} // namespace cairn::query
