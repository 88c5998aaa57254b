#include "squall/aliases/match.hpp"

#include <algorithm>

namespace squall::aliases {

namespace {

using core::Regex;
using core::RegexPtr;

// The pieces of StackStorm's alias grammar. A key is a word without spaces; a value is "", '', "text", 'text',
// {text} or a word. A default value may also be bare text up to the closing braces.
constexpr const char* kPair = R"re((?:^|\s+)\s*(\S+?)\s*=(""|''|"(.+?)"|'(.+?)'|(\{.+?\})|(\S+)))re";
constexpr const char* kOptional = R"re((\s*)\{\{\s*(\S+?)\s*\s*=\s*(?:""|''|"(.+?)"|'(.+?)'|(\{.+?\})|(.+?))\s*\}\})re";
constexpr const char* kRequired = R"re((\s*)\{\{\s*(\S+?)\s*\}\})re";
// What a placeholder becomes: the shortest text, inside quotes when quoted, or a {...} object.
constexpr const char* kParamGroup = R"re(\g<1>["']?(?P<\g<2>>(?:(?<=').+?(?=')|(?<=").+?(?=")|\{.+?\}|.+?))["']?)re";

const RegexPtr& Compiled(const char* pattern) {
    // Each of these patterns is a constant known to compile.
    static std::map<const char*, RegexPtr> cache = [] {
        std::map<const char*, RegexPtr> m;
        const Regex::Options dot_all{.dot_all = true};
        m[kPair] = Regex::Compile(kPair, dot_all).value();
        m[kOptional] = Regex::Compile(kOptional, dot_all).value();
        m[kRequired] = Regex::Compile(kRequired, dot_all).value();
        return m;
    }();
    return cache.at(pattern);
}

const RegexPtr& Ending() {
    static const RegexPtr r =
        Regex::Compile(std::string(R"re(.*?((?:)re") + kPair + R"re(\s*)*)$)re", Regex::Options{.dot_all = true})
            .value();
    return r;
}

std::string Joined(const std::vector<std::string>& groups, size_t from) {
    std::string out;
    for (size_t i = from; i < groups.size(); ++i) out += groups[i];
    return out;
}

void ReplaceAll(std::string& s, const std::string& what, const std::string& with) {
    if (what.empty()) return;
    for (size_t pos = 0; (pos = s.find(what, pos)) != std::string::npos; pos += with.size())
        s.replace(pos, what.size(), with);
}

bool IsBlank(const std::string& s) {
    return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c) != 0; });
}

bool Truthy(const Json& v) {
    return v.is_string() ? !v.get<std::string>().empty() : !v.is_null();
}

/// Whether the format anchors itself at the start (`^`, `\A`) or the end (`$`, `\Z`, `\z`), as StackStorm looks for
/// anchors before adding its own.
bool AnchoredStart(const std::string& f) {
    return (!f.empty() && f[0] == '^') || f.rfind("\\A", 0) == 0;
}
bool AnchoredEnd(const std::string& f) {
    if (f.empty()) return false;
    size_t backslashes = 0;
    const bool dollar = f.back() == '$';
    const bool z = f.size() >= 2 && (f.back() == 'Z' || f.back() == 'z') && f[f.size() - 2] == '\\';
    if (!dollar && !z) return false;
    if (z) return true;
    for (size_t i = f.size() - 1; i-- > 0 && f[i] == '\\';) ++backslashes;
    return backslashes % 2 == 0;  // an escaped \$ is a literal dollar sign
}

}  // namespace

std::vector<FormatEntry> NormaliseFormats(const Json& formats) {
    std::vector<FormatEntry> out;
    if (!formats.is_array()) return out;
    for (const Json& f : formats) {
        if (f.is_string()) {
            out.push_back({f.get<std::string>(), f.get<std::string>()});
            continue;
        }
        if (!f.is_object()) continue;
        const std::string display = f.value("display", Json()).is_string() ? f["display"].get<std::string>() : "";
        Json reps = f.contains("representation") ? f["representation"] : Json();
        if (reps.is_string()) reps = Json::array({reps});
        if (!reps.is_array() || reps.empty()) {
            // A display-only format is listed by help and matched as an empty representation.
            if (!display.empty()) out.push_back({display, ""});
            continue;
        }
        for (const Json& r : reps) {
            if (r.is_string()) out.push_back({display, r.get<std::string>()});
        }
    }
    return out;
}

ParsedCommand ParseCommand(const std::string& command) {
    ParsedCommand p;
    p.original = command;
    std::string stream = command;
    std::vector<std::string> ending;
    if (Ending()->MatchStart(command, &ending) && ending.size() > 1 && !ending[1].empty()) {
        for (const auto& g : Compiled(kPair)->FindAllGroups(ending[1])) {
            // groups: key, whole value, "x", 'x', {x}, word; the value is whichever alternative matched.
            if (g.size() >= 6) p.pairs[g[0]] = Joined(g, 2);
        }
        // StackStorm removes every occurrence of the trailing text, not only the last one.
        ReplaceAll(stream, ending[1], "");
    }
    p.stream = " " + stream + " ";
    return p;
}

Result<CompiledFormat> CompiledFormat::Compile(const std::string& format) {
    CompiledFormat c;
    c.format_ = format;
    for (const auto& g : Compiled(kOptional)->FindAllGroups(format)) {
        if (g.size() >= 6) c.defaults_.emplace_back(g[1], Joined(g, 2));
    }
    std::string reg = Compiled(kOptional)->Replace(format, std::string("(?:") + kParamGroup + ")?");
    reg = Compiled(kRequired)->Replace(reg, kParamGroup);
    if (!AnchoredStart(reg)) reg = R"(^\s*)" + reg;
    if (!AnchoredEnd(reg)) reg += R"(\s*$)";
    auto compiled = Regex::Compile(reg, Regex::Options{.dot_all = true});
    if (!compiled) {
        return InvalidArgument(
            "format \"" + format +
            "\" is not a valid pattern (placeholder names are words: letters, digits, _): " + compiled.error().message
        );
    }
    c.regex_ = std::move(*compiled);
    c.group_names_ = c.regex_->GroupNames();
    return c;
}

Result<Json> CompiledFormat::Extract(const ParsedCommand& command) const {
    std::vector<std::string> groups;
    if (!regex_->MatchStart(command.stream, &groups)) {
        return InvalidArgument("Command \"" + command.original + "\" doesn't match format string \"" + format_ + "\"");
    }
    Json result = Json::object();
    for (size_t i = 1; i < group_names_.size() && i < groups.size(); ++i) {
        if (group_names_[i].empty()) continue;
        // An unmatched group and an empty one look alike here; a placeholder never matches empty text.
        result[group_names_[i]] = groups[i].empty() ? Json() : Json(groups[i]);
    }
    for (const auto& [name, def] : defaults_) {
        if (!Truthy(result.value(name, Json()))) result[name] = def;
    }
    for (const auto& [key, value] : command.pairs.items()) result[key] = value;
    if (!format_.empty() && IsBlank(command.original)) {
        bool any = false;
        for (const auto& [k, v] : result.items()) any = any || Truthy(v);
        if (!any) return InvalidArgument("No value supplied and no default value found.");
    }
    return result;
}

Result<Json> ExtractParameters(const std::string& format, const std::string& command) {
    auto compiled = CompiledFormat::Compile(format);
    if (!compiled) return compiled.error();
    return compiled->Extract(ParseCommand(command));
}

AliasIndex::AliasIndex(const std::map<std::string, Json>& aliases) {
    for (const auto& [ref, alias] : aliases) {
        Entry e{ref, alias, {}};
        for (auto& f : NormaliseFormats(alias.value("formats", Json::array()))) {
            auto compiled = CompiledFormat::Compile(f.representation);
            if (!compiled) {
                errors_.push_back("alias " + ref + ": " + compiled.error().message);
                continue;
            }
            e.formats.emplace_back(std::move(f), std::make_shared<const CompiledFormat>(std::move(*compiled)));
        }
        entries_.push_back(std::move(e));
    }
}

std::vector<AliasMatch> AliasIndex::MatchAll(const std::string& command) const {
    std::vector<AliasMatch> out;
    const ParsedCommand parsed = ParseCommand(command);
    for (const Entry& e : entries_) {
        if (!core::BoolOr(e.alias, "enabled", true)) continue;
        for (const auto& [entry, compiled] : e.formats) {
            Result<Json> params = compiled->Extract(parsed);
            if (!params) continue;
            out.push_back({e.ref, e.alias, entry.display, entry.representation, std::move(*params)});
            break;  // the first format of an alias that matches wins
        }
    }
    return out;
}

Result<AliasMatch> AliasIndex::Match(const std::string& command) const {
    std::vector<AliasMatch> all = MatchAll(command);
    if (all.empty()) return NotFound("Command \"" + command + "\" matched no patterns");
    if (all.size() > 1) {
        std::string msg = "Command \"" + command + "\" matched more than 1 pattern:";
        for (size_t i = 0; i < all.size(); ++i)
            msg += std::string(i ? "," : "") + " " + all[i].ref + " (\"" + all[i].representation + "\")";
        return InvalidArgument(msg);
    }
    return std::move(all.front());
}

Result<Json> AliasIndex::ExtractFor(const std::string& ref, const std::string& format, const std::string& command)
    const {
    for (const Entry& e : entries_) {
        if (e.ref != ref) continue;
        for (const auto& [entry, compiled] : e.formats) {
            if (entry.representation == format) return compiled->Extract(ParseCommand(command));
        }
        return InvalidArgument(
            "Format string \"" + format + "\" is not available on the alias \"" + e.alias.value("name", ref) + "\""
        );
    }
    return NotFound("action alias \"" + ref + "\" not found");
}

Result<Json> HelpStrings(
    const std::map<std::string, Json>& aliases,
    const std::string& filter,
    const std::string& pack,
    size_t limit,
    size_t offset
) {
    auto search = Regex::Compile(filter, Regex::Options{.ignore_case = true});
    if (!search) return InvalidArgument("filter: " + search.error().message);
    Json helpstrings = Json::array();
    size_t count = 0;
    for (const auto& [ref, alias] : aliases) {
        if (!core::BoolOr(alias, "enabled", true)) continue;
        if (!pack.empty() && alias.value("pack", "") != pack) continue;
        // One help string per format (its display), not per representation.
        const Json formats = alias.value("formats", Json::array());
        for (const Json& f : formats) {
            std::vector<FormatEntry> entries = NormaliseFormats(Json::array({f}));
            if (entries.empty() || entries.front().display.empty()) continue;
            const std::string& display = entries.front().display;
            if (!(*search)->Search(display)) continue;
            // StackStorm's paging: count every string that passes, return those in [offset, offset + limit).
            const bool before = count < offset;
            const bool after = limit > 0 && count >= offset + limit;
            ++count;
            if (before || after) continue;
            helpstrings.push_back(
                {{"pack", alias.value("pack", "")},
                 {"display", display},
                 {"description", alias.value("description", "")}}
            );
        }
    }
    return Json{{"available", count}, {"helpstrings", helpstrings}};
}

}  // namespace squall::aliases
