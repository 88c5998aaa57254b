// Compiling a rule: criteria keys into paths, operators looked up (with did-you-mean errors), constant patterns
// bound to their operator, template patterns compiled once. See matcher_index.cpp for the rule index and
// matcher_evaluate.cpp for the search loop.
#include <algorithm>
#include <cctype>
#include <optional>

#include "squall/core/config.hpp"
#include "squall/rules/matcher.hpp"
#include "squall/templates/template.hpp"

namespace squall::rules {
namespace {

std::string Lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

bool IsTemplate(const Json& pattern) {
    if (!pattern.is_string()) return false;  // StackStorm renders string patterns only
    const auto& s = pattern.get_ref<const std::string&>();
    return s.find("{{") != std::string::npos || s.find("{%") != std::string::npos;
}

/// Strips the criteria tag: the first `#` outside quotes.
std::string StripTag(const std::string& key) {
    char quote = 0;
    for (size_t i = 0; i < key.size(); ++i) {
        const char c = key[i];
        if (quote) {
            if (c == quote) quote = 0;
        } else if (c == '\'' || c == '"') {
            quote = c;
        } else if (c == '#') {
            return key.substr(0, i);
        }
    }
    return key;
}

const std::vector<std::string>& Conditions() {
    static const std::vector<std::string> kConditions = {"any", "all", "any2any", "all2any"};
    return kConditions;
}

/// The keys of `root` that the template `text` reads, when every use of the variable `root` in it is
/// `root.name` or `root['name']` (not followed by a call); nullopt when unsure (`root` alone, `root[expr]`, a
/// method name such as `root.items`, ...).
std::optional<std::vector<std::string>> TemplateKeys(std::string_view text, std::string_view root) {
    auto ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
    static const std::vector<std::string_view> kMethods = {
        "items", "keys", "values", "get", "copy", "update", "pop", "popitem", "setdefault", "clear", "fromkeys"};
    std::vector<std::string> keys;
    size_t i = 0;
    while ((i = text.find(root, i)) != std::string_view::npos) {
        const size_t start = i;
        size_t j = i + root.size();
        i = j;
        if ((start > 0 && (ident(text[start - 1]) || text[start - 1] == '.')) || (j < text.size() && ident(text[j])))
            continue;  // part of another name, or an attribute of something else
        if (j >= text.size()) return std::nullopt;
        std::string key;
        if (text[j] == '.') {
            size_t k = j + 1;
            if (k >= text.size() || !(std::isalpha(static_cast<unsigned char>(text[k])) || text[k] == '_'))
                return std::nullopt;
            while (k < text.size() && ident(text[k])) ++k;
            key = std::string(text.substr(j + 1, k - j - 1));
            if (std::find(kMethods.begin(), kMethods.end(), key) != kMethods.end()) return std::nullopt;
            size_t after = k;
            while (after < text.size() && text[after] == ' ') ++after;
            if (after < text.size() && text[after] == '(') return std::nullopt;
        } else if (text[j] == '[' && j + 1 < text.size() && (text[j + 1] == '\'' || text[j + 1] == '"')) {
            const char q = text[j + 1];
            const size_t close = text.find(q, j + 2);
            if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ']')
                return std::nullopt;
            key = std::string(text.substr(j + 2, close - j - 2));
            if (key.find('\\') != std::string::npos) return std::nullopt;
        } else {
            return std::nullopt;
        }
        if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(std::move(key));
    }
    return keys;
}

struct CompileContext {
    const OperatorRegistry& registry;
    const core::YamlDocument* doc;
    std::vector<Error>* all = nullptr;  ///< when set, every error is recorded here (and compiling goes on)
    Error Fail(const std::string& field, const std::string& msg) const {
        Error e = doc ? doc->ErrorAt(field, msg) : InvalidArgument(field + ": " + msg);
        if (all) all->push_back(e);
        return e;
    }
};

Result<Criterion> CompileCriterion(
    const CompileContext& cc, const std::string& key, const Json& c, const std::string& field, const char* root
) {
    Criterion crit;
    crit.key = key;
    crit.path = StripTag(key);
    if (!c.is_object()) return cc.Fail(field, "must be a mapping with type and pattern");
    crit.op = c.contains("type") && c["type"].is_string() ? c["type"].get<std::string>() : "";
    const Operator* op = cc.registry.FindOperator(crit.op);
    if (!op) {
        const std::string hint = core::ClosestMatch(Lower(crit.op), cc.registry.Names());
        return cc.Fail(
            field + ".type",
            "unknown operator \"" + crit.op + "\"" +
                (hint.empty() ? std::string() : " (did you mean \"" + hint + "\"?)")
        );
    }
    crit.fn = &op->fn;
    Result<std::vector<PathStep>> steps = ParseCriteriaPath(crit.path, root);
    if (!steps) {
        const std::string prefix(root);
        if (crit.path != prefix && crit.path.rfind(prefix + ".", 0) != 0 && crit.path.rfind(prefix + "[", 0) != 0)
            return cc.Fail(field, "criteria keys start with \"" + prefix + ".\" (got \"" + key + "\")");
        return cc.Fail(field, "bad criteria key \"" + key + "\": " + steps.error().message);
    }
    crit.steps = std::move(*steps);
    crit.pattern = c.contains("pattern") ? c["pattern"] : Json(nullptr);
    crit.is_equals = op->name == "equals";
    crit.is_iequals = op->name == "iequals";
    crit.is_inside = op->name == "inside";
    if (op->name == kSearchOperator) {
        crit.is_search = true;
        crit.condition = c.contains("condition") && c["condition"].is_string() ? c["condition"].get<std::string>() : "";
        const auto& conds = Conditions();
        std::optional<Error> failed;
        if (std::find(conds.begin(), conds.end(), crit.condition) == conds.end()) {
            const std::string hint = core::ClosestMatch(crit.condition, conds);
            failed = cc.Fail(
                field + ".condition",
                "search needs condition any, all, any2any or all2any (got \"" + crit.condition + "\")" +
                    (hint.empty() || crit.condition.empty() ? std::string() : " (did you mean \"" + hint + "\"?)")
            );
            if (!cc.all) return *failed;  // else its children are checked too
        }
        crit.any_item = crit.condition == "any" || crit.condition == "any2any";
        crit.all_children = crit.condition == "any" || crit.condition == "all";
        if (!crit.pattern.is_object() || crit.pattern.empty())
            return cc.Fail(field + ".pattern", "search needs a mapping of item.<key>: {type, pattern} criteria");
        for (const auto& [child_key, child] : crit.pattern.items()) {
            Result<Criterion> cc_child =
                CompileCriterion(cc, child_key, child, field + ".pattern." + child_key, "item");
            if (!cc_child) {
                if (!cc.all) return cc_child.error();
                if (!failed) failed = cc_child.error();
                continue;
            }
            crit.children.push_back(std::move(*cc_child));
        }
        if (failed) return *failed;
        return crit;
    }
    crit.pattern_is_template = IsTemplate(crit.pattern);
    if (crit.pattern_is_template) {
        auto keys = TemplateKeys(crit.pattern.get_ref<const std::string&>(), root);
        crit.template_reads_all = !keys.has_value();
        if (keys) crit.template_keys = std::move(*keys);
        // What RenderValue would compile on every render; an invalid template keeps failing through RenderValue.
        Result<core::TemplatePtr> compiled = core::Template::Compile(crit.pattern.get_ref<const std::string&>(), true);
        if (!compiled) return cc.Fail(field + ".pattern", compiled.error().message);
        crit.pattern_template = std::move(*compiled);
    }
    if (!crit.pattern_is_template && op->prepare) crit.prepared = op->prepare(crit.pattern);
    return crit;
}

}  // namespace

Result<std::vector<PathStep>> ParseCriteriaPath(std::string_view path, std::string_view root) {
    if (path.substr(0, root.size()) != root) return InvalidArgument("does not start with " + std::string(root));
    std::vector<PathStep> steps;
    size_t i = root.size();
    auto bad = [&](const std::string& why) { return InvalidArgument("column " + std::to_string(i + 1) + ": " + why); };
    while (i < path.size()) {
        const char c = path[i];
        if (c == '.') {
            ++i;
            if (i < path.size() && path[i] == '*') {
                steps.push_back({PathStep::Kind::kWildcard, "", 0});
                ++i;
            } else if (i < path.size() && (path[i] == '"' || path[i] == '\'')) {
                const char q = path[i];
                const size_t end = path.find(q, i + 1);
                if (end == std::string_view::npos) return bad("unclosed quote");
                steps.push_back({PathStep::Kind::kField, std::string(path.substr(i + 1, end - i - 1)), 0});
                i = end + 1;
            } else {
                const size_t start = i;
                while (i < path.size() && path[i] != '.' && path[i] != '[') ++i;
                if (i == start) return bad("empty name");
                steps.push_back({PathStep::Kind::kField, std::string(path.substr(start, i - start)), 0});
            }
        } else if (c == '[') {
            ++i;
            if (i < path.size() && (path[i] == '"' || path[i] == '\'')) {
                const char q = path[i];
                const size_t end = path.find(q, i + 1);
                if (end == std::string_view::npos || end + 1 >= path.size() || path[end + 1] != ']')
                    return bad("expected a quoted name and ]");
                steps.push_back({PathStep::Kind::kField, std::string(path.substr(i + 1, end - i - 1)), 0});
                i = end + 2;
            } else if (i + 1 < path.size() && path[i] == '*' && path[i + 1] == ']') {
                steps.push_back({PathStep::Kind::kWildcard, "", 0});
                i += 2;
            } else {
                const size_t end = path.find(']', i);
                if (end == std::string_view::npos) return bad("unclosed [");
                const std::string num(path.substr(i, end - i));
                size_t used = 0;
                long n = 0;
                try {
                    n = std::stol(num, &used);
                } catch (const std::exception&) {
                    used = 0;
                }
                if (num.empty() || used != num.size()) return bad("expected an index, * or a quoted name in []");
                steps.push_back({PathStep::Kind::kIndex, "", n});
                i = end + 1;
            }
        } else {
            return bad(std::string("unexpected '") + c + "'");
        }
    }
    return steps;
}

Result<CompiledRulePtr> CompileRule(
    const packs::RuleMeta& rule,
    const OperatorRegistry& registry,
    const core::YamlDocument* doc,
    std::vector<Error>* all
) {
    auto compiled = std::make_shared<CompiledRule>();
    compiled->meta = rule;
    const CompileContext cc{registry, doc, all};
    std::optional<Error> failed;
    for (const auto& [key, c] : rule.criteria.items()) {
        Result<Criterion> crit = CompileCriterion(cc, key, c, "criteria." + key, "trigger");
        if (!crit) {
            if (!all) return crit.error();
            if (!failed) failed = crit.error();
            continue;
        }
        compiled->criteria.push_back(std::move(*crit));
    }
    // The action's parameters are rendered at every enforcement: a template that does not parse is an error at
    // its field when the rule loads (the column is in the message), not a failed enforcement per event.
    for (auto& [field, error] : core::TemplateSyntaxErrors(rule.action_parameters, "action.parameters")) {
        Error e = cc.Fail(field, error.message);
        if (!all) return e;
        if (!failed) failed = std::move(e);
    }
    if (failed) return *failed;
    return CompiledRulePtr(std::move(compiled));
}

}  // namespace squall::rules
