// Python's str.format() (PEP 3101) for the values a template has: fields by position, name, index and key,
// conversions (!r !s !a) and the format-spec mini-language of str, int and float.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "bigint.hpp"
#include "pystr.hpp"
#include "squall/templates/template.hpp"
#include "value.hpp"

namespace squall::core::templates {

namespace {

struct Spec {
    std::string fill = " ";
    char align = 0;  // < > ^ =
    char sign = '-';
    bool alt = false;
    bool zero = false;
    int64_t width = -1;
    char grouping = 0;
    int64_t precision = -1;
    char type = 0;
};

bool ParseSpec(const std::string& s, Spec* spec, std::string* err) {
    size_t i = 0;
    std::vector<std::string> cps = CodePoints(s);
    auto is_align = [](const std::string& c) { return c == "<" || c == ">" || c == "^" || c == "="; };
    if (cps.size() >= 2 && is_align(cps[1])) {
        spec->fill = cps[0];
        spec->align = cps[1][0];
        i = 2;
    } else if (!cps.empty() && is_align(cps[0])) {
        spec->align = cps[0][0];
        i = 1;
    }
    auto at = [&](size_t k) -> char { return k < cps.size() && cps[k].size() == 1 ? cps[k][0] : '\0'; };
    if (at(i) == '+' || at(i) == '-' || at(i) == ' ') spec->sign = at(i++);
    if (at(i) == 'z') ++i;
    if (at(i) == '#') {
        spec->alt = true;
        ++i;
    }
    if (at(i) == '0') {
        spec->zero = true;
        ++i;
    }
    auto number = [&](int64_t* out) {
        bool any = false;
        int64_t v = 0;
        while (std::isdigit(static_cast<unsigned char>(at(i)))) {
            if (v > 1'000'000) {
                *err = "Too many decimal digits in format string";
                return false;
            }
            v = v * 10 + (at(i++) - '0');
            any = true;
        }
        if (any) *out = v;
        return true;
    };
    if (!number(&spec->width)) return false;
    if (at(i) == ',' || at(i) == '_') spec->grouping = at(i++);
    if (at(i) == '.') {
        ++i;
        if (!std::isdigit(static_cast<unsigned char>(at(i)))) {
            *err = "Format specifier missing precision";
            return false;
        }
        if (!number(&spec->precision)) return false;
    }
    if (i < cps.size()) spec->type = at(i++);
    if (i < cps.size() || (spec->type == '\0' && i < cps.size())) {
        *err = "Invalid format specifier '" + s + "'";
        return false;
    }
    return true;
}

std::string Group(const std::string& digits, char sep, size_t every) {
    std::string out;
    const size_t n = digits.size();
    for (size_t k = 0; k < n; ++k) {
        if (k && (n - k) % every == 0) out += sep;
        out += digits[k];
    }
    return out;
}

// Pads `body` (after `sign_prefix`) to the width as the spec says; `numeric` values align right by default.
std::string Pad(const Spec& spec, const std::string& sign_prefix, const std::string& body, bool numeric) {
    const int64_t len = static_cast<int64_t>(CodePointCount(sign_prefix) + CodePointCount(body));
    char align = spec.align ? spec.align : (spec.zero && numeric ? '=' : numeric ? '>' : '<');
    const std::string fill = !spec.align && spec.zero && numeric ? "0" : spec.fill;
    if (spec.width <= len) return sign_prefix + body;
    const auto pad = static_cast<size_t>(spec.width - len);
    auto rep = [&](size_t k) {
        std::string out;
        for (size_t m = 0; m < k; ++m) out += fill;
        return out;
    };
    switch (align) {
        case '<':
            return sign_prefix + body + rep(pad);
        case '^':
            return rep(pad / 2) + sign_prefix + body + rep(pad - pad / 2);
        case '=':
            return sign_prefix + rep(pad) + body;
        default:
            return rep(pad) + sign_prefix + body;
    }
}

bool FormatFloat(double x, const Spec& spec, char type, std::string* out, std::string* err) {
    std::string sign = std::signbit(x) && !std::isnan(x) ? "-" : spec.sign == '+' ? "+" : spec.sign == ' ' ? " " : "";
    const double a = std::fabs(x);
    std::string body;
    if (std::isnan(a) || std::isinf(a)) {
        body = std::isnan(a) ? "nan" : "inf";
        if (type == 'E' || type == 'F' || type == 'G') {
            for (char& c : body) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
        if (type == '%') body += "%";
    } else if (type == 0 && spec.precision < 0) {
        body = PyFloatRepr(a);
    } else {
        int64_t prec = spec.precision < 0 ? 6 : spec.precision;
        if (prec > 200) prec = 200;
        char t = type == 0 ? 'g' : type == 'n' ? 'g' : type == '%' ? 'f' : type;
        if (type == 0 && prec == 0) prec = 1;
        const double val = type == '%' ? a * 100 : a;
        char fmt[16];
        std::snprintf(fmt, sizeof(fmt), "%%%s.%d%c", spec.alt ? "#" : "", static_cast<int>(prec), t);
        char buf[512];
        std::snprintf(buf, sizeof(buf), fmt, val);  // NOLINT(cppcoreguidelines-pro-type-vararg)
        body = buf;
        // No type: as 'g', but a fixed-point result keeps one digit after the point.
        if (type == 0 && body.find_first_of(".e") == std::string::npos) body += ".0";
        if (type == '%') body += "%";
    }
    if (spec.grouping) {
        const size_t digits_end = body.find_first_not_of("0123456789");
        body = Group(body.substr(0, digits_end), spec.grouping, 3) +
               (digits_end == std::string::npos ? "" : body.substr(digits_end));
    }
    (void)err;
    *out = Pad(spec, sign, body, true);
    return true;
}

bool FormatValue(const Json& v, const std::string& spec_text, std::string* out, std::string* err) {
    if (spec_text.empty()) {
        *out = IsUndefinedJson(v) ? "" : v.is_string() ? v.get<std::string>() : PythonStr(v);
        return true;
    }
    Spec spec;
    if (!ParseSpec(spec_text, &spec, err)) return false;
    const char type = spec.type;
    if (v.is_string()) {
        if (type != 0 && type != 's') {
            *err = std::string("Unknown format code '") + type + "' for object of type 'str'";
            return false;
        }
        if (spec.sign != '-' || spec.alt || spec.grouping || spec.align == '=') {
            *err = "Sign not allowed in string format specifier";
            return false;
        }
        std::string s = v.get<std::string>();
        if (spec.precision >= 0) {
            size_t k = 0;
            for (int64_t n = 0; n < spec.precision && k < s.size(); ++n) DecodeUtf8(s, k);
            s.resize(k);
        }
        *out = Pad(spec, "", s, false);
        return true;
    }
    if ((IsBigInt(v) || v.is_number_unsigned()) &&
        (type == 0 || std::string("bdnoxX").find(type) != std::string::npos)) {
        // An int beyond int64, in its base.
        if (spec.precision >= 0) {
            *err = "Precision not allowed in integer format specifier";
            return false;
        }
        const BigInt n = ToBigInt(v);
        const int base = type == 'b' ? 2 : type == 'o' ? 8 : type == 'x' || type == 'X' ? 16 : 10;
        const std::string alphabet = type == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
        std::string digits;
        for (BigInt m = boost::multiprecision::abs(n); m != 0 || digits.empty(); m /= base)
            digits.push_back(alphabet[static_cast<size_t>(static_cast<int>(m % base))]);
        std::reverse(digits.begin(), digits.end());
        const std::string sign = n < 0 ? "-" : spec.sign == '+' ? "+" : spec.sign == ' ' ? " " : "";
        const std::string prefix = base == 2 ? "0b" : base == 8 ? "0o" : type == 'X' ? "0X" : base == 16 ? "0x" : "";
        if (spec.grouping) digits = Group(digits, spec.grouping, base == 10 ? 3 : 4);
        *out = Pad(spec, sign + (spec.alt ? prefix : ""), digits, true);
        return true;
    }
    if (PyIsInt(v) && type != 'e' && type != 'E' && type != 'f' && type != 'F' && type != 'g' && type != 'G' &&
        type != '%') {
        if (spec.precision >= 0) {
            *err = "Precision not allowed in integer format specifier";
            return false;
        }
        const int64_t n = PyAsInt(v);
        const uint64_t mag = n < 0 ? 0 - static_cast<uint64_t>(n) : static_cast<uint64_t>(n);
        const std::string sign = n < 0 ? "-" : spec.sign == '+' ? "+" : spec.sign == ' ' ? " " : "";
        int base = 10;
        std::string prefix;
        switch (type) {
            case 0:
            case 'd':
            case 'n':
                break;
            case 'b':
                base = 2;
                prefix = "0b";
                break;
            case 'o':
                base = 8;
                prefix = "0o";
                break;
            case 'x':
                base = 16;
                prefix = "0x";
                break;
            case 'X':
                base = 16;
                prefix = "0X";
                break;
            case 'c': {
                std::string c;
                AppendUtf8(c, static_cast<uint32_t>(mag));
                *out = Pad(spec, "", c, false);
                return true;
            }
            default:
                *err = std::string("Unknown format code '") + type + "' for object of type 'int'";
                return false;
        }
        const std::string alphabet = type == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
        const auto b = static_cast<uint64_t>(base);
        std::string digits;
        for (uint64_t m = mag;;) {
            const uint64_t d = m % b;
            digits.push_back(alphabet[static_cast<size_t>(d)]);
            m /= b;
            if (m == 0) break;
        }
        std::reverse(digits.begin(), digits.end());
        if (spec.grouping) digits = Group(digits, spec.grouping, base == 10 ? 3 : 4);
        *out = Pad(spec, sign + (spec.alt ? prefix : ""), digits, true);
        return true;
    }
    if (IsAnyNumber(v)) {
        if (type != 0 && std::string("eEfFgGn%").find(type) == std::string::npos) {
            *err = std::string("Unknown format code '") + type + "' for object of type 'float'";
            return false;
        }
        double x = 0;
        if (!AnyToDouble(v, &x)) {
            *err = "int too large to convert to float";
            return false;
        }
        return FormatFloat(x, spec, type, out, err);
    }
    *err = std::string("unsupported format string passed to ") + TypeName(v) + ".__format__";
    return false;
}

}  // namespace

bool PyStrFormat(
    const std::string& fmt, const std::vector<Json>& pos, const Json& kw, std::string* out, std::string* err
) {
    size_t auto_index = 0;
    bool used_auto = false;
    bool used_manual = false;
    size_t i = 0;
    while (i < fmt.size()) {
        const char c = fmt[i];
        if (c == '}') {
            if (i + 1 < fmt.size() && fmt[i + 1] == '}') {
                *out += '}';
                i += 2;
                continue;
            }
            *err = "Single '}' encountered in format string";
            return false;
        }
        if (c != '{') {
            *out += c;
            ++i;
            continue;
        }
        if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
            *out += '{';
            i += 2;
            continue;
        }
        const size_t close = fmt.find('}', i + 1);
        if (close == std::string::npos) {
            *err = "expected '}' before end of string";
            return false;
        }
        std::string field = fmt.substr(i + 1, close - i - 1);
        if (field.find('{') != std::string::npos) {
            *err = "nested replacement fields are not supported";
            return false;
        }
        i = close + 1;
        std::string spec;
        char conv = 0;
        const size_t colon = field.find(':');
        if (colon != std::string::npos) {
            spec = field.substr(colon + 1);
            field.resize(colon);
        }
        const size_t bang = field.find('!');
        if (bang != std::string::npos) {
            if (bang + 2 != field.size() || std::string("rsa").find(field[bang + 1]) == std::string::npos) {
                *err = "Unknown conversion specifier " + field.substr(bang + 1);
                return false;
            }
            conv = field[bang + 1];
            field.resize(bang);
        }
        // The argument: a number or name, then .attr / [key] steps.
        size_t k = 0;
        while (k < field.size() && field[k] != '.' && field[k] != '[') ++k;
        const std::string first = field.substr(0, k);
        const Json* arg = nullptr;
        if (first.empty()) {
            if (used_manual) {
                *err = "cannot switch from manual field specification to automatic field numbering";
                return false;
            }
            used_auto = true;
            if (auto_index >= pos.size()) {
                *err = "Replacement index " + std::to_string(auto_index) + " out of range for positional args tuple";
                return false;
            }
            arg = &pos[auto_index++];
        } else if (std::all_of(first.begin(), first.end(), [](char d) {
                       return std::isdigit(static_cast<unsigned char>(d));
                   })) {
            if (used_auto) {
                *err = "cannot switch from automatic field numbering to manual field specification";
                return false;
            }
            used_manual = true;
            const size_t idx = first.size() > 9 ? pos.size() : std::stoul(first);
            if (idx >= pos.size()) {
                *err = "Replacement index " + first + " out of range for positional args tuple";
                return false;
            }
            arg = &pos[idx];
        } else {
            auto f = kw.find(first);
            if (f == kw.end()) {
                *err = "KeyError: '" + first + "'";
                return false;
            }
            arg = &*f;
        }
        Json scratch;
        while (k < field.size()) {
            std::string step;
            bool index = false;
            if (field[k] == '.') {
                size_t e = k + 1;
                while (e < field.size() && field[e] != '.' && field[e] != '[') ++e;
                step = field.substr(k + 1, e - k - 1);
                k = e;
            } else {
                const size_t e = field.find(']', k);
                if (e == std::string::npos) {
                    *err = "Missing ']' in format string";
                    return false;
                }
                step = field.substr(k + 1, e - k - 1);
                index = true;
                k = e + 1;
            }
            const Json* base = IsTuple(*arg) ? &TupleItems(*arg) : arg;
            const bool digits = !step.empty() && step.size() < 10 && std::all_of(step.begin(), step.end(), [](char d) {
                return std::isdigit(static_cast<unsigned char>(d));
            });
            const Json* next = nullptr;
            if (index && digits && base->is_array()) {
                const size_t n = std::stoul(step);
                if (n < base->size()) next = &(*base)[n];
            } else if (index && base->is_object() && !IsSpecial(*base)) {
                auto f = base->find(step);
                if (f != base->end()) next = &*f;
            }
            if (!next) {
                *err = (index ? "KeyError: " : "AttributeError: ") + step;
                return false;
            }
            arg = next;
        }
        const Json value = conv == 'r' || conv == 'a' ? Json(PyRepr(*arg)) : conv == 's' ? Json(PythonStr(*arg)) : *arg;
        std::string piece;
        if (!FormatValue(value, spec, &piece, err)) return false;
        *out += piece;
    }
    return true;
}

}  // namespace squall::core::templates
