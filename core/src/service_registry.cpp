#include "squall/core/service_registry.hpp"

#include <algorithm>
#include <mutex>

namespace squall::core {

Json ServiceMember::ToJson() const {
    return {
        {"id", id},
        {"hostname", hostname},
        {"pid", pid},
        {"roles", roles},
        {"pool", pool},
        {"listen", listen},
        {"started_at", started_at},
        {"last_beat", last_beat},
    };
}

Result<ServiceMember> ServiceMember::FromJson(const Json& j) {
    if (!j.is_object() || !j.contains("id") || !j["id"].is_string())
        return InvalidArgument("service member: not an object with a string id");
    ServiceMember m;
    try {
        m.id = j["id"];
        m.hostname = j.value("hostname", "");
        m.pid = j.value("pid", int64_t{0});
        m.roles = j.value("roles", std::vector<std::string>{});
        m.pool = j.value("pool", "");
        m.listen = j.value("listen", "");
        m.started_at = j.value("started_at", "");
        m.last_beat = j.value("last_beat", "");
    } catch (const Json::exception& e) {
        return InvalidArgument(std::string("service member: ") + e.what());
    }
    return m;
}

struct ServiceHeartbeat::Impl : std::enable_shared_from_this<ServiceHeartbeat::Impl> {
    asio::io_context& io;
    RedisClientPtr client;
    ServiceMember self;
    const Clock& clock;
    Options options;
    ServiceRegistryKeys keys;
    asio::steady_timer timer;
    std::mutex mu;
    bool stopped = false;  // guarded by mu

    Impl(asio::io_context& io_, RedisClientPtr c, ServiceMember s, const Clock& clk, Options o)
        : io(io_),
          client(std::move(c)),
          self(std::move(s)),
          clock(clk),
          options(o),
          keys(client->endpoint().key_prefix),
          timer(io_) {}

    std::vector<RedisClient::Args> BeatCommands() {
        self.last_beat = FormatIsoTimestamp(clock.Now());
        return {
            {"SET", keys.Member(self.id), self.ToJson().dump(), "PX", std::to_string(options.ttl.count())},
            {"SADD", keys.Members(), self.id}};
    }

    void Beat() {
        {
            std::lock_guard lock(mu);
            if (stopped) return;
        }
        // A failed beat is only logged by the client; the next one (or the member's expiry) sets things right.
        client->Pipeline(BeatCommands(), [](Result<std::vector<RedisReply>>) {});
        timer.expires_after(options.interval);
        timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
            if (!ec) self->Beat();
        });
    }
};

ServiceHeartbeat::ServiceHeartbeat(
    asio::io_context& io, RedisClientPtr client, ServiceMember self, const Clock& clock, Options o
)
    : impl_(std::make_shared<Impl>(io, std::move(client), std::move(self), clock, o)) {}

ServiceHeartbeat::~ServiceHeartbeat() {
    std::lock_guard lock(impl_->mu);
    impl_->stopped = true;
}

void ServiceHeartbeat::Start() {
    if (impl_->self.started_at.empty()) impl_->self.started_at = FormatIsoTimestamp(impl_->clock.Now());
    asio::post(impl_->io, [impl = impl_] { impl->Beat(); });
}

void ServiceHeartbeat::StopBlocking() {
    {
        std::lock_guard lock(impl_->mu);
        impl_->stopped = true;
    }
    asio::post(impl_->io, [impl = impl_] { impl->timer.cancel(); });
    // Best effort: a member left behind expires with its TTL.
    (void)impl_->client->PipelineBlocking(
        {{"DEL", impl_->keys.Member(impl_->self.id)}, {"SREM", impl_->keys.Members(), impl_->self.id}}
    );
}

Result<std::vector<ServiceMember>> ListServiceMembersBlocking(RedisClient& client) {
    ServiceRegistryKeys keys(client.endpoint().key_prefix);
    Result<RedisReply> ids = client.CommandBlocking({"SMEMBERS", keys.Members()});
    if (!ids) return ids.error();
    if (ids->IsError()) return Internal("redis: " + ids->str);
    std::vector<ServiceMember> out;
    if (ids->elements.empty()) return out;
    RedisClient::Args mget = {"MGET"};
    for (const auto& id : ids->elements) mget.push_back(keys.Member(id.str));
    Result<RedisReply> values = client.CommandBlocking(std::move(mget));
    if (!values) return values.error();
    if (values->IsError()) return Internal("redis: " + values->str);
    RedisClient::Args gone = {"SREM", keys.Members()};
    for (size_t i = 0; i < ids->elements.size() && i < values->elements.size(); ++i) {
        const RedisReply& v = values->elements[i];
        Result<ServiceMember> m = v.IsNil() ? Result<ServiceMember>(NotFound("expired"))
                                            : ServiceMember::FromJson(Json::parse(v.str, nullptr, false));
        if (!m) {
            gone.push_back(ids->elements[i].str);
            continue;
        }
        out.push_back(std::move(*m));
    }
    // A member that expired between its SADD and now would be re-added by its next beat, were it alive.
    if (gone.size() > 2) (void)client.CommandBlocking(std::move(gone));  // best effort: the next reader retries
    std::sort(out.begin(), out.end(), [](const ServiceMember& a, const ServiceMember& b) { return a.id < b.id; });
    return out;
}

}  // namespace squall::core
