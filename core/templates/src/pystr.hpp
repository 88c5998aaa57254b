// Python string and value helpers of the template engine: str()/repr(), UTF-8 code points, case mapping,
// json.dumps and yaml.safe_dump as StackStorm prints them, %-formatting, path lookup.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "squall/core/error.hpp"
#include "squall/core/model/model.hpp"
#include "squall/core/regex.hpp"

namespace squall::core::templates {

struct JsonDumpOptions {
    int indent = -1;  ///< -1: none
    std::string item_sep = ", ";
    std::string key_sep = ": ";
    bool sort_keys = false;  ///< json.dumps(sort_keys=True); otherwise the object's own (insertion) order
};

/// An object's (key, value) pairs in its insertion order, or sorted by key as Python sorts str.
std::vector<std::pair<const std::string*, const Json*>> ObjectItems(const Json& obj, bool sorted);

/// Parses one path into steps; returns false on a syntax error.
bool ParsePath(std::string_view path, std::vector<std::string>* steps, std::vector<bool>* is_index);
const Json* Walk(
    const Json& root, const std::vector<std::string>& steps, const std::vector<bool>& is_index, size_t* failed_at
);
std::string PyFloatRepr(double d);
/// Decodes one UTF-8 code point at s[i]; advances i. Invalid bytes decode as themselves.
uint32_t DecodeUtf8(std::string_view s, size_t& i);
void AppendUtf8(std::string& out, uint32_t cp);
/// Splits a UTF-8 string into code points (each as its own string), as Python iterates a str.
std::vector<std::string> CodePoints(std::string_view s);
size_t CodePointCount(std::string_view s);
std::string PyQuote(const std::string& s);
std::string PyRepr(const Json& v);
/// Python's repr() of a tuple of `items`: `(1, 2)`, `(1,)`, `()`.
std::string TupleRepr(const Json& items);
/// Python's json.dumps with ensure_ascii=True.
void PyJsonString(std::string& out, std::string_view s);
void PyJsonDump(std::string& out, const Json& v, const JsonDumpOptions& o, int depth);
/// yaml.safe_dump(value, default_flow_style=False, allow_unicode=True) for the common shapes.
bool YamlPlainOk(const std::string& s);
std::string YamlScalar(const Json& v);
void YamlDump(std::string& out, const Json& v, int indent, bool in_seq);
std::string ToYaml(const Json& v);
/// Case mapping for ASCII, Latin-1, Greek and basic Cyrillic (other scripts are left as they are).
uint32_t UpperCp(uint32_t c);
uint32_t LowerCp(uint32_t c);
std::string MapCase(const std::string& s, bool upper);
std::string PyUpper(const std::string& s);
std::string PyLower(const std::string& s);
std::string PyCapitalize(const std::string& s);
std::string PyStrip(const std::string& s, const std::string* chars, bool left, bool right);
std::string PyReplace(const std::string& s, const std::string& old, const std::string& rep, int64_t count);
std::vector<std::string> PySplit(const std::string& s, const std::string* sep, int64_t maxsplit);
std::string PyTitle(const std::string& s);
bool ParsePyInt(std::string s, int base, int64_t* out);
bool ParsePyFloat(std::string s, double* out);
std::string Basename(const std::string& p);
std::string Dirname(const std::string& p);
/// Python's printf-style `format % values` (str.__mod__). `args` are the values taken in turn (a tuple's items, or
/// the one value; null = an undefined value, which prints as ""); `mapping` is set when the right side is a mapping
/// for `%(name)s` (a dict, or a list: CPython's PyMapping_Check), and then unused values are not an error.
bool PyPercentFormat(
    std::string_view fmt, const std::vector<const Json*>& args, const Json* mapping, std::string* out, std::string* err
);
/// Python's `fmt.format(*pos, **kw)` (str.format): fields by position, name, index and key, !r/!s/!a, and the
/// format-spec mini-language of str, int and float. False with `err` set where Python raises.
bool PyStrFormat(
    const std::string& fmt, const std::vector<Json>& pos, const Json& kw, std::string* out, std::string* err
);
/// Python str.splitlines() (keepends=False).
std::vector<std::string> PySplitLines(const std::string& s);
/// urllib.parse.quote_from_bytes with `safe` ("/" for strings, "" in query strings, where spaces become "+").
std::string UrlQuote(const std::string& s, bool for_qs);
/// markupsafe.escape of the text (what Jinja's `escape`/`e` print).
std::string HtmlEscape(const std::string& s);
/// A bounded cache of compiled regexes is provided by Regex::Cached.
RegexPtr GetRegex(const std::string& pattern, bool ignore_case, std::string* err);

}  // namespace squall::core::templates
