// Python string and value helpers of the template engine (see pystr.hpp).
#include "pystr.hpp"

#include "squall/templates/template.hpp"
#include "value.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <regex>

#include <yaml-cpp/yaml.h>

namespace squall::core::templates {

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
    if (IsUndefinedJson(v)) return "Undefined";
    return PythonStr(v);
}

std::string TupleRepr(const Json& items) {
    std::string out = "(";
    for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + PyRepr(items[i]);
    return out + (items.size() == 1 ? ",)" : ")");
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
            if (IsBigInt(v)) {
                out += BigIntDigits(v);
                return;
            }
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
    // Strings that PyYAML's implicit resolvers (YAML 1.1) would read as an int, a float or a timestamp need quotes;
    // others that merely contain digits and dots ("1.0.0", a version) stay plain, as yaml.safe_dump leaves them.
    if (s.find_first_of("0123456789") == std::string::npos) return lower != ".inf" && lower != ".nan";
    // std::regex recurses per character: long strings get the conservative test (quoted when nothing but digits
    // and number punctuation).
    if (s.size() > 128) return s.find_first_not_of("0123456789+-._eE:xXbB") != std::string::npos;
    static const std::regex kInt(
        "[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(:[0-5]?[0-9])+"
    );
    static const std::regex kFloat(
        "[-+]?([0-9][0-9_]*)\\.[0-9_]*([eE][-+][0-9]+)?|\\.[0-9][0-9_]*([eE][-+][0-9]+)?|"
        "[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\\.[0-9_]*"
    );
    static const std::regex kTimestamp(
        "[0-9]{4}-[0-9]{2}-[0-9]{2}|"
        "[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt]|[ \\t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(\\.[0-9]*)?"
        "([ \\t]*(Z|[-+][0-9]{1,2}(:[0-9]{2})?))?"
    );
    return !std::regex_match(s, kInt) && !std::regex_match(s, kFloat) && !std::regex_match(s, kTimestamp);
}

std::string YamlScalar(const Json& v) {
    if (IsBigInt(v)) return BigIntDigits(v);
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
    if (v.is_object() && !v.empty() && !IsBigInt(v)) {
        bool first = true;
        for (auto it = v.begin(); it != v.end(); ++it) {
            if (!(first && in_seq)) out += pad;
            first = false;
            out += YamlScalar(Json(it.key())) + ":";
            const Json& c = *it;
            if (c.is_object() && !c.empty() && !IsBigInt(c)) {
                out += "\n";
                YamlDump(out, c, indent + 2, false);
            } else if (c.is_array() && !c.empty()) {
                out += "\n";
                YamlDump(out, c, indent, false);
            } else {
                out += " " + (c.is_array() ? "[]" : c.is_object() && !IsBigInt(c) ? "{}" : YamlScalar(c)) + "\n";
            }
        }
    } else if (v.is_array() && !v.empty()) {
        for (const Json& c : v) {
            out += pad + "- ";
            if ((c.is_object() || c.is_array()) && !c.empty() && !IsBigInt(c)) {
                YamlDump(out, c, indent + 2, true);
            } else {
                out += (c.is_array() ? "[]" : c.is_object() && !IsBigInt(c) ? "{}" : YamlScalar(c)) + "\n";
            }
        }
    }
}

std::string ToYaml(const Json& v) {
    if ((v.is_object() || v.is_array()) && !v.empty() && !IsBigInt(v)) {
        std::string out;
        YamlDump(out, v, 0, false);
        return out;
    }
    if (v.is_array()) return "[]\n";
    if (v.is_object() && !IsBigInt(v)) return "{}\n";
    const std::string scalar = YamlScalar(v);
    // PyYAML ends a document holding a plain scalar with "...".
    return scalar + (scalar[0] == '\'' ? "\n" : "\n...\n");
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
                if (a == nullptr || !PyIsInt(*a)) {
                    *err = "* wants int";
                    return false;
                }
                *n = PyAsInt(*a);
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
                if (v != nullptr && (IsBigInt(*v) || v->is_number_unsigned())) {
                    // An int beyond int64: its decimal digits.
                    const std::string d = IsBigInt(*v) ? BigIntDigits(*v) : std::to_string(v->get<uint64_t>());
                    const bool neg = d[0] == '-';
                    body = neg ? d.substr(1) : d;
                    if (prec > static_cast<int64_t>(body.size()))
                        body.insert(0, static_cast<size_t>(prec) - body.size(), '0');
                    sign = neg ? "-" : plus ? "+" : space ? " " : "";
                    numeric = true;
                    break;
                }
                if (v == nullptr || !PyIsNumber(*v)) {
                    *err = std::string("%") + type + " format: a real number is required, not " + tname;
                    return false;
                }
                if (v->is_number_float() && !std::isfinite(v->get<double>())) {
                    *err = "cannot convert float infinity or NaN to integer";
                    return false;
                }
                int_body(PyAsInt(*v), 10, false);
                break;
            }
            case 'x':
            case 'X':
            case 'o': {
                if (v == nullptr || !PyIsInt(*v)) {
                    *err = std::string("%") + type + " format: an integer is required, not " + tname;
                    return false;
                }
                int_body(PyAsInt(*v), type == 'o' ? 8 : 16, type == 'X');
                break;
            }
            case 'e':
            case 'E':
            case 'f':
            case 'F':
            case 'g':
            case 'G': {
                if (v == nullptr || !PyIsNumber(*v)) {
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
                const double x = PyAsDouble(*v);
                const int len =
                    std::snprintf(nullptr, 0, spec.c_str(), x);  // NOLINT(cppcoreguidelines-pro-type-vararg)
                std::string buf(static_cast<size_t>(len) + 1, '\0');
                std::snprintf(buf.data(), buf.size(), spec.c_str(), x);  // NOLINT(cppcoreguidelines-pro-type-vararg)
                buf.resize(static_cast<size_t>(len));
                out->append(buf);
                continue;
            }
            case 'c': {
                if (v != nullptr && PyIsInt(*v)) {
                    const int64_t cp = PyAsInt(*v);
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

}  // namespace squall::core::templates

namespace squall::core {

using namespace templates;  // NOLINT(google-build-using-namespace): the helpers above

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
            if (IsTuple(v)) return TupleRepr(TupleItems(v));
            if (IsBigInt(v)) return BigIntDigits(v);
            if (IsUndefinedJson(v)) return "";
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

}  // namespace squall::core
