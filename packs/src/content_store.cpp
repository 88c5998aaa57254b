#include "squall/packs/content_store.hpp"

#include <array>
#include <map>
#include <set>

#include "squall/packs/parameters.hpp"

#include "squall/core/id.hpp"
#include "squall/core/log.hpp"

namespace squall::packs {

using core::RedisClient;
using core::RedisReply;

namespace {
// KEYS: 1 rules hash, 2 listened trigger types set, 3 content version. Sent with EVAL: rule changes are rare and
// it runs inside MULTI. A rule is enabled unless `enabled` is false (as RuleMeta and StackStorm read it).
const char* kRulesChanged = R"lua(
local seen = {}
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do
  local ok, r = pcall(cjson.decode, v)
  if ok and type(r) == 'table' and r.enabled ~= false and type(r.trigger) == 'table' and
     type(r.trigger.type) == 'string' then
    seen[r.trigger.type] = true
  end
end
redis.call('DEL', KEYS[2])
for t in pairs(seen) do redis.call('SADD', KEYS[2], t) end
return redis.call('INCR', KEYS[3])
)lua";

Status Check(const Result<std::vector<RedisReply>>& r) {
    if (!r) return r.error();
    for (const auto& reply : *r) {
        if (reply.IsError()) return Internal("redis: " + reply.str);
    }
    return {};
}

/// A MULTI ... EXEC pipeline: also the commands' own replies inside EXEC's array.
Status CheckExec(const Result<std::vector<RedisReply>>& r) {
    if (Status st = Check(r); !st) return st;
    if (r->empty() || r->back().IsNil()) return Internal("redis: transaction aborted");
    for (const auto& reply : r->back().elements) {
        if (reply.IsError()) return Internal("redis: " + reply.str);
    }
    return {};
}
}  // namespace

Json ContentSnapshot::Config(const std::string& pack) const {
    auto it = configs.find(pack);
    return it == configs.end() ? Json::object() : it->second;
}

Result<Json> ContentSnapshot::ConfigContext(const std::string& action_ref, const core::RenderOptions& options) const {
    const size_t dot = action_ref.find('.');
    auto it = configs.find(dot == std::string::npos ? action_ref : action_ref.substr(0, dot));
    if (it == configs.end()) return Json::object();
    Result<Json> rendered = RenderConfig(it->second, Json::object(), options);
    if (!rendered) return InvalidArgument("config_context of pack \"" + it->first + "\": " + rendered.error().message);
    return rendered;
}

Result<Json> ContentSnapshot::ActionSchema(const std::string& action_ref) const {
    auto a = actions.find(action_ref);
    if (a == actions.end()) return NotFound("action \"" + action_ref + "\" not found");
    if (const std::string why = a->second.value("unavailable", ""); !why.empty()) {
        return Error(ErrorCode::kFailedPrecondition, "action \"" + action_ref + "\" cannot run: " + why);
    }
    auto rt = runner_types.find(a->second.value("runner_type", ""));
    if (rt == runner_types.end()) {
        return NotFound(
            "runner type \"" + a->second.value("runner_type", "") + "\" of action \"" + action_ref +
            "\" is not registered"
        );
    }
    return EffectiveSchema(
        rt->second.value("runner_parameters", Json::object()), a->second.value("parameters", Json::object())
    );
}

std::shared_ptr<const PreparedAction> PreparedActionCache::Find(const std::string& ref) const {
    std::lock_guard lock(mu_);
    auto it = map_.find(ref);
    return it == map_.end() ? nullptr : it->second;
}

void PreparedActionCache::Put(const std::string& ref, std::shared_ptr<const PreparedAction> p) const {
    std::lock_guard lock(mu_);
    map_.emplace(ref, std::move(p));
}

Result<std::shared_ptr<const PreparedAction>> ContentSnapshot::Prepared(const std::string& action_ref) const {
    if (std::shared_ptr<const PreparedAction> hit = prepared_cache.Find(action_ref)) return hit;
    Result<Json> schema = ActionSchema(action_ref);
    if (!schema) return schema.error();
    auto p = std::make_shared<PreparedAction>();
    p->masked = MaskSecretDefaults(actions.at(action_ref), *schema);
    p->masked_text = p->masked.dump(-1, ' ', false, Json::error_handler_t::replace);
    p->schema = std::move(*schema);
    prepared_cache.Put(action_ref, p);
    return std::shared_ptr<const PreparedAction>(std::move(p));
}

core::RedisClient::Args ContentKeys::RulesChangedCommand() const {
    return {"EVAL", kRulesChanged, "3", Rules(), ListenedTriggerTypes(), ContentVersion()};
}

ContentStore::ContentStore(core::RedisClientPtr client)
    : client_(std::move(client)), keys_(client_->endpoint().key_prefix) {}

namespace {

/// The kinds of content a pack registers, in the order of ContentStore's hashes (and the pack record's counts).
constexpr std::array<const char*, 6> kKinds = {"actions", "rules", "trigger_types", "sensors", "aliases", "policies"};

struct Item {
    std::string ref;
    std::string json;
    std::string file;  ///< metadata file, relative to the pack
};
using Items = std::array<std::vector<Item>, kKinds.size()>;
using RefSets = std::array<std::set<std::string>, kKinds.size()>;

Items ItemsOf(const LoadedPack& pack) {
    Items out;
    for (const auto& a : pack.actions) out[0].push_back({a.Ref(), a.ToJson().dump(), a.metadata_file});
    for (const auto& r : pack.rules) {
        RuleMeta copy = r;
        if (copy.id.empty()) copy.id = core::Sha256Hex("rule:" + r.Ref()).substr(0, 24);
        out[1].push_back({r.Ref(), copy.ToJson().dump(), r.metadata_file});
    }
    for (const auto& t : pack.trigger_types) out[2].push_back({t.Ref(), t.ToJson().dump(), t.metadata_file});
    for (const auto& x : pack.sensors) out[3].push_back({x.Ref(), x.ToJson(pack.meta.path).dump(), x.metadata_file});
    for (const auto& a : pack.aliases) out[4].push_back({a.Ref(), a.ToJson().dump(), a.metadata_file});
    for (const auto& p : pack.policies) out[5].push_back({p.Ref(), p.ToJson().dump(), p.metadata_file});
    return out;
}

/// {kind: [refs]} of the items not in `skip`.
Json RefsOf(const Items& items, const RefSets& skip = {}) {
    Json out = Json::object();
    for (size_t k = 0; k < kKinds.size(); ++k) {
        Json refs = Json::array();
        for (const auto& i : items[k]) {
            if (!skip[k].count(i.ref)) refs.push_back(i.ref);
        }
        out[kKinds[k]] = std::move(refs);
    }
    return out;
}

Json RefsOf(const RefSets& sets) {
    Json out = Json::object();
    for (size_t k = 0; k < kKinds.size(); ++k) out[kKinds[k]] = Json(sets[k]);
    return out;
}

RefSets SetsOf(const Json& refs) {
    RefSets out;
    if (!refs.is_object()) return out;
    for (size_t k = 0; k < kKinds.size(); ++k) {
        auto it = refs.find(kKinds[k]);
        if (it == refs.end() || !it->is_array()) continue;
        for (const auto& r : *it) {
            if (r.is_string()) out[k].insert(r.get<std::string>());
        }
    }
    return out;
}

Json ParsedOrNull(const RedisReply& reply) {
    if (reply.IsNil() || reply.str.empty()) return nullptr;
    Json j = Json::parse(reply.str, nullptr, false);
    return j.is_discarded() ? Json(nullptr) : j;
}

/// `a` followed by `b` (two JSON arrays; anything else counts as empty).
Json Concat(const Json& a, const Json& b) {
    Json out = a.is_array() ? a : Json::array();
    if (b.is_array()) out.insert(out.end(), b.begin(), b.end());
    return out;
}

}  // namespace

bool IsSystemPack(const std::string& ref) {
    return ref == "core" || ref == "packs" || ref == "chatops";
}

Status ContentStore::RegisterPackBlocking(
    const LoadedPack& pack, bool bundled, std::vector<std::string>* warnings, bool keep_api_edits
) {
    // Drop what this pack registered before from its files; keep what was created otherwise (rules through the
    // API, trigger types registered by code), which has no metadata_file.
    const std::vector<std::string> hashes = {
        keys_.Actions(), keys_.Rules(), TriggerTypesKey(), SensorTypesKey(), AliasesKey(), PoliciesKey()};
    std::vector<RedisClient::Args> reads;
    for (const auto& h : hashes) reads.push_back({"HGETALL", h});
    reads.push_back({"HGET", keys_.BundledPacks(), pack.meta.ref});
    reads.push_back({"HGET", keys_.Packs(), pack.meta.ref});
    // FileDigests fields are per definition and per folder it came from: a system pack registered from the bundled
    // folder and again from an installed copy keeps one digest for each, not one that each registration rewrites.
    const Items items = ItemsOf(pack);
    const auto digest_field = [&pack](size_t kind, const std::string& ref) {
        return std::string(kKinds[kind]) + ":" + ref + "@" + pack.meta.path;
    };
    RedisClient::Args digest_read = {"HMGET", keys_.FileDigests()};
    for (size_t h = 0; h < items.size(); ++h) {
        for (const auto& i : items[h]) digest_read.push_back(digest_field(h, i.ref));
    }
    if (digest_read.size() == 2) digest_read.push_back(digest_field(0, ""));  // HMGET needs a field
    reads.push_back(std::move(digest_read));
    Result<std::vector<RedisReply>> existing = client_->PipelineBlocking(std::move(reads));
    if (Status st = Check(existing); !st) return st;
    const Json bundled_entry = ParsedOrNull((*existing)[hashes.size()]);
    const Json current = ParsedOrNull((*existing)[hashes.size() + 1]);
    std::map<std::string, std::string> digests;  // field → what the file held when last registered from this folder
    {
        const auto& known = (*existing)[hashes.size() + 2].elements;
        size_t n = 0;
        for (size_t h = 0; h < items.size(); ++h) {
            for (const auto& i : items[h]) {
                if (n < known.size() && !known[n].IsNil()) digests[digest_field(h, i.ref)] = known[n].str;
                ++n;
            }
        }
    }
    const bool has_bundled = bundled_entry.is_object() && bundled_entry.contains("record");
    // The bundled pack itself (at start-up, or its folder registered again through the API).
    const bool as_bundled = bundled || (has_bundled && bundled_entry["record"].value("path", "") == pack.meta.path);

    // A system pack bundled with the server (core, packs, chatops) is merged with, never replaced by, a pack of the
    // same name installed in DATA/packs: the built-in content stays and wins on a clash (docs/decisions.md).
    RefSets keep;  // registered refs of the pack that stay
    RefSets skip;  // refs of this pack that are not written
    std::vector<std::string> merge_warnings;
    Json installed_before = current.is_object() && current.contains("installed") ? current["installed"] : Json();
    if (as_bundled && installed_before.is_object()) {
        // Content an installed pack added earlier stays, unless the bundled pack now defines it.
        const RefSets before = SetsOf(installed_before.value("content", Json::object()));
        for (size_t k = 0; k < kKinds.size(); ++k) {
            std::set<std::string> defined;
            for (const auto& i : items[k]) defined.insert(i.ref);
            for (const auto& ref : before[k]) {
                if (!defined.count(ref)) keep[k].insert(ref);
            }
        }
    } else if (!as_bundled && has_bundled) {
        keep = SetsOf(bundled_entry.value("content", Json::object()));
        for (size_t k = 0; k < kKinds.size(); ++k) {
            for (const auto& i : items[k]) {
                if (!keep[k].count(i.ref)) continue;
                skip[k].insert(i.ref);
                merge_warnings.push_back(
                    pack.meta.ref + "/" + i.file + ": \"" + i.ref + "\" is built into Squall's \"" + pack.meta.ref +
                    "\" pack, which keeps its own: this definition is not registered"
                );
            }
        }
    }

    // keep_api_edits: the definitions whose file is unchanged and which are stored: left as they are (with what the
    // API changed: a rule's anything, an action's `enabled`). One whose file is unchanged but which is no longer
    // stored was deleted through the API (its digest is written with it, in one transaction): it stays deleted.
    RefSets as_stored;
    std::vector<RedisClient::Args> cmds = {{"MULTI"}};
    for (size_t h = 0; h < hashes.size(); ++h) {
        std::set<std::string> stored;
        const auto& elements = (*existing)[h].elements;
        for (size_t i = 0; i + 1 < elements.size(); i += 2) stored.insert(elements[i].str);
        for (const auto& i : items[h]) {
            if (skip[h].count(i.ref)) continue;  // not registered from this folder (a built-in definition wins)
            const std::string field = digest_field(h, i.ref);
            const std::string digest = core::Sha256Hex(i.json);
            auto known = digests.find(field);
            if (keep_api_edits && known != digests.end() && known->second == digest) as_stored[h].insert(i.ref);
            if (known == digests.end() || known->second != digest) {
                cmds.push_back({"HSET", keys_.FileDigests(), field, digest});
            }
        }
    }
    const std::string prefix = pack.meta.ref + ".";
    for (size_t h = 0; h < hashes.size(); ++h) {
        std::set<std::string> in_files;
        for (const auto& i : items[h]) in_files.insert(i.ref);
        const auto drop = [&](const std::string& ref) {
            cmds.push_back({"HDEL", hashes[h], ref});
            // A definition gone from the files loses its digest too: a later one of the same ref starts afresh.
            if (!in_files.count(ref)) cmds.push_back({"HDEL", keys_.FileDigests(), digest_field(h, ref)});
        };
        const auto& elements = (*existing)[h].elements;
        for (size_t i = 0; i + 1 < elements.size(); i += 2) {
            const std::string& ref = elements[i].str;
            if (ref.rfind(prefix, 0) != 0 || keep[h].count(ref) || as_stored[h].count(ref)) continue;
            if (h == 0) {  // actions only ever come from files
                drop(ref);
                continue;
            }
            Json stored = Json::parse(elements[i + 1].str, nullptr, false);
            if (stored.is_object() && !stored.value("metadata_file", "").empty()) drop(ref);
        }
    }
    for (size_t h = 0; h < hashes.size(); ++h) {
        for (const auto& i : items[h]) {
            if (!skip[h].count(i.ref) && !as_stored[h].count(i.ref)) cmds.push_back({"HSET", hashes[h], i.ref, i.json});
        }
    }
    Json pj = pack.meta.ToJson();
    Json errors = Json::array();
    for (const auto& e : pack.errors) errors.push_back(e.What());
    pj["load_errors"] = errors;
    Json load_warnings = Json::array();
    for (const auto& w : pack.warnings) load_warnings.push_back(w.What());
    for (const auto& w : merge_warnings) load_warnings.push_back(w);
    pj["load_warnings"] = load_warnings;
    for (size_t k = 0; k < kKinds.size(); ++k) pj[kKinds[k]] = items[k].size() - skip[k].size();
    pj["config_schema"] = pack.config_schema;
    Json record = pj;
    if (as_bundled) {
        pj["bundled"] = true;
        if (bundled || has_bundled) {
            cmds.push_back(
                {"HSET", keys_.BundledPacks(), pack.meta.ref, Json{{"record", pj}, {"content", RefsOf(items)}}.dump()}
            );
        }
        record = pj;
        bool kept = false;
        for (const auto& k : keep) kept = kept || !k.empty();
        if (kept) {
            installed_before["content"] = RefsOf(keep);
            record["installed"] = installed_before;
            for (size_t k = 0; k < kKinds.size(); ++k) record[kKinds[k]] = items[k].size() + keep[k].size();
        }
    } else if (has_bundled) {
        record = bundled_entry["record"];
        const Json added = RefsOf(items, skip);
        record["installed"] = {
            {"path", pack.meta.path},
            {"version", pack.meta.version},
            {"load_errors", errors},
            {"load_warnings", load_warnings},
            {"content", added}};
        for (size_t k = 0; k < kKinds.size(); ++k) {
            record[kKinds[k]] = keep[k].size() + added[kKinds[k]].size();
        }
        record["load_errors"] = Concat(record.value("load_errors", Json::array()), errors);
        record["load_warnings"] = Concat(record.value("load_warnings", Json::array()), load_warnings);
    }
    cmds.push_back({"HSET", keys_.Packs(), pack.meta.ref, record.dump()});
    if (pack.config) {
        cmds.push_back({"HSET", keys_.Configs(), pack.meta.ref, pack.config->values.dump()});
        cmds.push_back({"HSET", keys_.ConfigSecrets(), pack.meta.ref, Json(pack.config->secret_keys).dump()});
    } else if (pack.drop_config) {
        cmds.push_back({"HDEL", keys_.Configs(), pack.meta.ref});
        cmds.push_back({"HDEL", keys_.ConfigSecrets(), pack.meta.ref});
    } else if (pack.config_fallback) {
        // The config file was rejected: the last valid config stays; without one, the schema's defaults.
        cmds.push_back({"HSETNX", keys_.Configs(), pack.meta.ref, pack.config_fallback->values.dump()});
        cmds.push_back({"HSETNX", keys_.ConfigSecrets(), pack.meta.ref, Json(pack.config_fallback->secret_keys).dump()}
        );
    }
    cmds.push_back(keys_.RulesChangedCommand());
    cmds.push_back({"EXEC"});
    if (Status st = CheckExec(client_->PipelineBlocking(std::move(cmds))); !st) return st;
    if (warnings) {
        for (auto& w : merge_warnings) warnings->push_back(std::move(w));
    }
    return {};
}

Status ContentStore::PutConfigBlocking(const std::string& pack, const PackConfig& config) {
    return CheckExec(client_->PipelineBlocking({
        {"MULTI"},
        {"HSET", keys_.Configs(), pack, config.values.dump()},
        {"HSET", keys_.ConfigSecrets(), pack, Json(config.secret_keys).dump()},
        {"INCR", keys_.ContentVersion()},
        {"EXEC"},
    }));
}

Status ContentStore::UnregisterPackBlocking(const std::string& pack) {
    const std::vector<std::string> hashes = {
        keys_.Actions(), keys_.Rules(), TriggerTypesKey(), SensorTypesKey(), AliasesKey(), PoliciesKey()};
    std::vector<RedisClient::Args> reads = {{"HEXISTS", keys_.Packs(), pack}};
    for (const auto& h : hashes) reads.push_back({"HKEYS", h});
    reads.push_back({"HGET", keys_.BundledPacks(), pack});
    reads.push_back({"HKEYS", keys_.FileDigests()});
    Result<std::vector<RedisReply>> existing = client_->PipelineBlocking(std::move(reads));
    if (Status st = Check(existing); !st) return st;
    if ((*existing)[0].integer == 0) return NotFound("pack \"" + pack + "\" is not registered");
    // What goes loses its file digests too (`kind:ref@folder`): a start registers it afresh from a folder still
    // there (a bundled pack), rather than taking it for a definition deleted through the API (RegisterPackBlocking).
    std::vector<std::string> digest_fields;
    for (const auto& f : (*existing)[hashes.size() + 2].elements) digest_fields.push_back(f.str);
    // A bundled system pack goes back to its built-in content (what an installed pack added goes).
    const Json bundled = ParsedOrNull((*existing)[hashes.size() + 1]);
    const bool has_bundled = bundled.is_object() && bundled.contains("record");
    const RefSets keep = has_bundled ? SetsOf(bundled.value("content", Json::object())) : RefSets{};
    std::vector<RedisClient::Args> cmds = {{"MULTI"}};
    const std::string prefix = pack + ".";
    for (size_t h = 0; h < hashes.size(); ++h) {
        for (const auto& k : (*existing)[h + 1].elements) {
            if (k.str.rfind(prefix, 0) == 0 && !keep[h].count(k.str)) cmds.push_back({"HDEL", hashes[h], k.str});
        }
        const std::string kind = std::string(kKinds[h]) + ":";
        for (const auto& f : digest_fields) {
            if (f.rfind(kind + prefix, 0) != 0) continue;
            const size_t at = f.find('@', kind.size());
            if (at != std::string::npos && !keep[h].count(f.substr(kind.size(), at - kind.size()))) {
                cmds.push_back({"HDEL", keys_.FileDigests(), f});
            }
        }
    }
    if (has_bundled) {
        cmds.push_back({"HSET", keys_.Packs(), pack, bundled["record"].dump()});
        cmds.push_back(keys_.RulesChangedCommand());
        cmds.push_back({"EXEC"});
        return CheckExec(client_->PipelineBlocking(std::move(cmds)));
    }
    // The config file (DATA/configs/<pack>.yaml) stays; its registered copy goes with the pack.
    cmds.push_back({"HDEL", keys_.Configs(), pack});
    cmds.push_back({"HDEL", keys_.ConfigSecrets(), pack});
    cmds.push_back({"HDEL", keys_.Packs(), pack});
    cmds.push_back(keys_.RulesChangedCommand());
    cmds.push_back({"EXEC"});
    return CheckExec(client_->PipelineBlocking(std::move(cmds)));
}

Status ContentStore::RegisterRunnerTypesBlocking(const std::vector<RunnerTypeInfo>& runners) {
    std::vector<RedisClient::Args> cmds;
    for (const auto& r : runners) cmds.push_back({"HSET", keys_.Prefix() + "runnertypes", r.name, r.ToJson().dump()});
    cmds.push_back({"INCR", keys_.ContentVersion()});
    return Check(client_->PipelineBlocking(std::move(cmds)));
}

Status ContentStore::PutRuleBlocking(const RuleMeta& rule, bool create_only) {
    RuleMeta copy = rule;
    if (copy.id.empty()) copy.id = core::Sha256Hex("rule:" + rule.Ref()).substr(0, 24);
    // One transaction: the rule and the set of listened trigger types never disagree. (A create that finds the rule
    // there writes nothing and recomputes the same set.)
    Result<std::vector<RedisReply>> r = client_->PipelineBlocking({
        {"MULTI"},
        {create_only ? "HSETNX" : "HSET", keys_.Rules(), rule.Ref(), copy.ToJson().dump()},
        keys_.RulesChangedCommand(),
        {"EXEC"},
    });
    if (Status st = CheckExec(r); !st) return st;
    if (create_only && r->back().elements[0].integer == 0) {
        return Error(ErrorCode::kAlreadyExists, "rule \"" + rule.Ref() + "\" already exists");
    }
    return {};
}

Status ContentStore::SetEnabledBlocking(
    const std::string& hash, const std::string& what, const std::string& ref, bool enabled
) {
    Result<RedisReply> stored = client_->CommandBlocking({"HGET", hash, ref});
    if (!stored) return stored.error();
    Json definition = ParsedOrNull(*stored);
    if (!definition.is_object()) return NotFound(what + " \"" + ref + "\" not found");
    definition["enabled"] = enabled;
    return CheckExec(client_->PipelineBlocking({
        {"MULTI"},
        {"HSET", hash, ref, definition.dump()},
        keys_.RulesChangedCommand(),
        {"EXEC"},
    }));
}

Status ContentStore::SetActionEnabledBlocking(const std::string& ref, bool enabled) {
    return SetEnabledBlocking(keys_.Actions(), "action", ref, enabled);
}

Status ContentStore::SetPolicyEnabledBlocking(const std::string& ref, bool enabled) {
    return SetEnabledBlocking(PoliciesKey(), "policy", ref, enabled);
}

Status ContentStore::SetSensorEnabledBlocking(const std::string& ref, bool enabled) {
    return SetEnabledBlocking(SensorTypesKey(), "sensor type", ref, enabled);
}

Status ContentStore::DeleteRuleBlocking(const std::string& ref) {
    Result<std::vector<RedisReply>> r = client_->PipelineBlocking({
        {"MULTI"},
        {"HDEL", keys_.Rules(), ref},
        keys_.RulesChangedCommand(),
        {"EXEC"},
    });
    if (Status st = CheckExec(r); !st) return st;
    if (r->back().elements[0].integer == 0) return NotFound("rule \"" + ref + "\" not found");
    return {};
}

Result<ContentSnapshotPtr> ContentStore::Parse(const std::vector<RedisReply>& replies) {
    auto snap = std::make_shared<ContentSnapshot>();
    for (const auto& r : replies) {
        if (r.IsError()) return Internal("redis: " + r.str);
    }
    snap->version = replies[0].IsNil() ? 0 : std::stoll(replies[0].str);
    auto each = [](const RedisReply& h, auto fn) {
        for (size_t i = 0; i + 1 < h.elements.size(); i += 2) {
            Json j = Json::parse(h.elements[i + 1].str, nullptr, false);
            if (j.is_object()) fn(h.elements[i].str, std::move(j));
        }
    };
    each(replies[1], [&](const std::string& k, Json j) { snap->actions[k] = std::move(j); });
    each(replies[2], [&](const std::string& k, Json j) {
        core::YamlDocument doc;
        doc.file = j.value("metadata_file", "");
        doc.value = std::move(j);
        Result<RuleMeta> rule = RuleMeta::FromDocument(doc, "default");
        if (rule) {
            snap->rules[k] = std::move(*rule);
        } else {
            core::Log(
                *core::Logger("packs"),
                spdlog::level::err,
                "stored rule does not parse",
                {{"rule", k}, {"error", rule.error().What()}}
            );
        }
    });
    each(replies[3], [&](const std::string& k, Json j) { snap->runner_types[k] = std::move(j); });
    each(replies[4], [&](const std::string& k, Json j) { snap->packs[k] = std::move(j); });
    each(replies[5], [&](const std::string& k, Json j) { snap->trigger_types[k] = std::move(j); });
    each(replies[6], [&](const std::string& k, Json j) { snap->sensors[k] = std::move(j); });
    each(replies[7], [&](const std::string& k, Json j) { snap->aliases[k] = std::move(j); });
    each(replies[8], [&](const std::string& k, Json j) { snap->policies[k] = std::move(j); });
    each(replies[9], [&](const std::string& k, Json j) { snap->configs[k] = std::move(j); });
    const RedisReply& secrets = replies[10];
    for (size_t i = 0; i + 1 < secrets.elements.size(); i += 2) {
        Json keys = Json::parse(secrets.elements[i + 1].str, nullptr, false);
        std::vector<std::string>& out = snap->config_secrets[secrets.elements[i].str];
        if (!keys.is_array()) continue;
        for (const auto& key : keys) {
            if (key.is_string()) out.push_back(key.get<std::string>());
        }
    }
    return ContentSnapshotPtr(std::move(snap));
}

std::vector<RedisClient::Args> ContentStore::LoadCommands() const {
    // Parse reads the replies in this order.
    return {
        {"GET", keys_.ContentVersion()},
        {"HGETALL", keys_.Actions()},
        {"HGETALL", keys_.Rules()},
        {"HGETALL", keys_.Prefix() + "runnertypes"},
        {"HGETALL", keys_.Packs()},
        {"HGETALL", TriggerTypesKey()},
        {"HGETALL", SensorTypesKey()},
        {"HGETALL", AliasesKey()},
        {"HGETALL", PoliciesKey()},
        {"HGETALL", keys_.Configs()},
        {"HGETALL", keys_.ConfigSecrets()},
    };
}

Result<ContentSnapshotPtr> ContentStore::LoadBlocking() {
    Result<std::vector<RedisReply>> r = client_->PipelineBlocking(LoadCommands());
    if (!r) return r.error();
    return Parse(*r);
}

void ContentStore::Load(std::function<void(Result<ContentSnapshotPtr>)> cb) {
    client_->Pipeline(LoadCommands(), [cb = std::move(cb)](Result<std::vector<RedisReply>> r) {
        if (!r) return cb(r.error());
        cb(Parse(*r));
    });
}

void ContentStore::Version(std::function<void(Result<int64_t>)> cb) {
    client_->Command({"GET", keys_.ContentVersion()}, [cb = std::move(cb)](Result<RedisReply> r) {
        if (!r) return cb(r.error());
        if (r->IsError()) return cb(Internal("redis: " + r->str));
        cb(r->IsNil() ? int64_t{0} : static_cast<int64_t>(std::stoll(r->str)));
    });
}

}  // namespace squall::packs
