// StackStorm API fidelity with the real binary over real HTTP on 127.0.0.1 (what StackStorm's st2 client relies
// on; deploy/compat.sh runs the client itself): trailing slashes and both prefixes, paging and its headers,
// include/exclude_attributes, nulls and wrong JSON types never answering 5xx, runner types, the user, traces, and the
// event stream (SSE): names, filters, the end event, heartbeats, many clients and a client that stops reading.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <csignal>
#include <mutex>
#include <set>
#include <thread>

#include "io_runner.hpp"
#include "squall/core/model/model.hpp"
#include "squall/core/redis/client.hpp"
#include "squall/executions/store.hpp"
#include "squall_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

namespace squall::test {
namespace {

using core::Json;
using namespace std::chrono_literals;

httplib::Headers Auth(const SquallProcess& s) {
    return {{"St2-Api-Key", s.api_key()}};
}

Json Body(const httplib::Result& r) {
    return r ? Json::parse(r->body, nullptr, false) : Json();
}

/// An SSE client on its own thread, collecting what it receives until the server ends the stream or the test
/// is done with it.
class SseClient {
public:
    SseClient(const SquallProcess& s, const std::string& path) {
        thread_ = std::thread([this, host = s.host(), port = s.port(), path] {
            httplib::Client c(host, port);
            c.set_read_timeout(120, 0);
            httplib::Result r = c.Get(path.c_str(), [this](const char* data, size_t n) {
                std::lock_guard lock(mu_);
                text_.append(data, n);
                cv_.notify_all();
                return !stop_;
            });
            std::lock_guard lock(mu_);
            done_ = true;
            status_ = r ? r->status : -1;
            cv_.notify_all();
        });
    }
    ~SseClient() {
        {
            std::lock_guard lock(mu_);
            stop_ = true;
        }
        thread_.join();  // returns at the next heartbeat at the latest
    }
    bool WaitForText(const std::string& needle, std::chrono::seconds d) {
        std::unique_lock lock(mu_);
        return cv_.wait_for(lock, d, [&] { return text_.find(needle) != std::string::npos; });
    }
    bool WaitDone(std::chrono::seconds d) {
        std::unique_lock lock(mu_);
        return cv_.wait_for(lock, d, [&] { return done_; });
    }
    std::string Text() {
        std::lock_guard lock(mu_);
        return text_;
    }
    int status() {
        std::lock_guard lock(mu_);
        return status_;
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::string text_;
    bool stop_ = false;
    bool done_ = false;
    int status_ = 0;
    std::thread thread_;
};

/// Event names of an SSE text, in order.
std::vector<std::string> EventNames(const std::string& text) {
    std::vector<std::string> names;
    size_t at = 0;
    while ((at = text.find("event: ", at)) != std::string::npos) {
        const size_t end = text.find('\n', at);
        names.push_back(text.substr(at + 7, end - at - 7));
        at = end;
    }
    return names;
}

/// Ids of the executions whose st2.execution__update events reported `succeeded`.
std::set<std::string> SucceededIds(const std::string& text) {
    std::set<std::string> ids;
    const std::string marker = "event: st2.execution__update\ndata: ";
    size_t at = 0;
    while ((at = text.find(marker, at)) != std::string::npos) {
        at += marker.size();
        const size_t end = text.find('\n', at);
        if (end == std::string::npos) break;
        Json e = Json::parse(text.substr(at, end - at), nullptr, false);
        if (e.is_object() && e.value("status", "") == "succeeded") ids.insert(e.value("id", ""));
    }
    return ids;
}

std::string StartExecution(const SquallProcess& s, const std::string& cmd) {
    httplib::Client c(s.host(), s.port());
    httplib::Result r = c.Post(
        "/api/v1/executions",
        Auth(s),
        Json{{"action", "core.local"}, {"parameters", {{"cmd", cmd}}}}.dump(),
        "application/json"
    );
    EXPECT_TRUE(r && r->status == 201) << (r ? r->body : "no answer");
    return Body(r).value("id", "");
}

SquallProcess::Options Opts(const TempDir& data) {
    return {(data.path() / "d").string(), "", {"--stream-heartbeat", "1"}};
}

// The execution events are written only while a stream subscriber wants them (docs/executions.md): an execution
// nobody watches leaves no event; a subscriber sets the flag before its subscription starts and sees everything after.
TEST(ApiCompatIntegrationTest, ExecutionEventsAreWrittenOnlyWhileAStreamSubscriberWantsThem) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    SquallProcess server(Opts(data));
    IoRunner io;
    core::RedisEndpoint ep;
    ep.unix_path = (data.path() / "d" / "redis" / "redis.sock").string();
    auto client = core::RedisClient::Create(io.io(), ep);
    const executions::Keys keys(ep.key_prefix);
    httplib::Client c(server.host(), server.port());
    const auto succeeded = [&](const std::string& id) {
        return WaitFor(
            [&] { return Body(c.Get("/api/v1/executions/" + id, Auth(server))).value("status", "") == "succeeded"; },
            30s
        );
    };
    const std::string unwatched = StartExecution(server, "echo unwatched");
    ASSERT_TRUE(succeeded(unwatched));
    EXPECT_EQ(client->CommandBlocking({"EXISTS", keys.EventListeners()})->integer, 0);
    EXPECT_EQ(client->CommandBlocking({"XLEN", keys.Events()})->integer, 0);
    // st2 execution tail / st2 run --tail of an action that ended before the stream opened (so no event of it was
    // written): its final update comes from the record, and the stream ends.
    SseClient late(
        server,
        "/stream/v1/stream?st2-api-key=" + server.api_key() +
            "&events=st2.execution__update,st2.execution.output__create&end_event=st2.execution__update"
            "&end_execution_id=" +
            unwatched
    );
    ASSERT_TRUE(late.WaitDone(10s)) << late.Text();
    EXPECT_NE(late.Text().find("\"status\":\"succeeded\""), std::string::npos) << late.Text();
    EXPECT_EQ(EventNames(late.Text()), std::vector<std::string>{"st2.execution__update"});

    SseClient all(server, "/stream/v1/stream?st2-api-key=" + server.api_key());
    ASSERT_TRUE(all.WaitForText(": connected", 10s));
    const int64_t ttl = client->CommandBlocking({"PTTL", keys.EventListeners()})->integer;
    EXPECT_GT(ttl, 0);
    EXPECT_LE(ttl, 30000);
    const std::string watched = StartExecution(server, "echo watched");
    ASSERT_TRUE(all.WaitForText("\"status\":\"succeeded\"", 30s)) << all.Text();
    EXPECT_NE(all.Text().find(watched), std::string::npos);
    EXPECT_EQ(all.Text().find(unwatched), std::string::npos);
    EXPECT_GE(client->CommandBlocking({"XLEN", keys.Events()})->integer, 3);  // create, running, succeeded, output
    client->Close();
}

TEST(ApiCompatIntegrationTest, TrailingSlashesPrefixesPagingAndAttributes) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    SquallProcess server(Opts(data));
    httplib::Client c(server.host(), server.port());
    for (const char* path : {"/api/v1/actions/?limit=2", "/v1/actions/?limit=2", "/api/v1/actions?limit=2"}) {
        httplib::Result r = c.Get(path, Auth(server));
        ASSERT_TRUE(r) << path;
        EXPECT_EQ(r->status, 200) << path << " " << r->body;
        EXPECT_EQ(Body(r).size(), 2u) << path;
        EXPECT_EQ(r->get_header_value("X-Limit"), "2") << path;
        EXPECT_GE(std::stoi(r->get_header_value("X-Total-Count")), 10) << path;
    }
    // offset pages on; -1 is everything; 0 and garbage are refused with a faultstring.
    Json all = Body(c.Get("/api/v1/actions/?limit=-1", Auth(server)));
    httplib::Result everything = c.Get("/api/v1/actions/?limit=-1", Auth(server));
    EXPECT_EQ(everything->get_header_value("X-Limit"), "-1");
    EXPECT_EQ(all.size(), static_cast<size_t>(std::stoi(everything->get_header_value("X-Total-Count"))));
    Json second = Body(c.Get("/api/v1/actions/?limit=1&offset=1", Auth(server)));
    ASSERT_EQ(second.size(), 1u);
    EXPECT_EQ(second[0]["ref"], all[1]["ref"]);
    for (const char* bad : {"/api/v1/actions/?limit=0", "/api/v1/executions/?limit=0", "/api/v1/actions?limit=x"}) {
        httplib::Result r = c.Get(bad, Auth(server));
        EXPECT_EQ(r->status, 400) << bad;
        EXPECT_TRUE(Body(r).contains("faultstring")) << r->body;
    }
    // Unknown paths are JSON 404s with a faultstring too.
    httplib::Result missing = c.Get("/api/v1/nothing-here/", Auth(server));
    EXPECT_EQ(missing->status, 404);
    EXPECT_TRUE(Body(missing).contains("faultstring"));

    // include_attributes keeps the dotted paths asked for (and id); exclude_attributes removes them.
    Json only = Body(c.Get("/api/v1/actions/core.local?include_attributes=ref,parameters.cmd", Auth(server)));
    EXPECT_EQ(only["ref"], "core.local");
    EXPECT_TRUE(only.contains("id"));
    EXPECT_TRUE(only["parameters"].contains("cmd"));
    EXPECT_EQ(only["parameters"].size(), 1u) << only.dump();
    EXPECT_FALSE(only.contains("description"));
    Json without = Body(c.Get("/api/v1/actions/?pack=core&exclude_attributes=parameters,description", Auth(server)));
    ASSERT_FALSE(without.empty());
    for (const auto& a : without) {
        EXPECT_FALSE(a.contains("parameters"));
        EXPECT_FALSE(a.contains("description"));
        EXPECT_TRUE(a.contains("ref"));
    }

    // Runner types: ids, ?name=, by name and by id.
    Json runners = Body(c.Get("/api/v1/runnertypes/?name=local-shell-cmd", Auth(server)));
    ASSERT_EQ(runners.size(), 1u) << runners.dump();
    const std::string runner_id = runners[0]["id"];
    EXPECT_EQ(runner_id.size(), 24u);
    EXPECT_EQ(Body(c.Get("/api/v1/runnertypes/local-shell-cmd", Auth(server)))["id"], runner_id);
    EXPECT_EQ(Body(c.Get(("/v1/runnertypes/" + runner_id).c_str(), Auth(server)))["name"], "local-shell-cmd");
    EXPECT_EQ(c.Get("/api/v1/runnertypes/no-such-runner", Auth(server))->status, 404);

    // The API root and the authenticated user.
    EXPECT_EQ(c.Get("/api/v1/", Auth(server))->status, 200);
    Json user = Body(c.Get("/api/v1/user", Auth(server)));
    EXPECT_EQ(user["username"], "admin");
    EXPECT_EQ(user["authentication"]["method"], "api_key");
    EXPECT_EQ(c.Get("/api/v1/user")->status, 401);

    // ?trigger= on trigger instances: a webhook rule fires, its instance is found by trigger and no other.
    Json rule = {
        {"name", "hook"},
        {"pack", "default"},
        {"trigger", {{"type", "core.st2.webhook"}, {"parameters", {{"url", "compat"}}}}},
        {"action", {{"ref", "core.noop"}}}};
    ASSERT_EQ(c.Post("/api/v1/rules/", Auth(server), rule.dump(), "application/json")->status, 201);
    ASSERT_EQ(c.Post("/api/v1/webhooks/compat", Auth(server), R"({"a": 1})", "application/json")->status, 202);
    httplib::Result by_trigger = c.Get("/api/v1/triggerinstances/?trigger=core.st2.webhook", Auth(server));
    ASSERT_EQ(by_trigger->status, 200);
    ASSERT_EQ(Body(by_trigger).size(), 1u) << by_trigger->body;
    EXPECT_EQ(Body(by_trigger)[0]["trigger"], "core.st2.webhook");
    EXPECT_EQ(by_trigger->get_header_value("X-Total-Count"), "1");
    httplib::Result other = c.Get("/api/v1/triggerinstances/?trigger=core.st2.IntervalTimer", Auth(server));
    EXPECT_TRUE(Body(other).empty());
    EXPECT_EQ(other->get_header_value("X-Total-Count"), "0");

    // Its trace: the instance, the rule that matched and the execution it created (derived until traces are
    // stored), listed and by id.
    const std::string ti_id = Body(by_trigger)[0]["id"];
    Json trace;
    ASSERT_TRUE(WaitFor(
        [&] {
            trace = Body(c.Get(("/api/v1/traces/" + ti_id).c_str(), Auth(server)));
            return trace.is_object() && trace.contains("action_executions") && !trace["action_executions"].empty();
        },
        30s
    )) << trace.dump();
    EXPECT_EQ(trace["trigger_instances"][0]["object_id"], ti_id);
    EXPECT_EQ(trace["rules"][0]["ref"], "default.hook");
    EXPECT_EQ(trace["action_executions"][0]["ref"], "core.noop");
    Json traces = Body(c.Get("/api/v1/traces/?limit=5", Auth(server)));
    ASSERT_EQ(traces.size(), 1u) << traces.dump();
    EXPECT_EQ(traces[0]["id"], ti_id);
    const std::string exec_id = trace["action_executions"][0]["object_id"];
    EXPECT_EQ(Body(c.Get(("/api/v1/traces?execution=" + exec_id).c_str(), Auth(server))).size(), 1u);
    EXPECT_TRUE(Body(c.Get("/api/v1/traces?execution=nope", Auth(server))).empty());
    EXPECT_EQ(c.Get("/api/v1/traces/nope", Auth(server))->status, 404);

    // A list leaves out of the records it reads what include/exclude_attributes drop (ExecutionStore's ListFilter
    // only/without): each item is what the same filter makes of the whole record, key order included. The rule's
    // execution has a trigger instance and a rule; this one has parameters and a result.
    const std::string run_id = StartExecution(server, "echo listed");
    ASSERT_TRUE(WaitFor(
        [&] {
            Json all = Body(c.Get("/api/v1/executions?include_attributes=status", Auth(server)));
            return all.is_array() && all.size() == 2 && all[0]["status"] == "succeeded" &&
                   all[1]["status"] == "succeeded";
        },
        30s
    ));
    for (const std::string query :
         {"include_attributes=id,action.ref,context.user,status,start_timestamp,end_timestamp",
          "include_attributes=liveaction.action,trigger.type,trigger_type,elapsed_seconds",
          "include_attributes=parameters.cmd,rule.ref,result.stdout",
          "exclude_attributes=result,trigger_instance,action",
          "exclude_attributes=liveaction.parameters,log,runner",
          "include_attributes=action,liveaction&exclude_attributes=action.parameters",
          "include_attributes=no_such_attribute"}) {
        Json listed = Body(c.Get(("/api/v1/executions?limit=10&" + query).c_str(), Auth(server)));
        ASSERT_TRUE(listed.is_array() && listed.size() == 2) << query << ": " << listed.dump();
        for (const Json& item : listed) {
            const std::string id = item.value("id", "");
            Json one = Body(c.Get(("/api/v1/executions/" + id + "?" + query).c_str(), Auth(server)));
            EXPECT_EQ(item, one) << query;
        }
    }
    Json lean = Body(c.Get(("/api/v1/executions?include_attributes=parameters.cmd,status"), Auth(server)));
    ASSERT_EQ(lean.size(), 2u);
    EXPECT_EQ(lean[0], (Json{{"id", run_id}, {"parameters", {{"cmd", "echo listed"}}}, {"status", "succeeded"}}));
}

TEST(ApiCompatIntegrationTest, NullsAndWrongTypesAreNeverServerErrors) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    SquallProcess server(Opts(data));
    httplib::Client c(server.host(), server.port());
    // st2 run's body: every optional field null.
    httplib::Result run = c.Post(
        "/api/v1/executions/",
        Auth(server),
        R"({"action": "core.noop", "parameters": null, "user": null, "context": null, "trace_tag": null,
            "notify": null, "delay": null})",
        "application/json"
    );
    ASSERT_TRUE(run);
    ASSERT_EQ(run->status, 201) << run->body;
    const std::string id = Body(run)["id"];
    EXPECT_EQ(Body(run)["context"]["user"], "admin");

    struct Route {
        std::string method;
        std::string path;
        std::vector<std::string> fields;
    };
    const std::vector<Route> routes = {
        {"POST", "/api/v1/executions", {"action", "parameters", "user", "context", "trace_tag", "notify", "delay"}},
        {"POST", "/api/v1/executions/" + id + "/re_run", {"parameters", "tasks", "reset", "user", "delay"}},
        {"PUT", "/api/v1/executions/" + id, {"status", "result"}},
        {"POST", "/api/v1/rules", {"name", "pack", "trigger", "criteria", "action", "enabled", "description"}},
        {"PUT", "/api/v1/rules/examples.sample_webhook", {"name", "pack", "trigger", "criteria", "action", "enabled"}},
        {"POST", "/api/v1/rules/test", {"rule", "trigger_instance"}},
        {"PUT", "/api/v1/keys/k1", {"name", "value", "scope", "secret", "ttl", "user", "description", "encrypted"}},
        {"PUT", "/api/v1/inquiries/" + id, {"response"}},
        {"PUT", "/api/v1/configs/core", {"anything"}},
        {"POST", "/api/v1/packs/install", {"packs", "force", "skip_dependencies"}},
        {"POST", "/api/v1/packs/uninstall", {"packs"}},
        {"POST", "/api/v1/packs/register", {"packs", "types"}},
    };
    const std::vector<std::string> non_objects = {"null", "[]", "\"text\"", "7", "true", "[{}]", "{\"a\":"};
    const std::vector<Json> wrong_values = {
        Json(nullptr),
        Json(1),
        Json(-1.5),
        Json("text"),
        Json::array(),
        Json::array({1, "x"}),
        Json::object(),
        Json(true)};
    auto send = [&](const Route& r, const std::string& body) {
        httplib::Result res = r.method == "POST" ? c.Post(r.path.c_str(), Auth(server), body, "application/json")
                                                 : c.Put(r.path.c_str(), Auth(server), body, "application/json");
        EXPECT_TRUE(res) << r.method << " " << r.path << " " << body;
        return res ? res->status : 0;
    };
    for (const auto& r : routes) {
        for (const auto& body : non_objects) {
            const int status = send(r, body);
            EXPECT_GE(status, 400) << r.method << " " << r.path << " " << body;
            EXPECT_LT(status, 500) << r.method << " " << r.path << " " << body;
        }
        Json all_null = Json::object();
        for (const auto& f : r.fields) all_null[f] = nullptr;
        const int null_status = send(r, all_null.dump());
        EXPECT_LT(null_status, 500) << r.method << " " << r.path << " " << all_null.dump();
        for (const auto& f : r.fields) {
            for (const auto& v : wrong_values) {
                // packs.install with a well-formed list would install; none of these values is one.
                const Json body = {{f, v}};
                const int status = send(r, body.dump());
                EXPECT_GT(status, 0);
                EXPECT_LT(status, 500) << r.method << " " << r.path << " " << body.dump();
            }
        }
    }
}

TEST(ApiCompatIntegrationTest, EventStreamNamesFiltersEndEventAndHeartbeats) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    SquallProcess server(Opts(data));
    const std::string key = server.api_key();
    SseClient all(server, "/stream/v1/stream?st2-api-key=" + key);
    SseClient output_only(
        server, "/api/v1/stream/?st2-api-key=" + key + "&events=st2.execution.output__*,st2.execution__update"
    );
    SseClient other_action(server, "/stream/v1/stream?st2-api-key=" + key + "&action_refs=core.noop");
    ASSERT_TRUE(all.WaitForText(": connected", 10s));
    ASSERT_TRUE(output_only.WaitForText(": connected", 10s));
    ASSERT_TRUE(other_action.WaitForText(": connected", 10s));

    const std::string id = StartExecution(server, "echo first; sleep 2; echo second");
    ASSERT_FALSE(id.empty());
    // st2 execution tail's request, made while the execution runs: it ends by itself after the final update.
    SseClient tail(
        server,
        "/stream/v1/stream?st2-api-key=" + key +
            "&events=st2.execution__update,st2.execution.output__create&end_event=st2.execution__update"
            "&end_execution_id=" +
            id
    );
    ASSERT_TRUE(tail.WaitDone(60s)) << tail.Text();
    EXPECT_EQ(tail.status(), 200);
    EXPECT_NE(tail.Text().find("\"data\":\"second\\n\""), std::string::npos) << tail.Text();
    EXPECT_NE(tail.Text().find("\"status\":\"succeeded\""), std::string::npos) << tail.Text();
    EXPECT_EQ(EventNames(tail.Text()).back(), "st2.execution__update");

    ASSERT_TRUE(all.WaitForText("\"status\":\"succeeded\"", 30s)) << all.Text();
    const std::vector<std::string> names = EventNames(all.Text());
    for (const char* name :
         {"st2.execution__create",
          "st2.liveaction__create",
          "st2.execution__update",
          "st2.liveaction__update",
          "st2.execution.output__create"}) {
        EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name << "\n" << all.Text();
    }
    // Execution events carry the whole execution; output events StackStorm's output shape.
    const std::string text = all.Text();
    const size_t create = text.find("event: st2.execution__create\ndata: ");
    ASSERT_NE(create, std::string::npos);
    const size_t data_at = create + std::string("event: st2.execution__create\ndata: ").size();
    Json created = Json::parse(text.substr(data_at, text.find('\n', data_at) - data_at), nullptr, false);
    EXPECT_EQ(created["id"], id);
    EXPECT_EQ(created["action"]["ref"], "core.local");
    EXPECT_EQ(created["parameters"]["cmd"], "echo first; sleep 2; echo second");
    const size_t out = text.find("event: st2.execution.output__create\ndata: ");
    ASSERT_NE(out, std::string::npos);
    const size_t out_at = out + std::string("event: st2.execution.output__create\ndata: ").size();
    Json line = Json::parse(text.substr(out_at, text.find('\n', out_at) - out_at), nullptr, false);
    EXPECT_EQ(line["execution_id"], id);
    EXPECT_EQ(line["action_ref"], "core.local");
    EXPECT_EQ(line["runner_ref"], "local-shell-cmd");
    EXPECT_EQ(line["output_type"], "stdout");
    EXPECT_EQ(line["data"], "first\n");
    EXPECT_TRUE(line.contains("timestamp"));

    ASSERT_TRUE(output_only.WaitForText("\"status\":\"succeeded\"", 30s));
    for (const auto& n : EventNames(output_only.Text())) {
        EXPECT_TRUE(n == "st2.execution.output__create" || n == "st2.execution__update") << n;
    }
    // The core.noop filter saw none of core.local's events, only heartbeats (every second here).
    EXPECT_TRUE(other_action.WaitForText(": heartbeat", 10s));
    EXPECT_TRUE(EventNames(other_action.Text()).empty()) << other_action.Text();

    // Without a key: 401 before any stream.
    httplib::Client c(server.host(), server.port());
    EXPECT_EQ(c.Get("/stream/v1/stream")->status, 401);
}

/// A client that connects and then never reads: its receive buffer is small, so the server's writes stall.
int ConnectWithoutReading(const SquallProcess& s, const std::string& path) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(s.port()));
    ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return -1;
    const std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    (void)::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    return fd;
}

/// Reads until the server closes the connection (true) or `d` passes (false).
bool ReadUntilClosed(int fd, std::chrono::seconds d) {
    const auto until = std::chrono::steady_clock::now() + d;
    char buf[65536];
    while (std::chrono::steady_clock::now() < until) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 200) <= 0) continue;
        const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) return true;
    }
    return false;
}

TEST(ApiCompatIntegrationTest, ManyClientsAndASlowOneThatIsDroppedWithoutHoldingOthers) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    SquallProcess server(Opts(data));
    const std::string key = server.api_key();
    const int slow = ConnectWithoutReading(server, "/stream/v1/stream?st2-api-key=" + key);
    ASSERT_GE(slow, 0);
    std::vector<std::unique_ptr<SseClient>> clients;
    for (int i = 0; i < 20; ++i) {
        clients.push_back(std::make_unique<SseClient>(
            server, "/stream/v1/stream?st2-api-key=" + key + "&events=st2.execution__update"
        ));
    }
    for (auto& c : clients) ASSERT_TRUE(c->WaitForText(": connected", 20s));

    // ~12 MB of output in 1000-byte lines from four executions: far more than the slow client's socket buffers
    // and its queue hold.
    std::vector<std::string> ids;
    for (int i = 0; i < 4; ++i) {
        ids.push_back(StartExecution(server, "yes \"$(printf '%0999d' 0)\" | head -n 3000"));
        ASSERT_FALSE(ids.back().empty());
    }
    httplib::Client api(server.host(), server.port());
    for (auto& c : clients) {
        ASSERT_TRUE(WaitFor([&] { return SucceededIds(c->Text()).size() == ids.size(); }, 120s))
            << c->Text().size() << " bytes received; executions: "
            << Body(api.Get("/api/v1/executions?include_attributes=status", Auth(server))).dump() << "\n"
            << server.Output();
    }
    // The slow client was cut off by the server (dropped, or its write timed out); nobody waited for it.
    EXPECT_TRUE(ReadUntilClosed(slow, 60s));
    ::close(slow);
    // The server still serves new streams and requests.
    SseClient after(server, "/stream/v1/stream?st2-api-key=" + key);
    EXPECT_TRUE(after.WaitForText(": connected", 10s));
}

}  // namespace
}  // namespace squall::test
