// The Jinja-compatible template engine (SPEC §5): lexer → parser → AST, evaluated over a JSON context.
// Rendering never throws: errors are collected in the evaluator and returned as Result values.
#include "squall/core/template.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <deque>
#include <functional>
#include <limits>
#include <mutex>
#include <unordered_map>

#include <yaml-cpp/yaml.h>

#include "squall/core/regex.hpp"

namespace squall::core {

Result<std::string> KeyValueLookup::Decrypt(std::string_view) const {
    return InvalidArgument("decrypt_kv: no datastore encryption key is configured");
}

namespace {

// Parses one path into steps; returns false on a syntax error.
bool ParsePath(std::string_view path, std::vector<std::string>* steps, std::vector<bool>* is_index) {
    size_t i = 0;
    auto ident = [&](std::string* out) {
        const size_t start = i;
        while (i < path.size() &&
               (std::isalnum(static_cast<unsigned char>(path[i])) || path[i] == '_' || path[i] == '-')) {
            ++i;
        }
        *out = std::string(path.substr(start, i - start));
        return !out->empty();
    };
    std::string name;
    if (!ident(&name)) return false;
    steps->push_back(name);
    is_index->push_back(false);
    while (i < path.size()) {
        if (path[i] == '.') {
            ++i;
            if (!ident(&name)) return false;
            steps->push_back(name);
            is_index->push_back(false);
        } else if (path[i] == '[') {
            ++i;
            if (i < path.size() && (path[i] == '\'' || path[i] == '"')) {
                const char q = path[i++];
                const size_t end = path.find(q, i);
                if (end == std::string_view::npos) return false;
                steps->emplace_back(path.substr(i, end - i));
                is_index->push_back(false);
                i = end + 1;
            } else {
                const size_t start = i;
                while (i < path.size() && std::isdigit(static_cast<unsigned char>(path[i]))) ++i;
                if (i == start) return false;
                steps->emplace_back(path.substr(start, i - start));
                is_index->push_back(true);
            }
            if (i >= path.size() || path[i] != ']') return false;
            ++i;
        } else {
            return false;
        }
    }
    return true;
}

const Json* Walk(
    const Json& root, const std::vector<std::string>& steps, const std::vector<bool>& is_index, size_t* failed_at
) {
    const Json* cur = &root;
    for (size_t s = 0; s < steps.size(); ++s) {
        if (cur->is_object()) {
            auto it = cur->find(steps[s]);
            if (it == cur->end()) {
                *failed_at = s;
                return nullptr;
            }
            cur = &*it;
        } else if (cur->is_array() && (is_index[s] || std::isdigit(static_cast<unsigned char>(steps[s][0])))) {
            const size_t idx = std::stoul(steps[s]);
            if (idx >= cur->size()) {
                *failed_at = s;
                return nullptr;
            }
            cur = &(*cur)[idx];
        } else {
            *failed_at = s;
            return nullptr;
        }
    }
    return cur;
}

// ---------------------------------------------------------------------------------------------------------------
// Python formatting helpers.

std::string PyFloatRepr(double d) {
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
    if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
    std::string sci(buf, res.ptr);
    // sci: [-]D[.DDD]e[+-]XX
    bool neg = sci[0] == '-';
    if (neg) sci.erase(0, 1);
    const size_t e = sci.find('e');
    std::string digits = sci.substr(0, e);
    digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
    const int exp = std::stoi(sci.substr(e + 1));
    std::string out;
    if (exp >= -4 && exp < 16) {
        if (exp < 0) {
            out = "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
        } else if (static_cast<size_t>(exp) + 1 >= digits.size()) {
            out = digits + std::string(static_cast<size_t>(exp) + 1 - digits.size(), '0') + ".0";
        } else {
            out = digits.substr(0, static_cast<size_t>(exp) + 1) + "." + digits.substr(static_cast<size_t>(exp) + 1);
        }
    }
    if (out.empty()) {
        out = digits.substr(0, 1);
        if (digits.size() > 1) out += "." + digits.substr(1);
        char eb[16];
        std::snprintf(eb, sizeof(eb), "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
        out += eb;
    }
    return neg ? "-" + out : out;
}

// Decodes one UTF-8 code point at s[i]; advances i. Invalid bytes decode as themselves.
uint32_t DecodeUtf8(std::string_view s, size_t& i) {
    const auto c = static_cast<unsigned char>(s[i]);
    int n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    if (n <= 0 || i + static_cast<size_t>(n) >= s.size()) {
        ++i;
        return c;
    }
    uint32_t cp = c & (0x3F >> n);
    for (int k = 1; k <= n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + static_cast<size_t>(k)]) & 0x3F);
    i += static_cast<size_t>(n) + 1;
    return cp;
}

void AppendUtf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// Splits a UTF-8 string into code points (each as its own string), as Python iterates a str.
std::vector<std::string> CodePoints(std::string_view s) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < s.size()) {
        const size_t start = i;
        DecodeUtf8(s, i);
        out.emplace_back(s.substr(start, i - start));
    }
    return out;
}

size_t CodePointCount(std::string_view s) {
    size_t n = 0;
    for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return n;
}

std::string PyQuote(const std::string& s) {
    // Python repr() of a str: single quotes unless the text has a single quote and no double quote.
    const bool use_double = s.find('\'') != std::string::npos && s.find('"') == std::string::npos;
    const char q = use_double ? '"' : '\'';
    std::string out(1, q);
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == q || c == '\\') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c == '\r') {
            out += "\\r";
        } else if (u < 0x20 || u == 0x7F) {
            char b[8];
            std::snprintf(b, sizeof(b), "\\x%02x", u);
            out += b;
        } else {
            out += c;
        }
    }
    out += q;
    return out;
}

std::string PyRepr(const Json& v) {
    if (v.is_string()) return PyQuote(v.get_ref<const std::string&>());
    return PythonStr(v);
}

// Python's json.dumps with ensure_ascii=True.
void PyJsonString(std::string& out, std::string_view s) {
    out += '"';
    size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '"') {
            out += "\\\"";
            ++i;
        } else if (c == '\\') {
            out += "\\\\";
            ++i;
        } else if (c == '\n') {
            out += "\\n";
            ++i;
        } else if (c == '\r') {
            out += "\\r";
            ++i;
        } else if (c == '\t') {
            out += "\\t";
            ++i;
        } else if (c == '\b') {
            out += "\\b";
            ++i;
        } else if (c == '\f') {
            out += "\\f";
            ++i;
        } else if (c < 0x20 || c >= 0x7F) {
            uint32_t cp = c < 0x80 ? c : DecodeUtf8(s, i);
            if (c < 0x80) ++i;
            char b[16];
            if (cp >= 0x10000) {
                cp -= 0x10000;
                std::snprintf(b, sizeof(b), "\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
            } else {
                std::snprintf(b, sizeof(b), "\\u%04x", cp);
            }
            out += b;
        } else {
            out += static_cast<char>(c);
            ++i;
        }
    }
    out += '"';
}

struct JsonDumpOptions {
    int indent = -1;  ///< -1: none
    std::string item_sep = ", ";
    std::string key_sep = ": ";
    bool sort_keys = false;  // nlohmann objects are always sorted; kept for clarity
};

void PyJsonDump(std::string& out, const Json& v, const JsonDumpOptions& o, int depth) {
    switch (v.type()) {
        case Json::value_t::null:
            out += "null";
            return;
        case Json::value_t::boolean:
            out += v.get<bool>() ? "true" : "false";
            return;
        case Json::value_t::number_float: {
            const double d = v.get<double>();
            out += std::isnan(d) ? "NaN" : std::isinf(d) ? (d > 0 ? "Infinity" : "-Infinity") : PyFloatRepr(d);
            return;
        }
        case Json::value_t::string:
            PyJsonString(out, v.get_ref<const std::string&>());
            return;
        case Json::value_t::array:
        case Json::value_t::object: {
            const bool obj = v.is_object();
            if (v.empty()) {
                out += obj ? "{}" : "[]";
                return;
            }
            out += obj ? '{' : '[';
            const std::string nl =
                o.indent >= 0 ? "\n" + std::string(static_cast<size_t>(o.indent * (depth + 1)), ' ') : "";
            std::string sep = o.item_sep;
            if (o.indent >= 0) {
                while (!sep.empty() && sep.back() == ' ') sep.pop_back();
            }
            bool first = true;
            for (auto it = v.begin(); it != v.end(); ++it) {
                if (!first) out += sep;
                first = false;
                out += nl;
                if (obj) {
                    PyJsonString(out, it.key());
                    out += o.key_sep;
                }
                PyJsonDump(out, *it, o, depth + 1);
            }
            if (o.indent >= 0) out += "\n" + std::string(static_cast<size_t>(o.indent * depth), ' ');
            out += obj ? '}' : ']';
            return;
        }
        default:
            out += v.dump();
            return;
    }
}

// yaml.safe_dump(value, default_flow_style=False, allow_unicode=True) for the common shapes.
bool YamlPlainOk(const std::string& s) {
    if (s.empty()) return false;
    static const char* const kReserved[] = {"true", "false", "yes", "no", "on", "off", "null", "~"};
    std::string lower = s;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    for (const char* r : kReserved) {
        if (lower == r) return false;
    }
    if (std::isspace(static_cast<unsigned char>(s.front())) || std::isspace(static_cast<unsigned char>(s.back())))
        return false;
    if (std::string_view("-?:,[]{}#&*!|>'\"%@`").find(s[0]) != std::string_view::npos) return false;
    if (s.find(": ") != std::string::npos || s.find(" #") != std::string::npos || s.back() == ':') return false;
    for (char c : s) {
        if (static_cast<unsigned char>(c) < 0x20) return false;
    }
    // Strings that would resolve as numbers need quotes.
    bool numeric = true;
    bool digit = false;
    for (char c : s) {
        if (std::isdigit(static_cast<unsigned char>(c))) {
            digit = true;
        } else if (std::string_view("+-._eE:").find(c) == std::string_view::npos) {
            numeric = false;
        }
    }
    return !(numeric && digit) && lower != ".inf" && lower != ".nan";
}

std::string YamlScalar(const Json& v) {
    switch (v.type()) {
        case Json::value_t::null:
            return "null";
        case Json::value_t::boolean:
            return v.get<bool>() ? "true" : "false";
        case Json::value_t::number_float:
            return PyFloatRepr(v.get<double>());
        case Json::value_t::string: {
            const std::string& s = v.get_ref<const std::string&>();
            if (YamlPlainOk(s)) return s;
            std::string out = "'";
            for (char c : s) {
                out += c;
                if (c == '\'') out += '\'';
            }
            return out + "'";
        }
        default:
            return v.dump();
    }
}

void YamlDump(std::string& out, const Json& v, int indent, bool in_seq) {
    const std::string pad(static_cast<size_t>(indent), ' ');
    if (v.is_object() && !v.empty()) {
        bool first = true;
        for (auto it = v.begin(); it != v.end(); ++it) {
            if (!(first && in_seq)) out += pad;
            first = false;
            out += YamlScalar(Json(it.key())) + ":";
            const Json& c = *it;
            if (c.is_object() && !c.empty()) {
                out += "\n";
                YamlDump(out, c, indent + 2, false);
            } else if (c.is_array() && !c.empty()) {
                out += "\n";
                YamlDump(out, c, indent, false);
            } else {
                out += " " + (c.is_array() ? "[]" : c.is_object() ? "{}" : YamlScalar(c)) + "\n";
            }
        }
    } else if (v.is_array() && !v.empty()) {
        for (const Json& c : v) {
            out += pad + "- ";
            if ((c.is_object() || c.is_array()) && !c.empty()) {
                YamlDump(out, c, indent + 2, true);
            } else {
                out += (c.is_array() ? "[]" : c.is_object() ? "{}" : YamlScalar(c)) + "\n";
            }
        }
    }
}

std::string ToYaml(const Json& v) {
    if ((v.is_object() || v.is_array()) && !v.empty()) {
        std::string out;
        YamlDump(out, v, 0, false);
        return out;
    }
    if (v.is_array()) return "[]\n";
    if (v.is_object()) return "{}\n";
    const std::string scalar = YamlScalar(v);
    // PyYAML ends a document holding a plain scalar with "...".
    return scalar + (scalar[0] == '\'' ? "\n" : "\n...\n");
}

}  // namespace

std::string PythonStr(const Json& v) {
    switch (v.type()) {
        case Json::value_t::null:
            return "None";
        case Json::value_t::boolean:
            return v.get<bool>() ? "True" : "False";
        case Json::value_t::string:
            return v.get<std::string>();
        case Json::value_t::number_float:
            return PyFloatRepr(v.get<double>());
        case Json::value_t::array: {
            std::string out = "[";
            for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + PyRepr(v[i]);
            return out + "]";
        }
        case Json::value_t::object: {
            std::string out = "{";
            bool first = true;
            for (auto it = v.begin(); it != v.end(); ++it) {
                out += (first ? "" : ", ") + PyQuote(it.key()) + ": " + PyRepr(*it);
                first = false;
            }
            return out + "}";
        }
        default:
            return v.dump();
    }
}

const Json* LookupPath(const Json& root, std::string_view path) {
    std::vector<std::string> steps;
    std::vector<bool> is_index;
    if (!ParsePath(path, &steps, &is_index)) return nullptr;
    size_t failed = 0;
    return Walk(root, steps, is_index, &failed);
}

namespace {

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

bool IsSpace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool IsLineSpace(char c) {
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

// ---------------------------------------------------------------------------------------------------------------
// AST.

enum class Ek {
    kLiteral,
    kName,
    kGetAttr,
    kGetItem,
    kSlice,
    kNeg,
    kPos,
    kNot,
    kBinary,
    kAnd,
    kOr,
    kCompare,
    kCond,
    kFilter,
    kTest,
    kCall,
    kList,
    kDict,
    kConcat,
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
    Ek kind;
    size_t pos = 0;
    std::string name;  // variable / attribute / filter / test / method / binary op
    Json literal;
    std::vector<ExprPtr> args;  // operands; for filters/tests/calls: [0] = subject, then positional args
    std::vector<std::pair<std::string, ExprPtr>> kwargs;
    std::vector<std::string> ops;  // compare operators
    bool negated = false;          // `is not`
    bool has_subject = false;      // kCall: method call on args[0]
};

enum class Sk { kData, kOutput, kIf, kFor, kSet, kSetBlock };

struct Stmt;
using Body = std::vector<Stmt>;

struct Stmt {
    Sk kind = Sk::kData;
    size_t pos = 0;
    std::string text;                                // data
    ExprPtr expr;                                    // output / set value / for iterable
    std::vector<std::pair<ExprPtr, Body>> branches;  // if / elif
    Body body;                                       // for body / set block body
    Body else_body;
    std::vector<std::string> targets;  // for / set targets
    std::string attr;                  // set ns.attr
    ExprPtr cond;                      // for ... if cond
};

// ---------------------------------------------------------------------------------------------------------------
// Parser.

class Parser {
public:
    explicit Parser(std::vector<Token>&& toks) : t_(std::move(toks)) {}

    bool Parse(Body* out, CompileError* err) {
        std::string end_tag;
        if (!ParseBody(out, {}, &end_tag)) return Fail(err);
        if (!end_tag.empty()) {
            err_ = {tag_pos_, "unexpected '" + end_tag + "'"};
            return Fail(err);
        }
        return true;
    }

private:
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
        if (IsOp(".")) {
            ++i_;
            if (Cur().type != Tok::kName) return Error("expected an attribute name" + Got());
            s.attr = Cur().text;
            ++i_;
        }
        if (Cur().type == Tok::kBlockEnd && s.attr.empty()) {
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

    ExprPtr Make(Ek k, size_t pos) {
        auto e = std::make_unique<Expr>();
        e->kind = k;
        e->pos = pos;
        return e;
    }

    // A bare tuple `a, b` becomes a list (printed as a list; tuples are not distinguished).
    ExprPtr ParseTuple(bool with_condexpr = true) {
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
            if (Cur().type == Tok::kName && t_[i_ + 1].type == Tok::kOp && t_[i_ + 1].text == "=") {
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

    ExprPtr ParseFilterExpr(ExprPtr e) {
        while (e) {
            if (IsOp("|")) {
                const size_t pos = Cur().pos;
                ++i_;
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
                e = std::move(node);
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
    size_t tag_pos_ = 0;
    CompileError err_;
};

}  // namespace
namespace {

// ---------------------------------------------------------------------------------------------------------------
// Values.

/// A value during evaluation: a JSON value (borrowed from the context, the AST or a live local, or owned), an
/// undefined value carrying the name it was looked up by (for error messages), or a lazy datastore handle.
struct Value {
    enum class Kind : uint8_t { kJson, kUndefined, kKvRoot, kKvScope, kKvKey };
    Kind kind = Kind::kUndefined;
    const Json* ref = nullptr;
    Json own;
    std::string name;  // undefined: the name; kv: scope
    std::string key;   // kv key prefix
    std::string hint;  // undefined: why ("no first item", ...)

    static Value Borrow(const Json& j) {
        Value v;
        v.kind = Kind::kJson;
        v.ref = &j;
        return v;
    }
    static Value Own(Json j) {
        Value v;
        v.kind = Kind::kJson;
        v.own = std::move(j);
        return v;
    }
    static Value Undefined(std::string name) {
        Value v;
        v.name = std::move(name);
        return v;
    }
    bool IsJson() const { return kind == Kind::kJson; }
    bool IsUndefined() const { return kind != Kind::kJson; }
    const Json& J() const { return ref ? *ref : own; }
    Json Take() && { return ref ? *ref : std::move(own); }
};

bool IsNumber(const Json& j) {
    return j.is_number() || j.is_boolean();
}
bool IsInt(const Json& j) {
    return j.is_number_integer() || j.is_boolean();
}
/// A float truncated toward zero as Python's int() does, clamped to 64 bits (casting a float beyond them is
/// undefined behaviour); NaN gives 0.
int64_t ClampToInt(double x) {
    if (std::isnan(x)) return 0;
    if (x >= 9223372036854775807.0) return std::numeric_limits<int64_t>::max();
    if (x <= -9223372036854775808.0) return std::numeric_limits<int64_t>::min();
    return static_cast<int64_t>(x);
}

int64_t AsInt(const Json& j) {
    if (j.is_boolean()) return j.get<bool>() ? 1 : 0;
    if (j.is_number_unsigned()) {
        const uint64_t u = j.get<uint64_t>();
        return u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ? std::numeric_limits<int64_t>::max()
                                                                              : static_cast<int64_t>(u);
    }
    if (j.is_number_integer()) return j.get<int64_t>();
    if (j.is_number_float()) return ClampToInt(j.get<double>());
    return 0;
}
double AsDouble(const Json& j) {
    if (j.is_number_float()) return j.get<double>();
    return static_cast<double>(AsInt(j));
}

bool Truthy(const Value& v) {
    if (!v.IsJson()) return v.kind == Value::Kind::kKvRoot || v.kind == Value::Kind::kKvScope;
    const Json& j = v.J();
    switch (j.type()) {
        case Json::value_t::null:
            return false;
        case Json::value_t::boolean:
            return j.get<bool>();
        case Json::value_t::number_float:
            return j.get<double>() != 0;
        case Json::value_t::number_integer:
        case Json::value_t::number_unsigned:
            return AsInt(j) != 0;
        case Json::value_t::string:
            return !j.get_ref<const std::string&>().empty();
        case Json::value_t::array:
        case Json::value_t::object:
            return !j.empty();
        default:
            return true;
    }
}

std::string Str(const Value& v) {
    if (!v.IsJson()) return "";
    const Json& j = v.J();
    if (j.is_string()) return j.get_ref<const std::string&>();
    return PythonStr(j);
}

const char* TypeName(const Json& j) {
    switch (j.type()) {
        case Json::value_t::null:
            return "NoneType";
        case Json::value_t::boolean:
            return "bool";
        case Json::value_t::number_float:
            return "float";
        case Json::value_t::number_integer:
        case Json::value_t::number_unsigned:
            return "int";
        case Json::value_t::string:
            return "str";
        case Json::value_t::array:
            return "list";
        case Json::value_t::object:
            return "dict";
        default:
            return "object";
    }
}

bool PyEq(const Json& a, const Json& b) {
    if (IsNumber(a) && IsNumber(b)) {
        if (a.is_number_float() || b.is_number_float()) return AsDouble(a) == AsDouble(b);
        return AsInt(a) == AsInt(b);
    }
    if (a.type() != b.type()) return false;
    if (a.is_array()) {
        if (a.size() != b.size()) return false;
        for (size_t i = 0; i < a.size(); ++i) {
            if (!PyEq(a[i], b[i])) return false;
        }
        return true;
    }
    if (a.is_object()) {
        if (a.size() != b.size()) return false;
        for (auto it = a.begin(); it != a.end(); ++it) {
            auto jt = b.find(it.key());
            if (jt == b.end() || !PyEq(*it, *jt)) return false;
        }
        return true;
    }
    return a == b;
}

// Python ordering; returns false in *ok when the types cannot be ordered.
int PyCmp(const Json& a, const Json& b, bool* ok) {
    if (IsNumber(a) && IsNumber(b)) {
        if (a.is_number_float() || b.is_number_float()) {
            const double x = AsDouble(a);
            const double y = AsDouble(b);
            return x < y ? -1 : x > y ? 1 : 0;
        }
        const int64_t x = AsInt(a);
        const int64_t y = AsInt(b);
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (a.is_string() && b.is_string()) {
        const int c = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
        return c < 0 ? -1 : c > 0 ? 1 : 0;
    }
    if (a.is_array() && b.is_array()) {
        for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
            if (PyEq(a[i], b[i])) continue;
            return PyCmp(a[i], b[i], ok);
        }
        return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
    }
    *ok = false;
    return 0;
}

// Python list() of an iterable value: list items, dict keys, string code points. False when not iterable.
bool Iterate(const Json& j, std::vector<Json>* items) {
    if (j.is_array()) {
        items->assign(j.begin(), j.end());
        return true;
    }
    if (j.is_object()) {
        for (auto it = j.begin(); it != j.end(); ++it) items->emplace_back(it.key());
        return true;
    }
    if (j.is_string()) {
        for (auto& c : CodePoints(j.get_ref<const std::string&>())) items->emplace_back(std::move(c));
        return true;
    }
    return false;
}

// Case mapping for ASCII, Latin-1, Greek and basic Cyrillic (other scripts are left as they are).
uint32_t UpperCp(uint32_t c) {
    if (c >= 'a' && c <= 'z') return c - 32;
    if ((c >= 0xE0 && c <= 0xFE && c != 0xF7) || (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) || (c >= 0x430 && c <= 0x44F))
        return c - 32;
    if (c >= 0x450 && c <= 0x45F) return c - 80;
    return c;
}
uint32_t LowerCp(uint32_t c) {
    if (c >= 'A' && c <= 'Z') return c + 32;
    if ((c >= 0xC0 && c <= 0xDE && c != 0xD7) || (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) || (c >= 0x410 && c <= 0x42F))
        return c + 32;
    if (c >= 0x400 && c <= 0x40F) return c + 80;
    return c;
}
std::string MapCase(const std::string& s, bool upper) {
    std::string out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            out += static_cast<char>(upper ? std::toupper(c) : std::tolower(c));
            ++i;
            continue;
        }
        const uint32_t cp = DecodeUtf8(s, i);
        AppendUtf8(out, upper ? UpperCp(cp) : LowerCp(cp));
    }
    return out;
}
std::string PyUpper(const std::string& s) {
    return MapCase(s, true);
}
std::string PyLower(const std::string& s) {
    return MapCase(s, false);
}
std::string PyCapitalize(const std::string& s) {
    std::string out = PyLower(s);
    if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
    return out;
}
std::string PyStrip(const std::string& s, const std::string* chars, bool left, bool right) {
    auto strip = [&](char c) {
        return chars ? chars->find(c) != std::string::npos : (std::isspace(static_cast<unsigned char>(c)) != 0);
    };
    size_t a = 0;
    size_t b = s.size();
    while (left && a < b && strip(s[a])) ++a;
    while (right && b > a && strip(s[b - 1])) --b;
    return s.substr(a, b - a);
}
std::string PyReplace(const std::string& s, const std::string& old, const std::string& rep, int64_t count) {
    std::string out;
    if (old.empty()) {
        auto cps = CodePoints(s);
        int64_t done = 0;
        for (size_t i = 0; i <= cps.size(); ++i) {
            if (count < 0 || done < count) {
                out += rep;
                ++done;
            }
            if (i < cps.size()) out += cps[i];
        }
        return out;
    }
    size_t pos = 0;
    int64_t done = 0;
    while (count < 0 || done < count) {
        const size_t f = s.find(old, pos);
        if (f == std::string::npos) break;
        out.append(s, pos, f - pos);
        out += rep;
        pos = f + old.size();
        ++done;
    }
    out.append(s, pos, std::string::npos);
    return out;
}
std::vector<std::string> PySplit(const std::string& s, const std::string* sep, int64_t maxsplit) {
    std::vector<std::string> out;
    if (!sep) {
        size_t i = 0;
        while (true) {
            while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
            if (i >= s.size()) break;
            if (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit) {
                out.push_back(PyStrip(s.substr(i), nullptr, false, true));
                break;
            }
            size_t j = i;
            while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j]))) ++j;
            out.push_back(s.substr(i, j - i));
            i = j;
        }
        return out;
    }
    size_t pos = 0;
    while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
        const size_t f = s.find(*sep, pos);
        if (f == std::string::npos) break;
        out.push_back(s.substr(pos, f - pos));
        pos = f + sep->size();
    }
    out.push_back(s.substr(pos));
    return out;
}
std::string PyTitle(const std::string& s) {
    // Jinja's do_title: split on runs of [-\s({\[<], capitalise each piece.
    std::string out;
    size_t i = 0;
    auto is_delim = [](char c) {
        return std::isspace(static_cast<unsigned char>(c)) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
    };
    while (i < s.size()) {
        size_t j = i;
        const bool delim = is_delim(s[i]);
        while (j < s.size() && is_delim(s[j]) == delim) ++j;
        std::string piece = s.substr(i, j - i);
        if (!delim) {
            piece = PyLower(piece);
            piece[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(piece[0])));
        }
        out += piece;
        i = j;
    }
    return out;
}

bool ParsePyInt(std::string s, int base, int64_t* out) {
    s = PyStrip(s, nullptr, true, true);
    s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
    if (s.empty()) return false;
    size_t i = 0;
    bool neg = false;
    if (s[0] == '+' || s[0] == '-') {
        neg = s[0] == '-';
        i = 1;
    }
    if (i >= s.size()) return false;
    int64_t v = 0;
    auto r = std::from_chars(s.data() + i, s.data() + s.size(), v, base);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return false;
    *out = neg ? -v : v;
    return true;
}
bool ParsePyFloat(std::string s, double* out) {
    s = PyStrip(s, nullptr, true, true);
    if (s.empty()) return false;
    std::string lower = PyLower(s);
    std::string body = lower[0] == '+' || lower[0] == '-' ? lower.substr(1) : lower;
    if (body == "inf" || body == "infinity" || body == "nan") {
        const double v = body == "nan" ? NAN : INFINITY;
        *out = lower[0] == '-' ? -v : v;
        return true;
    }
    for (char c : body) {
        if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.' && c != 'e' && c != '+' && c != '-' && c != '_')
            return false;
    }
    s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
    char* end = nullptr;
    *out = std::strtod(s.c_str(), &end);
    return end == s.c_str() + s.size();
}

std::string Basename(const std::string& p) {
    const size_t i = p.rfind('/');
    return i == std::string::npos ? p : p.substr(i + 1);
}
std::string Dirname(const std::string& p) {
    const size_t i = p.rfind('/');
    if (i == std::string::npos) return "";
    std::string head = p.substr(0, i + 1);
    if (head.find_first_not_of('/') != std::string::npos) {
        while (!head.empty() && head.back() == '/') head.pop_back();
    }
    return head;
}

// Python's printf-style `format % values` (str.__mod__). `args` are the values taken in turn (a tuple's items, or
// the one value; null = an undefined value, which prints as ""); `mapping` is set when the right side is a mapping
// for `%(name)s` (a dict, or a list: CPython's PyMapping_Check), and then unused values are not an error.
bool PyPercentFormat(
    std::string_view fmt, const std::vector<const Json*>& args, const Json* mapping, std::string* out, std::string* err
) {
    size_t argi = 0;
    size_t i = 0;
    auto next_arg = [&](const Json** v) {
        if (argi >= args.size()) {
            *err = "not enough arguments for format string";
            return false;
        }
        *v = args[argi++];
        return true;
    };
    while (i < fmt.size()) {
        const size_t pct = fmt.find('%', i);
        if (pct == std::string_view::npos) {
            out->append(fmt.substr(i));
            break;
        }
        out->append(fmt.substr(i, pct - i));
        i = pct + 1;
        const Json* v = nullptr;
        bool have_v = false;
        if (i < fmt.size() && fmt[i] == '(') {
            if (!mapping) {
                *err = "format requires a mapping";
                return false;
            }
            int depth = 1;
            const size_t key_start = ++i;
            while (i < fmt.size() && depth > 0) {
                if (fmt[i] == '(') ++depth;
                if (fmt[i] == ')') --depth;
                ++i;
            }
            if (depth > 0) {
                *err = "incomplete format key";
                return false;
            }
            const std::string key(fmt.substr(key_start, i - 1 - key_start));
            if (!mapping->is_object()) {
                *err = std::string(TypeName(*mapping)) + " indices must be integers or slices, not str";
                return false;
            }
            auto f = mapping->find(key);
            if (f == mapping->end()) {
                *err = "KeyError: " + PyQuote(key);
                return false;
            }
            v = &*f;
            have_v = true;
        }
        bool left = false, plus = false, space = false, alt = false, zero = false;
        for (; i < fmt.size(); ++i) {
            const char f = fmt[i];
            if (f == '-') {
                left = true;
            } else if (f == '+') {
                plus = true;
            } else if (f == ' ') {
                space = true;
            } else if (f == '#') {
                alt = true;
            } else if (f == '0') {
                zero = true;
            } else {
                break;
            }
        }
        auto read_num = [&](int64_t* n, bool is_width) {
            *n = -1;
            if (i < fmt.size() && fmt[i] == '*') {
                ++i;
                const Json* a = nullptr;
                if (!next_arg(&a)) return false;
                if (a == nullptr || !IsInt(*a)) {
                    *err = "* wants int";
                    return false;
                }
                *n = AsInt(*a);
                if (*n < 0) {
                    if (is_width) left = true;
                    *n = is_width ? -*n : 0;
                }
                return true;
            }
            while (i < fmt.size() && fmt[i] >= '0' && fmt[i] <= '9') {
                *n = (*n < 0 ? 0 : *n) * 10 + (fmt[i] - '0');
                if (*n > 100000) {
                    *err = "width or precision too big";
                    return false;
                }
                ++i;
            }
            return true;
        };
        int64_t width = -1;
        int64_t prec = -1;
        if (!read_num(&width, true)) return false;
        if (i < fmt.size() && fmt[i] == '.') {
            ++i;
            if (!read_num(&prec, false)) return false;
            if (prec < 0) prec = 0;
        }
        while (i < fmt.size() && (fmt[i] == 'h' || fmt[i] == 'l' || fmt[i] == 'L')) ++i;
        if (i >= fmt.size()) {
            *err = "incomplete format";
            return false;
        }
        const char type = fmt[i++];
        if (type == '%') {
            out->push_back('%');
            continue;
        }
        if (!have_v && !next_arg(&v)) return false;
        std::string sign;
        std::string prefix;
        std::string body;
        bool numeric = false;
        auto int_body = [&](int64_t n, int base, bool upper) {
            uint64_t mag = n < 0 ? 0 - static_cast<uint64_t>(n) : static_cast<uint64_t>(n);
            do {
                body.push_back("0123456789abcdef"[mag % static_cast<uint64_t>(base)]);
                mag /= static_cast<uint64_t>(base);
            } while (mag != 0);
            std::reverse(body.begin(), body.end());
            if (upper) {
                for (char& c : body) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            }
            if (prec > static_cast<int64_t>(body.size())) body.insert(0, static_cast<size_t>(prec) - body.size(), '0');
            sign = n < 0 ? "-" : plus ? "+" : space ? " " : "";
            if (alt && base == 16) prefix = upper ? "0X" : "0x";
            if (alt && base == 8) prefix = "0o";
            numeric = true;
        };
        const char* tname = v ? TypeName(*v) : "Undefined";
        switch (type) {
            case 's':
            case 'r':
            case 'a': {
                body = type == 's' ? (v == nullptr     ? ""
                                      : v->is_string() ? v->get<std::string>()
                                                       : PythonStr(*v))
                                   : (v == nullptr ? "Undefined" : PyRepr(*v));
                if (prec >= 0) {
                    size_t k = 0;
                    for (int64_t n = 0; n < prec && k < body.size(); ++n) DecodeUtf8(body, k);
                    body.resize(k);
                }
                break;
            }
            case 'd':
            case 'i':
            case 'u': {
                if (v == nullptr || !IsNumber(*v)) {
                    *err = std::string("%") + type + " format: a real number is required, not " + tname;
                    return false;
                }
                if (v->is_number_float() && !std::isfinite(v->get<double>())) {
                    *err = "cannot convert float infinity or NaN to integer";
                    return false;
                }
                int_body(AsInt(*v), 10, false);
                break;
            }
            case 'x':
            case 'X':
            case 'o': {
                if (v == nullptr || !IsInt(*v)) {
                    *err = std::string("%") + type + " format: an integer is required, not " + tname;
                    return false;
                }
                int_body(AsInt(*v), type == 'o' ? 8 : 16, type == 'X');
                break;
            }
            case 'e':
            case 'E':
            case 'f':
            case 'F':
            case 'g':
            case 'G': {
                if (v == nullptr || !IsNumber(*v)) {
                    *err = std::string("must be real number, not ") + tname;
                    return false;
                }
                std::string spec = "%";
                if (left) spec += '-';
                if (plus) spec += '+';
                if (space) spec += ' ';
                if (alt) spec += '#';
                if (zero) spec += '0';
                if (width >= 0) spec += std::to_string(width);
                spec += "." + std::to_string(prec < 0 ? 6 : prec) + type;
                const double x = AsDouble(*v);
                const int len =
                    std::snprintf(nullptr, 0, spec.c_str(), x);  // NOLINT(cppcoreguidelines-pro-type-vararg)
                std::string buf(static_cast<size_t>(len) + 1, '\0');
                std::snprintf(buf.data(), buf.size(), spec.c_str(), x);  // NOLINT(cppcoreguidelines-pro-type-vararg)
                buf.resize(static_cast<size_t>(len));
                out->append(buf);
                continue;
            }
            case 'c': {
                if (v != nullptr && IsInt(*v)) {
                    const int64_t cp = AsInt(*v);
                    if (cp < 0 || cp > 0x10FFFF) {
                        *err = "%c arg not in range(0x110000)";
                        return false;
                    }
                    AppendUtf8(body, static_cast<uint32_t>(cp));
                } else if (v != nullptr && v->is_string() && CodePointCount(v->get_ref<const std::string&>()) == 1) {
                    body = v->get<std::string>();
                } else {
                    *err = "%c requires int or char";
                    return false;
                }
                break;
            }
            default: {
                char b[96];
                std::snprintf(  // NOLINT(cppcoreguidelines-pro-type-vararg)
                    b,
                    sizeof(b),
                    "unsupported format character '%c' (0x%x) at index %zu",
                    type,
                    static_cast<unsigned>(static_cast<unsigned char>(type)),
                    i - 1
                );
                *err = b;
                return false;
            }
        }
        const size_t len = CodePointCount(sign) + prefix.size() + CodePointCount(body);
        const size_t w = width > 0 ? static_cast<size_t>(width) : 0;
        if (w <= len) {
            *out += sign + prefix + body;
        } else if (left) {
            *out += sign + prefix + body + std::string(w - len, ' ');
        } else if (zero && numeric) {
            *out += sign + prefix + std::string(w - len, '0') + body;
        } else {
            *out += std::string(w - len, ' ') + sign + prefix + body;
        }
    }
    if (argi < args.size() && mapping == nullptr) {
        *err = "not all arguments converted during string formatting";
        return false;
    }
    return true;
}

// Python str.splitlines() (keepends=False).
std::vector<std::string> PySplitLines(const std::string& s) {
    std::vector<std::string> lines;
    std::string cur;
    size_t i = 0;
    while (i < s.size()) {
        const size_t at = i;
        const uint32_t cp = DecodeUtf8(s, i);
        const bool brk = cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || cp == 0x1C || cp == 0x1D ||
                         cp == 0x1E || cp == 0x85 || cp == 0x2028 || cp == 0x2029;
        if (!brk) {
            cur.append(s, at, i - at);
            continue;
        }
        if (cp == '\r' && i < s.size() && s[i] == '\n') ++i;
        lines.push_back(std::move(cur));
        cur.clear();
    }
    if (!cur.empty()) lines.push_back(std::move(cur));
    return lines;
}

// urllib.parse.quote_from_bytes with `safe` ("/" for strings, "" in query strings, where spaces become "+").
std::string UrlQuote(const std::string& s, bool for_qs) {
    std::string out;
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (std::isalnum(u) || c == '_' || c == '.' || c == '-' || c == '~' || (!for_qs && c == '/')) {
            out += c;
        } else if (for_qs && c == ' ') {
            out += '+';
        } else {
            char b[4];
            std::snprintf(b, sizeof(b), "%%%02X", u);  // NOLINT(cppcoreguidelines-pro-type-vararg)
            out += b;
        }
    }
    return out;
}

// markupsafe.escape of the text (what Jinja's `escape`/`e` print).
std::string HtmlEscape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&#34;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

// A bounded cache of compiled regexes is provided by Regex::Cached.
RegexPtr GetRegex(const std::string& pattern, bool ignore_case, std::string* err) {
    Regex::Options o;
    o.ignore_case = ignore_case;
    auto r = Regex::Cached(pattern, o);
    if (!r) {
        *err = r.error().message;
        return nullptr;
    }
    return *r;
}

}  // namespace
struct Template::Impl {
    std::string source;  // as given, for error messages
    Body body;
    const Expr* single = nullptr;  // set when the template is exactly one `{{ expr }}`
};

namespace {

bool KnownFilter(const std::string& n) {
    static const char* const kNames[] = {
        "default",
        "d",
        "upper",
        "lower",
        "capitalize",
        "title",
        "trim",
        "replace",
        "join",
        "length",
        "count",
        "first",
        "last",
        "int",
        "float",
        "string",
        "list",
        "tojson",
        "to_json_string",
        "from_json_string",
        "to_yaml_string",
        "json_escape",
        "regex_match",
        "regex_replace",
        "regex_search",
        "regex_substring",
        "basename",
        "dirname",
        "use_none",
        "decrypt_kv",
        "abs",
        "reverse",
        "sort",
        "unique",
        "sum",
        "min",
        "max",
        "round",
        "items",
        "map",
        "bool",
        "select",
        "reject",
        "selectattr",
        "rejectattr",
        "format",
        "escape",
        "e",
        "forceescape",
        "safe",
        "indent",
        "center",
        "truncate",
        "wordcount",
        "urlencode",
        "filesizeformat",
        "dictsort",
        "batch",
        "slice"};
    return std::any_of(std::begin(kNames), std::end(kNames), [&](const char* k) { return n == k; });
}

bool KnownTest(const std::string& n) {
    static const char* const kNames[] = {"defined", "undefined", "none",    "string",      "number",   "boolean",
                                         "integer", "float",     "mapping", "sequence",    "iterable", "true",
                                         "false",   "even",      "odd",     "divisibleby", "eq",       "equalto",
                                         "ne",      "lt",        "gt",      "le",          "ge",       "in",
                                         "lower",   "upper",     "sameas",  "filter",      "test"};
    return std::any_of(std::begin(kNames), std::end(kNames), [&](const char* k) { return n == k; });
}

bool CheckNames(const Expr& e, CompileError* err) {
    if (e.kind == Ek::kFilter && !KnownFilter(e.name)) {
        *err = {e.pos, "unknown filter \"" + e.name + "\""};
        return false;
    }
    if (e.kind == Ek::kTest && !KnownTest(e.name)) {
        *err = {e.pos, "unknown test \"" + e.name + "\""};
        return false;
    }
    for (const auto& a : e.args) {
        if (a && !CheckNames(*a, err)) return false;
    }
    for (const auto& [k, a] : e.kwargs) {
        if (!CheckNames(*a, err)) return false;
    }
    return true;
}

bool CheckBody(const Body& body, CompileError* err) {
    for (const Stmt& s : body) {
        if (s.expr && !CheckNames(*s.expr, err)) return false;
        if (s.cond && !CheckNames(*s.cond, err)) return false;
        for (const auto& [c, b] : s.branches) {
            if (!CheckNames(*c, err) || !CheckBody(b, err)) return false;
        }
        if (!CheckBody(s.body, err) || !CheckBody(s.else_body, err)) return false;
    }
    return true;
}

std::string ErrorText(std::string_view source, size_t pos, const std::string& what) {
    size_t line = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < pos && i < source.size(); ++i) {
        if (source[i] == '\n') {
            ++line;
            line_start = i + 1;
        }
    }
    const size_t col = pos - line_start + 1;
    std::string where =
        line > 1 ? "line " + std::to_string(line) + " column " + std::to_string(col) : "column " + std::to_string(col);
    return "template error at " + where + ": " + what + " in \"" + std::string(source) + "\"";
}

// The dotted name of an access chain (`trigger.body.x`, `a['k'][0]`), for undefined-value messages.
std::string ExprPath(const Expr& e) {
    switch (e.kind) {
        case Ek::kName:
            return e.name;
        case Ek::kGetAttr:
            return ExprPath(*e.args[0]) + "." + e.name;
        case Ek::kGetItem: {
            const Expr& k = *e.args[1];
            if (k.kind == Ek::kLiteral && k.literal.is_string())
                return ExprPath(*e.args[0]) + "." + k.literal.get<std::string>();
            if (k.kind == Ek::kLiteral) return ExprPath(*e.args[0]) + "[" + k.literal.dump() + "]";
            return ExprPath(*e.args[0]) + "[...]";
        }
        default:
            return "value";
    }
}

size_t ChainStart(const Expr& e) {
    if ((e.kind == Ek::kGetAttr || e.kind == Ek::kGetItem || e.kind == Ek::kSlice) && e.args[0])
        return ChainStart(*e.args[0]);
    return e.pos;
}

struct Args {
    std::vector<Value> pos;
    std::vector<std::pair<std::string, Value>> kw;
    /// Argument `i` (after the subject) or keyword `name`; null when absent.
    const Value* Get(size_t i, const char* name) const {
        if (i < pos.size()) return &pos[i];
        for (const auto& [k, v] : kw) {
            if (k == name) return &v;
        }
        return nullptr;
    }
};

class Evaluator {
public:
    Evaluator(const Template::Impl& t, const Json& root, const RenderOptions& o) : t_(t), root_(root), opts_(o) {}

    std::optional<Error> error;

    /// Sets `error`: `v` (looked up by `e`) is undefined.
    void FailUndefined(const Expr& e, const Value& v) { Undef(e, v); }

    bool Exec(const Body& body, std::string& out) {
        for (const Stmt& s : body) {
            switch (s.kind) {
                case Sk::kData:
                    out += s.text;
                    break;
                case Sk::kOutput: {
                    Value v = Eval(*s.expr);
                    if (error) return false;
                    if (opts_.strict_undefined && v.kind == Value::Kind::kUndefined) {
                        Undef(*s.expr, v);
                        return false;
                    }
                    if (v.IsJson() && v.J().is_string())
                        out += v.J().get_ref<const std::string&>();
                    else
                        out += Str(v);
                    break;
                }
                case Sk::kIf: {
                    bool done = false;
                    for (const auto& [cond, b] : s.branches) {
                        Value c = Eval(*cond);
                        if (error) return false;
                        if (Truthy(c)) {
                            if (!Exec(b, out)) return false;
                            done = true;
                            break;
                        }
                    }
                    if (!done && !Exec(s.else_body, out)) return false;
                    break;
                }
                case Sk::kFor:
                    if (!ExecFor(s, out)) return false;
                    break;
                case Sk::kSet: {
                    Value v = Eval(*s.expr);
                    if (error) return false;
                    if (!s.attr.empty()) {
                        if (!SetAttr(s, std::move(v))) return false;
                    } else {
                        Assign(s.targets[0], v.IsJson() ? Value::Own(std::move(v).Take()) : std::move(v));
                    }
                    break;
                }
                case Sk::kSetBlock: {
                    std::string text;
                    if (!Exec(s.body, text)) return false;
                    Assign(s.targets[0], Value::Own(Json(std::move(text))));
                    break;
                }
            }
        }
        return true;
    }

    Value Eval(const Expr& e) {
        switch (e.kind) {
            case Ek::kLiteral:
                return Value::Borrow(e.literal);
            case Ek::kName:
                return Lookup(e.name);
            case Ek::kGetAttr: {
                Value base = Eval(*e.args[0]);
                if (error) return {};
                return GetAttr(e, base, e.name);
            }
            case Ek::kGetItem: {
                Value base = Eval(*e.args[0]);
                if (error) return {};
                Value key = Eval(*e.args[1]);
                if (error) return {};
                if (key.IsJson() && key.J().is_string()) return GetAttr(e, base, key.J().get_ref<const std::string&>());
                return GetItem(e, base, key);
            }
            case Ek::kSlice:
                return EvalSlice(e);
            case Ek::kNeg:
            case Ek::kPos: {
                Value v = Eval(*e.args[0]);
                if (error) return {};
                if (!v.IsJson()) return Undef(e, v);
                const Json& j = v.J();
                if (!IsNumber(j))
                    return Fail(
                        e.pos,
                        std::string("bad operand type for unary ") + (e.kind == Ek::kNeg ? "-" : "+") + ": '" +
                            TypeName(j) + "'"
                    );
                if (e.kind == Ek::kPos) return j.is_boolean() ? Value::Own(AsInt(j)) : std::move(v);
                if (j.is_number_float()) return Value::Own(-j.get<double>());
                int64_t negated = 0;
                if (__builtin_sub_overflow(int64_t{0}, AsInt(j), &negated))
                    return Fail(e.pos, "integer overflow: -" + j.dump() + " does not fit in 64 bits");
                return Value::Own(negated);
            }
            case Ek::kNot: {
                Value v = Eval(*e.args[0]);
                if (error) return {};
                return Value::Own(!Truthy(v));
            }
            case Ek::kAnd:
            case Ek::kOr: {
                Value l = Eval(*e.args[0]);
                if (error) return {};
                const bool t = Truthy(l);
                if ((e.kind == Ek::kAnd) != t) return l;
                return Eval(*e.args[1]);
            }
            case Ek::kCond: {
                Value c = Eval(*e.args[0]);
                if (error) return {};
                if (Truthy(c)) return Eval(*e.args[1]);
                if (e.args.size() > 2) return Eval(*e.args[2]);
                return Value::Undefined("");
            }
            case Ek::kBinary:
                return EvalBinary(e);
            case Ek::kCompare:
                return EvalCompare(e);
            case Ek::kConcat: {
                std::string s;
                for (const auto& a : e.args) {
                    Value v = Eval(*a);
                    if (error) return {};
                    s += Str(v);
                }
                return Value::Own(std::move(s));
            }
            case Ek::kList: {
                Json arr = Json::array();
                for (const auto& a : e.args) {
                    Value v = Eval(*a);
                    if (error) return {};
                    arr.push_back(v.IsJson() ? std::move(v).Take() : Json(nullptr));
                }
                return Value::Own(std::move(arr));
            }
            case Ek::kDict: {
                Json obj = Json::object();
                for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
                    Value k = Eval(*e.args[i]);
                    if (error) return {};
                    Value v = Eval(*e.args[i + 1]);
                    if (error) return {};
                    obj[Str(k)] = v.IsJson() ? std::move(v).Take() : Json(nullptr);
                }
                return Value::Own(std::move(obj));
            }
            case Ek::kFilter:
                return EvalFilter(e);
            case Ek::kTest:
                return EvalTest(e);
            case Ek::kCall:
                return EvalCall(e);
        }
        return {};
    }

private:
    Value Fail(size_t pos, const std::string& what) {
        if (!error) error = InvalidArgument(ErrorText(t_.source, pos, what));
        return {};
    }

    // An operation on an undefined value: Jinja's UndefinedError.
    Value Undef(const Expr& e, const Value& v) {
        if (!v.hint.empty()) return Fail(e.pos, v.hint);
        if (v.name.empty()) return Fail(e.pos, "value is undefined");
        return Fail(ChainStart(e), "'" + v.name + "' is undefined");
    }

    Value Lookup(const std::string& name) {
        for (auto it = locals_.rbegin(); it != locals_.rend(); ++it) {
            if (*it->first == name) return it->second.IsJson() ? Value::Borrow(it->second.J()) : it->second;
        }
        if (root_.is_object()) {
            auto it = root_.find(name);
            if (it != root_.end()) return Value::Borrow(*it);
        }
        if (name == "st2kv") {
            Value v;
            v.kind = Value::Kind::kKvRoot;
            return v;
        }
        return Value::Undefined(name);
    }

    Value GetAttr(const Expr& e, const Value& base, const std::string& name) {
        switch (base.kind) {
            case Value::Kind::kUndefined:
                return Undef(e, base);
            case Value::Kind::kKvRoot: {
                if (name != "system" && name != "user") return Value::Undefined("st2kv." + name);
                Value v;
                v.kind = Value::Kind::kKvScope;
                v.name = name;
                return v;
            }
            case Value::Kind::kKvScope:
            case Value::Kind::kKvKey: {
                const std::string key = base.key.empty() ? name : base.key + "." + name;
                std::optional<std::string> got = opts_.kv ? opts_.kv->Get(base.name, key) : std::nullopt;
                if (got) return Value::Own(Json(std::move(*got)));
                Value v;
                v.kind = Value::Kind::kKvKey;
                v.name = base.name;
                v.key = key;
                return v;
            }
            case Value::Kind::kJson:
                break;
        }
        const Json& j = base.J();
        if (j.is_object()) {
            auto it = j.find(name);
            if (it != j.end()) return base.ref ? Value::Borrow(*it) : Value::Own(*it);
        } else if (j.is_array() && !name.empty() && std::isdigit(static_cast<unsigned char>(name[0])) && e.kind == Ek::kGetAttr) {
            return GetItem(e, base, Value::Own(std::stoll(name)));
        }
        return Value::Undefined(ExprPath(e));
    }

    Value GetItem(const Expr& e, const Value& base, const Value& key) {
        if (!base.IsJson()) return Undef(e, base);
        const Json& j = base.J();
        if (key.IsJson() && IsInt(key.J())) {
            int64_t i = AsInt(key.J());
            if (j.is_array()) {
                const auto n = static_cast<int64_t>(j.size());
                if (i < 0) i += n;
                if (i >= 0 && i < n)
                    return base.ref ? Value::Borrow(j[static_cast<size_t>(i)]) : Value::Own(j[static_cast<size_t>(i)]);
            } else if (j.is_string()) {
                auto cps = CodePoints(j.get_ref<const std::string&>());
                const auto n = static_cast<int64_t>(cps.size());
                if (i < 0) i += n;
                if (i >= 0 && i < n) return Value::Own(Json(cps[static_cast<size_t>(i)]));
            }
        }
        return Value::Undefined(ExprPath(e));
    }

    Value EvalSlice(const Expr& e) {
        Value base = Eval(*e.args[0]);
        if (error) return {};
        int64_t parts[3] = {0, 0, 1};
        bool given[3] = {false, false, false};
        for (int k = 0; k < 3; ++k) {
            if (!e.args[static_cast<size_t>(k) + 1]) continue;
            Value v = Eval(*e.args[static_cast<size_t>(k) + 1]);
            if (error) return {};
            if (v.IsJson() && v.J().is_null()) continue;
            if (!v.IsJson() || !IsInt(v.J())) return Fail(e.pos, "slice indices must be integers or None");
            parts[k] = AsInt(v.J());
            given[k] = true;
        }
        if (!base.IsJson()) return Undef(e, base);
        const Json& j = base.J();
        std::vector<Json> items;
        if (j.is_object() || !Iterate(j, &items))
            return Fail(e.pos, std::string("'") + TypeName(j) + "' object is not subscriptable");
        const int64_t step = parts[2];
        if (step == 0) return Fail(e.pos, "slice step cannot be zero");
        const auto n = static_cast<int64_t>(items.size());
        auto norm = [&](int64_t v, bool g, int64_t def_pos, int64_t def_neg) {
            if (!g) return step > 0 ? def_pos : def_neg;
            if (v < 0) v += n;
            if (step > 0) return std::clamp<int64_t>(v, 0, n);
            return std::clamp<int64_t>(v, -1, n - 1);
        };
        const int64_t start = norm(parts[0], given[0], 0, n - 1);
        const int64_t stop = norm(parts[1], given[1], n, -1);
        Json out = Json::array();
        std::string s;
        for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
            if (j.is_string())
                s += items[static_cast<size_t>(i)].get_ref<const std::string&>();
            else
                out.push_back(items[static_cast<size_t>(i)]);
        }
        if (j.is_string()) return Value::Own(Json(std::move(s)));
        return Value::Own(std::move(out));
    }

    /// `text % values`: a tuple gives its items, a dict (or list) is also the mapping for `%(name)s`.
    Value PercentFormat(const Expr& e, const std::string& text, const Value& r, bool tuple) {
        std::vector<const Json*> args;
        const Json* mapping = nullptr;
        if (tuple) {
            for (const Json& x : r.J()) args.push_back(&x);
        } else {
            args.push_back(r.IsJson() ? &r.J() : nullptr);
            if (r.IsJson() && (r.J().is_object() || r.J().is_array())) mapping = &r.J();
        }
        std::string out;
        std::string err;
        if (!PyPercentFormat(text, args, mapping, &out, &err)) return Fail(e.pos, err);
        return Value::Own(Json(std::move(out)));
    }

    Value EvalBinary(const Expr& e) {
        Value l = Eval(*e.args[0]);
        if (error) return {};
        Value r = Eval(*e.args[1]);
        if (error) return {};
        if (!l.IsJson()) return Undef(*e.args[0], l);
        if (e.name == "%" && l.J().is_string()) {
            const Expr& rhs = *e.args[1];
            const bool tuple = rhs.kind == Ek::kList && rhs.name == "tuple" && r.IsJson();
            return PercentFormat(e, l.J().get_ref<const std::string&>(), r, tuple);
        }
        if (!r.IsJson()) return Undef(*e.args[1], r);
        const Json& a = l.J();
        const Json& b = r.J();
        const std::string& op = e.name;
        auto unsupported = [&]() {
            return Fail(
                e.pos, "unsupported operand type(s) for " + op + ": '" + TypeName(a) + "' and '" + TypeName(b) + "'"
            );
        };
        if (IsNumber(a) && IsNumber(b)) {
            const bool fl = a.is_number_float() || b.is_number_float();
            // Python's integers have no limit; ours are 64-bit, and a result beyond is an error, not a wrap-around.
            // `checked(overflowed, res)` only after the builtin wrote `res` (argument order is unspecified).
            auto checked = [&](bool overflow, const int64_t& v) {
                return overflow ? Fail(e.pos, "integer overflow: the result of " + op + " does not fit in 64 bits")
                                : Value::Own(v);
            };
            int64_t res = 0;
            if (op == "+") {
                if (fl) return Value::Own(AsDouble(a) + AsDouble(b));
                const bool overflow = __builtin_add_overflow(AsInt(a), AsInt(b), &res);
                return checked(overflow, res);
            }
            if (op == "-") {
                if (fl) return Value::Own(AsDouble(a) - AsDouble(b));
                const bool overflow = __builtin_sub_overflow(AsInt(a), AsInt(b), &res);
                return checked(overflow, res);
            }
            if (op == "*") {
                if (fl) return Value::Own(AsDouble(a) * AsDouble(b));
                const bool overflow = __builtin_mul_overflow(AsInt(a), AsInt(b), &res);
                return checked(overflow, res);
            }
            if (op == "/") {
                if (AsDouble(b) == 0) return Fail(e.pos, "division by zero");
                return Value::Own(AsDouble(a) / AsDouble(b));
            }
            if (op == "//" || op == "%") {
                if (AsDouble(b) == 0)
                    return Fail(e.pos, op == "%" ? "modulo by zero" : "integer division or modulo by zero");
                if (fl) {
                    const double x = AsDouble(a);
                    const double y = AsDouble(b);
                    double m = std::fmod(x, y);
                    if (m != 0 && ((m < 0) != (y < 0))) m += y;
                    if (op == "%") return Value::Own(m);
                    return Value::Own(std::round((x - m) / y));
                }
                const int64_t x = AsInt(a);
                const int64_t y = AsInt(b);
                if (y == -1) {  // x / -1 overflows for the smallest x (and traps in hardware)
                    if (op == "%") return Value::Own(int64_t{0});
                    const bool overflow = __builtin_sub_overflow(int64_t{0}, x, &res);
                    return checked(overflow, res);
                }
                int64_t q = x / y;
                int64_t m = x % y;
                if (m != 0 && ((m < 0) != (y < 0))) {
                    m += y;
                    --q;
                }
                return op == "%" ? Value::Own(m) : Value::Own(q);
            }
            if (op == "**") {
                if (!fl && AsInt(b) >= 0) {
                    // By squaring: log2(exponent) steps, each checked.
                    int64_t acc = 1;
                    int64_t base = AsInt(a);
                    bool overflow = false;
                    for (int64_t k = AsInt(b); k > 0 && !overflow; k >>= 1) {
                        if (k & 1) overflow = __builtin_mul_overflow(acc, base, &acc);
                        if (k > 1 && !overflow) overflow = __builtin_mul_overflow(base, base, &base);
                    }
                    return checked(overflow, acc);
                }
                if (AsDouble(a) == 0 && AsDouble(b) < 0) return Fail(e.pos, "0.0 cannot be raised to a negative power");
                return Value::Own(std::pow(AsDouble(a), AsDouble(b)));
            }
        }
        if (op == "+") {
            if (a.is_string() && b.is_string())
                return Value::Own(Json(a.get_ref<const std::string&>() + b.get_ref<const std::string&>()));
            if (a.is_array() && b.is_array()) {
                Json out = a;
                out.insert(out.end(), b.begin(), b.end());
                return Value::Own(std::move(out));
            }
        }
        if (op == "*" &&
            ((IsInt(b) && (a.is_string() || a.is_array())) || (IsInt(a) && (b.is_string() || b.is_array())))) {
            const Json& seq = IsInt(b) ? a : b;
            const int64_t n = IsInt(b) ? AsInt(b) : AsInt(a);
            Json out = seq.is_string() ? Json("") : Json::array();
            const size_t unit = seq.is_string() ? seq.get_ref<const std::string&>().size() : seq.size();
            if (n <= 0 || unit == 0) return Value::Own(std::move(out));
            // A bound on what one template may build (a rule's parameters are rendered per event).
            constexpr size_t kMaxRepeated = size_t{16} * 1024 * 1024;
            if (static_cast<uint64_t>(n) > kMaxRepeated / unit)
                return Fail(e.pos, "result of * too large (more than 16 MiB characters or items)");
            for (int64_t k = 0; k < n; ++k) {
                if (seq.is_string())
                    out.get_ref<std::string&>() += seq.get_ref<const std::string&>();
                else
                    out.insert(out.end(), seq.begin(), seq.end());
            }
            return Value::Own(std::move(out));
        }
        if (op == "+" && a.is_string() != b.is_string() && (a.is_string() || b.is_string())) {
            if (a.is_string())
                return Fail(e.pos, std::string("can only concatenate str (not \"") + TypeName(b) + "\") to str");
        }
        return unsupported();
    }

    bool In(const Expr& e, const Value& l, const Value& r, bool* result) {
        if (!r.IsJson()) {
            *result = false;
            return true;
        }
        const Json& b = r.J();
        if (b.is_string()) {
            if (!l.IsJson() || !l.J().is_string()) {
                Fail(
                    e.pos,
                    std::string("'in <string>' requires string as left operand, not ") +
                        (l.IsJson() ? TypeName(l.J()) : "Undefined")
                );
                return false;
            }
            *result = b.get_ref<const std::string&>().find(l.J().get_ref<const std::string&>()) != std::string::npos;
            return true;
        }
        if (b.is_array()) {
            *result = l.IsJson() && std::any_of(b.begin(), b.end(), [&](const Json& x) { return PyEq(l.J(), x); });
            return true;
        }
        if (b.is_object()) {
            *result = l.IsJson() && l.J().is_string() && b.contains(l.J().get_ref<const std::string&>());
            return true;
        }
        Fail(e.pos, std::string("argument of type '") + TypeName(b) + "' is not iterable");
        return false;
    }

    Value EvalCompare(const Expr& e) {
        Value l = Eval(*e.args[0]);
        if (error) return {};
        for (size_t k = 0; k < e.ops.size(); ++k) {
            Value r = Eval(*e.args[k + 1]);
            if (error) return {};
            const std::string& op = e.ops[k];
            bool res = false;
            if (op == "==" || op == "!=") {
                bool eq;
                if (!l.IsJson() || !r.IsJson())
                    eq = !l.IsJson() && !r.IsJson();
                else
                    eq = PyEq(l.J(), r.J());
                res = (op == "==") == eq;
            } else if (op == "in" || op == "notin") {
                if (!In(e, l, r, &res)) return {};
                if (op == "notin") res = !res;
            } else {
                if (!l.IsJson()) return Undef(*e.args[k], l);
                if (!r.IsJson()) return Undef(*e.args[k + 1], r);
                bool ok = true;
                const int c = PyCmp(l.J(), r.J(), &ok);
                if (!ok)
                    return Fail(
                        e.pos,
                        "'" + op + "' not supported between instances of '" + TypeName(l.J()) + "' and '" +
                            TypeName(r.J()) + "'"
                    );
                res = op == "<" ? c < 0 : op == ">" ? c > 0 : op == "<=" ? c <= 0 : c >= 0;
            }
            if (!res) return Value::Own(false);
            l = std::move(r);
        }
        return Value::Own(true);
    }

    bool EvalArgs(const Expr& e, Args* args) {
        for (size_t i = e.has_subject ? 1 : 0; i < e.args.size(); ++i) {
            args->pos.push_back(Eval(*e.args[i]));
            if (error) return false;
        }
        for (const auto& [k, a] : e.kwargs) {
            args->kw.emplace_back(k, Eval(*a));
            if (error) return false;
        }
        return true;
    }

    Value EvalFilter(const Expr& e);
    /// Filter `n` on `v` (the filter expression `e` gives the position and the subject's name for errors).
    Value ApplyFilter(const Expr& e, const std::string& n, Value v, const Args& args);
    /// select/reject/selectattr/rejectattr and map('filter', ...) over a sequence.
    Value SelectOrMap(const Expr& e, const std::string& n, const Value& v, const Args& args);
    Value EvalTest(const Expr& e);
    Value ApplyTest(const Expr& e, const std::string& n, const Value& v, const Args& args, bool negated);
    Value EvalCall(const Expr& e);
    bool ExecFor(const Stmt& s, std::string& out);

    void Assign(const std::string& name, Value v) {
        for (size_t i = locals_.size(); i > frame_; --i) {
            if (*locals_[i - 1].first == name) {
                locals_[i - 1].second = std::move(v);
                return;
            }
        }
        locals_.emplace_back(&name, std::move(v));
    }

    bool SetAttr(const Stmt& s, Value v) {
        for (auto it = locals_.rbegin(); it != locals_.rend(); ++it) {
            if (*it->first == s.targets[0] && it->second.IsJson() && it->second.J().is_object()) {
                Value& slot = it->second;
                if (slot.ref) {
                    slot.own = *slot.ref;
                    slot.ref = nullptr;
                }
                slot.own[s.attr] = v.IsJson() ? std::move(v).Take() : Json(nullptr);
                return true;
            }
        }
        Fail(s.pos, "cannot assign attribute on non-namespace object");
        return false;
    }

    const Template::Impl& t_;
    const Json& root_;
    const RenderOptions& opts_;
    // Locals live in a deque so that values borrowed from them stay valid while more are pushed.
    std::deque<std::pair<const std::string*, Value>> locals_;
    size_t frame_ = 0;  // locals below this index belong to enclosing loops and are shadowed, not overwritten
    int depth_ = 0;
};

bool Evaluator::ExecFor(const Stmt& s, std::string& out) {
    Value seq = Eval(*s.expr);
    if (error) return false;
    std::vector<Value> items;
    if (seq.IsJson()) {
        const Json& j = seq.J();
        if (j.is_array()) {
            items.reserve(j.size());
            for (const Json& x : j) items.push_back(seq.ref ? Value::Borrow(x) : Value::Own(x));
        } else if (j.is_object()) {
            for (auto it = j.begin(); it != j.end(); ++it) items.push_back(Value::Own(Json(it.key())));
        } else if (j.is_string()) {
            for (auto& c : CodePoints(j.get_ref<const std::string&>())) items.push_back(Value::Own(Json(std::move(c))));
        } else {
            Fail(s.expr->pos, std::string("'") + TypeName(j) + "' object is not iterable");
            return false;
        }
    }
    const size_t saved_size = locals_.size();
    const size_t saved_frame = frame_;
    frame_ = saved_size;
    auto bind = [&](const Value& item) -> bool {
        if (s.targets.size() == 1) {
            locals_.emplace_back(&s.targets[0], item.IsJson() ? Value::Borrow(item.J()) : item);
            return true;
        }
        if (!item.IsJson() || !item.J().is_array() || item.J().size() != s.targets.size()) {
            const size_t n = item.IsJson() && item.J().is_array() ? item.J().size() : 0;
            Fail(
                s.pos,
                n > s.targets.size() ? "too many values to unpack (expected " + std::to_string(s.targets.size()) + ")"
                                     : "not enough values to unpack (expected " + std::to_string(s.targets.size()) +
                                           ", got " + std::to_string(n) + ")"
            );
            return false;
        }
        for (size_t k = 0; k < s.targets.size(); ++k) locals_.emplace_back(&s.targets[k], Value::Borrow(item.J()[k]));
        return true;
    };
    if (s.cond) {
        std::vector<Value> kept;
        for (Value& item : items) {
            if (!bind(item)) return false;
            Value c = Eval(*s.cond);
            locals_.resize(saved_size);
            if (error) return false;
            if (Truthy(c)) kept.push_back(std::move(item));
        }
        items = std::move(kept);
    }
    static const std::string kLoop = "loop";
    ++depth_;
    const size_t n = items.size();
    for (size_t i = 0; i < n; ++i) {
        if (!bind(items[i])) return false;
        Json loop = {
            {"index", i + 1},
            {"index0", i},
            {"revindex", n - i},
            {"revindex0", n - i - 1},
            {"first", i == 0},
            {"last", i + 1 == n},
            {"length", n},
            {"depth", 1},
            {"depth0", 0},
        };
        if (i > 0 && items[i - 1].IsJson()) loop["previtem"] = items[i - 1].J();
        if (i + 1 < n && items[i + 1].IsJson()) loop["nextitem"] = items[i + 1].J();
        locals_.emplace_back(&kLoop, Value::Own(std::move(loop)));
        const bool ok = Exec(s.body, out);
        locals_.resize(saved_size);
        if (!ok) return false;
    }
    --depth_;
    frame_ = saved_frame;
    if (n == 0) return Exec(s.else_body, out);
    return true;
}

Value Evaluator::EvalTest(const Expr& e) {
    Value v = Eval(*e.args[0]);
    if (error) return {};
    Args args;
    if (!EvalArgs(e, &args)) return {};
    return ApplyTest(e, e.name, v, args, e.negated);
}

Value Evaluator::ApplyTest(const Expr& e, const std::string& n, const Value& v, const Args& args, bool negated) {
    const bool def = v.IsJson() || v.kind == Value::Kind::kKvRoot || v.kind == Value::Kind::kKvScope;
    bool r = false;
    const Json null_json;
    const Json& j = v.IsJson() ? v.J() : null_json;
    if (n == "defined") {
        r = def;
    } else if (n == "undefined") {
        r = !def;
    } else if (n == "none") {
        r = v.IsJson() && j.is_null();
    } else if (n == "string") {
        r = v.IsJson() && j.is_string();
    } else if (n == "number") {
        r = v.IsJson() && IsNumber(j);
    } else if (n == "boolean") {
        r = v.IsJson() && j.is_boolean();
    } else if (n == "integer") {
        r = v.IsJson() && j.is_number_integer();
    } else if (n == "float") {
        r = v.IsJson() && j.is_number_float();
    } else if (n == "mapping") {
        r = v.IsJson() && j.is_object();
    } else if (n == "sequence" || n == "iterable") {
        r = v.IsJson() ? (j.is_string() || j.is_array() || j.is_object()) : n == "iterable";
    } else if (n == "filter" || n == "test") {
        r = v.IsJson() && j.is_string() &&
            (n == "filter" ? KnownFilter(j.get_ref<const std::string&>()) : KnownTest(j.get_ref<const std::string&>()));
    } else if (n == "true" || n == "false") {
        r = v.IsJson() && j.is_boolean() && j.get<bool>() == (n == "true");
    } else if (n == "lower" || n == "upper") {
        const std::string s = Str(v);
        bool cased = false;
        r = true;
        for (char c : s) {
            if (std::isalpha(static_cast<unsigned char>(c))) {
                cased = true;
                if ((n == "lower") ? std::isupper(static_cast<unsigned char>(c))
                                   : std::islower(static_cast<unsigned char>(c)))
                    r = false;
            }
        }
        r = r && cased;
    } else if (n == "even" || n == "odd" || n == "divisibleby") {
        if (!v.IsJson()) return Undef(*e.args[0], v);
        int64_t d = 2;
        if (n == "divisibleby") {
            const Value* a = args.Get(0, "num");
            if (!a || !a->IsJson() || !IsNumber(a->J())) return Fail(e.pos, "divisibleby needs a number");
            d = AsInt(a->J());
            if (d == 0) return Fail(e.pos, "integer division or modulo by zero");
        }
        if (!IsNumber(j))
            return Fail(e.pos, std::string("unsupported operand type(s) for %: '") + TypeName(j) + "' and 'int'");
        if (j.is_number_float()) {
            const double m = std::fmod(j.get<double>(), static_cast<double>(d));
            r = n == "odd" ? m == 1 || m == -1 : m == 0;
        } else {
            int64_t m = AsInt(j) % d;
            if (m != 0 && ((m < 0) != (d < 0))) m += d;
            r = n == "odd" ? m == 1 : m == 0;
        }
    } else {
        const Value* a = args.Get(0, "b");
        if (!a) return Fail(e.pos, "test '" + n + "' needs an argument");
        if (n == "eq" || n == "equalto" || n == "ne" || n == "sameas") {
            const bool eq = v.IsJson() && a->IsJson() ? PyEq(j, a->J()) && (n != "sameas" || j.type() == a->J().type())
                                                      : (!v.IsJson() && !a->IsJson());
            r = n == "ne" ? !eq : eq;
        } else if (n == "in") {
            if (!In(e, v, *a, &r)) return {};
        } else {
            if (!v.IsJson()) return Undef(*e.args[0], v);
            if (!a->IsJson()) return Fail(e.pos, "'" + n + "' comparison with an undefined value");
            bool ok = true;
            const int c = PyCmp(j, a->J(), &ok);
            if (!ok)
                return Fail(
                    e.pos,
                    "comparison not supported between '" + std::string(TypeName(j)) + "' and '" + TypeName(a->J()) + "'"
                );
            r = n == "lt" ? c < 0 : n == "gt" ? c > 0 : n == "le" ? c <= 0 : c >= 0;
        }
    }
    return Value::Own(negated ? !r : r);
}

Value Evaluator::EvalFilter(const Expr& e) {
    Value v = Eval(*e.args[0]);
    if (error) return {};
    Args args;
    if (!EvalArgs(e, &args)) return {};
    return ApplyFilter(e, e.name, std::move(v), args);
}

Value Evaluator::ApplyFilter(const Expr& e, const std::string& n, Value v, const Args& args) {
    const bool def = v.IsJson() || v.kind == Value::Kind::kKvRoot || v.kind == Value::Kind::kKvScope;
    auto arg_str = [&](size_t i, const char* name, const std::string& dflt) {
        const Value* a = args.Get(i, name);
        return a ? Str(*a) : dflt;
    };
    auto arg_bool = [&](size_t i, const char* name) {
        const Value* a = args.Get(i, name);
        return a && Truthy(*a);
    };
    auto need_json = [&]() {
        if (!v.IsJson()) {
            Undef(*e.args[0], v);
            return false;
        }
        return true;
    };
    if (n == "default" || n == "d") {
        const bool use_default = !def || (arg_bool(1, "boolean") && !Truthy(v));
        if (!use_default) return v;
        const Value* a = args.Get(0, "default_value");
        return a ? *a : Value::Own(Json(""));
    }
    if (n == "upper") return Value::Own(Json(PyUpper(Str(v))));
    if (n == "lower") return Value::Own(Json(PyLower(Str(v))));
    if (n == "capitalize") return Value::Own(Json(PyCapitalize(Str(v))));
    if (n == "title") return Value::Own(Json(PyTitle(Str(v))));
    if (n == "trim") {
        const Value* c = args.Get(0, "chars");
        const std::string chars = c && c->IsJson() && !c->J().is_null() ? Str(*c) : "";
        return Value::Own(Json(PyStrip(Str(v), c && c->IsJson() && !c->J().is_null() ? &chars : nullptr, true, true)));
    }
    if (n == "replace") {
        const Value* c = args.Get(2, "count");
        const int64_t count = c && c->IsJson() && IsInt(c->J()) ? AsInt(c->J()) : -1;
        return Value::Own(Json(PyReplace(Str(v), arg_str(0, "old", ""), arg_str(1, "new", ""), count)));
    }
    if (n == "string") return Value::Own(Json(Str(v)));
    if (n == "length" || n == "count") {
        if (!v.IsJson()) return Value::Own(0);
        const Json& j = v.J();
        if (j.is_string()) return Value::Own(static_cast<int64_t>(CodePointCount(j.get_ref<const std::string&>())));
        if (j.is_array() || j.is_object()) return Value::Own(static_cast<int64_t>(j.size()));
        return Fail(e.pos, std::string("object of type '") + TypeName(j) + "' has no len()");
    }
    if (n == "bool") return Value::Own(Truthy(v));
    if (n == "int") {
        const Value* d = args.Get(0, "default");
        const Value* b = args.Get(1, "base");
        const int base = b && b->IsJson() && IsInt(b->J()) ? static_cast<int>(AsInt(b->J())) : 10;
        Value dflt = d ? *d : Value::Own(0);
        if (!need_json()) return {};
        const Json& j = v.J();
        if (IsInt(j)) return Value::Own(AsInt(j));
        if (j.is_number_float()) {
            const double x = j.get<double>();
            if (std::isnan(x) || std::isinf(x)) return dflt;
            return Value::Own(ClampToInt(x));
        }
        if (j.is_string()) {
            int64_t out = 0;
            std::string text = PyStrip(j.get_ref<const std::string&>(), nullptr, true, true);
            int b2 = base;
            const size_t sign = !text.empty() && (text[0] == '-' || text[0] == '+') ? 1 : 0;
            if (text.size() > sign + 2 && text[sign] == '0') {
                const char k = static_cast<char>(std::tolower(static_cast<unsigned char>(text[sign + 1])));
                const int pb = k == 'x' ? 16 : k == 'o' ? 8 : k == 'b' ? 2 : 0;
                if (pb && (base == pb || base == 0)) {
                    text.erase(sign, 2);
                    b2 = pb;
                }
            }
            if (b2 == 0) b2 = 10;
            if (ParsePyInt(text, b2, &out)) return Value::Own(out);
            double f = 0;
            if (ParsePyFloat(j.get_ref<const std::string&>(), &f) && !std::isnan(f) && !std::isinf(f))
                return Value::Own(ClampToInt(f));
        }
        return dflt;
    }
    if (n == "float") {
        const Value* d = args.Get(0, "default");
        Value dflt = d ? *d : Value::Own(0.0);
        if (!need_json()) return {};
        const Json& j = v.J();
        if (IsNumber(j)) return Value::Own(AsDouble(j));
        double f = 0;
        if (j.is_string() && ParsePyFloat(j.get_ref<const std::string&>(), &f)) return Value::Own(f);
        return dflt;
    }
    if (n == "abs") {
        if (!need_json()) return {};
        const Json& j = v.J();
        if (!IsNumber(j)) return Fail(e.pos, std::string("bad operand type for abs(): '") + TypeName(j) + "'");
        if (j.is_number_float()) return Value::Own(std::fabs(j.get<double>()));
        if (AsInt(j) == std::numeric_limits<int64_t>::min())
            return Fail(e.pos, "integer overflow: abs(" + j.dump() + ") does not fit in 64 bits");
        return Value::Own(std::abs(AsInt(j)));
    }
    if (n == "round") {
        if (!need_json()) return {};
        const Json& j = v.J();
        if (!IsNumber(j)) return Fail(e.pos, "round needs a number");
        const Value* p = args.Get(0, "precision");
        const std::string method = arg_str(1, "method", "common");
        const int64_t prec = p && p->IsJson() && IsInt(p->J()) ? AsInt(p->J()) : 0;
        const double scale = std::pow(10.0, static_cast<double>(prec));
        double x = AsDouble(j) * scale;
        x = method == "floor" ? std::floor(x) : method == "ceil" ? std::ceil(x) : std::nearbyint(x);
        return Value::Own(x / scale);
    }
    if (n == "select" || n == "reject" || n == "selectattr" || n == "rejectattr" || n == "map") {
        return SelectOrMap(e, n, v, args);
    }
    if (n == "format") {
        // soft_str(value) % (kwargs or args)
        if (!args.pos.empty() && !args.kw.empty())
            return Fail(e.pos, "format: can't handle positional and keyword arguments at the same time");
        std::vector<const Json*> fargs;
        const Json* mapping = nullptr;
        Json kw = Json::object();
        if (!args.kw.empty()) {
            for (const auto& [k, a] : args.kw) kw[k] = a.IsJson() ? a.J() : Json(nullptr);
            fargs.push_back(&kw);
            mapping = &kw;
        } else {
            for (const Value& a : args.pos) fargs.push_back(a.IsJson() ? &a.J() : nullptr);
        }
        std::string out;
        std::string err;
        if (!PyPercentFormat(Str(v), fargs, mapping, &out, &err)) return Fail(e.pos, err);
        return Value::Own(Json(std::move(out)));
    }
    if (n == "escape" || n == "e" || n == "forceescape") return Value::Own(Json(HtmlEscape(Str(v))));
    if (n == "safe") return Value::Own(Json(Str(v)));
    if (n == "indent" || n == "center" || n == "truncate" || n == "wordcount") {
        if (n == "truncate" && !v.IsJson()) return v;  // len(Undefined) is 0: returned as it is
        if (n != "center" && !need_json()) return {};
        if ((n == "indent" || n == "truncate") && !v.J().is_string()) {
            return Fail(e.pos, n + " needs a string, not '" + TypeName(v.J()) + "'");
        }
        const std::string s = Str(v);
        if (n == "wordcount") {
            // len(re.findall(r"\w+", s)): runs of letters, digits and underscores (non-ASCII letters count).
            int64_t words = 0;
            bool in_word = false;
            size_t i = 0;
            while (i < s.size()) {
                const uint32_t cp = DecodeUtf8(s, i);
                const bool w = cp < 0x80 ? (std::isalnum(static_cast<int>(cp)) || cp == '_')
                                         : cp >= 0xC0 && cp != 0xD7 && cp != 0xF7 && !(cp >= 0x2000 && cp <= 0x206F);
                if (w && !in_word) ++words;
                in_word = w;
            }
            return Value::Own(words);
        }
        auto int_arg = [&](size_t i, const char* name, int64_t dflt, bool* ok) {
            const Value* a = args.Get(i, name);
            if (!a) return dflt;
            if (!a->IsJson() || !IsInt(a->J())) {
                *ok = false;
                return dflt;
            }
            return AsInt(a->J());
        };
        bool ok = true;
        if (n == "center") {
            const int64_t width = int_arg(0, "width", 80, &ok);
            if (!ok) return Fail(e.pos, "center: width must be an integer");
            const auto len = static_cast<int64_t>(CodePointCount(s));
            if (width <= len) return Value::Own(Json(s));
            const int64_t marg = width - len;
            const int64_t left = marg / 2 + (marg & width & 1);
            return Value::Own(Json(
                std::string(static_cast<size_t>(left), ' ') + s + std::string(static_cast<size_t>(marg - left), ' ')
            ));
        }
        if (n == "indent") {
            const Value* w = args.Get(0, "width");
            std::string ind;
            if (w && w->IsJson() && w->J().is_string()) {
                ind = w->J().get<std::string>();
            } else {
                const int64_t width = int_arg(0, "width", 4, &ok);
                if (!ok) return Fail(e.pos, "indent: width must be an integer or a string");
                ind.assign(static_cast<size_t>(std::max<int64_t>(width, 0)), ' ');
            }
            std::vector<std::string> lines = PySplitLines(s + "\n");
            std::string rv;
            if (arg_bool(2, "blank")) {
                for (size_t i = 0; i < lines.size(); ++i) rv += (i ? "\n" + ind : "") + lines[i];
            } else {
                rv = lines[0];
                for (size_t i = 1; i < lines.size(); ++i) rv += "\n" + (lines[i].empty() ? "" : ind + lines[i]);
            }
            if (arg_bool(1, "first")) rv = ind + rv;
            return Value::Own(Json(std::move(rv)));
        }
        // truncate(s, length=255, killwords=False, end='...', leeway=5)
        const int64_t length = int_arg(0, "length", 255, &ok);
        const std::string end = arg_str(2, "end", "...");
        const int64_t leeway = int_arg(3, "leeway", 5, &ok);
        if (!ok) return Fail(e.pos, "truncate: length and leeway must be integers");
        const auto end_len = static_cast<int64_t>(CodePointCount(end));
        if (length < end_len) return Fail(e.pos, "expected length >= " + std::to_string(end_len));
        if (leeway < 0) return Fail(e.pos, "expected leeway >= 0");
        std::vector<std::string> cps = CodePoints(s);
        if (static_cast<int64_t>(cps.size()) <= length + leeway) return Value::Own(Json(s));
        std::string head;
        for (int64_t i = 0; i < length - end_len; ++i) head += cps[static_cast<size_t>(i)];
        if (!arg_bool(1, "killwords")) {
            const size_t sp = head.rfind(' ');
            if (sp != std::string::npos) head.resize(sp);
        }
        return Value::Own(Json(head + end));
    }
    if (n == "urlencode") {
        if (!v.IsJson()) return Value::Own(Json(""));
        const Json& j = v.J();
        if (!j.is_object() && !j.is_array()) return Value::Own(Json(UrlQuote(Str(v), false)));
        auto qs = [](const Json& x) { return UrlQuote(x.is_string() ? x.get<std::string>() : PythonStr(x), true); };
        std::string out;
        if (j.is_object()) {
            for (auto it = j.begin(); it != j.end(); ++it)
                out += (out.empty() ? "" : "&") + qs(it.key()) + "=" + qs(*it);
            return Value::Own(Json(std::move(out)));
        }
        for (const Json& pair : j) {
            std::vector<Json> kv;
            if (!Iterate(pair, &kv) || kv.size() != 2)
                return Fail(e.pos, "urlencode: items must be (key, value) pairs");
            out += (out.empty() ? "" : "&") + qs(kv[0]) + "=" + qs(kv[1]);
        }
        return Value::Own(Json(std::move(out)));
    }
    if (n == "filesizeformat") {
        if (!need_json()) return {};
        double bytes = 0;
        const Json& j = v.J();
        if (IsNumber(j)) {
            bytes = AsDouble(j);
        } else if (!j.is_string() || !ParsePyFloat(j.get<std::string>(), &bytes)) {
            return Fail(e.pos, std::string("float() argument must be a string or a number, not '") + TypeName(j) + "'");
        }
        const bool binary = arg_bool(0, "binary");
        const double base = binary ? 1024 : 1000;
        static const char* const kSi[] = {"kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
        static const char* const kBin[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
        if (bytes == 1) return Value::Own(Json("1 Byte"));
        if (bytes < base) return Value::Own(Json(std::to_string(static_cast<int64_t>(bytes)) + " Bytes"));
        double unit = base;
        const char* prefix = "";
        for (int i = 0; i < 8; ++i) {
            unit = std::pow(base, i + 2);
            prefix = binary ? kBin[i] : kSi[i];
            if (bytes < unit) break;
        }
        char b[64];
        std::snprintf(
            b, sizeof(b), "%.1f %s", base * bytes / unit, prefix
        );  // NOLINT(cppcoreguidelines-pro-type-vararg)
        return Value::Own(Json(b));
    }
    if (n == "dictsort") {
        if (!need_json()) return {};
        if (!v.J().is_object())
            return Fail(e.pos, std::string("'") + TypeName(v.J()) + "' object has no attribute 'items'");
        const bool cs = arg_bool(0, "case_sensitive");
        const std::string by = arg_str(1, "by", "key");
        if (by != "key" && by != "value") return Fail(e.pos, "You can only sort by either \"key\" or \"value\"");
        const bool rev = arg_bool(2, "reverse");
        const size_t at = by == "key" ? 0 : 1;
        std::vector<Json> pairs;
        for (auto it = v.J().begin(); it != v.J().end(); ++it) pairs.push_back(Json::array({it.key(), *it}));
        auto key = [&](const Json& p) {
            const Json& x = p[at];
            return !cs && x.is_string() ? Json(PyLower(x.get_ref<const std::string&>())) : x;
        };
        bool ok = true;
        std::stable_sort(pairs.begin(), pairs.end(), [&](const Json& a, const Json& b) {
            return rev ? PyCmp(key(b), key(a), &ok) < 0 : PyCmp(key(a), key(b), &ok) < 0;
        });
        if (!ok) return Fail(e.pos, "'<' not supported between these values");
        return Value::Own(Json(pairs));
    }
    if (n == "batch" || n == "slice") {
        std::vector<Json> items;
        if (v.IsJson() && !Iterate(v.J(), &items))
            return Fail(e.pos, std::string("'") + TypeName(v.J()) + "' object is not iterable");
        const Value* cnt = args.Get(0, n == "batch" ? "linecount" : "slices");
        if (!cnt || !cnt->IsJson() || !IsInt(cnt->J())) return Fail(e.pos, n + " needs an integer count");
        const int64_t c = AsInt(cnt->J());
        const Value* fill = args.Get(1, "fill_with");
        const bool has_fill = fill && fill->IsJson() && !fill->J().is_null();
        Json out = Json::array();
        if (n == "batch") {
            Json tmp = Json::array();
            for (Json& it : items) {
                if (static_cast<int64_t>(tmp.size()) == c) {
                    out.push_back(std::move(tmp));
                    tmp = Json::array();
                }
                tmp.push_back(std::move(it));
            }
            if (!tmp.empty()) {
                while (has_fill && static_cast<int64_t>(tmp.size()) < c) tmp.push_back(fill->J());
                out.push_back(std::move(tmp));
            }
            return Value::Own(std::move(out));
        }
        if (c <= 0) return Fail(e.pos, c == 0 ? "integer division or modulo by zero" : "slice count must be positive");
        const auto len = static_cast<int64_t>(items.size());
        const int64_t per = len / c;
        const int64_t extra = len % c;
        int64_t offset = 0;
        for (int64_t k = 0; k < c; ++k) {
            const int64_t start = offset + k * per;
            if (k < extra) ++offset;
            const int64_t stop = offset + (k + 1) * per;
            Json tmp = Json::array();
            for (int64_t i = start; i < stop && i < len; ++i) tmp.push_back(items[static_cast<size_t>(i)]);
            if (has_fill && k >= extra) tmp.push_back(fill->J());
            out.push_back(std::move(tmp));
        }
        return Value::Own(std::move(out));
    }
    // Filters over sequences.
    if (n == "join" || n == "list" || n == "first" || n == "last" || n == "reverse" || n == "sort" || n == "unique" ||
        n == "sum" || n == "min" || n == "max") {
        std::vector<Json> items;
        if (v.IsJson() && !Iterate(v.J(), &items)) {
            if (n == "reverse" && IsNumber(v.J()))
                return Fail(e.pos, std::string("argument to reversed() must be a sequence"));
            return Fail(e.pos, std::string("'") + TypeName(v.J()) + "' object is not iterable");
        }
        const Value* attr = args.Get(n == "join" ? 1 : 99, "attribute");
        if (attr && attr->IsJson()) {
            const std::string a = Str(*attr);
            for (Json& it : items) {
                auto f = it.is_object() ? it.find(a) : it.end();
                if (!it.is_object() || f == it.end()) {
                    if (n == "join")
                        it = Json("");
                    else
                        it = nullptr;
                } else {
                    it = Json(*f);
                }
            }
        }
        if (n == "join") {
            std::string out;
            const std::string sep = arg_str(0, "d", "");
            for (size_t i = 0; i < items.size(); ++i) {
                if (i) out += sep;
                out += items[i].is_string() ? items[i].get_ref<const std::string&>() : PythonStr(items[i]);
            }
            return Value::Own(Json(std::move(out)));
        }
        if (n == "list") return Value::Own(Json(items));
        if (n == "first" || n == "last") {
            if (items.empty()) {
                Value u = Value::Undefined("");
                u.hint = n == "first" ? "No first item, sequence was empty." : "No last item, sequence was empty.";
                return u;
            }
            return Value::Own(n == "first" ? items.front() : items.back());
        }
        if (n == "reverse") {
            if (v.IsJson() && v.J().is_string()) {
                std::string out;
                for (auto it = items.rbegin(); it != items.rend(); ++it) out += it->get_ref<const std::string&>();
                return Value::Own(Json(std::move(out)));
            }
            std::reverse(items.begin(), items.end());
            return Value::Own(Json(items));
        }
        const bool case_sensitive = arg_bool(n == "sort" ? 1 : 0, "case_sensitive");
        auto key = [&](const Json& x) {
            return !case_sensitive && x.is_string() ? Json(PyLower(x.get_ref<const std::string&>())) : x;
        };
        if (n == "unique") {
            std::vector<Json> out;
            for (Json& it : items) {
                if (std::none_of(out.begin(), out.end(), [&](const Json& x) { return PyEq(key(x), key(it)); }))
                    out.push_back(std::move(it));
            }
            return Value::Own(Json(out));
        }
        bool ok = true;
        if (n == "sort") {
            const bool rev = arg_bool(0, "reverse");
            std::stable_sort(items.begin(), items.end(), [&](const Json& a, const Json& b) {
                return rev ? PyCmp(key(b), key(a), &ok) < 0 : PyCmp(key(a), key(b), &ok) < 0;
            });
            if (!ok) return Fail(e.pos, "'<' not supported between these values");
            return Value::Own(Json(items));
        }
        if (n == "sum") {
            Json acc = 0;
            for (const Json& it : items) {
                if (!IsNumber(it))
                    return Fail(
                        e.pos, std::string("unsupported operand type(s) for +: 'int' and '") + TypeName(it) + "'"
                    );
                if (acc.is_number_float() || it.is_number_float())
                    acc = AsDouble(acc) + AsDouble(it);
                else
                    acc = AsInt(acc) + AsInt(it);
            }
            return Value::Own(std::move(acc));
        }
        // min / max
        if (items.empty()) {
            Value u = Value::Undefined("");
            u.hint = "No aggregated item, sequence was empty.";
            return u;
        }
        size_t best = 0;
        for (size_t i = 1; i < items.size(); ++i) {
            const int c = PyCmp(key(items[i]), key(items[best]), &ok);
            if ((n == "min" && c < 0) || (n == "max" && c > 0)) best = i;
        }
        if (!ok) return Fail(e.pos, "'<' not supported between these values");
        return Value::Own(items[best]);
    }
    if (n == "items") {
        if (!v.IsJson()) return Value::Own(Json::array());
        if (!v.J().is_object()) return Fail(e.pos, "Can only get item pairs from a mapping.");
        Json out = Json::array();
        for (auto it = v.J().begin(); it != v.J().end(); ++it) out.push_back(Json::array({it.key(), *it}));
        return Value::Own(std::move(out));
    }
    if (n == "tojson" || n == "to_json_string" || n == "json_escape") {
        if (!need_json()) return {};
        JsonDumpOptions o;
        const Value* ind = args.Get(0, "indent");
        if (ind && ind->IsJson() && IsInt(ind->J())) o.indent = static_cast<int>(AsInt(ind->J()));
        std::string out;
        if (n == "to_json_string") {
            o.item_sep = ",";
        }
        PyJsonDump(out, v.J(), o, 0);
        if (n == "tojson") {
            std::string safe;
            for (char c : out) {
                if (c == '<')
                    safe += "\\u003c";
                else if (c == '>')
                    safe += "\\u003e";
                else if (c == '&')
                    safe += "\\u0026";
                else if (c == '\'')
                    safe += "\\u0027";
                else
                    safe += c;
            }
            out = std::move(safe);
        } else if (n == "json_escape") {
            size_t a = 0;
            size_t b = out.size();
            while (a < b && out[a] == '"') ++a;
            while (b > a && out[b - 1] == '"') --b;
            out = out.substr(a, b - a);
        }
        return Value::Own(Json(std::move(out)));
    }
    if (n == "from_json_string") {
        Json parsed = Json::parse(Str(v), nullptr, false);
        if (parsed.is_discarded()) return Fail(e.pos, "from_json_string: invalid JSON");
        return Value::Own(std::move(parsed));
    }
    if (n == "to_yaml_string") {
        if (!need_json()) return {};
        return Value::Own(Json(ToYaml(v.J())));
    }
    if (n == "regex_match" || n == "regex_search" || n == "regex_replace" || n == "regex_substring") {
        const std::string text = Str(v);
        const std::string pattern = arg_str(0, "pattern", "");
        const bool icase = n == "regex_replace"     ? arg_bool(2, "ignorecase")
                           : n == "regex_substring" ? arg_bool(2, "ignorecase")
                                                    : arg_bool(1, "ignorecase");
        std::string err;
        RegexPtr re = GetRegex(pattern, icase, &err);
        if (!re) return Fail(e.pos, err);
        if (n == "regex_match") return Value::Own(re->MatchStart(text));
        if (n == "regex_search") return Value::Own(re->Search(text));
        if (n == "regex_replace") return Value::Own(Json(re->Replace(text, arg_str(1, "replacement", ""))));
        const Value* idx = args.Get(1, "result_index");
        int64_t i = idx && idx->IsJson() && IsInt(idx->J()) ? AsInt(idx->J()) : 0;
        // re.findall(pattern, value)[result_index]: the match, its one group, or its groups (a tuple in Python).
        std::vector<std::vector<std::string>> all = re->FindAllGroups(text);
        const auto cnt = static_cast<int64_t>(all.size());
        if (i < 0) i += cnt;
        if (i < 0 || i >= cnt) return Fail(e.pos, "list index out of range");
        std::vector<std::string>& found = all[static_cast<size_t>(i)];
        if (found.size() == 1) return Value::Own(Json(std::move(found[0])));
        return Value::Own(Json(std::move(found)));
    }
    if (n == "basename" || n == "dirname") {
        if (!v.IsJson() || !v.J().is_string())
            return Fail(
                e.pos,
                std::string("expected str, bytes or os.PathLike object, not ") +
                    (v.IsJson() ? TypeName(v.J()) : "Undefined")
            );
        const std::string& p = v.J().get_ref<const std::string&>();
        return Value::Own(Json(n == "basename" ? Basename(p) : Dirname(p)));
    }
    if (n == "use_none") return v.IsJson() ? v : Value::Own(nullptr);
    if (n == "decrypt_kv") {
        if (!opts_.kv) return Fail(e.pos, "decrypt_kv: no datastore is available");
        Result<std::string> r = opts_.kv->Decrypt(Str(v));
        if (!r) return Fail(e.pos, r.error().message);
        return Value::Own(Json(std::move(*r)));
    }
    return Fail(e.pos, "unknown filter \"" + n + "\"");
}

Value Evaluator::SelectOrMap(const Expr& e, const std::string& n, const Value& v, const Args& args) {
    std::vector<Json> items;
    if (v.IsJson() && !Iterate(v.J(), &items))
        return Fail(e.pos, std::string("'") + TypeName(v.J()) + "' object is not iterable");
    // make_attrgetter: dotted parts, digits as list indexes; a missing part is undefined.
    auto get_attr = [](const Json& item, const std::string& path) -> const Json* {
        const Json* cur = &item;
        size_t start = 0;
        while (cur) {
            const size_t dot = path.find('.', start);
            const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
            const bool digits =
                !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
            if (digits) {
                const size_t idx = std::strtoull(part.c_str(), nullptr, 10);
                cur = cur->is_array() && idx < cur->size() ? &(*cur)[idx] : nullptr;
            } else if (cur->is_object()) {
                auto f = cur->find(part);
                cur = f == cur->end() ? nullptr : &*f;
            } else {
                cur = nullptr;
            }
            if (dot == std::string::npos) break;
            start = dot + 1;
        }
        return cur;
    };
    Json out = Json::array();
    if (n == "map") {
        const Value* attribute = nullptr;
        for (const auto& [k, a] : args.kw) {
            if (k == "attribute") attribute = &a;
        }
        if (args.pos.empty() && attribute) {
            const Value* dflt = nullptr;
            for (const auto& [k, a] : args.kw) {
                if (k == "default") {
                    dflt = &a;
                } else if (k != "attribute") {
                    return Fail(e.pos, "Unexpected keyword argument '" + k + "'");
                }
            }
            const std::string path = Str(*attribute);
            for (const Json& it : items) {
                const Json* got = get_attr(it, path);
                out.push_back(got ? *got : dflt && dflt->IsJson() ? dflt->J() : Json(nullptr));
            }
            return Value::Own(std::move(out));
        }
        if (args.pos.empty()) return Fail(e.pos, "map requires a filter argument");
        const std::string filter = Str(args.pos[0]);
        if (!KnownFilter(filter)) return Fail(e.pos, "No filter named '" + filter + "'");
        Args rest;
        rest.pos.assign(args.pos.begin() + 1, args.pos.end());
        rest.kw = args.kw;
        for (const Json& it : items) {
            Value r = ApplyFilter(e, filter, Value::Borrow(it), rest);
            if (error) return {};
            out.push_back(r.IsJson() ? std::move(r).Take() : Json(nullptr));
        }
        return Value::Own(std::move(out));
    }
    const bool by_attr = n == "selectattr" || n == "rejectattr";
    const bool keep_when = n == "select" || n == "selectattr";
    size_t k = 0;
    std::string path;
    if (by_attr) {
        if (args.pos.empty()) return Fail(e.pos, "Missing parameter for attribute name");
        path = Str(args.pos[0]);
        k = 1;
    }
    std::string test;
    Args rest;
    if (args.pos.size() > k) {
        test = Str(args.pos[k]);
        if (!KnownTest(test)) return Fail(e.pos, "No test named '" + test + "'");
        rest.pos.assign(args.pos.begin() + static_cast<std::ptrdiff_t>(k) + 1, args.pos.end());
        rest.kw = args.kw;
    }
    for (const Json& it : items) {
        Value subject = Value::Borrow(it);
        if (by_attr) {
            const Json* got = get_attr(it, path);
            subject = got ? Value::Borrow(*got) : Value::Undefined(path);
        }
        bool verdict = false;
        if (test.empty()) {
            verdict = Truthy(subject);
        } else {
            Value r = ApplyTest(e, test, subject, rest, false);
            if (error) return {};
            verdict = Truthy(r);
        }
        if (verdict == keep_when) out.push_back(it);
    }
    return Value::Own(std::move(out));
}

Value Evaluator::EvalCall(const Expr& e) {
    Args args;
    if (!e.has_subject) {
        if (!EvalArgs(e, &args)) return {};
        if (e.name == "range") {
            int64_t p[3] = {0, 0, 1};
            if (args.pos.empty() || args.pos.size() > 3) return Fail(e.pos, "range expected 1 to 3 arguments");
            for (const Value& a : args.pos) {
                if (!a.IsJson() || !IsInt(a.J())) return Fail(e.pos, "range() arguments must be integers");
            }
            if (args.pos.size() == 1) {
                p[1] = AsInt(args.pos[0].J());
            } else {
                p[0] = AsInt(args.pos[0].J());
                p[1] = AsInt(args.pos[1].J());
                if (args.pos.size() == 3) p[2] = AsInt(args.pos[2].J());
            }
            if (p[2] == 0) return Fail(e.pos, "range() arg 3 must not be zero");
            Json out = Json::array();
            for (int64_t i = p[0]; p[2] > 0 ? i < p[1] : i > p[1];) {
                if (out.size() >= 100000) return Fail(e.pos, "range too big");
                out.push_back(i);
                if (__builtin_add_overflow(i, p[2], &i)) break;  // past the 64-bit end: nothing more in range
            }
            return Value::Own(std::move(out));
        }
        if (e.name == "namespace" || e.name == "dict") {
            Json out = Json::object();
            for (auto& [k, v] : args.kw) out[k] = v.IsJson() ? std::move(v).Take() : Json(nullptr);
            return Value::Own(std::move(out));
        }
        Value f = Lookup(e.name);
        if (!f.IsJson()) return Undef(e, f);
        return Fail(e.pos, std::string("'") + TypeName(f.J()) + "' object is not callable");
    }
    Value self = Eval(*e.args[0]);
    if (error) return {};
    if (!EvalArgs(e, &args)) return {};
    if (!self.IsJson()) {
        if (self.name.empty()) return Undef(e, self);
        return Fail(ChainStart(*e.args[0]), "'" + self.name + "' is undefined");
    }
    const Json& j = self.J();
    const std::string& m = e.name;
    auto arg_str = [&](size_t i, const char* name) -> std::optional<std::string> {
        const Value* a = args.Get(i, name);
        if (!a || !a->IsJson() || a->J().is_null()) return std::nullopt;
        return Str(*a);
    };
    if (j.is_object()) {
        if (e.args[0]->kind == Ek::kName && e.args[0]->name == "loop" && m == "cycle" && j.contains("index0")) {
            if (args.pos.empty()) return Fail(e.pos, "no items for cycling given");
            return args.pos[static_cast<size_t>(AsInt(j["index0"])) % args.pos.size()];
        }
        if (m == "items" || m == "keys" || m == "values") {
            Json out = Json::array();
            for (auto it = j.begin(); it != j.end(); ++it) {
                if (m == "items")
                    out.push_back(Json::array({it.key(), *it}));
                else if (m == "keys")
                    out.push_back(it.key());
                else
                    out.push_back(*it);
            }
            return Value::Own(std::move(out));
        }
        if (m == "get") {
            auto k = arg_str(0, "key");
            if (k) {
                auto it = j.find(*k);
                if (it != j.end()) return Value::Own(*it);
            }
            const Value* d = args.Get(1, "default");
            return d ? *d : Value::Own(nullptr);
        }
    } else if (j.is_string()) {
        const std::string& s = j.get_ref<const std::string&>();
        if (m == "upper") return Value::Own(Json(PyUpper(s)));
        if (m == "lower") return Value::Own(Json(PyLower(s)));
        if (m == "capitalize") return Value::Own(Json(PyCapitalize(s)));
        if (m == "strip" || m == "lstrip" || m == "rstrip") {
            auto c = arg_str(0, "chars");
            return Value::Own(Json(PyStrip(s, c ? &*c : nullptr, m != "rstrip", m != "lstrip")));
        }
        if (m == "split") {
            auto sep = arg_str(0, "sep");
            const Value* ms = args.Get(1, "maxsplit");
            if (sep && sep->empty()) return Fail(e.pos, "empty separator");
            const int64_t maxsplit = ms && ms->IsJson() && IsInt(ms->J()) ? AsInt(ms->J()) : -1;
            return Value::Own(Json(PySplit(s, sep ? &*sep : nullptr, maxsplit)));
        }
        if (m == "startswith" || m == "endswith") {
            auto p = arg_str(0, "prefix");
            if (!p) return Fail(e.pos, m + " needs a string argument");
            const bool r = m == "startswith"
                               ? s.rfind(*p, 0) == 0
                               : s.size() >= p->size() && s.compare(s.size() - p->size(), p->size(), *p) == 0;
            return Value::Own(r);
        }
        if (m == "replace") {
            auto a = arg_str(0, "old");
            auto b = arg_str(1, "new");
            const Value* c = args.Get(2, "count");
            if (!a || !b) return Fail(e.pos, "replace needs two arguments");
            return Value::Own(Json(PyReplace(s, *a, *b, c && c->IsJson() && IsInt(c->J()) ? AsInt(c->J()) : -1)));
        }
        if (m == "find" || m == "count") {
            auto a = arg_str(0, "sub");
            if (!a) return Fail(e.pos, m + " needs a string argument");
            if (m == "find") {
                const size_t f = s.find(*a);
                return Value::Own(
                    f == std::string::npos ? int64_t{-1} : static_cast<int64_t>(CodePointCount(s.substr(0, f)))
                );
            }
            int64_t cnt = 0;
            if (a->empty()) return Value::Own(static_cast<int64_t>(CodePointCount(s) + 1));
            for (size_t p = s.find(*a); p != std::string::npos; p = s.find(*a, p + a->size())) ++cnt;
            return Value::Own(cnt);
        }
        if (m == "join") {
            const Value* a = args.Get(0, "iterable");
            std::vector<Json> items;
            if (!a || !a->IsJson() || !Iterate(a->J(), &items)) return Fail(e.pos, "can only join an iterable");
            std::string out;
            for (size_t i = 0; i < items.size(); ++i) {
                if (!items[i].is_string())
                    return Fail(
                        e.pos,
                        std::string("sequence item ") + std::to_string(i) + ": expected str instance, " +
                            TypeName(items[i]) + " found"
                    );
                if (i) out += s;
                out += items[i].get_ref<const std::string&>();
            }
            return Value::Own(Json(std::move(out)));
        }
        if (m == "isdigit" || m == "isalpha" || m == "isalnum" || m == "isspace") {
            bool r = !s.empty();
            for (char c : s) {
                const auto u = static_cast<unsigned char>(c);
                r = r && (m == "isdigit"   ? std::isdigit(u)
                          : m == "isalpha" ? std::isalpha(u)
                          : m == "isalnum" ? std::isalnum(u)
                                           : std::isspace(u));
            }
            return Value::Own(r);
        }
    } else if (j.is_array()) {
        if (m == "count" || m == "index") {
            const Value* a = args.Get(0, "value");
            if (!a || !a->IsJson()) return Fail(e.pos, m + " needs an argument");
            int64_t cnt = 0;
            for (size_t i = 0; i < j.size(); ++i) {
                if (PyEq(j[i], a->J())) {
                    if (m == "index") return Value::Own(static_cast<int64_t>(i));
                    ++cnt;
                }
            }
            if (m == "index") return Fail(e.pos, "value is not in list");
            return Value::Own(cnt);
        }
    }
    return Fail(e.pos, std::string("'") + TypeName(j) + "' object has no attribute '" + m + "'");
}

bool IsBlank(const Stmt& s) {
    return s.kind == Sk::kData && std::all_of(s.text.begin(), s.text.end(), IsSpace);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Template.

Template::Template(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Template::~Template() = default;

Result<std::shared_ptr<const Template>> Template::Compile(std::string_view text, bool stackstorm_whitespace) {
    auto impl = std::make_unique<Impl>();
    impl->source = std::string(text);
    // Jinja2 normalises newlines to "\n" and drops one trailing newline (keep_trailing_newline=False).
    std::string src;
    src.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\r') {
            src += '\n';
            if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
        } else {
            src += text[i];
        }
    }
    if (!src.empty() && src.back() == '\n') src.pop_back();
    std::vector<Token> toks;
    CompileError err;
    Lexer lexer(src, stackstorm_whitespace, stackstorm_whitespace);
    if (!lexer.Run(&toks, &err)) return InvalidArgument(ErrorText(impl->source, err.pos, err.what));
    Parser parser(std::move(toks));
    if (!parser.Parse(&impl->body, &err) || !CheckBody(impl->body, &err))
        return InvalidArgument(ErrorText(impl->source, err.pos, err.what));
    const Stmt* only = nullptr;
    bool single = true;
    for (const Stmt& s : impl->body) {
        if (IsBlank(s)) continue;
        if (s.kind != Sk::kOutput || only) {
            single = false;
            break;
        }
        only = &s;
    }
    if (single && only) impl->single = only->expr.get();
    return std::make_shared<const Template>(std::move(impl));
}

Result<std::shared_ptr<const Template>> Template::Cached(std::string_view text, bool stackstorm_whitespace) {
    // The one process-wide cache (immutable values; guarded map). Bounded: cleared when full, which is cheap
    // because templates come from a bounded set of rules and actions.
    constexpr size_t kMaxEntries = 4096;
    static std::mutex mu;  // NOLINT(cppcoreguidelines-avoid-non-const-global-variables)
    static std::unordered_map<std::string, TemplatePtr>
        cache;  // NOLINT(cppcoreguidelines-avoid-non-const-global-variables)
    std::string key(1, stackstorm_whitespace ? 's' : 'j');
    key += text;
    {
        std::lock_guard<std::mutex> lock(mu);
        auto it = cache.find(key);
        if (it != cache.end()) return it->second;
    }
    Result<TemplatePtr> compiled = Compile(text, stackstorm_whitespace);
    if (!compiled) return compiled;
    std::lock_guard<std::mutex> lock(mu);
    if (cache.size() >= kMaxEntries) cache.clear();
    cache.emplace(key, *compiled);
    return compiled;
}

bool Template::IsSingleExpression() const {
    return impl_->single != nullptr;
}

Result<std::string> Template::RenderText(const Json& context, const RenderOptions& options) const {
    Evaluator ev(*impl_, context, options);
    std::string out;
    if (!ev.Exec(impl_->body, out)) return *ev.error;
    return out;
}

Result<Json> Template::Render(const Json& context, const RenderOptions& options) const {
    if (!impl_->single) {
        Result<std::string> r = RenderText(context, options);
        if (!r) return r.error();
        return Json(std::move(*r));
    }
    Evaluator ev(*impl_, context, options);
    Value v = ev.Eval(*impl_->single);
    if (ev.error) return *ev.error;
    if (options.strict_undefined && v.kind == Value::Kind::kUndefined) {
        ev.FailUndefined(*impl_->single, v);
        return *ev.error;
    }
    if (!v.IsJson()) return Json("");
    return std::move(v).Take();
}

namespace {
bool HasMarkup(std::string_view s) {
    return s.find("{{") != std::string_view::npos || s.find("{%") != std::string_view::npos ||
           s.find("{#") != std::string_view::npos;
}
}  // namespace

Result<std::string> RenderString(std::string_view text, const Json& context, const RenderOptions& options) {
    if (!HasMarkup(text)) return std::string(text);
    Result<TemplatePtr> t = Template::Cached(text, options.stackstorm_whitespace);
    if (!t) return t.error();
    return (*t)->RenderText(context, options);
}

Result<Json> RenderValue(const Json& value, const Json& context, const RenderOptions& options) {
    if (value.is_string()) {
        const std::string& s = value.get_ref<const std::string&>();
        if (!HasMarkup(s)) return value;
        Result<TemplatePtr> t = Template::Cached(s, options.stackstorm_whitespace);
        if (!t) return t.error();
        return (*t)->Render(context, options);
    }
    if (value.is_object()) {
        Json out = Json::object();
        for (auto it = value.begin(); it != value.end(); ++it) {
            Result<Json> r = RenderValue(*it, context, options);
            if (!r) return r.error();
            out[it.key()] = std::move(*r);
        }
        return out;
    }
    if (value.is_array()) {
        Json out = Json::array();
        for (const auto& v : value) {
            Result<Json> r = RenderValue(v, context, options);
            if (!r) return r.error();
            out.push_back(std::move(*r));
        }
        return out;
    }
    return value;
}

std::string PythonLower(std::string_view s) {
    std::string out(s);
    bool ascii = true;
    for (char& c : out) {
        if (static_cast<unsigned char>(c) >= 0x80) {
            ascii = false;
            break;
        }
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    if (ascii) return out;
    return PyLower(std::string(s));
}

}  // namespace squall::core
