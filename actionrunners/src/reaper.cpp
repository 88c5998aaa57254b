// The gc role's reaper (container.hpp): executions left by a dead runner are abandoned (or retried by their policy),
// what they left running is killed, the execution event stream is trimmed, and inquiries past their ttl time out.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <set>
#include <thread>

#include "retry_schedule.hpp"
#include "squall/actionrunners/container.hpp"
#include "squall/core/clock.hpp"
#include "squall/core/log.hpp"
#include "squall/core/redis/stream.hpp"
#include "squall/executions/policies.hpp"
#include "squall/executions/store.hpp"

namespace squall::actionrunners {
namespace {

using core::Json;
using core::Log;
using executions::RetryWanted;

/// The execution event stream keeps at most this many entries beyond what its consumer groups still need.
constexpr size_t kEventsMaxLen = 100000;

/// The pids of this host's processes whose environment names `execution_id` (ST2_ACTION_EXECUTION_ID, which every
/// action process has and what it starts inherits), this process excepted. Reads /proc: not for an event loop.
std::vector<pid_t> ProcessesOfExecution(const std::string& execution_id) {
    const std::string wanted = "ST2_ACTION_EXECUTION_ID=" + execution_id;
    std::vector<pid_t> out;
    DIR* proc = ::opendir("/proc");
    if (proc == nullptr) return out;
    const pid_t self = ::getpid();
    std::string environ;
    while (const dirent* e = ::readdir(proc)) {
        char* end = nullptr;
        const long pid = std::strtol(e->d_name, &end, 10);
        if (pid <= 0 || *end != '\0' || pid == self) continue;
        const int fd = ::open(("/proc/" + std::string(e->d_name) + "/environ").c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;  // gone, or another user's
        environ.clear();
        char buf[16384];
        ssize_t n = 0;
        while (environ.size() < size_t{1} << 20 && (n = ::read(fd, buf, sizeof buf)) > 0) {
            environ.append(buf, static_cast<size_t>(n));
        }
        ::close(fd);
        // Entries are NUL-terminated: the variable at the start, or after a NUL, and ending at one.
        for (size_t at = environ.find(wanted); at != std::string::npos; at = environ.find(wanted, at + 1)) {
            const size_t after = at + wanted.size();
            if ((at == 0 || environ[at - 1] == '\0') && (after == environ.size() || environ[after] == '\0')) {
                out.push_back(static_cast<pid_t>(pid));
                break;
            }
        }
    }
    ::closedir(proc);
    return out;
}

}  // namespace

struct Reaper::Impl : std::enable_shared_from_this<Reaper::Impl> {
    asio::io_context& io;
    core::RedisClientPtr client;
    executions::ExecutionStore store;
    RunnerKeys runner_keys;
    std::chrono::milliseconds interval;
    asio::steady_timer timer;
    asio::steady_timer trim_timer;
    asio::steady_timer inquiry_timer;
    bool stopped = false;
    std::shared_ptr<spdlog::logger> log = core::Logger("gc");

    Impl(asio::io_context& io_, core::RedisClientPtr c, std::chrono::milliseconds i, const core::Clock& clock)
        : io(io_),
          client(std::move(c)),
          store(client, clock),
          runner_keys(client->endpoint().key_prefix),
          interval(i),
          timer(io_),
          trim_timer(io_),
          inquiry_timer(io_) {}

    /// Every second: the execution event stream keeps at most kEventsMaxLen entries beyond what its consumer
    /// groups still need (core::TrimStream never drops an unread or unacknowledged entry).
    void ScheduleTrim() {
        if (stopped) return;
        auto self = shared_from_this();
        trim_timer.expires_after(std::chrono::seconds(1));
        trim_timer.async_wait([self](const boost::system::error_code& ec) {
            if (ec) return;
            core::TrimStream(*self->client, self->store.keys().Events(), kEventsMaxLen, [self](Result<int64_t> r) {
                if (!r) {
                    Log(*self->log,
                        spdlog::level::warn,
                        "cannot trim the execution events",
                        {{"error", r.error().message}});
                }
                self->ScheduleTrim();
            });
        });
    }

    /// Every interval: an inquiry still pending `ttl` minutes after it started times out (StackStorm's garbage
    /// collector, purge_inquiries; `ttl: 0` never does). The timeout is an end like any other: a workflow waiting on
    /// the inquiry gets its task's end and goes on (docs/executions.md "Inquiries").
    void ScheduleInquiries() {
        if (stopped) return;
        auto self = shared_from_this();
        inquiry_timer.expires_after(interval);
        inquiry_timer.async_wait([self](const boost::system::error_code& ec) {
            if (!ec) self->SweepInquiries();
        });
    }

    void SweepInquiries() {
        auto self = shared_from_this();
        // Pending executions are few: inquiries, and executions paused on one.
        client->Command(
            {"ZRANGE", store.keys().ByStatus(core::status::kPending), "0", "-1"},
            [self](Result<core::RedisReply> ids) {
                if (!ids || ids->elements.empty()) return self->ScheduleInquiries();
                std::vector<core::RedisClient::Args> cmds;
                for (const auto& id : ids->elements) {
                    cmds.push_back(
                        {"HMGET", self->store.keys().Execution(id.str), "runner_type", "start_timestamp", "result"}
                    );
                }
                self->client->Pipeline(
                    std::move(cmds),
                    [self, ids = std::move(*ids)](Result<std::vector<core::RedisReply>> rows) {
                        if (rows) self->ExpireInquiries(ids, *rows);
                        self->ScheduleInquiries();
                    }
                );
            }
        );
    }

    void ExpireInquiries(const core::RedisReply& ids, const std::vector<core::RedisReply>& rows) {
        const auto now = store.clock().Now();
        for (size_t i = 0; i < rows.size() && i < ids.elements.size(); ++i) {
            const auto& row = rows[i].elements;
            if (row.size() != 3 || row[0].str != "inquirer") continue;
            std::chrono::system_clock::time_point started;
            if (!core::ParseIsoTimestamp(row[1].str, &started)) continue;
            Json result = Json::parse(row[2].str, nullptr, false);
            if (!result.is_object()) continue;
            const Json ttl = result.value("ttl", Json(1440));
            if (!ttl.is_number() || ttl.get<double>() <= 0) continue;
            const auto allowed = std::chrono::milliseconds(static_cast<int64_t>(ttl.get<double>() * 60000));
            if (now - started <= allowed) continue;
            const std::string id = ids.elements[i].str;
            const std::string minutes = ttl.dump();
            auto self = shared_from_this();
            store.Transition(
                id,
                core::status::kTimeout,
                {{"end_timestamp", core::FormatIsoTimestamp(now)}},
                [self, id, minutes](Result<executions::TransitionResult> r) {
                    if (r && r->applied) {
                        Log(*self->log,
                            spdlog::level::info,
                            "inquiry timed out unanswered",
                            {{"execution_id", id}, {"ttl_minutes", minutes}});
                    }
                },
                {core::status::kPending}
            );
        }
    }

    void Schedule() {
        if (stopped) return;
        auto self = shared_from_this();
        timer.expires_after(interval);
        timer.async_wait([self](const boost::system::error_code& ec) {
            if (!ec) self->Sweep();
        });
    }

    void Sweep() {
        auto self = shared_from_this();
        // Running and canceling executions both have a runner process; a dead one leaves them there forever.
        client->Pipeline(
            {{"ZRANGE", store.keys().ByStatus(core::status::kRunning), "0", "-1"},
             {"ZRANGE", store.keys().ByStatus(core::status::kCanceling), "0", "-1"}},
            [self](Result<std::vector<core::RedisReply>> lists) {
                if (!lists) return self->Schedule();
                core::RedisReply ids = std::move((*lists)[0]);
                for (auto& id : (*lists)[1].elements) ids.elements.push_back(std::move(id));
                if (ids.elements.empty()) return self->Schedule();
                std::vector<core::RedisClient::Args> cmds;
                for (const auto& id : ids.elements) {
                    cmds.push_back({"HMGET", self->store.keys().Execution(id.str), "runner_id", "status"});
                }
                self->client->Pipeline(
                    std::move(cmds),
                    [self, ids = std::move(ids)](Result<std::vector<core::RedisReply>> rows) {
                        if (!rows) return self->Schedule();
                        // HMGET rows: [runner_id, status] → owners (runner ids) and statuses.
                        std::vector<core::RedisReply> owners;
                        std::vector<std::string> statuses;
                        for (auto& row : *rows) {
                            owners.push_back(row.elements.size() == 2 ? row.elements[0] : core::RedisReply{});
                            statuses.push_back(row.elements.size() == 2 ? row.elements[1].str : "");
                        }
                        self->CheckOwners(ids, owners, statuses);
                    }
                );
            }
        );
    }

    /// What the action of an execution abandoned by a dead runner started and left running on this host (its own
    /// process died with the runner: SIGKILL as its parent-death signal; docs/delivery.md): killed, so that it does
    /// not run on beside a retry. Found by the execution id in the processes' environment, on a thread of its own.
    void KillLeftovers(const std::string& id) {
        std::thread([id, log = log] {
            const std::vector<pid_t> pids = ProcessesOfExecution(id);
            for (pid_t pid : pids) ::kill(pid, SIGKILL);
            if (!pids.empty()) {
                Log(*log,
                    spdlog::level::warn,
                    "killed the processes an abandoned execution left running",
                    {{"execution_id", id}, {"processes", std::to_string(pids.size())}});
            }
        }).detach();
    }

    void CheckOwners(
        const core::RedisReply& ids,
        const std::vector<core::RedisReply>& owners,
        const std::vector<std::string>& statuses
    ) {
        auto self = shared_from_this();
        std::vector<std::string> distinct;
        for (const auto& o : owners) {
            if (!o.IsNil() && std::find(distinct.begin(), distinct.end(), o.str) == distinct.end())
                distinct.push_back(o.str);
        }
        if (distinct.empty()) return Schedule();
        std::vector<core::RedisClient::Args> cmds;
        for (const auto& d : distinct)
            cmds.push_back({"EXISTS", RunnerKeys(self->client->endpoint().key_prefix).Alive(d)});
        client->Pipeline(
            std::move(cmds),
            [self, ids, owners, statuses, distinct](Result<std::vector<core::RedisReply>> alive) {
                if (!alive) return self->Schedule();
                std::set<std::string> dead;
                for (size_t i = 0; i < distinct.size(); ++i) {
                    if ((*alive)[i].integer == 0) dead.insert(distinct[i]);
                }
                for (size_t i = 0; i < owners.size(); ++i) {
                    if (owners[i].IsNil() || !dead.count(owners[i].str)) continue;
                    const std::string id = ids.elements[i].str;
                    // A dead runner's canceling execution is canceled: its process group died with the runner.
                    const bool canceling = statuses[i] == core::status::kCanceling;
                    Json result = {
                        {"error",
                         "runner " + owners[i].str + " stopped responding while the execution was " + statuses[i]}};
                    // The retry is made due first (the poll waits for a final status, and drops it if the end is
                    // not a failure): made after, an abandon whose answer was lost, or a gc role dying in between,
                    // left the execution without it.
                    auto abandon = [self, id, owner = owners[i].str, status = statuses[i], canceling, result]() {
                        self->store.Transition(
                            id,
                            canceling ? core::status::kCanceled : core::status::kAbandoned,
                            {{"result", result.dump()},
                             {"end_timestamp", core::FormatIsoTimestamp(self->store.clock().Now())}},
                            [self, id, runner = owner](Result<executions::TransitionResult> r) {
                                if (r && r->applied) {
                                    Log(*self->log,
                                        spdlog::level::warn,
                                        "execution abandoned",
                                        {{"execution_id", id}, {"runner", runner}});
                                    self->KillLeftovers(id);
                                }
                            },
                            {status}
                        );
                    };
                    if (canceling) {
                        abandon();
                    } else {
                        self->RetryAbandoned(id, std::move(abandon));
                    }
                }
                self->Schedule();
            }
        );
    }

    /// An abandoned execution of an action with action.retry (`retry_on: failure`) is due for its retry: its
    /// request was kept at the claim (RunnerKeys::RetryRequest), and the runners' poll creates the retry.
    /// Then `abandon` (once the retry is due, or when there is none; not when Redis missed it: the next sweep
    /// tries both again).
    void RetryAbandoned(const std::string& id, std::function<void()> abandon) {
        auto self = shared_from_this();
        client->Command(
            {"GET", runner_keys.RetryRequest(id)},
            [self, id, abandon = std::move(abandon)](Result<core::RedisReply> r) {
                if (!r || r->IsError()) return;
                if (r->IsNil()) return abandon();  // no retry policy, or its request expired
                Json body = Json::parse(r->str, nullptr, false);
                Result<core::ExecutionRequest> req = body.is_object()
                                                         ? core::ExecutionRequest::FromJson(body)
                                                         : Result<core::ExecutionRequest>(NotFound("not JSON"));
                if (!req || !RetryWanted(*req, core::status::kAbandoned)) return abandon();
                ScheduleRetry(
                    *self->client,
                    self->runner_keys,
                    self->store.clock(),
                    *req,
                    [self, id, abandon](bool ok) {
                        if (ok) return abandon();
                        Log(*self->log,
                            spdlog::level::err,
                            "cannot schedule the retry of an abandoned execution",
                            {{"execution_id", id}});
                    }
                );
            }
        );
    }
};

Reaper::Reaper(
    asio::io_context& io, core::RedisClientPtr client, std::chrono::milliseconds interval, const core::Clock& clock
)
    : impl_(std::make_shared<Impl>(io, std::move(client), interval, clock)) {}
Reaper::~Reaper() {
    Stop();
}
void Reaper::Start(bool expire_inquiries) {
    impl_->Schedule();
    impl_->ScheduleTrim();
    if (expire_inquiries) impl_->ScheduleInquiries();
}
void Reaper::Stop() {
    asio::post(impl_->io, [impl = impl_]() {
        impl->stopped = true;
        impl->timer.cancel();
        impl->trim_timer.cancel();
        impl->inquiry_timer.cancel();
    });
}

}  // namespace squall::actionrunners
