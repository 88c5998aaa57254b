#include "squall/packs/content_store.hpp"

#include "squall/packs/parameters.hpp"

#include "squall/core/id.hpp"
#include "squall/core/log.hpp"

namespace squall::packs {

using core::RedisClient;
using core::RedisReply;

namespace {
Status Check(const Result<std::vector<RedisReply>>& r) {
    if (!r) return r.error();
    for (const auto& reply : *r) {
        if (reply.IsError()) return Internal("redis: " + reply.str);
    }
    return {};
}
}  // namespace

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

ContentStore::ContentStore(core::RedisClientPtr client)
    : client_(std::move(client)), keys_(client_->endpoint().key_prefix) {}

Status ContentStore::RegisterPackBlocking(const LoadedPack& pack) {
    // Drop what this pack registered before (from its files), keep API-created rules.
    Result<std::vector<RedisReply>> existing =
        client_->PipelineBlocking({{"HGETALL", keys_.Actions()}, {"HGETALL", keys_.Rules()}});
    if (Status st = Check(existing); !st) return st;
    std::vector<RedisClient::Args> cmds;
    const std::string prefix = pack.meta.ref + ".";
    for (size_t i = 0; i + 1 < (*existing)[0].elements.size(); i += 2) {
        const std::string& ref = (*existing)[0].elements[i].str;
        if (ref.rfind(prefix, 0) == 0) cmds.push_back({"HDEL", keys_.Actions(), ref});
    }
    for (size_t i = 0; i + 1 < (*existing)[1].elements.size(); i += 2) {
        const std::string& ref = (*existing)[1].elements[i].str;
        Json rule = Json::parse((*existing)[1].elements[i + 1].str, nullptr, false);
        if (ref.rfind(prefix, 0) == 0 && rule.is_object() && !rule.value("metadata_file", "").empty()) {
            cmds.push_back({"HDEL", keys_.Rules(), ref});
        }
    }
    for (const auto& a : pack.actions) cmds.push_back({"HSET", keys_.Actions(), a.Ref(), a.ToJson().dump()});
    for (const auto& r : pack.rules) {
        RuleMeta copy = r;
        if (copy.id.empty()) copy.id = core::Sha256Hex("rule:" + r.Ref()).substr(0, 24);
        cmds.push_back({"HSET", keys_.Rules(), r.Ref(), copy.ToJson().dump()});
    }
    Json pj = pack.meta.ToJson();
    Json errors = Json::array();
    for (const auto& e : pack.errors) errors.push_back(e.What());
    pj["load_errors"] = errors;
    pj["actions"] = pack.actions.size();
    pj["rules"] = pack.rules.size();
    cmds.push_back({"HSET", keys_.Packs(), pack.meta.ref, pj.dump()});
    cmds.push_back({"INCR", keys_.ContentVersion()});
    return Check(client_->PipelineBlocking(std::move(cmds)));
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
    Result<RedisReply> r =
        client_->CommandBlocking({create_only ? "HSETNX" : "HSET", keys_.Rules(), rule.Ref(), copy.ToJson().dump()});
    if (!r) return r.error();
    if (r->IsError()) return Internal("redis: " + r->str);
    if (create_only && r->integer == 0) {
        return Error(ErrorCode::kAlreadyExists, "rule \"" + rule.Ref() + "\" already exists");
    }
    return Check(client_->PipelineBlocking({{"INCR", keys_.ContentVersion()}}));
}

Status ContentStore::DeleteRuleBlocking(const std::string& ref) {
    Result<RedisReply> r = client_->CommandBlocking({"HDEL", keys_.Rules(), ref});
    if (!r) return r.error();
    if (r->integer == 0) return NotFound("rule \"" + ref + "\" not found");
    return Check(client_->PipelineBlocking({{"INCR", keys_.ContentVersion()}}));
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
    return ContentSnapshotPtr(std::move(snap));
}

Result<ContentSnapshotPtr> ContentStore::LoadBlocking() {
    Result<std::vector<RedisReply>> r = client_->PipelineBlocking({
        {"GET", keys_.ContentVersion()},
        {"HGETALL", keys_.Actions()},
        {"HGETALL", keys_.Rules()},
        {"HGETALL", keys_.Prefix() + "runnertypes"},
        {"HGETALL", keys_.Packs()},
    });
    if (!r) return r.error();
    return Parse(*r);
}

void ContentStore::Load(std::function<void(Result<ContentSnapshotPtr>)> cb) {
    client_->Pipeline(
        {
            {"GET", keys_.ContentVersion()},
            {"HGETALL", keys_.Actions()},
            {"HGETALL", keys_.Rules()},
            {"HGETALL", keys_.Prefix() + "runnertypes"},
            {"HGETALL", keys_.Packs()},
        },
        [cb = std::move(cb)](Result<std::vector<RedisReply>> r) {
            if (!r) return cb(r.error());
            cb(Parse(*r));
        }
    );
}

void ContentStore::Version(std::function<void(Result<int64_t>)> cb) {
    client_->Command({"GET", keys_.ContentVersion()}, [cb = std::move(cb)](Result<RedisReply> r) {
        if (!r) return cb(r.error());
        if (r->IsError()) return cb(Internal("redis: " + r->str));
        cb(r->IsNil() ? int64_t{0} : static_cast<int64_t>(std::stoll(r->str)));
    });
}

}  // namespace squall::packs
