// Built-in filters of Jinja's text and object helpers: random, attr, striptags, wordwrap, pprint. Registered in the
// builtin table by filters.cpp.
#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "evaluator.hpp"

namespace squall::core::templates {

namespace {

// Python's str.isspace() for the characters textwrap and str.split() treat as whitespace (ASCII, plus the
// separators \x1c-\x1f; Unicode spaces are kept as word characters).
bool IsPySpace(char c) {
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f');
}

// html.unescape for the character references markup shows in practice: numeric ones and the common named ones.
std::string HtmlUnescape(const std::string& s) {
    static const std::pair<const char*, const char*> kNamed[] = {
        {"amp", "&"},
        {"lt", "<"},
        {"gt", ">"},
        {"quot", "\""},
        {"apos", "'"},
        {"nbsp", "\xC2\xA0"},
        {"copy", "\xC2\xA9"},
        {"reg", "\xC2\xAE"},
        {"hellip", "\xE2\x80\xA6"},
        {"mdash", "\xE2\x80\x94"},
        {"ndash", "\xE2\x80\x93"},
    };
    std::string out;
    size_t i = 0;
    while (i < s.size()) {
        if (s[i] != '&') {
            out += s[i++];
            continue;
        }
        const size_t semi = s.find(';', i);
        if (semi != std::string::npos && semi - i <= 10) {
            const std::string name = s.substr(i + 1, semi - i - 1);
            if (name.size() > 1 && name[0] == '#') {
                const bool hex = name[1] == 'x' || name[1] == 'X';
                const std::string digits = name.substr(hex ? 2 : 1);
                const bool ok = !digits.empty() && std::all_of(digits.begin(), digits.end(), [&](char c) {
                    return hex ? std::isxdigit(static_cast<unsigned char>(c)) != 0
                               : std::isdigit(static_cast<unsigned char>(c)) != 0;
                });
                if (ok) {
                    const unsigned long cp = std::stoul(digits, nullptr, hex ? 16 : 10);
                    AppendUtf8(out, cp > 0x10FFFF || cp == 0 ? 0xFFFD : static_cast<uint32_t>(cp));
                    i = semi + 1;
                    continue;
                }
            }
            bool found = false;
            for (const auto& [k, v] : kNamed) {
                if (name == k) {
                    out += v;
                    found = true;
                    break;
                }
            }
            if (found) {
                i = semi + 1;
                continue;
            }
        }
        out += s[i++];
    }
    return out;
}

// textwrap.TextWrapper(width, expand_tabs=False, replace_whitespace=False, break_long_words, break_on_hyphens).wrap
// of one line. Chunks are runs of whitespace and words (a word split after its hyphens when break_on_hyphens).
std::vector<std::string> Wrap(const std::string& text, size_t width, bool break_long, bool break_hyphens) {
    std::vector<std::string> chunks;
    {
        std::vector<std::string> cps = CodePoints(text);
        std::string cur;
        bool cur_space = false;
        for (size_t i = 0; i < cps.size(); ++i) {
            const bool sp = cps[i].size() == 1 && IsPySpace(cps[i][0]);
            if (!cur.empty() && sp != cur_space) {
                chunks.push_back(std::move(cur));
                cur.clear();
            }
            cur_space = sp;
            cur += cps[i];
            // A hyphen between letters ends a word chunk (textwrap's "hyphenated word").
            if (break_hyphens && !sp && cps[i] == "-" && i + 1 < cps.size() && i >= 2 &&
                std::isalpha(static_cast<unsigned char>(cps[i - 1][0])) &&
                std::isalpha(static_cast<unsigned char>(cps[i - 2][0])) &&
                std::isalpha(static_cast<unsigned char>(cps[i + 1][0]))) {
                chunks.push_back(std::move(cur));
                cur.clear();
            }
        }
        if (!cur.empty()) chunks.push_back(std::move(cur));
    }
    auto len = [](const std::string& c) { return CodePointCount(c); };
    auto blank = [](const std::string& c) { return std::all_of(c.begin(), c.end(), IsPySpace); };
    std::vector<std::string> lines;
    std::reverse(chunks.begin(), chunks.end());
    while (!chunks.empty()) {
        std::vector<std::string> cur;
        size_t cur_len = 0;
        if (blank(chunks.back()) && !lines.empty()) chunks.pop_back();
        while (!chunks.empty()) {
            const size_t l = len(chunks.back());
            if (cur_len + l > width) break;
            cur.push_back(std::move(chunks.back()));
            chunks.pop_back();
            cur_len += l;
        }
        if (!chunks.empty() && len(chunks.back()) > width) {
            const size_t space_left = width < 1 ? 1 : width - cur_len;
            if (break_long) {
                std::vector<std::string> cps = CodePoints(chunks.back());
                size_t end = space_left;
                if (break_hyphens && cps.size() > space_left) {
                    size_t hyphen = std::string::npos;
                    for (size_t k = space_left; k-- > 0;) {
                        if (cps[k] == "-") {
                            hyphen = k;
                            break;
                        }
                    }
                    if (hyphen != std::string::npos && hyphen > 0 &&
                        std::any_of(
                            cps.begin(),
                            cps.begin() + static_cast<std::ptrdiff_t>(hyphen),
                            [](const std::string& c) { return c != "-"; }
                        ))
                        end = hyphen + 1;
                }
                std::string head;
                std::string tail;
                for (size_t k = 0; k < cps.size(); ++k) (k < end ? head : tail) += cps[k];
                cur.push_back(std::move(head));
                chunks.back() = std::move(tail);
            } else if (cur.empty()) {
                cur.push_back(std::move(chunks.back()));
                chunks.pop_back();
            }
        }
        if (!cur.empty() && blank(cur.back())) cur.pop_back();
        if (!cur.empty()) {
            std::string line;
            for (const auto& c : cur) line += c;
            lines.push_back(std::move(line));
        }
    }
    return lines;
}

// pprint.pformat(value) (width 80, dicts sorted): one line when the repr fits, else one item per line.
void Pformat(std::string& out, const Json& v, size_t indent, size_t allowance) {
    const std::string rep = PyRepr(v);
    const size_t width = 80;
    const bool fits = CodePointCount(rep) + indent + allowance <= width;
    const bool tuple = IsTuple(v);
    if (fits || !(tuple || v.is_array() || (v.is_object() && !IsSpecial(v))) || (tuple ? TupleItems(v) : v).empty()) {
        out += rep;
        return;
    }
    if (v.is_object() && !tuple) {
        std::vector<std::string> keys;
        for (auto it = v.begin(); it != v.end(); ++it) keys.push_back(it.key());
        std::sort(keys.begin(), keys.end());
        out += '{';
        const size_t in = indent + 1;
        for (size_t i = 0; i < keys.size(); ++i) {
            const bool last = i + 1 == keys.size();
            const std::string k = PyQuote(keys[i]);
            out += k + ": ";
            Pformat(out, v.at(keys[i]), in + CodePointCount(k) + 2, last ? allowance + 1 : 1);
            if (!last) out += ",\n" + std::string(in, ' ');
        }
        out += '}';
        return;
    }
    const Json& items = tuple ? TupleItems(v) : v;
    const std::string end = tuple ? (items.size() == 1 ? ",)" : ")") : "]";
    out += tuple ? '(' : '[';
    const size_t in = indent + 1;
    for (size_t i = 0; i < items.size(); ++i) {
        const bool last = i + 1 == items.size();
        if (i) out += ",\n" + std::string(in, ' ');
        Pformat(out, items[i], in, last ? allowance + end.size() : 1);
    }
    out += end;
}

}  // namespace

Value Evaluator::FilterRandom(const Expr& e, const std::string& n, Value v, const Args& args) {
    std::vector<Json> items;
    if (v.IsJson() && !Iterate(v.J(), &items))
        return Fail(e.pos, std::string("object of type '") + TypeName(v.J()) + "' has no len()");
    if (items.empty()) {
        Value u = Value::Undefined("");
        u.hint = "No random item, sequence was empty.";
        return u;
    }
    thread_local std::mt19937_64 rng{std::random_device{}()};
    std::uniform_int_distribution<size_t> pick(0, items.size() - 1);
    return Element(items[pick(rng)], false);
}

Value Evaluator::FilterAttr(const Expr& e, const std::string& n, Value v, const Args& args) {
    // getattr(obj, name): JSON values have no attributes but their methods (which a template cannot keep), so
    // this is undefined; a dict's keys are items, not attributes.
    if (!v.IsJson() && !v.IsDefinedHandle()) return Undef(*e.args[0], v);
    const Value* name = args.Get(0, "name");
    return Value::Undefined(name ? Str(*name) : "");
}

Value Evaluator::FilterStriptags(const Expr& e, const std::string& n, Value v, const Args& args) {
    // markupsafe's Markup(str(value)).striptags(): comments and tags out, whitespace runs to one space, unescaped.
    const std::string s = Str(v);
    std::string text;
    size_t i = 0;
    while (i < s.size()) {
        if (s.compare(i, 4, "<!--") == 0) {
            const size_t end = s.find("-->", i + 4);
            if (end != std::string::npos) {
                i = end + 3;
                continue;
            }
        }
        if (s[i] == '<') {
            const size_t end = s.find('>', i + 1);
            if (end != std::string::npos) {
                i = end + 1;
                continue;
            }
        }
        text += s[i++];
    }
    std::string joined;
    i = 0;
    while (i < text.size()) {
        while (i < text.size() && IsPySpace(text[i])) ++i;
        const size_t start = i;
        while (i < text.size() && !IsPySpace(text[i])) ++i;
        if (i > start) joined += (joined.empty() ? "" : " ") + text.substr(start, i - start);
    }
    return Value::Own(Json(HtmlUnescape(joined)));
}

Value Evaluator::FilterWordwrap(const Expr& e, const std::string& n, Value v, const Args& args) {
    if (!v.IsJson()) return Undef(*e.args[0], v);
    if (!v.J().is_string())
        return Fail(e.pos, std::string("'") + TypeName(v.J()) + "' object has no attribute 'splitlines'");
    const Value* w = args.Get(0, "width");
    if (w && (!w->IsJson() || !PyIsInt(w->J()))) return Fail(e.pos, "wordwrap: width must be an integer");
    const int64_t width = w ? PyAsInt(w->J()) : 79;
    if (width <= 0) return Fail(e.pos, "invalid width " + std::to_string(width) + " (must be > 0)");
    const Value* bl = args.Get(1, "break_long_words");
    const Value* ws = args.Get(2, "wrapstring");
    const Value* bh = args.Get(3, "break_on_hyphens");
    const std::string sep = ws && ws->IsJson() && !ws->J().is_null() ? Str(*ws) : "\n";
    std::string out;
    bool first_line = true;
    for (const std::string& line : PySplitLines(v.J().get_ref<const std::string&>())) {
        if (!first_line) out += sep;
        first_line = false;
        const std::vector<std::string> wrapped =
            Wrap(line, static_cast<size_t>(width), !bl || Truthy(*bl), !bh || Truthy(*bh));
        for (size_t k = 0; k < wrapped.size(); ++k) out += (k ? sep : "") + wrapped[k];
    }
    return Value::Own(Json(std::move(out)));
}

Value Evaluator::FilterPprint(const Expr& e, const std::string& n, Value v, const Args& args) {
    if (!v.IsJson()) return Value::Own(Json("Undefined"));
    std::string out;
    Pformat(out, v.J(), 0, 0);
    return Value::Own(Json(std::move(out)));
}

}  // namespace squall::core::templates
