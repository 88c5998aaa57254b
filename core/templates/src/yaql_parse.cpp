// YAQL's lexer and Pratt parser with YAQL's operator table (see yaql.hpp for the language); the evaluator is in
// yaql.cpp.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "pystr.hpp"
#include "yaql_parse.hpp"

namespace squall::core::yaql {

[[noreturn]] void Throw(size_t pos, std::string what) {
    throw YaqlFailure{pos, std::move(what)};
}

namespace {

using templates::PyFloatRepr;

// ---------------------------------------------------------------------------------------------------------------
// Lexer

enum class Tk { kEnd, kInt, kFloat, kString, kIdent, kDollar, kOp };

struct Token {
    Tk kind = Tk::kEnd;
    size_t pos = 0;
    std::string text;  // identifier, operator, string contents, `$` variable name (empty for `$`)
    int64_t i = 0;
    double f = 0;
};

bool IsIdentStart(char c) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
bool IsIdentChar(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

std::vector<Token> Lex(std::string_view s) {
    static const char* const kOps[] = {"=>", "->", "?.", "!=", "<=", ">=", "=~", "!~", "(", ")", "[", "]",
                                       "{",  "}",  ",",  ".",  "+",  "-",  "*",  "/",  "=", "<", ">"};
    std::vector<Token> out;
    size_t i = 0;
    while (true) {
        while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
        Token t;
        t.pos = i;
        if (i >= s.size()) {
            out.push_back(t);
            return out;
        }
        const char c = s[i];
        if (std::isdigit(static_cast<unsigned char>(c))) {
            size_t j = i;
            while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
            bool is_float = false;
            if (j + 1 < s.size() && s[j] == '.' && std::isdigit(static_cast<unsigned char>(s[j + 1]))) {
                is_float = true;
                ++j;
                while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
            }
            const std::string num(s.substr(i, j - i));
            if (is_float) {
                t.kind = Tk::kFloat;
                t.f = std::strtod(num.c_str(), nullptr);
            } else {
                t.kind = Tk::kInt;
                errno = 0;
                t.i = std::strtoll(num.c_str(), nullptr, 10);
                if (errno == ERANGE) Throw(i, "integer literal " + num + " is too large");
            }
            i = j;
        } else if (c == '\'' || c == '"') {
            t.kind = Tk::kString;
            size_t j = i + 1;
            for (;; ++j) {
                if (j >= s.size()) Throw(i, "unterminated string");
                if (s[j] == c) break;
                if (s[j] != '\\') {
                    t.text += s[j];
                    continue;
                }
                if (++j >= s.size()) Throw(i, "unterminated string");
                switch (s[j]) {
                    case 'n':
                        t.text += '\n';
                        break;
                    case 't':
                        t.text += '\t';
                        break;
                    case 'r':
                        t.text += '\r';
                        break;
                    case '0':
                        t.text += '\0';
                        break;
                    case 'u': {
                        if (j + 4 >= s.size()) Throw(j - 1, "bad \\u escape");
                        uint32_t cp = 0;
                        for (size_t k = 1; k <= 4; ++k) {
                            const char h = s[j + k];
                            if (!std::isxdigit(static_cast<unsigned char>(h))) Throw(j - 1, "bad \\u escape");
                            cp =
                                cp * 16 +
                                static_cast<uint32_t>(
                                    std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10)
                                );
                        }
                        templates::AppendUtf8(t.text, cp);
                        j += 4;
                        break;
                    }
                    case '\\':
                    case '\'':
                    case '"':
                        t.text += s[j];
                        break;
                    default:  // Python keeps an unknown escape as written
                        t.text += '\\';
                        t.text += s[j];
                }
            }
            i = j + 1;
        } else if (c == '$') {
            t.kind = Tk::kDollar;
            size_t j = i + 1;
            while (j < s.size() && IsIdentChar(s[j])) ++j;
            t.text = std::string(s.substr(i + 1, j - i - 1));
            i = j;
        } else if (IsIdentStart(c)) {
            t.kind = Tk::kIdent;
            size_t j = i;
            while (j < s.size() && IsIdentChar(s[j])) ++j;
            t.text = std::string(s.substr(i, j - i));
            i = j;
        } else {
            t.kind = Tk::kOp;
            for (const char* op : kOps) {
                if (s.substr(i).starts_with(op)) {
                    t.text = op;
                    break;
                }
            }
            if (t.text.empty()) Throw(i, std::string("unexpected character '") + c + "'");
            i += t.text.size();
        }
        out.push_back(std::move(t));
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Parser

class Parser {
public:
    explicit Parser(std::vector<Token> toks) : toks_(std::move(toks)) {}

    NodePtr ParseAll() {
        NodePtr n = Parse(0);
        if (Peek().kind != Tk::kEnd) Throw(Peek().pos, "unexpected '" + Describe(Peek()) + "'");
        return n;
    }

private:
    const Token& Peek(size_t ahead = 0) const { return toks_[std::min(at_ + ahead, toks_.size() - 1)]; }
    const Token& Next() { return toks_[std::min(at_++, toks_.size() - 1)]; }
    bool IsOp(const char* op, size_t ahead = 0) const { return Peek(ahead).kind == Tk::kOp && Peek(ahead).text == op; }
    bool IsWord(const char* w) const { return Peek().kind == Tk::kIdent && Peek().text == w; }
    static std::string Describe(const Token& t) {
        switch (t.kind) {
            case Tk::kEnd:
                return "end of expression";
            case Tk::kString:
                return "'" + t.text + "'";
            case Tk::kDollar:
                return "$" + t.text;
            case Tk::kInt:
                return std::to_string(t.i);
            case Tk::kFloat:
                return PyFloatRepr(t.f);
            default:
                return t.text;
        }
    }
    void Expect(const char* op) {
        if (!IsOp(op)) {
            const Token& t = Peek();
            Throw(
                t.pos,
                std::string("expected '") + op + "' but found " +
                    (t.kind == Tk::kEnd ? "the end of the expression" : "'" + Describe(t) + "'")
            );
        }
        ++at_;
    }
    static NodePtr Make(Nk k, size_t pos) {
        auto n = std::make_unique<Node>();
        n->kind = k;
        n->pos = pos;
        return n;
    }

    /// The left binding power of the token as an infix/postfix operator (YAQL's operator table), 0 if none.
    int InfixPower() const {
        const Token& t = Peek();
        if (t.kind == Tk::kIdent) {
            if (t.text == "or") return 2;
            if (t.text == "and") return 3;
            if (t.text == "in") return 5;
            if (t.text == "mod") return 7;
            return 0;
        }
        if (t.kind != Tk::kOp) return 0;
        const std::string& o = t.text;
        if (o == "->") return 1;
        if (o == "=" || o == "!=" || o == "<" || o == "<=" || o == ">" || o == ">=") return 5;
        if (o == "+" || o == "-") return 6;
        if (o == "*" || o == "/") return 7;
        if (o == "=~" || o == "!~") return 8;
        if (o == "[") return 11;
        if (o == "." || o == "?.") return 12;
        return 0;
    }

    NodePtr Parse(int min_power) {
        if (++depth_ > kMaxDepth) Throw(Peek().pos, "expression nested too deeply");
        NodePtr left = Prefix();
        Seal(left.get());
        while (true) {
            const int power = InfixPower();
            if (power <= min_power) break;
            const Token op = Next();
            if (op.text == "." || op.text == "?.") {
                const Token& name = Next();
                if (name.kind != Tk::kIdent) Throw(name.pos, "expected a name after '" + op.text + "'");
                NodePtr n;
                if (IsOp("(")) {
                    n = Make(Nk::kCall, name.pos);
                    n->kids.push_back(std::move(left));
                    ParseArgs(n.get());
                } else {
                    n = Make(Nk::kAttr, name.pos);
                    n->kids.push_back(std::move(left));
                }
                n->name = name.text;
                n->safe = op.text == "?.";
                left = std::move(n);
            } else if (op.text == "[") {
                auto n = Make(Nk::kIndex, op.pos);
                n->kids.push_back(std::move(left));
                n->kids.push_back(Parse(0));
                if (IsOp(",")) {
                    ++at_;
                    n->kids.push_back(Parse(0));
                }
                Expect("]");
                left = std::move(n);
            } else if (op.text == "->") {  // right-associative
                auto n = Make(Nk::kBinary, op.pos);
                n->name = op.text;
                n->kids.push_back(std::move(left));
                n->kids.push_back(Parse(power - 1));
                left = std::move(n);
            } else {
                auto n = Make(Nk::kBinary, op.pos);
                n->name = op.text;
                n->kids.push_back(std::move(left));
                n->kids.push_back(Parse(power));
                left = std::move(n);
            }
            Seal(left.get());
        }
        --depth_;
        return left;
    }

    /// Records the depth of a new node's tree and refuses one too deep: evaluating (and freeing) a tree recurses
    /// once per level, and `1+1+1...` or `$.a.a.a...` grow it without nesting the parser.
    static void Seal(Node* n) {
        int d = 0;
        for (const auto& k : n->kids) d = std::max(d, k->depth);
        for (const Arg& a : n->args) {
            d = std::max(d, a.value->depth);
            if (a.key) d = std::max(d, a.key->depth);
        }
        n->depth = d + 1;
        if (n->depth > kMaxDepth) Throw(n->pos, "expression nested too deeply");
    }

    NodePtr Prefix() {
        const Token t = Next();
        switch (t.kind) {
            case Tk::kEnd:
                Throw(t.pos, "unexpected end of expression");
            case Tk::kInt: {
                auto n = Make(Nk::kLiteral, t.pos);
                n->literal = t.i;
                return n;
            }
            case Tk::kFloat: {
                auto n = Make(Nk::kLiteral, t.pos);
                n->literal = t.f;
                return n;
            }
            case Tk::kString: {
                auto n = Make(Nk::kLiteral, t.pos);
                n->literal = t.text;
                return n;
            }
            case Tk::kDollar: {
                auto n = Make(t.text.empty() ? Nk::kRoot : Nk::kVar, t.pos);
                n->name = t.text;
                return n;
            }
            case Tk::kIdent: {
                if (t.text == "true" || t.text == "false" || t.text == "null") {
                    auto n = Make(Nk::kLiteral, t.pos);
                    n->literal = t.text == "null" ? Json(nullptr) : Json(t.text == "true");
                    return n;
                }
                if (t.text == "not") {
                    auto n = Make(Nk::kUnary, t.pos);
                    n->name = "not";
                    n->kids.push_back(Parse(4));
                    return n;
                }
                if (t.text == "and" || t.text == "or" || t.text == "in" || t.text == "mod")
                    Throw(t.pos, "unexpected '" + t.text + "'");
                if (IsOp("(")) {
                    auto n = Make(Nk::kCall, t.pos);
                    n->name = t.text;
                    ParseArgs(n.get());
                    return n;
                }
                auto n = Make(Nk::kIdent, t.pos);
                n->name = t.text;
                return n;
            }
            case Tk::kOp:
                break;
        }
        if (t.text == "(") {
            NodePtr inner = Parse(0);
            Expect(")");
            return inner;
        }
        if (t.text == "-" || t.text == "+") {
            auto n = Make(Nk::kUnary, t.pos);
            n->name = t.text;
            n->kids.push_back(Parse(9));
            return n;
        }
        if (t.text == "[") {
            auto n = Make(Nk::kList, t.pos);
            if (!IsOp("]")) {
                while (true) {
                    n->kids.push_back(Parse(0));
                    if (!IsOp(",")) break;
                    ++at_;
                }
            }
            Expect("]");
            return n;
        }
        if (t.text == "{") {
            auto n = Make(Nk::kMap, t.pos);
            if (!IsOp("}")) {
                while (true) {
                    Arg a = ParseArg();
                    if (!a.key && a.name.empty()) Throw(a.value->pos, "expected 'key => value' in a dict");
                    n->args.push_back(std::move(a));
                    if (!IsOp(",")) break;
                    ++at_;
                }
            }
            Expect("}");
            return n;
        }
        Throw(t.pos, "unexpected '" + Describe(t) + "'");
    }

    Arg ParseArg() {
        Arg a;
        static const std::set<std::string, std::less<>> kReserved = {
            "true", "false", "null", "not", "and", "or", "in", "mod"};
        if (Peek().kind == Tk::kIdent && IsOp("=>", 1) && !kReserved.contains(Peek().text)) {
            a.name = Next().text;
            ++at_;
            a.value = Parse(0);
            return a;
        }
        NodePtr v = Parse(0);
        if (IsOp("=>")) {
            ++at_;
            a.key = std::move(v);
            a.value = Parse(0);
        } else {
            a.value = std::move(v);
        }
        return a;
    }

    void ParseArgs(Node* call) {
        Expect("(");
        if (!IsOp(")")) {
            while (true) {
                call->args.push_back(ParseArg());
                if (!IsOp(",")) break;
                ++at_;
            }
        }
        Expect(")");
    }

    std::vector<Token> toks_;
    size_t at_ = 0;
    int depth_ = 0;
};

}  // namespace

NodePtr Parse(std::string_view expression) {
    Parser parser(Lex(expression));
    return parser.ParseAll();
}

}  // namespace squall::core::yaql
