// The template parser: tokens into the AST, with Jinja's operator precedence.
#include "parser.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace squall::core::templates {
namespace {

// ---------------------------------------------------------------------------------------------------------------
// Parser.

class Parser {
public:
    explicit Parser(std::vector<Token>&& toks) : t_(std::move(toks)) {}

    bool Parse(Body* out, CompileError* err) {
        std::string end_tag;
        if (!ParseBody(out, {}, &end_tag) || too_deep_) return Fail(err);
        if (!end_tag.empty()) {
            err_ = {tag_pos_, "unexpected '" + end_tag + "'"};
            return Fail(err);
        }
        return true;
    }

private:
    /// How deep expressions, chains and blocks may nest: the parser and the evaluator recurse once per level, and a
    /// template of a few KB (`((((…))))`, `1 + 1 + … + 1`, `{% if %}` inside `{% if %}`…) overflowed the stack.
    /// Jinja2 itself stops near 100 nested parentheses (Python's recursion limit); this allows about as many.
    static constexpr int kMaxNesting = 500;

    /// Counts one parse level in, restores the count when the level is done.
    class Nesting {
    public:
        explicit Nesting(Parser& p) : p_(p), saved_(p.depth_) { ++p_.depth_; }
        ~Nesting() { p_.depth_ = saved_; }
        Nesting(const Nesting&) = delete;
        Nesting& operator=(const Nesting&) = delete;
        bool Ok() {
            if (p_.depth_ <= kMaxNesting) return true;
            p_.TooDeep();
            return false;
        }

    private:
        Parser& p_;
        int saved_;
    };

    void TooDeep() {
        if (too_deep_) return;
        too_deep_ = true;
        err_ = {Cur().pos, "nested too deeply (more than " + std::to_string(kMaxNesting) + " levels)"};
    }

    bool Fail(CompileError* err) {
        *err = err_;
        return false;
    }
    const Token& Cur() const { return t_[i_]; }
    bool IsOp(const char* op) const { return Cur().type == Tok::kOp && Cur().text == op; }
    bool IsName(const char* n) const { return Cur().type == Tok::kName && Cur().text == n; }
    bool Error(const std::string& what) {
        if (err_.what.empty()) err_ = {Cur().pos, what};
        return false;
    }
    bool Expect(const char* op) {
        if (!IsOp(op)) return Error(std::string("expected '") + op + "'" + Got());
        ++i_;
        return true;
    }
    std::string Got() const {
        switch (Cur().type) {
            case Tok::kVarEnd:
                return ", got end of print statement";
            case Tok::kBlockEnd:
                return ", got end of statement block";
            case Tok::kEof:
                return ", got end of template";
            default:
                return ", got '" + Cur().text + "'";
        }
    }
    bool ExpectBlockEnd() {
        if (Cur().type != Tok::kBlockEnd) return Error("expected end of statement block" + Got());
        ++i_;
        return true;
    }

    // Parses statements until one of `ends` (a block tag name) is seen; stores it in `end_tag` with the tag's
    // name token consumed (the rest of the tag is left to the caller).
    bool ParseBody(Body* out, const std::vector<std::string>& ends, std::string* end_tag) {
        Nesting nesting(*this);
        if (!nesting.Ok()) return false;
        while (true) {
            const Token& tok = Cur();
            if (tok.type == Tok::kEof) {
                if (!ends.empty()) return Error("unexpected end of template, expected '" + ends.back() + "'");
                return true;
            }
            if (tok.type == Tok::kData) {
                Stmt s;
                s.kind = Sk::kData;
                s.text = tok.text;
                s.pos = tok.pos;
                out->push_back(std::move(s));
                ++i_;
                continue;
            }
            if (tok.type == Tok::kVarBegin) {
                Stmt s;
                s.kind = Sk::kOutput;
                s.pos = tok.pos;
                ++i_;
                if (Cur().type == Tok::kVarEnd) return Error("expected an expression, got end of print statement");
                s.expr = ParseTuple();
                if (!s.expr) return false;
                if (Cur().type != Tok::kVarEnd) return Error("expected end of print statement" + Got());
                ++i_;
                out->push_back(std::move(s));
                continue;
            }
            // Block tag.
            const size_t begin_pos = tok.pos;
            ++i_;
            if (Cur().type != Tok::kName) return Error("tag name expected");
            const std::string name = Cur().text;
            tag_pos_ = begin_pos;
            if (std::find(ends.begin(), ends.end(), name) != ends.end()) {
                ++i_;
                *end_tag = name;
                return true;
            }
            ++i_;
            if (name == "if") {
                if (!ParseIf(out, begin_pos)) return false;
            } else if (name == "for") {
                if (!ParseFor(out, begin_pos)) return false;
            } else if (name == "set") {
                if (!ParseSet(out, begin_pos)) return false;
            } else if (name == "with") {
                if (!ParseWith(out, begin_pos)) return false;
            } else if (name == "filter") {
                if (!ParseFilterBlock(out, begin_pos)) return false;
            } else if (name == "macro") {
                if (!ParseMacro(out, begin_pos, false)) return false;
            } else if (name == "call") {
                if (!ParseMacro(out, begin_pos, true)) return false;
            } else {
                err_ = {
                    begin_pos,
                    ends.empty() || name.rfind("end", 0) == 0 || name == "else" || name == "elif"
                        ? "encountered unknown tag '" + name + "'"
                        : "encountered unknown tag '" + name + "'"};
                return false;
            }
        }
    }

    bool ParseIf(Body* out, size_t pos) {
        Stmt s;
        s.kind = Sk::kIf;
        s.pos = pos;
        while (true) {
            ExprPtr cond = ParseTuple();
            if (!cond || !ExpectBlockEnd()) return false;
            Body body;
            std::string end;
            if (!ParseBody(&body, {"elif", "else", "endif"}, &end)) return false;
            s.branches.emplace_back(std::move(cond), std::move(body));
            if (end == "elif") continue;
            if (end == "else") {
                if (!ExpectBlockEnd()) return false;
                if (!ParseBody(&s.else_body, {"endif"}, &end)) return false;
            }
            if (!ExpectBlockEnd()) return false;
            break;
        }
        out->push_back(std::move(s));
        return true;
    }

    bool ParseFor(Body* out, size_t pos) {
        Stmt s;
        s.kind = Sk::kFor;
        s.pos = pos;
        while (true) {
            if (Cur().type != Tok::kName) return Error("expected a loop variable" + Got());
            s.targets.push_back(Cur().text);
            ++i_;
            if (IsOp(",")) {
                ++i_;
                continue;
            }
            break;
        }
        if (!IsName("in")) return Error("expected 'in'" + Got());
        ++i_;
        s.expr = ParseTuple(/*with_condexpr=*/false);
        if (!s.expr) return false;
        if (IsName("if")) {
            ++i_;
            s.cond = ParseExpression();
            if (!s.cond) return false;
        }
        if (IsName("recursive")) {
            ++i_;
            s.recursive = true;
        }
        if (!ExpectBlockEnd()) return false;
        std::string end;
        if (!ParseBody(&s.body, {"else", "endfor"}, &end)) return false;
        if (end == "else") {
            if (!ExpectBlockEnd() || !ParseBody(&s.else_body, {"endfor"}, &end)) return false;
        }
        if (!ExpectBlockEnd()) return false;
        out->push_back(std::move(s));
        return true;
    }

    bool ParseSet(Body* out, size_t pos) {
        Stmt s;
        s.kind = Sk::kSet;
        s.pos = pos;
        if (Cur().type != Tok::kName) return Error("expected a variable name" + Got());
        s.targets.push_back(Cur().text);
        ++i_;
        while (IsOp(",")) {  // `{% set a, b = pair %}` unpacks
            ++i_;
            if (Cur().type != Tok::kName) return Error("expected a variable name" + Got());
            s.targets.push_back(Cur().text);
            ++i_;
        }
        if (IsOp(".") && s.targets.size() == 1) {
            ++i_;
            if (Cur().type != Tok::kName) return Error("expected an attribute name" + Got());
            s.attr = Cur().text;
            ++i_;
        }
        if (IsOp("|") && s.attr.empty() && s.targets.size() == 1) {
            // `{% set x | f | g %}...{% endset %}`: the filters applied to the rendered body (kFilterBodyName).
            ExprPtr e = Make(Ek::kName, Cur().pos);
            e->name = kFilterBodyName;
            while (IsOp("|")) {
                ++i_;
                e = ParseOneFilter(std::move(e), Cur().pos);
                if (!e) return false;
            }
            if (Cur().type != Tok::kBlockEnd) return Error("expected end of statement block" + Got());
            s.expr = std::move(e);
        }
        if (Cur().type == Tok::kBlockEnd && s.attr.empty() && s.targets.size() == 1) {
            ++i_;
            s.kind = Sk::kSetBlock;
            std::string end;
            if (!ParseBody(&s.body, {"endset"}, &end) || !ExpectBlockEnd()) return false;
            out->push_back(std::move(s));
            return true;
        }
        if (!Expect("=")) return false;
        s.expr = ParseTuple();
        if (!s.expr || !ExpectBlockEnd()) return false;
        out->push_back(std::move(s));
        return true;
    }

    // `{% with a = 1, b = x %}...{% endwith %}` (also `{% with %}` alone: a scope for `set`).
    bool ParseWith(Body* out, size_t pos) {
        Stmt s;
        s.kind = Sk::kWith;
        s.pos = pos;
        while (Cur().type != Tok::kBlockEnd) {
            if (!s.targets.empty() && !Expect(",")) return false;
            if (Cur().type != Tok::kName) return Error("expected a variable name" + Got());
            s.targets.push_back(Cur().text);
            ++i_;
            if (!Expect("=")) return false;
            ExprPtr v = ParseExpression();
            if (!v) return false;
            s.values.push_back(std::move(v));
        }
        ++i_;
        std::string end;
        if (!ParseBody(&s.body, {"endwith"}, &end) || !ExpectBlockEnd()) return false;
        out->push_back(std::move(s));
        return true;
    }

    // `{% filter f(args) | g %}...{% endfilter %}`: the chain applied to the rendered body (bound to
    // kFilterBodyName).
    bool ParseFilterBlock(Body* out, size_t pos) {
        Stmt s;
        s.kind = Sk::kFilterBlock;
        s.pos = pos;
        ExprPtr e = Make(Ek::kName, Cur().pos);
        e->name = kFilterBodyName;
        while (true) {
            e = ParseOneFilter(std::move(e), Cur().pos);
            if (!e) return false;
            if (!IsOp("|")) break;
            ++i_;
        }
        s.expr = std::move(e);
        if (!ExpectBlockEnd()) return false;
        std::string end;
        if (!ParseBody(&s.body, {"endfilter"}, &end) || !ExpectBlockEnd()) return false;
        out->push_back(std::move(s));
        return true;
    }

    // `{% macro name(a, b=1) %}...{% endmacro %}` and `{% call(x) name(args) %}...{% endcall %}`.
    bool ParseMacro(Body* out, size_t pos, bool call_block) {
        Stmt s;
        s.kind = call_block ? Sk::kCallBlock : Sk::kMacro;
        s.pos = pos;
        if (!call_block) {
            if (Cur().type != Tok::kName) return Error("expected a macro name" + Got());
            s.attr = Cur().text;
            ++i_;
        }
        if (!call_block || IsOp("(")) {
            if (!Expect("(")) return false;
            while (!IsOp(")")) {
                if (!s.targets.empty() && !Expect(",")) return false;
                if (IsOp(")")) break;
                if (Cur().type != Tok::kName) return Error("expected a parameter name" + Got());
                s.targets.push_back(Cur().text);
                ++i_;
                ExprPtr dflt;
                if (IsOp("=")) {
                    ++i_;
                    dflt = ParseExpression();
                    if (!dflt) return false;
                } else if (!s.values.empty() && s.values.back()) {
                    return Error("non-default argument follows default argument");
                }
                s.values.push_back(std::move(dflt));
            }
            ++i_;
        }
        if (call_block) {
            s.expr = ParseExpression();
            if (!s.expr) return false;
            if (s.expr->kind != Ek::kCall) return Error("expected call");
        }
        if (!ExpectBlockEnd()) return false;
        std::string end;
        if (!ParseBody(&s.body, {call_block ? "endcall" : "endmacro"}, &end) || !ExpectBlockEnd()) return false;
        s.uses_varargs = UsesName(s.body, "varargs");
        s.uses_kwargs = UsesName(s.body, "kwargs");
        s.uses_caller = UsesName(s.body, "caller");
        out->push_back(std::move(s));
        return true;
    }

    static bool UsesName(const Expr& e, const char* name) {
        if (e.kind == Ek::kName && e.name == name) return true;
        if (e.kind == Ek::kCall && !e.has_subject && e.name == name) return true;
        for (const auto& a : e.args) {
            if (a && UsesName(*a, name)) return true;
        }
        for (const auto& [k, a] : e.kwargs) {
            if (a && UsesName(*a, name)) return true;
        }
        return false;
    }

    static bool UsesName(const Body& body, const char* name) {
        for (const Stmt& s : body) {
            if (s.expr && UsesName(*s.expr, name)) return true;
            if (s.cond && UsesName(*s.cond, name)) return true;
            for (const auto& v : s.values) {
                if (v && UsesName(*v, name)) return true;
            }
            for (const auto& [c, b] : s.branches) {
                if (UsesName(*c, name) || UsesName(b, name)) return true;
            }
            // A nested macro's own use of the name is its own (its body is not this one's).
            if (s.kind != Sk::kMacro && (UsesName(s.body, name) || UsesName(s.else_body, name))) return true;
        }
        return false;
    }

    ExprPtr Make(Ek k, size_t pos) {
        // A node made here wraps what this parse level made before it (a chain `a + b + c`, `x.a.b`, `x|f|g`):
        // one level deeper for the evaluator, which recurses once per level.
        if (++depth_ > kMaxNesting) TooDeep();
        auto e = std::make_unique<Expr>();
        e->kind = k;
        e->pos = pos;
        return e;
    }

    // A bare tuple `a, b` becomes a list (printed as a list; tuples are not distinguished).
    ExprPtr ParseTuple(bool with_condexpr = true) {
        Nesting nesting(*this);
        if (!nesting.Ok()) return nullptr;
        const size_t pos = Cur().pos;
        ExprPtr first = with_condexpr ? ParseExpression() : ParseOr();
        if (!first || !IsOp(",")) return first;
        ExprPtr list = Make(Ek::kList, pos);
        list->name = "tuple";  // only `str % tuple` tells tuples from lists
        list->args.push_back(std::move(first));
        while (IsOp(",")) {
            ++i_;
            if (Cur().type == Tok::kVarEnd || Cur().type == Tok::kBlockEnd || IsOp(")")) break;
            ExprPtr e = with_condexpr ? ParseExpression() : ParseOr();
            if (!e) return nullptr;
            list->args.push_back(std::move(e));
        }
        return list;
    }

    ExprPtr ParseExpression() {
        Nesting nesting(*this);
        if (!nesting.Ok()) return nullptr;
        ExprPtr e = ParseOr();
        if (!e) return nullptr;
        while (IsName("if")) {
            const size_t pos = Cur().pos;
            ++i_;
            ExprPtr cond = ParseOr();
            if (!cond) return nullptr;
            ExprPtr node = Make(Ek::kCond, pos);
            node->args.push_back(std::move(cond));
            node->args.push_back(std::move(e));
            if (IsName("else")) {
                ++i_;
                ExprPtr alt = ParseExpression();
                if (!alt) return nullptr;
                node->args.push_back(std::move(alt));
            }
            e = std::move(node);
        }
        return e;
    }

    /// `next (keyword next)*`, left-associative, one `kind` node per keyword (`or`, `and`).
    template <typename Next>
    ExprPtr ParseKeywordChain(const char* keyword, Ek kind, Next next) {
        ExprPtr e = next();
        while (e && IsName(keyword)) {
            const size_t pos = Cur().pos;
            ++i_;
            ExprPtr r = next();
            if (!r) return nullptr;
            ExprPtr node = Make(kind, pos);
            node->args.push_back(std::move(e));
            node->args.push_back(std::move(r));
            e = std::move(node);
        }
        return e;
    }

    ExprPtr ParseOr() {
        return ParseKeywordChain("or", Ek::kOr, [this] { return ParseAnd(); });
    }
    ExprPtr ParseAnd() {
        return ParseKeywordChain("and", Ek::kAnd, [this] { return ParseNot(); });
    }

    ExprPtr ParseNot() {
        Nesting nesting(*this);
        if (!nesting.Ok()) return nullptr;
        if (IsName("not")) {
            const size_t pos = Cur().pos;
            ++i_;
            ExprPtr inner = ParseNot();
            if (!inner) return nullptr;
            ExprPtr node = Make(Ek::kNot, pos);
            node->args.push_back(std::move(inner));
            return node;
        }
        return ParseCompare();
    }

    ExprPtr ParseCompare() {
        const size_t pos = Cur().pos;
        ExprPtr e = ParseMath1();
        if (!e) return nullptr;
        ExprPtr node;
        while (true) {
            std::string op;
            if (Cur().type == Tok::kOp && (Cur().text == "==" || Cur().text == "!=" || Cur().text == "<" ||
                                           Cur().text == ">" || Cur().text == "<=" || Cur().text == ">=")) {
                op = Cur().text;
                ++i_;
            } else if (IsName("in")) {
                op = "in";
                ++i_;
            } else if (IsName("not") && t_[i_ + 1].type == Tok::kName && t_[i_ + 1].text == "in") {
                op = "notin";
                i_ += 2;
            } else {
                break;
            }
            ExprPtr r = ParseMath1();
            if (!r) return nullptr;
            if (!node) {
                node = Make(Ek::kCompare, pos);
                node->args.push_back(std::move(e));
            }
            node->ops.push_back(op);
            node->args.push_back(std::move(r));
        }
        return node ? std::move(node) : std::move(e);
    }

    ExprPtr Binary(ExprPtr l, const std::string& op, size_t pos, ExprPtr r) {
        ExprPtr node = Make(Ek::kBinary, pos);
        node->name = op;
        node->args.push_back(std::move(l));
        node->args.push_back(std::move(r));
        return node;
    }

    ExprPtr ParseMath1() {
        ExprPtr e = ParseConcat();
        while (e && (IsOp("+") || IsOp("-"))) {
            const std::string op = Cur().text;
            const size_t pos = Cur().pos;
            ++i_;
            ExprPtr r = ParseConcat();
            if (!r) return nullptr;
            e = Binary(std::move(e), op, pos, std::move(r));
        }
        return e;
    }

    ExprPtr ParseConcat() {
        const size_t pos = Cur().pos;
        ExprPtr e = ParseMath2();
        if (!e || !IsOp("~")) return e;
        ExprPtr node = Make(Ek::kConcat, pos);
        node->args.push_back(std::move(e));
        while (IsOp("~")) {
            ++i_;
            ExprPtr r = ParseMath2();
            if (!r) return nullptr;
            node->args.push_back(std::move(r));
        }
        return node;
    }

    ExprPtr ParseMath2() {
        ExprPtr e = ParsePow();
        while (e && (IsOp("*") || IsOp("/") || IsOp("//") || IsOp("%"))) {
            const std::string op = Cur().text;
            const size_t pos = Cur().pos;
            ++i_;
            ExprPtr r = ParsePow();
            if (!r) return nullptr;
            e = Binary(std::move(e), op, pos, std::move(r));
        }
        return e;
    }

    ExprPtr ParsePow() {
        ExprPtr e = ParseUnary(true);
        while (e && IsOp("**")) {
            const size_t pos = Cur().pos;
            ++i_;
            ExprPtr r = ParseUnary(true);
            if (!r) return nullptr;
            e = Binary(std::move(e), "**", pos, std::move(r));
        }
        return e;
    }

    ExprPtr ParseUnary(bool with_filter) {
        Nesting nesting(*this);
        if (!nesting.Ok()) return nullptr;
        ExprPtr e;
        const size_t pos = Cur().pos;
        if (IsOp("-") || IsOp("+")) {
            const bool neg = IsOp("-");
            ++i_;
            ExprPtr inner = ParseUnary(false);
            if (!inner) return nullptr;
            e = Make(neg ? Ek::kNeg : Ek::kPos, pos);
            e->args.push_back(std::move(inner));
        } else {
            e = ParsePrimary();
        }
        if (!e) return nullptr;
        e = ParsePostfix(std::move(e));
        if (e && with_filter) e = ParseFilterExpr(std::move(e));
        return e;
    }

    ExprPtr ParsePrimary() {
        Nesting nesting(*this);
        if (!nesting.Ok()) return nullptr;
        const Token& tok = Cur();
        const size_t pos = tok.pos;
        switch (tok.type) {
            case Tok::kName: {
                ExprPtr e;
                if (tok.text == "true" || tok.text == "True") {
                    e = Make(Ek::kLiteral, pos);
                    e->literal = true;
                } else if (tok.text == "false" || tok.text == "False") {
                    e = Make(Ek::kLiteral, pos);
                    e->literal = false;
                } else if (tok.text == "none" || tok.text == "None") {
                    e = Make(Ek::kLiteral, pos);
                    e->literal = nullptr;
                } else {
                    e = Make(Ek::kName, pos);
                    e->name = tok.text;
                }
                ++i_;
                return e;
            }
            case Tok::kString: {
                ExprPtr e = Make(Ek::kLiteral, pos);
                std::string s;
                while (Cur().type == Tok::kString) {
                    s += Cur().text;
                    ++i_;
                }
                e->literal = std::move(s);
                return e;
            }
            case Tok::kInt: {
                ExprPtr e = Make(Ek::kLiteral, pos);
                int64_t v = 0;
                auto r = std::from_chars(tok.text.data(), tok.text.data() + tok.text.size(), v);
                if (r.ec != std::errc()) {
                    e->literal = std::strtod(tok.text.c_str(), nullptr);
                } else {
                    e->literal = v;
                }
                ++i_;
                return e;
            }
            case Tok::kFloat: {
                ExprPtr e = Make(Ek::kLiteral, pos);
                e->literal = std::strtod(tok.text.c_str(), nullptr);
                ++i_;
                return e;
            }
            case Tok::kOp:
                if (tok.text == "(") {
                    ++i_;
                    if (IsOp(")")) {
                        ++i_;
                        ExprPtr e = Make(Ek::kList, pos);
                        e->name = "tuple";
                        return e;
                    }
                    ExprPtr e = ParseTuple();
                    if (!e || !Expect(")")) return nullptr;
                    return e;
                }
                if (tok.text == "[") {
                    ++i_;
                    ExprPtr e = Make(Ek::kList, pos);
                    while (!IsOp("]")) {
                        if (!e->args.empty() && !Expect(",")) return nullptr;
                        if (IsOp("]")) break;
                        ExprPtr item = ParseExpression();
                        if (!item) return nullptr;
                        e->args.push_back(std::move(item));
                    }
                    ++i_;
                    return e;
                }
                if (tok.text == "{") {
                    ++i_;
                    ExprPtr e = Make(Ek::kDict, pos);
                    while (!IsOp("}")) {
                        if (!e->args.empty() && !Expect(",")) return nullptr;
                        if (IsOp("}")) break;
                        ExprPtr k = ParseExpression();
                        if (!k || !Expect(":")) return nullptr;
                        ExprPtr v = ParseExpression();
                        if (!v) return nullptr;
                        e->args.push_back(std::move(k));
                        e->args.push_back(std::move(v));
                    }
                    ++i_;
                    return e;
                }
                break;
            default:
                break;
        }
        Error("unexpected " + std::string(Got().substr(6)));
        return nullptr;
    }

    ExprPtr ParsePostfix(ExprPtr e) {
        while (e) {
            const size_t pos = Cur().pos;
            if (IsOp(".")) {
                ++i_;
                ExprPtr node;
                if (Cur().type == Tok::kName) {
                    node = Make(Ek::kGetAttr, pos);
                    node->name = Cur().text;
                } else if (Cur().type == Tok::kInt) {
                    node = Make(Ek::kGetItem, pos);
                    ExprPtr idx = Make(Ek::kLiteral, Cur().pos);
                    int64_t index = 0;
                    std::from_chars(Cur().text.data(), Cur().text.data() + Cur().text.size(), index);
                    idx->literal = index;
                    node->args.push_back(std::move(e));
                    node->args.push_back(std::move(idx));
                    ++i_;
                    e = std::move(node);
                    continue;
                } else {
                    Error("expected name or number" + Got());
                    return nullptr;
                }
                ++i_;
                node->args.push_back(std::move(e));
                e = std::move(node);
            } else if (IsOp("[")) {
                ++i_;
                ExprPtr node;
                ExprPtr parts[3];
                bool slice = false;
                for (int k = 0; k < 3; ++k) {
                    if (!IsOp(":") && !IsOp("]")) {
                        parts[k] = ParseExpression();
                        if (!parts[k]) return nullptr;
                    }
                    if (k < 2 && IsOp(":")) {
                        slice = true;
                        ++i_;
                        continue;
                    }
                    break;
                }
                if (!Expect("]")) return nullptr;
                if (slice) {
                    node = Make(Ek::kSlice, pos);
                    node->args.push_back(std::move(e));
                    for (auto& p : parts) node->args.push_back(std::move(p));
                } else {
                    if (!parts[0]) {
                        Error("expected an expression");
                        return nullptr;
                    }
                    node = Make(Ek::kGetItem, pos);
                    node->args.push_back(std::move(e));
                    node->args.push_back(std::move(parts[0]));
                }
                e = std::move(node);
            } else if (IsOp("(")) {
                ExprPtr node = Make(Ek::kCall, pos);
                if (e->kind == Ek::kGetAttr) {
                    node->has_subject = true;
                    node->name = e->name;
                    node->args.push_back(std::move(e->args[0]));
                } else if (e->kind == Ek::kName) {
                    node->name = e->name;
                } else {
                    Error("only functions and methods can be called");
                    return nullptr;
                }
                if (!ParseArgs(node.get())) return nullptr;
                e = std::move(node);
            } else {
                break;
            }
        }
        return e;
    }

    bool ParseArgs(Expr* node) {
        if (!Expect("(")) return false;
        while (!IsOp(")")) {
            if ((node->args.size() > (node->has_subject ? 1u : 0u) || !node->kwargs.empty()) && !Expect(","))
                return false;
            if (IsOp(")")) break;
            if (!node->args.empty() && node->args.back()->spread == 2)
                return Error("invalid syntax for function call expression");  // `**mapping` comes last
            if (IsOp("*") || IsOp("**")) {
                const uint8_t spread = IsOp("*") ? 1 : 2;
                ++i_;
                ExprPtr v = ParseExpression();
                if (!v) return false;
                v->spread = spread;
                node->args.push_back(std::move(v));
            } else if (Cur().type == Tok::kName && t_[i_ + 1].type == Tok::kOp && t_[i_ + 1].text == "=") {
                std::string key = Cur().text;
                i_ += 2;
                ExprPtr v = ParseExpression();
                if (!v) return false;
                node->kwargs.emplace_back(std::move(key), std::move(v));
            } else {
                ExprPtr v = ParseExpression();
                if (!v) return false;
                node->args.push_back(std::move(v));
            }
        }
        ++i_;
        return true;
    }

    /// `name` or `name(args)` applied to `e` (the `|` before it already consumed).
    ExprPtr ParseOneFilter(ExprPtr e, size_t pos) {
        if (Cur().type != Tok::kName) {
            Error("expected a filter name" + Got());
            return nullptr;
        }
        ExprPtr node = Make(Ek::kFilter, pos);
        node->name = Cur().text;
        ++i_;
        node->args.push_back(std::move(e));
        node->has_subject = true;
        if (IsOp("(") && !ParseArgs(node.get())) return nullptr;
        return node;
    }

    ExprPtr ParseFilterExpr(ExprPtr e) {
        while (e) {
            if (IsOp("|")) {
                const size_t pos = Cur().pos;
                ++i_;
                e = ParseOneFilter(std::move(e), pos);
            } else if (IsName("is")) {
                const size_t pos = Cur().pos;
                ++i_;
                ExprPtr node = Make(Ek::kTest, pos);
                if (IsName("not")) {
                    node->negated = true;
                    ++i_;
                }
                if (Cur().type != Tok::kName) {
                    Error("expected a test name" + Got());
                    return nullptr;
                }
                node->name = Cur().text;
                ++i_;
                node->args.push_back(std::move(e));
                node->has_subject = true;
                if (IsOp("(")) {
                    if (!ParseArgs(node.get())) return nullptr;
                } else if ((Cur().type == Tok::kName && Cur().text != "else" && Cur().text != "or" && Cur().text != "and" && Cur().text != "if" && Cur().text != "is" && Cur().text != "in" && Cur().text != "not") || Cur().type == Tok::kString || Cur().type == Tok::kInt || Cur().type == Tok::kFloat || IsOp("[") || IsOp("{")) {
                    ExprPtr arg = ParsePrimary();
                    if (!arg) return nullptr;
                    arg = ParsePostfix(std::move(arg));
                    if (!arg) return nullptr;
                    node->args.push_back(std::move(arg));
                }
                e = std::move(node);
            } else {
                break;
            }
        }
        return e;
    }

    std::vector<Token> t_;
    size_t i_ = 0;
    int depth_ = 0;
    bool too_deep_ = false;
    size_t tag_pos_ = 0;
    CompileError err_;
};

}  // namespace

bool Parse(std::vector<Token>&& tokens, Body* out, CompileError* err) {
    Parser parser(std::move(tokens));
    return parser.Parse(out, err);
}

}  // namespace squall::core::templates
