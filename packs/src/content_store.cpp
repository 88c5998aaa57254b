#include "squall/packs/content_store.hpp"

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

core::RedisClient::Args ContentKeys::RulesChangedCommand() const {
    return {"EVAL", kRulesChanged, "3", Rules(), ListenedTriggerTypes(), ContentVersion()};
}

ContentStore::ContentStore(core::RedisClientPtr client)
    : client_(std::move(client)), keys_(client_->endpoint().key_prefix) {}

Status ContentStore::RegisterPackBlocking(const LoadedPack& pack) {
    // Drop what this pack registered before from its files; keep what was created otherwise (rules through the
    // API, trigger types registered by code), which has no metadata_file.
    const std::vector<std::string> hashes = {
        keys_.Actions(), keys_.Rules(), TriggerTypesKey(), SensorTypesKey(), AliasesKey(), PoliciesKey()};
    std::vector<RedisClient::Args> reads;
    for (const auto& h : hashes) reads.push_back({"HGETALL", h});
    Result<std::vector<RedisReply>> existing = client_->PipelineBlocking(std::move(reads));
    if (Status st = Check(existing); !st) return st;
    std::vector<RedisClient::Args> cmds = {{"MULTI"}};
    const std::string prefix = pack.meta.ref + ".";
    for (size_t h = 0; h < hashes.size(); ++h) {
        const auto& elements = (*existing)[h].elements;
        for (size_t i = 0; i + 1 < elements.size(); i += 2) {
            const std::string& ref = elements[i].str;
            if (ref.rfind(prefix, 0) != 0) continue;
            if (h == 0) {  // actions only ever come from files
                cmds.push_back({"HDEL", hashes[h], ref});
                continue;
            }
            Json stored = Json::parse(elements[i + 1].str, nullptr, false);
            if (stored.is_object() && !stored.value("metadata_file", "").empty())
                cmds.push_back({"HDEL", hashes[h], ref});
        }
    }
    for (const auto& a : pack.actions) cmds.push_back({"HSET", keys_.Actions(), a.Ref(), a.ToJson().dump()});
    for (const auto& r : pack.rules) {
        RuleMeta copy = r;
        if (copy.id.empty()) copy.id = core::Sha256Hex("rule:" + r.Ref()).substr(0, 24);
        cmds.push_back({"HSET", keys_.Rules(), r.Ref(), copy.ToJson().dump()});
    }
    for (const auto& t : pack.trigger_types) cmds.push_back({"HSET", TriggerTypesKey(), t.Ref(), t.ToJson().dump()});
    for (const auto& s : pack.sensors)
        cmds.push_back({"HSET", SensorTypesKey(), s.Ref(), s.ToJson(pack.meta.path).dump()});
    for (const auto& a : pack.aliases) cmds.push_back({"HSET", AliasesKey(), a.Ref(), a.ToJson().dump()});
    for (const auto& p : pack.policies) cmds.push_back({"HSET", PoliciesKey(), p.Ref(), p.ToJson().dump()});
    Json pj = pack.meta.ToJson();
    Json errors = Json::array();
    for (const auto& e : pack.errors) errors.push_back(e.What());
    pj["load_errors"] = errors;
    pj["actions"] = pack.actions.size();
    pj["rules"] = pack.rules.size();
    pj["trigger_types"] = pack.trigger_types.size();
    pj["sensors"] = pack.sensors.size();
    pj["aliases"] = pack.aliases.size();
    pj["policies"] = pack.policies.size();
    pj["config_schema"] = pack.config_schema;
    cmds.push_back({"HSET", keys_.Packs(), pack.meta.ref, pj.dump()});
    if (pack.config) {
        cmds.push_back({"HSET", keys_.Configs(), pack.meta.ref, pack.config->values.dump()});
        cmds.push_back({"HSET", keys_.ConfigSecrets(), pack.meta.ref, Json(pack.config->secret_keys).dump()});
    } else if (pack.drop_config) {
        cmds.push_back({"HDEL", keys_.Configs(), pack.meta.ref});
        cmds.push_back({"HDEL", keys_.ConfigSecrets(), pack.meta.ref});
    }
    cmds.push_back(keys_.RulesChangedCommand());
    cmds.push_back({"EXEC"});
    return CheckExec(client_->PipelineBlocking(std::move(cmds)));
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
    Result<std::vector<RedisReply>> existing = client_->PipelineBlocking(std::move(reads));
    if (Status st = Check(existing); !st) return st;
    if ((*existing)[0].integer == 0) return NotFound("pack \"" + pack + "\" is not registered");
    std::vector<RedisClient::Args> cmds = {{"MULTI"}};
    const std::string prefix = pack + ".";
    for (size_t h = 0; h < hashes.size(); ++h) {
        for (const auto& k : (*existing)[h + 1].elements) {
            if (k.str.rfind(prefix, 0) == 0) cmds.push_back({"HDEL", hashes[h], k.str});
        }
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
