// GET /metrics (and /api/v1/metrics): Prometheus text format (docs/api.md "Metrics"). Two kinds of series:
//   - the installation's state, read from Redis at each scrape, the same whichever api process answers: the work
//     counters the roles keep (triggers received/dispatched/rejected by type, rule matches, executions created and
//     ended by runner, latency histograms of each stage: WriteWorkCounters), stored executions by status, trigger
//     instances, every stream's length and each consumer group's pending entries and
//     lag (a queue that grows shows here), dead letters, live runner processes. A bounded number of commands,
//     whatever the history's size (no SCAN of the keyspace);
//   - this process's own: HTTP requests by route and code with latency histograms (HttpMetrics), RSS, start time.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>

#include "http.hpp"
#include "metrics.hpp"
#include "queue_depth.hpp"
#include "squall/actionrunners/container.hpp"
#include "squall/core/store/store.hpp"
#include "squall/executions/store.hpp"
#include "squall/rules/enforcements.hpp"

namespace squall::api {

namespace {

/// The value of `field` in a flat [k, v, k, v...] reply.
const core::RedisReply* Field(const core::RedisReply& flat, const std::string& field) {
    for (size_t i = 0; i + 1 < flat.elements.size(); i += 2) {
        if (flat.elements[i].str == field) return &flat.elements[i + 1];
    }
    return nullptr;
}

int64_t ResidentBytes() {
    std::ifstream statm("/proc/self/statm");
    int64_t pages = 0;
    int64_t resident = 0;
    if (!(statm >> pages >> resident)) return 0;
    return resident * ::sysconf(_SC_PAGESIZE);
}

void Gauge(std::string& out, const std::string& name, const std::string& help) {
    out += "# HELP " + name + " " + help + "\n# TYPE " + name + " gauge\n";
}

void Counter(std::string& out, const std::string& name, const std::string& help) {
    out += "# HELP " + name + " " + help + "\n# TYPE " + name + " counter\n";
}

/// A flat HGETALL reply as a sorted map (stable output order).
std::map<std::string, std::string> HashOf(const core::RedisReply& flat) {
    std::map<std::string, std::string> out;
    for (size_t i = 0; i + 1 < flat.elements.size(); i += 2) out[flat.elements[i].str] = flat.elements[i + 1].str;
    return out;
}

int64_t ToInt(const std::string& text) {
    try {
        return std::stoll(text);
    } catch (const std::exception&) {
        return 0;
    }
}

/// The counters the roles keep as they work (trigger stored by a sensor or webhook, instance processed by the rules
/// engine, enforcement stored, execution created and ended, the latency of each stage), counted in memory by each
/// process and flushed to three hashes once a second (core::DeferredCounters; up to a second behind): read with one
/// pipelined HGETALL each, whatever the history's size.
Status WriteWorkCounters(
    core::RedisClient& redis, const std::string& prefix, const executions::Keys& ek, std::string& out
) {
    Result<std::vector<core::RedisReply>> r = redis.PipelineBlocking({
        {"HGETALL", core::Keys(prefix).TriggerMetrics()},
        {"HGETALL", rules::EnforcementKeys(prefix).MatchCounts()},
        {"HGETALL", ek.Metrics()},
    });
    if (!r) return r.error();
    for (const auto& one : *r) {
        if (one.IsError()) return Internal("redis: " + one.str);
    }
    const auto triggers = HashOf((*r)[0]);
    const std::pair<const char*, const char*> kTriggerSeries[] = {
        {"received", "Trigger instances stored (webhooks, sensors, timers, the notifier), by trigger type."},
        {"dispatched", "Trigger instances the rules engine processed (matched, enforcements stored), by trigger type."},
        {"rejected", "Trigger instances refused before they were stored (payload schema, unknown type), by type."},
    };
    for (const auto& [what, help] : kTriggerSeries) {
        const std::string name = std::string("squall_triggers_") + what + "_total";
        Counter(out, name, help);
        const std::string field_prefix = std::string(what) + ":";
        for (const auto& [field, n] : triggers) {
            if (field.compare(0, field_prefix.size(), field_prefix) != 0) continue;
            out += name + "{trigger=\"" + PromEscape(field.substr(field_prefix.size())) + "\"} " + n + "\n";
        }
    }
    Counter(out, "squall_rule_matches_total", "Enforcements stored (the rule matched a trigger instance), by rule.");
    for (const auto& [rule, n] : HashOf((*r)[1]))
        out += "squall_rule_matches_total{rule=\"" + PromEscape(rule) + "\"} " + n + "\n";

    const auto ex = HashOf((*r)[2]);
    Counter(out, "squall_executions_created_total", "Executions created, by runner type.");
    for (const auto& [field, n] : ex) {
        if (field.compare(0, 8, "created:") != 0) continue;
        out += "squall_executions_created_total{runner=\"" + PromEscape(field.substr(8)) + "\"} " + n + "\n";
    }
    Counter(out, "squall_executions_ended_total", "Executions that reached a final status, by runner type and status.");
    for (const auto& [field, n] : ex) {
        if (field.compare(0, 6, "ended:") != 0) continue;
        const std::string rest = field.substr(6);
        const size_t colon = rest.rfind(':');
        if (colon == std::string::npos) continue;
        out += "squall_executions_ended_total{runner=\"" + PromEscape(rest.substr(0, colon)) + "\",status=\"" +
               PromEscape(rest.substr(colon + 1)) + "\"} " + n + "\n";
    }
    const std::string h = "squall_execution_latency_seconds";
    out += "# HELP " + h +
           " Time between the stages of an execution: trigger→scheduled, scheduled→running, running→done, "
           "trigger→done.\n# TYPE " +
           h + " histogram\n";
    char num[64];
    for (const char* stage : executions::LatencyHistograms::kStages) {
        const std::string base = std::string("lat:") + stage + ":";
        const std::string labels = std::string("stage=\"") + stage + "\"";
        const auto& bounds = executions::LatencyHistograms::kBuckets;
        int64_t cumulative = 0;
        for (size_t i = 0; i <= bounds.size(); ++i) {
            auto it = ex.find(base + std::to_string(i + 1));
            if (it != ex.end()) cumulative += ToInt(it->second);
            if (i == bounds.size()) break;
            std::snprintf(num, sizeof(num), "%g", bounds[i]);
            out += h + "_bucket{" + labels + ",le=\"" + num + "\"} " + std::to_string(cumulative) + "\n";
        }
        out += h + "_bucket{" + labels + ",le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
        auto sum = ex.find(base + "sum_us");
        std::snprintf(num, sizeof(num), "%.6f", sum == ex.end() ? 0.0 : static_cast<double>(ToInt(sum->second)) / 1e6);
        out += h + "_sum{" + labels + "} " + num + "\n";
        out += h + "_count{" + labels + "} " + std::to_string(cumulative) + "\n";
    }
    return {};
}

}  // namespace

void RegisterMetricsRoutes(Router& r, ApiDeps& d, const QueueDepth& depth) {
    static const int64_t started = static_cast<int64_t>(::time(nullptr));
    Handler metrics = [&d, &depth](const httplib::Request&, httplib::Response& res) {
        core::RedisClient& redis = *d.redis;
        const std::string prefix = redis.endpoint().key_prefix;
        const executions::Keys& ek = d.executions.keys();
        const core::Keys ck(prefix);
        std::string out;

        // Back-pressure (queue_depth.hpp): the reading webhooks are checked against, at most 100 ms old.
        Gauge(out, "squall_queue_depth", "Work waiting in Redis: trigger and execution request stream entries.");
        out += "squall_queue_depth{queue=\"triggers\"} " + std::to_string(depth.triggers()) + "\n";
        out += "squall_queue_depth{queue=\"executions\"} " + std::to_string(depth.executions()) + "\n";
        Gauge(out, "squall_queue_depth_max", "Past this queue depth webhooks are answered 429 (0: no bound).");
        out += "squall_queue_depth_max " + std::to_string(depth.max_depth()) + "\n";

        // Stored executions by status: one ZCARD of each status index, pipelined.
        const std::vector<std::string>& statuses = core::status::All();
        std::vector<core::RedisClient::Args> counts;
        for (const auto& s : statuses) counts.push_back({"ZCARD", ek.ByStatus(s)});
        counts.push_back({"ZCARD", ck.TriggerInstances()});
        Result<std::vector<core::RedisReply>> n = redis.PipelineBlocking(counts);
        if (!n) return SendError(res, n.error());
        Gauge(out, "squall_executions", "Stored executions by status (retention purges ended ones).");
        for (size_t i = 0; i < statuses.size(); ++i)
            out += "squall_executions{status=\"" + statuses[i] + "\"} " + std::to_string((*n)[i].integer) + "\n";
        Gauge(out, "squall_trigger_instances", "Stored trigger instances.");
        out += "squall_trigger_instances " + std::to_string(n->back().integer) + "\n";
        if (Status st = WriteWorkCounters(redis, prefix, ek, out); !st) return SendError(res, st.error());

        // Streams: length, and per consumer group the entries delivered but not acknowledged (pending) and those not
        // delivered yet (lag). The request streams are one per runner pool.
        std::set<std::string> streams = {
            ck.TriggerStream(), ck.DeadLetters(), ek.Events(), ek.Notify(), ek.WorkflowEvents()};
        // One request stream per runner pool: the pools the registered actions name, and the built-in ones.
        std::set<std::string> pools = {"default", "workflow"};
        if (Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking(); snap) {
            for (const auto& [ref, action] : (*snap)->actions) {
                if (action.is_object()) pools.insert(action.value("pool", "default"));
            }
        }
        std::set<std::string> request_streams;
        for (const auto& pool : pools) request_streams.insert(ek.RequestStream(pool));
        streams.insert(request_streams.begin(), request_streams.end());
        std::vector<std::string> consumers;  // of the request streams: the runner processes
        Gauge(out, "squall_stream_length", "Entries in a Redis stream.");
        std::string pending;
        std::string lag;
        for (const auto& key : streams) {
            const std::string label =
                PromEscape(key.substr(0, prefix.size()) == prefix ? key.substr(prefix.size()) : key);
            Result<core::RedisReply> len = redis.CommandBlocking({"XLEN", key});
            out += "squall_stream_length{stream=\"" + label + "\"} " +
                   std::to_string(len && !len->IsError() ? len->integer : 0) + "\n";
            Result<core::RedisReply> groups = redis.CommandBlocking({"XINFO", "GROUPS", key});
            if (!groups || !groups->IsArray()) continue;  // no such stream yet
            for (const auto& g : groups->elements) {
                const core::RedisReply* name = Field(g, "name");
                if (!name) continue;
                const std::string labels = "stream=\"" + label + "\",group=\"" + PromEscape(name->str) + "\"";
                if (const core::RedisReply* p = Field(g, "pending"))
                    pending += "squall_stream_pending{" + labels + "} " + std::to_string(p->integer) + "\n";
                if (const core::RedisReply* l = Field(g, "lag"); l && l->type == core::RedisReply::Type::kInteger)
                    lag += "squall_stream_lag{" + labels + "} " + std::to_string(l->integer) + "\n";
                if (!request_streams.count(key)) continue;
                Result<core::RedisReply> cs = redis.CommandBlocking({"XINFO", "CONSUMERS", key, name->str});
                if (!cs || !cs->IsArray()) continue;
                for (const auto& c : cs->elements) {
                    if (const core::RedisReply* cname = Field(c, "name")) consumers.push_back(cname->str);
                }
            }
        }
        Gauge(out, "squall_stream_pending", "Entries delivered to a consumer group and not acknowledged yet.");
        out += pending;
        Gauge(out, "squall_stream_lag", "Entries of a stream not yet delivered to a consumer group.");
        out += lag;

        // A runner process renews its liveness key every few seconds (actionrunners::RunnerKeys::Alive).
        size_t alive = 0;
        if (!consumers.empty()) {
            std::vector<core::RedisClient::Args> exists;
            for (const auto& c : consumers) exists.push_back({"EXISTS", actionrunners::RunnerKeys(prefix).Alive(c)});
            if (Result<std::vector<core::RedisReply>> e = redis.PipelineBlocking(exists); e) {
                for (const auto& one : *e) alive += one.integer > 0 ? 1 : 0;
            }
        }
        Gauge(out, "squall_runners_alive", "Runner processes of the installation whose liveness key is fresh.");
        out += "squall_runners_alive " + std::to_string(alive) + "\n";

        HttpMetrics::Instance().Write(out);
        Gauge(out, "squall_process_resident_memory_bytes", "Resident memory of this process.");
        out += "squall_process_resident_memory_bytes " + std::to_string(ResidentBytes()) + "\n";
        Gauge(out, "squall_process_start_time_seconds", "When this process started, in seconds since the epoch.");
        out += "squall_process_start_time_seconds " + std::to_string(started) + "\n";
        res.status = 200;
        res.set_content(out, "text/plain; version=0.0.4; charset=utf-8");
    };
    r.GetAt("/metrics", metrics);
    r.Get("/metrics", metrics);
}

}  // namespace squall::api
