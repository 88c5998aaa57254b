// The template lexer: text and `{{ }}` / `{% %}` / `{# #}` tags into tokens, with Jinja's whitespace control.
#pragma once

#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include "pystr.hpp"
#include "squall/core/error.hpp"

namespace squall::core::templates {

// ---------------------------------------------------------------------------------------------------------------
// Lexer.

enum class Tok { kData, kVarBegin, kVarEnd, kBlockBegin, kBlockEnd, kName, kString, kInt, kFloat, kOp, kEof };

struct Token {
    Tok type;
    std::string text;  // data, name, decoded string, number text or operator
    size_t pos;        // 0-based offset into the source
};

struct CompileError {
    size_t pos;
    std::string what;
};

inline bool IsSpace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

inline bool IsLineSpace(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

class Lexer {
public:
    Lexer(std::string_view src, bool trim_blocks, bool lstrip_blocks)
        : src_(src), trim_blocks_(trim_blocks), lstrip_blocks_(lstrip_blocks) {}

    bool Run(std::vector<Token>* out, CompileError* err) {
        size_t pos = 0;
        bool lstrip_next = false;
        const size_t n = src_.size();
        trim_newline_ = false;
        while (pos < n) {
            size_t open = pos;
            while (true) {
                open = src_.find('{', open);
                if (open == std::string_view::npos || open + 1 >= n) break;
                const char k = src_[open + 1];
                if (k == '{' || k == '%' || k == '#') break;
                ++open;
            }
            if (open == std::string_view::npos || open + 1 >= n) open = n;
            std::string data(src_.substr(pos, open - pos));
            const bool strip_before = open + 2 < n && src_[open + 2] == '-';
            if (trim_newline_) {
                // trim_blocks: the first newline after a block or comment tag is removed.
                if (!data.empty() && data[0] == '\n') data.erase(0, 1);
                trim_newline_ = false;
            }
            if (lstrip_blocks_ && open < n && (src_[open + 1] == '%' || src_[open + 1] == '#') && !strip_before &&
                !(open + 2 < n && src_[open + 2] == '+')) {
                // lstrip_blocks: spaces and tabs from the start of the line to a block or comment tag go.
                size_t q = open;
                while (q > pos && IsLineSpace(src_[q - 1])) --q;
                if (q == 0 || src_[q - 1] == '\n') data.erase(data.size() - std::min(data.size(), open - q));
            }
            if (lstrip_next) {
                size_t a = 0;
                while (a < data.size() && IsSpace(data[a])) ++a;
                data.erase(0, a);
                lstrip_next = false;
            }
            if (strip_before && open < n) {
                while (!data.empty() && IsSpace(data.back())) data.pop_back();
            }
            if (open >= n) {
                if (!data.empty()) out->push_back({Tok::kData, std::move(data), pos});
                break;
            }
            if (!data.empty()) out->push_back({Tok::kData, std::move(data), pos});
            const char kind = src_[open + 1];
            size_t p = open + 2 + (strip_before || (open + 2 < n && src_[open + 2] == '+') ? 1 : 0);
            if (kind == '#') {
                const size_t end = src_.find("#}", p);
                if (end == std::string_view::npos) {
                    *err = {open, "missing end of comment tag"};
                    return false;
                }
                lstrip_next = end > 0 && src_[end - 1] == '-' && end - 1 >= p;
                trim_newline_ = trim_blocks_ && !lstrip_next;
                pos = end + 2;
                continue;
            }
            if (kind == '%' && TryRaw(open, p, out, &pos, &lstrip_next, err)) {
                continue;
            }
            if (!err->what.empty()) return false;
            out->push_back({kind == '{' ? Tok::kVarBegin : Tok::kBlockBegin, "", open});
            if (!LexExpr(p, kind == '{' ? '}' : '%', out, &pos, &lstrip_next, err)) return false;
        }
        out->push_back({Tok::kEof, "", n});
        return true;
    }

private:
    // `{% raw %}...{% endraw %}`: the content is data, verbatim.
    bool TryRaw(size_t open, size_t p, std::vector<Token>* out, size_t* pos, bool* lstrip_next, CompileError* err) {
        size_t q = p;
        while (q < src_.size() && IsSpace(src_[q])) ++q;
        if (src_.substr(q, 3) != "raw") return false;
        q += 3;
        size_t r = q;
        while (r < src_.size() && IsSpace(src_[r])) ++r;
        bool strip_after = false;
        if (src_.substr(r, 3) == "-%}") {
            strip_after = true;
            r += 3;
        } else if (src_.substr(r, 2) == "%}") {
            r += 2;
        } else {
            return false;
        }
        // Find {%[-] endraw [-]%}.
        size_t s = r;
        while (true) {
            const size_t b = src_.find("{%", s);
            if (b == std::string_view::npos) {
                *err = {open, "missing endraw"};
                return false;
            }
            size_t t = b + 2;
            const bool strip_before = t < src_.size() && src_[t] == '-';
            if (strip_before || (t < src_.size() && src_[t] == '+')) ++t;
            while (t < src_.size() && IsSpace(src_[t])) ++t;
            if (src_.substr(t, 6) != "endraw") {
                s = b + 2;
                continue;
            }
            t += 6;
            while (t < src_.size() && IsSpace(src_[t])) ++t;
            bool strip_next = false;
            if (src_.substr(t, 3) == "-%}") {
                strip_next = true;
                t += 3;
            } else if (src_.substr(t, 2) == "%}") {
                t += 2;
            } else {
                s = b + 2;
                continue;
            }
            std::string data(src_.substr(r, b - r));
            if (strip_after) {
                size_t a = 0;
                while (a < data.size() && IsSpace(data[a])) ++a;
                data.erase(0, a);
            }
            if (strip_before) {
                while (!data.empty() && IsSpace(data.back())) data.pop_back();
            } else if (lstrip_blocks_ && src_[b + 2] != '+') {
                size_t q = b;
                while (q > r && IsLineSpace(src_[q - 1])) --q;
                if (q == 0 || src_[q - 1] == '\n') data.erase(data.size() - std::min(data.size(), b - q));
            }
            if (!data.empty()) out->push_back({Tok::kData, std::move(data), r});
            *pos = t;
            *lstrip_next = strip_next;
            trim_newline_ = trim_blocks_ && !strip_next;
            return true;
        }
    }

    bool LexExpr(size_t p, char closer, std::vector<Token>* out, size_t* pos, bool* lstrip_next, CompileError* err) {
        const size_t n = src_.size();
        int depth = 0;
        while (true) {
            while (p < n && IsSpace(src_[p])) ++p;
            if (p >= n) {
                *err = {
                    p,
                    closer == '}' ? "unexpected end of template, expected '}}'"
                                  : "unexpected end of template, expected '%}'"};
                return false;
            }
            if (depth == 0) {
                const bool dash = src_[p] == '-' && p + 2 < n + 0 && src_[p + 1] == closer && src_[p + 2] == '}';
                if (dash || (src_[p] == closer && p + 1 < n && src_[p + 1] == '}')) {
                    out->push_back({closer == '}' ? Tok::kVarEnd : Tok::kBlockEnd, "", p});
                    *lstrip_next = dash;
                    trim_newline_ = trim_blocks_ && closer == '%' && !dash;
                    *pos = p + (dash ? 3 : 2);
                    return true;
                }
            }
            const char c = src_[p];
            if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
                size_t e = p;
                while (e < n && (std::isalnum(static_cast<unsigned char>(src_[e])) || src_[e] == '_')) ++e;
                out->push_back({Tok::kName, std::string(src_.substr(p, e - p)), p});
                p = e;
            } else if (std::isdigit(static_cast<unsigned char>(c))) {
                size_t e = p;
                auto digits = [&] {
                    while (e < n &&
                           (std::isdigit(static_cast<unsigned char>(src_[e])) ||
                            (src_[e] == '_' && e + 1 < n && std::isdigit(static_cast<unsigned char>(src_[e + 1])))))
                        ++e;
                };
                digits();
                bool is_float = false;
                if (e + 1 < n && src_[e] == '.' && std::isdigit(static_cast<unsigned char>(src_[e + 1]))) {
                    ++e;
                    digits();
                    is_float = true;
                }
                if (e < n && (src_[e] == 'e' || src_[e] == 'E')) {
                    size_t f = e + 1;
                    if (f < n && (src_[f] == '+' || src_[f] == '-')) ++f;
                    if (f < n && std::isdigit(static_cast<unsigned char>(src_[f]))) {
                        e = f;
                        digits();
                        is_float = true;
                    }
                }
                std::string text(src_.substr(p, e - p));
                text.erase(std::remove(text.begin(), text.end(), '_'), text.end());
                out->push_back({is_float ? Tok::kFloat : Tok::kInt, std::move(text), p});
                p = e;
            } else if (c == '\'' || c == '"') {
                std::string s;
                size_t e = p + 1;
                bool closed = false;
                while (e < n) {
                    const char d = src_[e];
                    if (d == c) {
                        closed = true;
                        ++e;
                        break;
                    }
                    if (d == '\\' && e + 1 < n) {
                        const char x = src_[e + 1];
                        e += 2;
                        switch (x) {
                            case 'n':
                                s += '\n';
                                break;
                            case 't':
                                s += '\t';
                                break;
                            case 'r':
                                s += '\r';
                                break;
                            case '0':
                                s += '\0';
                                break;
                            case '\\':
                                s += '\\';
                                break;
                            case '\'':
                                s += '\'';
                                break;
                            case '"':
                                s += '"';
                                break;
                            case '\n':
                                break;
                            case 'x':
                            case 'u':
                            case 'U': {
                                const size_t len = x == 'x' ? 2 : x == 'u' ? 4 : 8;
                                if (e + len <= n) {
                                    uint32_t cp = 0;
                                    bool ok = true;
                                    for (size_t k = 0; k < len; ++k) {
                                        const char h = src_[e + k];
                                        if (!std::isxdigit(static_cast<unsigned char>(h))) {
                                            ok = false;
                                            break;
                                        }
                                        cp = cp * 16 + static_cast<uint32_t>(
                                                           std::isdigit(static_cast<unsigned char>(h))
                                                               ? h - '0'
                                                               : (std::tolower(h) - 'a' + 10)
                                                       );
                                    }
                                    if (ok) {
                                        AppendUtf8(s, cp);
                                        e += len;
                                        break;
                                    }
                                }
                                s += '\\';
                                s += x;
                                break;
                            }
                            default:
                                s += '\\';
                                s += x;
                        }
                        continue;
                    }
                    s += d;
                    ++e;
                }
                if (!closed) {
                    *err = {p, "unexpected end of string"};
                    return false;
                }
                out->push_back({Tok::kString, std::move(s), p});
                p = e;
            } else {
                static const char* const kOps2[] = {"//", "**", "==", "!=", ">=", "<="};
                std::string op;
                for (const char* o : kOps2) {
                    if (src_.substr(p, 2) == o) {
                        op = o;
                        break;
                    }
                }
                if (op.empty()) {
                    if (std::string_view("+-*/%~()[]{},.:|=<>").find(c) == std::string_view::npos) {
                        *err = {p, std::string("unexpected char '") + c + "'"};
                        return false;
                    }
                    op = std::string(1, c);
                }
                if (op == "(" || op == "[" || op == "{") ++depth;
                if ((op == ")" || op == "]" || op == "}") && depth > 0) --depth;
                out->push_back({Tok::kOp, op, p});
                p += op.size();
            }
        }
    }

    std::string_view src_;
    bool trim_blocks_ = false;
    bool lstrip_blocks_ = false;
    bool trim_newline_ = false;  ///< the data after the tag just lexed loses its first newline
};

}  // namespace squall::core::templates
