#include "squall/rules/matcher.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <type_traits>

#include "squall/core/config.hpp"
#include "squall/templates/template.hpp"

namespace squall::rules {
namespace {

std::string Short(const Json& v) {
    std::string s = v.dump();
    if (s.size() > 120) s = s.substr(0, 117) + "...";
    return s;
}

std::string Lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

bool IsTemplate(const Json& pattern) {
    if (!pattern.is_string()) return false;  // StackStorm renders string patterns only
    const auto& s = pattern.get_ref<const std::string&>();
    return s.find("{{") != std::string::npos || s.find("{%") != std::string::npos;
}

/// Python truthiness of a payload: a rule with criteria never matches a falsy one (st2's filter.py).
bool Falsy(const Json& payload) {
    switch (payload.type()) {
        case Json::value_t::null:
            return true;
        case Json::value_t::object:
        case Json::value_t::array:
            return payload.empty();
        case Json::value_t::string:
            return payload.get_ref<const std::string&>().empty();
        case Json::value_t::boolean:
            return !payload.get<bool>();
        default:
            return payload.is_number() && payload.get<double>() == 0;
    }
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

/// Everything a criterion needs while one trigger instance is matched: the root value under its name, and the
/// template context, built the first time a pattern needs rendering. The context holds copies of the keys of
/// `root` the rendered templates read (all of `root` when one of them may read anything).
struct Scope {
    const Json& root;
    const char* root_name;
    std::optional<Json> context;
    bool whole = false;  ///< `context` holds all of `root`
    const Json& Context(const Criterion& c) {
        if (whole) return *context;
        if (c.template_reads_all || !root.is_object()) {
            context = Json{{root_name, root}};
            whole = true;
            return *context;
        }
        if (!context) {
            context.emplace(Json::value_t::object);
            context->get_ptr<Json::object_t*>()->emplace(root_name, Json(Json::value_t::object));
        }
        auto& copy = *context->get_ptr<Json::object_t*>()->begin()->second.get_ptr<Json::object_t*>();
        const auto& object = *root.get_ptr<const Json::object_t*>();
        for (const auto& key : c.template_keys) {
            auto it = object.find(key);
            if (it != object.end()) copy.emplace(it->first, it->second);  // no-op when copied already
        }
        return *context;
    }
};

bool CheckCriterion(const Criterion& c, Scope& scope, CriterionVerdict* out);

bool CheckSearch(const Criterion& c, const Json* value) {
    if (!value) return false;
    Json wrapped;
    const Json* items = value;
    if (value->is_object()) {
        wrapped = Json::array({*value});
        items = &wrapped;
    } else if (!value->is_array()) {
        return false;  // None is a TypeError; strings are not searched item by item
    }
    const bool any_item = c.any_item;
    const bool all_children = c.all_children;
    for (const auto& item : *items) {
        Scope scope{item, "item", std::nullopt};
        bool item_ok = all_children;
        for (const auto& child : c.children) {
            const bool ok = CheckCriterion(child, scope, nullptr);
            if (all_children && !ok) {
                item_ok = false;
                break;
            }
            if (!all_children && ok) {
                item_ok = true;
                break;
            }
        }
        if (any_item && item_ok) return true;
        if (!any_item && !item_ok) return false;
    }
    return !any_item;  // any: nothing matched; all: every item (possibly none) matched
}

bool CheckValue(const Criterion& c, const Json* value, Scope& scope, CriterionVerdict* out);

/// Checks one criterion under `scope`; fills `out` (when given) with the value, rendered pattern and verdict.
bool CheckCriterion(const Criterion& c, Scope& scope, CriterionVerdict* out) {
    return CheckValue(c, ResolvePath(scope.root, c.steps), scope, out);
}

/// Checks one criterion whose key resolved to `value` (nullptr: absent).
bool CheckValue(const Criterion& c, const Json* value, Scope& scope, CriterionVerdict* out) {
    if (out) {
        out->key = c.key;
        out->op = c.op;
        out->present = value != nullptr;
        if (value) out->value = *value;
    }
    bool passed = false;
    if (c.is_search) {
        passed = CheckSearch(c, value);
        if (out) out->pattern = {{"condition", c.condition}, {"pattern", c.pattern}};
    } else if (c.pattern_is_template) {
        // StackStorm renders patterns with StrictUndefined: a pattern naming a missing value fails the criterion.
        static const core::RenderOptions kStrict{
            .kv = nullptr, .strict_undefined = true, .stackstorm_whitespace = true};
        Result<Json> rendered = c.pattern_template ? c.pattern_template->Render(scope.Context(c), kStrict)
                                                   : core::RenderValue(c.pattern, scope.Context(c), kStrict);
        if (!rendered) {
            if (out) out->error = rendered.error().message;
        } else {
            passed = (*c.fn)(value, *rendered);
            if (out) out->pattern = std::move(*rendered);
        }
    } else {
        passed = c.prepared ? c.prepared.Test(value) : (*c.fn)(value, c.pattern);
        if (out) out->pattern = c.pattern;
    }
    if (out) out->passed = passed;
    return passed;
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

namespace {

std::string Folded(std::string_view s) {
    return core::PythonLower(s);
}

/// The keys under which the Matcher indexes a criterion, each {is a string key, key} (string keys are the raw
/// string, others EqualityKey); nullopt when the criterion cannot be indexed. A value can only pass the criterion
/// when it looks up one of these keys: `equals` needs PyEquals with the pattern, `iequals` two strings equal once
/// lower-cased, `inside` (a list of scalars) PyEquals with one element.
std::optional<std::vector<std::pair<bool, std::string>>> IndexKeys(const Criterion& c) {
    if (c.pattern_is_template) return std::nullopt;
    std::vector<std::pair<bool, std::string>> keys;
    auto add = [&](const Json& p) {
        if (p.is_string()) {
            keys.emplace_back(true, p.get<std::string>());
            return true;
        }
        std::string k = EqualityKey(p);
        if (k.empty()) return false;
        keys.emplace_back(false, std::move(k));
        return true;
    };
    if (c.is_equals) {
        if (!add(c.pattern)) return std::nullopt;
    } else if (c.is_iequals) {
        if (!c.pattern.is_string()) return std::nullopt;
        keys.emplace_back(true, Folded(c.pattern.get_ref<const std::string&>()));
    } else if (c.is_inside) {
        if (!c.pattern.is_array() || c.pattern.empty()) return std::nullopt;
        for (const auto& e : c.pattern) {
            if (!add(e)) return std::nullopt;
        }
    } else {
        return std::nullopt;
    }
    return keys;
}

/// A key looked up in a JSON object (a std::map with std::less<>) without a call to memcmp per tree node: keys
/// usually differ in their first bytes. Orders exactly as std::string's compare (unsigned bytes, then length).
struct KeyRef {
    std::string_view s;
};
inline int CompareKeys(std::string_view a, std::string_view b) {
    const size_t n = std::min(a.size(), b.size());
    for (size_t i = 0; i < n; ++i) {
        const auto x = static_cast<unsigned char>(a[i]);
        const auto y = static_cast<unsigned char>(b[i]);
        if (x != y) return x < y ? -1 : 1;
    }
    return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}
[[maybe_unused]] inline bool operator<(const std::string& a, KeyRef b) {
    return CompareKeys(a, b.s) < 0;
}
[[maybe_unused]] inline bool operator<(KeyRef a, const std::string& b) {
    return CompareKeys(a.s, b) < 0;
}

const Json* Walk(const Json& v, const std::vector<PathStep>& steps, size_t at) {
    if (at == steps.size()) return &v;
    const PathStep& s = steps[at];
    switch (s.kind) {
        case PathStep::Kind::kField: {
            if (!v.is_object()) return nullptr;
            const auto& object = *v.get_ptr<const Json::object_t*>();
            auto it = object.find(KeyRef{s.name});
            return it == object.end() ? nullptr : Walk(it->second, steps, at + 1);
        }
        case PathStep::Kind::kIndex: {
            if (!v.is_array()) return nullptr;
            const long n = static_cast<long>(v.size());
            const long idx = s.index < 0 ? n + s.index : s.index;
            return idx < 0 || idx >= n ? nullptr : Walk(v[static_cast<size_t>(idx)], steps, at + 1);
        }
        case PathStep::Kind::kWildcard: {
            if (!v.is_array() && !v.is_object()) return nullptr;
            for (const auto& item : v) {
                if (const Json* r = Walk(item, steps, at + 1)) return r;
            }
            return nullptr;
        }
    }
    return nullptr;
}

}  // namespace

const Json* ResolvePath(const Json& root, const std::vector<PathStep>& steps) {
    return Walk(root, steps, 0);
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
    if (failed) return *failed;
    return CompiledRulePtr(std::move(compiled));
}

namespace {

/// The identity of a criterion among its bucket's: same key path, operator function, condition and pattern give
/// the same verdict on an instance.
std::string CriterionIdentity(const Criterion& c) {
    std::string identity = c.path;
    identity += '\x1f';
    identity += std::to_string(reinterpret_cast<uintptr_t>(c.fn));
    identity += '\x1f';
    identity += c.condition;
    identity += '\x1f';
    identity += c.pattern.dump();
    return identity;
}

/// A bucket's copy of what matching reads of `c` (see Matcher::DistinctCriterion).
template <typename Distinct>
Distinct MakeDistinct(const Criterion& c, uint32_t path_id) {
    using Mode = typename Distinct::Mode;
    Distinct d;
    d.criterion = &c;
    d.path_id = path_id;
    d.any_item = c.any_item;
    d.all_children = c.all_children;
    if (c.is_search) {
        d.mode = Mode::kSearch;
    } else if (c.prepared && !c.pattern_is_template) {
        d.mode = c.prepared.IsCaseInsensitive() ? Mode::kPreparedCi : Mode::kPrepared;
        d.prepared = c.prepared;
    } else {
        d.mode = Mode::kGeneric;
    }
    return d;
}

uint32_t Intern(
    std::unordered_map<std::string, uint32_t>& ids,
    std::vector<std::vector<PathStep>>& paths,
    const std::string& path,
    const std::vector<PathStep>& steps
) {
    auto [it, inserted] = ids.emplace(path, static_cast<uint32_t>(paths.size()));
    if (inserted) paths.push_back(steps);
    return it->second;
}

}  // namespace

Matcher::Matcher(std::vector<CompiledRulePtr> rules) {
    for (auto& r : rules) {
        if (!r->meta.enabled) continue;
        auto& buckets = by_trigger_[r->meta.trigger_type];
        const Json params = r->meta.trigger_parameters.is_object() ? r->meta.trigger_parameters : Json::object();
        auto it = std::find_if(buckets.begin(), buckets.end(), [&](const Bucket& b) {
            return b.trigger_parameters == params;
        });
        if (it == buckets.end()) {
            buckets.emplace_back();
            buckets.back().trigger_parameters = params;
            it = buckets.end() - 1;
        }
        Bucket& b = *it;
        const auto pos = static_cast<uint32_t>(b.rules.size());
        if (b.rule_begin.empty()) b.rule_begin.push_back(0);
        for (const auto& c : r->criteria) {
            const uint32_t path_id = Intern(b.path_ids, b.paths, c.path, c.steps);
            auto [it_c, added] =
                b.criterion_ids.emplace(CriterionIdentity(c), static_cast<uint32_t>(b.criteria.size()));
            if (added) {
                DistinctCriterion d = MakeDistinct<DistinctCriterion>(c, path_id);
                for (const auto& child : c.children) {
                    const uint32_t item_path = Intern(b.item_path_ids, b.item_paths, child.path, child.steps);
                    auto [it_i, added_i] = b.item_criterion_ids.emplace(
                        CriterionIdentity(child), static_cast<uint32_t>(b.item_criteria.size())
                    );
                    if (added_i) b.item_criteria.push_back(MakeDistinct<DistinctCriterion>(child, item_path));
                    d.children.push_back(it_i->second);
                }
                b.criteria.push_back(std::move(d));
            }
            b.rule_criteria.push_back(it_c->second);
        }
        b.rule_begin.push_back(static_cast<uint32_t>(b.rule_criteria.size()));
        // Index by the first equality-like criterion with a constant pattern; the criterion is still evaluated.
        const Criterion* indexed = nullptr;
        for (const auto& c : r->criteria) {
            if (IndexKeys(c).has_value()) {
                indexed = &c;
                break;
            }
        }
        if (indexed) {
            const uint32_t path_id = b.path_ids.at(indexed->path);
            auto ki = std::find_if(b.indexes.begin(), b.indexes.end(), [&](const KeyIndex& k) {
                return k.lowered == indexed->is_iequals && k.path_id == path_id;
            });
            if (ki == b.indexes.end()) {
                b.indexes.push_back(KeyIndex{path_id, indexed->is_iequals, {}, {}});
                ki = b.indexes.end() - 1;
            }
            const auto keys = IndexKeys(*indexed);  // a local: `*IndexKeys(...)` in the for would dangle
            for (const auto& [is_string, key] : *keys) {
                auto& list = is_string ? ki->by_string[key] : ki->by_value[key];
                if (list.empty() || list.back() != pos) list.push_back(pos);  // `inside` [a, a]: once
            }
        } else {
            b.unindexed.push_back(pos);
        }
        b.is_backstop.push_back(r->meta.type == "backstop" ? 1 : 0);
        b.rules.push_back(std::move(r));
        ++count_;
    }
}

namespace {

const Json kUnresolvedMarker;  // immutable; only its address is used

/// Marks a value not looked up yet in the instance cache.
inline const Json* Unresolved() {
    return &kUnresolvedMarker;
}

}  // namespace

/// What one trigger instance has computed so far while it is matched against a bucket: the values at the
/// bucket's criteria keys (each resolved once), their lower-cased strings for the case-insensitive operators, the
/// verdict of each distinct criterion, and for `search` the values and verdicts per item. Reused from instance to
/// instance (thread_local), so that matching allocates nothing once warm.
struct Matcher::InstanceCache {
    const Json* root = nullptr;
    /// Entries are valid for the instance being matched when their stamp equals `epoch`, so that starting an
    /// instance costs nothing per path or criterion (a bucket of 10,000 rules has 10,000 verdicts to forget).
    uint32_t epoch = 0;
    std::vector<uint32_t> path_epoch;  ///< per path: stamp of values/lowered_at/items_at
    std::vector<const Json*> values;   ///< per path: Unresolved(), the value, or nullptr (absent)
    std::vector<int32_t> lowered_at;   ///< per path: index in `lowered`, -1 until needed
    /// Search: per path, the first item slot of the list at that path (-1 until a search looks at it).
    std::vector<int32_t> items_at;
    /// Per distinct criterion: epoch << 2 | verdict (1 passed, 2 failed); another epoch: not checked yet.
    std::vector<uint32_t> verdicts;
    std::vector<std::string> lowered;  ///< buffers reused across instances
    size_t lowered_used = 0;
    /// Per item slot: the values at the bucket's item paths and the verdicts of its item criteria.
    std::vector<const Json*> item_values;
    std::vector<uint8_t> item_verdicts;
    size_t item_slots = 0;

    void Reset(const Bucket& b, const Json& payload) {
        root = &payload;
        if (++epoch == (1u << 30)) {  // wrapped: forget every stamp once
            std::fill(path_epoch.begin(), path_epoch.end(), 0);
            std::fill(verdicts.begin(), verdicts.end(), 0);
            epoch = 1;
        }
        if (path_epoch.size() < b.paths.size()) {
            path_epoch.resize(b.paths.size(), 0);
            values.resize(b.paths.size());
            lowered_at.resize(b.paths.size());
            items_at.resize(b.paths.size());
        }
        if (verdicts.size() < b.criteria.size()) verdicts.resize(b.criteria.size(), 0);
        lowered_used = 0;
        item_values.clear();
        item_verdicts.clear();
        item_slots = 0;
    }
    void Touch(uint32_t path) {
        if (path_epoch[path] == epoch) return;
        path_epoch[path] = epoch;
        values[path] = Unresolved();
        lowered_at[path] = -1;
        items_at[path] = -1;
    }
    const Json* Value(const Bucket& b, uint32_t path) {
        Touch(path);
        const Json*& v = values[path];
        if (v == Unresolved()) v = ResolvePath(*root, b.paths[path]);
        return v;
    }
    /// The string at `path` (`s`), lower-cased (Python's str.lower) once per instance. Valid until the next call.
    const std::string& Lowered(uint32_t path, const std::string& s) {
        Touch(path);
        int32_t& at = lowered_at[path];
        if (at < 0) {
            if (lowered_used == lowered.size()) lowered.emplace_back();
            at = static_cast<int32_t>(lowered_used++);
            std::string& l = lowered[static_cast<size_t>(at)];
            l.assign(s);
            LowerInPlace(l);
        }
        return lowered[static_cast<size_t>(at)];
    }
    int32_t& ItemsAt(uint32_t path) {
        Touch(path);
        return items_at[path];
    }
    /// The verdict of distinct criterion `id` on this instance: 0 not checked yet, 1 passed, 2 failed.
    uint32_t Verdict(uint32_t id) const {
        const uint32_t v = verdicts[id];
        return v >> 2 == epoch ? v & 3 : 0;
    }
    void SetVerdict(uint32_t id, bool passed) { verdicts[id] = epoch << 2 | (passed ? 1 : 2); }
};

const Matcher::Bucket* Matcher::FindBucket(const core::TriggerInstance& ti) const {
    auto it = by_trigger_.find(ti.trigger);
    if (it == by_trigger_.end()) return nullptr;
    static const Json kEmpty = Json::object();  // immutable
    const Json& params = ti.trigger_parameters.is_object() ? ti.trigger_parameters : kEmpty;
    for (const auto& b : it->second) {
        if (b.trigger_parameters == params) return &b;
    }
    return nullptr;
}

void Matcher::CandidatePositions(
    const Bucket& b, const Json& payload, InstanceCache& cache, std::vector<uint32_t>* out
) {
    (void)payload;  // resolved through `cache`, which was reset on it
    std::vector<uint32_t> hits;
    IndexHits(b, cache, &hits);
    out->resize(b.unindexed.size() + hits.size());
    std::merge(b.unindexed.begin(), b.unindexed.end(), hits.begin(), hits.end(), out->begin());
}

void Matcher::IndexHits(const Bucket& b, InstanceCache& cache, std::vector<uint32_t>* out) {
    out->clear();
    size_t lists = 0;
    for (const auto& k : b.indexes) {
        const Json* v = cache.Value(b, k.path_id);
        if (!v) continue;
        const std::vector<uint32_t>* hit = nullptr;
        if (v->is_string()) {
            // A string only equals a string pattern (PyEquals), so only `by_string` can hold its rules.
            const std::string& s = v->get_ref<const std::string&>();
            auto it = k.by_string.find(std::string_view(k.lowered ? cache.Lowered(k.path_id, s) : s));
            if (it != k.by_string.end()) hit = &it->second;
        } else if (k.lowered) {
            continue;  // iequals only ever holds for strings
        } else if (!k.by_value.empty()) {
            const std::string key = EqualityKey(*v);
            if (key.empty()) continue;  // a list, mapping or null never equals a scalar pattern
            auto it = k.by_value.find(key);
            if (it != k.by_value.end()) hit = &it->second;
        }
        if (!hit || hit->empty()) continue;
        out->insert(out->end(), hit->begin(), hit->end());
        ++lists;
    }
    // Every list is ascending and a rule is indexed under one key only: sorting restores load order.
    if (lists > 1) std::sort(out->begin(), out->end());
}

std::vector<CompiledRulePtr> Matcher::Candidates(const core::TriggerInstance& ti) const {
    std::vector<CompiledRulePtr> out;
    const Bucket* b = FindBucket(ti);
    if (!b) return out;
    InstanceCache cache;
    cache.Reset(*b, ti.payload);
    std::vector<uint32_t> positions;
    CandidatePositions(*b, ti.payload, cache, &positions);
    out.reserve(positions.size());
    for (uint32_t p : positions) out.push_back(b->rules[p]);
    return out;
}

RuleVerdict Matcher::Evaluate(const CompiledRule& rule, const core::TriggerInstance& ti) {
    RuleVerdict verdict;
    verdict.matched = true;
    Scope scope{ti.payload, "trigger", std::nullopt};
    for (const auto& c : rule.criteria) {
        CriterionVerdict cv;
        CheckCriterion(c, scope, &cv);
        if (!cv.passed && verdict.matched) {
            verdict.matched = false;
            verdict.reason = cv.error.empty() ? c.key + " " + c.op + " " + Short(cv.pattern) + " failed (value " +
                                                    (cv.present ? Short(cv.value) : std::string("absent")) + ")"
                                              : c.key + ": pattern " + cv.error;
        }
        verdict.criteria.push_back(std::move(cv));
    }
    if (verdict.matched && !rule.criteria.empty() && Falsy(ti.payload)) {
        verdict.matched = false;
        verdict.reason = "the payload is empty and the rule has criteria";
    }
    return verdict;
}

namespace {

/// Matcher::Matches under a scope shared by all the rules one instance is matched against (so that the template
/// context is built at most once per instance).
bool MatchesIn(const CompiledRule& rule, Scope& scope) {
    if (rule.criteria.empty()) return true;
    if (Falsy(scope.root)) return false;
    for (const auto& c : rule.criteria) {
        if (!CheckCriterion(c, scope, nullptr)) return false;
    }
    return true;
}

}  // namespace

bool Matcher::Matches(const CompiledRule& rule, const Json& payload) {
    Scope scope{payload, "trigger", std::nullopt};
    return MatchesIn(rule, scope);
}

namespace {

template <typename Bucket, typename Distinct, typename Cache>
bool CheckSearchCached(const Bucket& b, const Distinct& d, const Json* value, Cache& cache);

/// The verdict of the bucket's distinct criterion `id` on the instance in `cache` (not cached here). Templates
/// only because Matcher's Bucket and InstanceCache are private.
template <typename Bucket, typename Cache>
bool CheckDistinct(const Bucket& b, uint32_t id, Cache& cache, Scope& scope) {
    using Mode = typename std::remove_cvref_t<decltype(b.criteria[id])>::Mode;
    const auto& d = b.criteria[id];
    const Json* v = cache.Value(b, d.path_id);
    switch (d.mode) {
        case Mode::kPrepared:
            return d.prepared.Test(v);
        case Mode::kPreparedCi:
            if (v && v->is_string())
                return d.prepared.Test(v, &cache.Lowered(d.path_id, v->get_ref<const std::string&>()));
            return d.prepared.Test(v);
        case Mode::kSearch:
            return CheckSearchCached(b, d, v, cache);
        case Mode::kGeneric:
            break;
    }
    return CheckValue(*d.criterion, v, scope, nullptr);
}

/// `search` on the value at a trigger path: as CheckSearch, with each item's values and child verdicts computed
/// once per instance, whichever search criteria of the bucket look at that list.
template <typename Bucket, typename Distinct, typename Cache>
bool CheckSearchCached(const Bucket& b, const Distinct& d, const Json* value, Cache& cache) {
    if (!value) return false;
    const Json* items = nullptr;
    size_t n = 0;
    if (value->is_object()) {
        items = value;
        n = 1;
    } else if (value->is_array()) {
        const auto& array = value->get_ref<const Json::array_t&>();
        items = array.data();
        n = array.size();
    } else {
        return false;  // None is a TypeError; strings are not searched item by item
    }
    using Mode = typename Distinct::Mode;
    const size_t np = b.item_paths.size();
    const size_t nc = b.item_criteria.size();
    int32_t& items_at = cache.ItemsAt(d.path_id);
    if (items_at < 0) {
        items_at = static_cast<int32_t>(cache.item_slots);
        cache.item_slots += n;
        cache.item_values.resize(cache.item_slots * np, Unresolved());
        cache.item_verdicts.resize(cache.item_slots * nc, 0);
    }
    const auto base = static_cast<size_t>(items_at);
    const bool any_item = d.any_item;
    const bool all_children = d.all_children;
    for (size_t j = 0; j < n; ++j) {
        const Json& item = items[j];
        const Json** item_values = cache.item_values.data() + (base + j) * np;
        uint8_t* item_verdicts = cache.item_verdicts.data() + (base + j) * nc;
        Scope scope{item, "item", std::nullopt};
        bool item_ok = all_children;
        for (const uint32_t cid : d.children) {
            uint8_t& verdict = item_verdicts[cid];
            if (verdict == 0) {
                const auto& child = b.item_criteria[cid];
                const Json*& v = item_values[child.path_id];
                if (v == Unresolved()) v = ResolvePath(item, b.item_paths[child.path_id]);
                // Item values are not lower-cased ahead: kPreparedCi folds the value itself.
                const bool ok = child.mode == Mode::kPrepared || child.mode == Mode::kPreparedCi
                                    ? child.prepared.Test(v)
                                    : CheckValue(*child.criterion, v, scope, nullptr);
                verdict = ok ? 1 : 2;
            }
            const bool ok = verdict == 1;
            if (all_children && !ok) {
                item_ok = false;
                break;
            }
            if (!all_children && ok) {
                item_ok = true;
                break;
            }
        }
        if (any_item && item_ok) return true;
        if (!any_item && !item_ok) return false;
    }
    return !any_item;  // any: nothing matched; all: every item (possibly none) matched
}

}  // namespace

std::vector<CompiledRulePtr> Matcher::Match(
    const core::TriggerInstance& ti, std::vector<std::pair<CompiledRulePtr, RuleVerdict>>* verdicts
) const {
    std::vector<CompiledRulePtr> standard;
    std::vector<CompiledRulePtr> backstop;
    const Bucket* b = FindBucket(ti);
    if (!b) return standard;
    thread_local std::vector<uint32_t> hits;  // reused: no allocation per instance
    thread_local InstanceCache cache;
    cache.Reset(*b, ti.payload);
    if (!verdicts) IndexHits(*b, cache, &hits);
    if (verdicts) {
        // Every enabled rule, evaluated in full so that each says why it did not match.
        for (uint32_t p = 0; p < b->rules.size(); ++p) {
            const CompiledRulePtr& rule = b->rules[p];
            RuleVerdict v = Evaluate(*rule, ti);
            const bool matched = v.matched;
            verdicts->emplace_back(rule, std::move(v));
            if (matched) (b->is_backstop[p] ? backstop : standard).push_back(rule);
        }
        if (standard.empty()) return backstop;
        return standard;
    }
    Scope scope{ti.payload, "trigger", std::nullopt};
    const bool falsy = Falsy(ti.payload);
    standard.reserve(std::min<size_t>(b->unindexed.size() + hits.size(), 16));
    // Candidates in load order: the unindexed rules merged on the fly with the index hits.
    const uint32_t* u = b->unindexed.data();
    const uint32_t* const u_end = u + b->unindexed.size();
    const uint32_t* h = hits.data();
    const uint32_t* const h_end = h + hits.size();
    const uint32_t* const begins = b->rule_begin.data();
    const uint32_t* const criteria = b->rule_criteria.data();
    while (u != u_end || h != h_end) {
        const uint32_t p = u != u_end && (h == h_end || *u < *h) ? *u++ : *h++;
        const uint32_t* it = criteria + begins[p];
        const uint32_t* const end = criteria + begins[p + 1];
        bool matched = it == end || !falsy;
        for (; matched && it != end; ++it) {
            const uint32_t verdict = cache.Verdict(*it);
            if (verdict == 0) {
                matched = CheckDistinct(*b, *it, cache, scope);
                cache.SetVerdict(*it, matched);
            } else {
                matched = verdict == 1;
            }
        }
        if (matched) (b->is_backstop[p] ? backstop : standard).push_back(b->rules[p]);
    }
    if (standard.empty()) return backstop;  // two returns, not `?:`, so that the vector is moved, not copied
    return standard;
}

}  // namespace squall::rules
