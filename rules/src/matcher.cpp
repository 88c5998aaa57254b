#include "squall/rules/matcher.hpp"

#include <algorithm>
#include <optional>

#include "squall/core/config.hpp"
#include "squall/core/template.hpp"

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

/// Everything a criterion needs while one trigger instance is matched: the root value under its name, and the
/// template context, built the first time a pattern needs rendering.
struct Scope {
    const Json& root;
    const char* root_name;
    std::optional<Json> context;
    const Json& Context() {
        if (!context) context = Json{{root_name, root}};
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
        Result<Json> rendered = core::RenderValue(c.pattern, scope.Context());
        if (!rendered) {
            if (out) out->error = rendered.error().message;
        } else {
            passed = (*c.fn)(value, *rendered);
            if (out) out->pattern = std::move(*rendered);
        }
    } else {
        passed = c.prepared ? c.prepared(value) : (*c.fn)(value, c.pattern);
        if (out) out->pattern = c.pattern;
    }
    if (out) out->passed = passed;
    return passed;
}

struct CompileContext {
    const OperatorRegistry& registry;
    const core::YamlDocument* doc;
    Error Fail(const std::string& field, const std::string& msg) const {
        if (doc) return doc->ErrorAt(field, msg);
        return InvalidArgument(field + ": " + msg);
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
        if (std::find(conds.begin(), conds.end(), crit.condition) == conds.end()) {
            const std::string hint = core::ClosestMatch(crit.condition, conds);
            return cc.Fail(
                field + ".condition",
                "search needs condition any, all, any2any or all2any (got \"" + crit.condition + "\")" +
                    (hint.empty() || crit.condition.empty() ? std::string() : " (did you mean \"" + hint + "\"?)")
            );
        }
        crit.any_item = crit.condition == "any" || crit.condition == "any2any";
        crit.all_children = crit.condition == "any" || crit.condition == "all";
        if (!crit.pattern.is_object() || crit.pattern.empty())
            return cc.Fail(field + ".pattern", "search needs a mapping of item.<key>: {type, pattern} criteria");
        for (const auto& [child_key, child] : crit.pattern.items()) {
            Result<Criterion> cc_child =
                CompileCriterion(cc, child_key, child, field + ".pattern." + child_key, "item");
            if (!cc_child) return cc_child.error();
            crit.children.push_back(std::move(*cc_child));
        }
        return crit;
    }
    crit.pattern_is_template = IsTemplate(crit.pattern);
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

std::string AsciiLower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
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
        keys.emplace_back(true, AsciiLower(c.pattern.get_ref<const std::string&>()));
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

const Json* Walk(const Json& v, const std::vector<PathStep>& steps, size_t at) {
    if (at == steps.size()) return &v;
    const PathStep& s = steps[at];
    switch (s.kind) {
        case PathStep::Kind::kField: {
            if (!v.is_object()) return nullptr;
            auto it = v.find(s.name);
            return it == v.end() ? nullptr : Walk(*it, steps, at + 1);
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
    const packs::RuleMeta& rule, const OperatorRegistry& registry, const core::YamlDocument* doc
) {
    auto compiled = std::make_shared<CompiledRule>();
    compiled->meta = rule;
    const CompileContext cc{registry, doc};
    for (const auto& [key, c] : rule.criteria.items()) {
        Result<Criterion> crit = CompileCriterion(cc, key, c, "criteria." + key, "trigger");
        if (!crit) return crit.error();
        compiled->criteria.push_back(std::move(*crit));
    }
    return CompiledRulePtr(std::move(compiled));
}

Matcher::Matcher(std::vector<CompiledRulePtr> rules) {
    for (auto& r : rules) {
        if (!r->meta.enabled) continue;
        auto& buckets = by_trigger_[r->meta.trigger_type];
        const Json params = r->meta.trigger_parameters.is_object() ? r->meta.trigger_parameters : Json::object();
        auto it = std::find_if(buckets.begin(), buckets.end(), [&](const Bucket& b) {
            return b.trigger_parameters == params;
        });
        if (it == buckets.end()) {
            buckets.push_back(Bucket{params, {}, {}, {}, {}, {}, {}, {}, {}, {}});
            it = buckets.end() - 1;
        }
        Bucket& b = *it;
        const auto pos = static_cast<uint32_t>(b.rules.size());
        // Index by the first equality-like criterion with a constant pattern; the criterion is still evaluated.
        const Criterion* indexed = nullptr;
        for (const auto& c : r->criteria) {
            if (IndexKeys(c).has_value()) {
                indexed = &c;
                break;
            }
        }
        if (indexed) {
            auto ki = std::find_if(b.indexes.begin(), b.indexes.end(), [&](const KeyIndex& k) {
                return k.lowered == indexed->is_iequals && k.steps.size() == indexed->steps.size() &&
                       std::equal(
                           k.steps.begin(),
                           k.steps.end(),
                           indexed->steps.begin(),
                           [](const PathStep& x, const PathStep& y) {
                               return x.kind == y.kind && x.name == y.name && x.index == y.index;
                           }
                       );
            });
            if (ki == b.indexes.end()) {
                b.indexes.push_back(KeyIndex{indexed->steps, indexed->is_iequals, {}, {}});
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
        std::vector<uint32_t> ids;
        std::vector<uint32_t> criterion_ids;
        for (const auto& c : r->criteria) {
            auto [it_id, inserted] = b.path_ids.emplace(c.path, static_cast<uint32_t>(b.paths.size()));
            if (inserted) b.paths.push_back(c.steps);
            ids.push_back(it_id->second);
            // Same key path, same operator function, same condition and pattern: same verdict on an instance.
            std::string identity = c.path;
            identity += '\x1f';
            identity += std::to_string(reinterpret_cast<uintptr_t>(c.fn));
            identity += '\x1f';
            identity += c.condition;
            identity += '\x1f';
            identity += c.pattern.dump();
            auto [it_c, added] = b.criterion_ids.emplace(identity, static_cast<uint32_t>(b.criterion_ids.size()));
            criterion_ids.push_back(it_c->second);
        }
        b.rule_paths.push_back(std::move(ids));
        b.rule_criteria.push_back(std::move(criterion_ids));
        b.is_backstop.push_back(r->meta.type == "backstop" ? 1 : 0);
        b.rules.push_back(std::move(r));
        ++count_;
    }
}

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

void Matcher::CandidatePositions(const Bucket& b, const Json& payload, std::vector<uint32_t>* out) {
    out->assign(b.unindexed.begin(), b.unindexed.end());
    if (b.indexes.empty()) return;
    thread_local std::vector<uint32_t> merged;
    for (const auto& k : b.indexes) {
        const Json* v = ResolvePath(payload, k.steps);
        if (!v) continue;
        const std::vector<uint32_t>* hit = nullptr;
        if (v->is_string()) {
            // A string only equals a string pattern (PyEquals), so only `by_string` can hold its rules.
            const std::string& s = v->get_ref<const std::string&>();
            auto it = k.lowered ? k.by_string.find(AsciiLower(s)) : k.by_string.find(std::string_view(s));
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
        // Every list is ascending and a rule is indexed under one key only: merging keeps load order.
        if (out->empty()) {
            out->assign(hit->begin(), hit->end());
        } else {
            merged.resize(out->size() + hit->size());
            std::merge(out->begin(), out->end(), hit->begin(), hit->end(), merged.begin());
            out->swap(merged);
        }
    }
}

std::vector<CompiledRulePtr> Matcher::Candidates(const core::TriggerInstance& ti) const {
    std::vector<CompiledRulePtr> out;
    const Bucket* b = FindBucket(ti);
    if (!b) return out;
    std::vector<uint32_t> positions;
    CandidatePositions(*b, ti.payload, &positions);
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

/// Per-instance cache of the values at a bucket's distinct criteria keys: many rules look at the same few keys,
/// so each is resolved once per instance.
struct ValueCache {
    std::vector<const Json*> values;
    std::vector<uint8_t> resolved;
    std::vector<uint8_t> verdicts;  ///< per distinct criterion: 0 not yet checked, 1 passed, 2 failed
    void Reset(size_t paths, size_t criteria) {
        values.assign(paths, nullptr);
        resolved.assign(paths, 0);
        verdicts.assign(criteria, 0);
    }
};

bool MatchesCached(
    const CompiledRule& rule,
    const std::vector<uint32_t>& path_ids,
    const std::vector<uint32_t>& criterion_ids,
    const std::vector<std::vector<PathStep>>& paths,
    ValueCache& cache,
    Scope& scope,
    bool falsy
) {
    if (rule.criteria.empty()) return true;
    if (falsy) return false;
    for (size_t k = 0; k < rule.criteria.size(); ++k) {
        uint8_t& verdict = cache.verdicts[criterion_ids[k]];
        if (verdict == 0) {
            const uint32_t id = path_ids[k];
            if (!cache.resolved[id]) {
                cache.values[id] = ResolvePath(scope.root, paths[id]);
                cache.resolved[id] = 1;
            }
            verdict = CheckValue(rule.criteria[k], cache.values[id], scope, nullptr) ? 1 : 2;
        }
        if (verdict == 2) return false;
    }
    return true;
}

}  // namespace

bool Matcher::Matches(const CompiledRule& rule, const Json& payload) {
    Scope scope{payload, "trigger", std::nullopt};
    return MatchesIn(rule, scope);
}

std::vector<CompiledRulePtr> Matcher::Match(
    const core::TriggerInstance& ti, std::vector<std::pair<CompiledRulePtr, RuleVerdict>>* verdicts
) const {
    std::vector<CompiledRulePtr> standard;
    std::vector<CompiledRulePtr> backstop;
    const Bucket* b = FindBucket(ti);
    if (!b) return standard;
    thread_local std::vector<uint32_t> positions;  // reused: no allocation per instance
    if (verdicts) {
        positions.resize(b->rules.size());
        for (uint32_t i = 0; i < positions.size(); ++i) positions[i] = i;
    } else {
        CandidatePositions(*b, ti.payload, &positions);
    }
    Scope scope{ti.payload, "trigger", std::nullopt};
    thread_local ValueCache cache;
    cache.Reset(b->paths.size(), b->criterion_ids.size());
    const bool falsy = Falsy(ti.payload);
    standard.reserve(positions.size());
    for (uint32_t p : positions) {
        const CompiledRulePtr& rule = b->rules[p];
        bool matched = false;
        if (verdicts) {
            RuleVerdict v = Evaluate(*rule, ti);
            matched = v.matched;
            verdicts->emplace_back(rule, std::move(v));
        } else {
            matched = MatchesCached(*rule, b->rule_paths[p], b->rule_criteria[p], b->paths, cache, scope, falsy);
        }
        if (matched) (b->is_backstop[p] ? backstop : standard).push_back(rule);
    }
    return standard.empty() ? backstop : standard;
}

}  // namespace squall::rules
