#include "queue_depth.hpp"

#include <set>

#include "squall/core/service_registry.hpp"
#include "squall/core/store/store.hpp"
#include "squall/executions/store.hpp"

namespace squall::api {

QueueDepth::QueueDepth(core::RedisClientPtr redis, int64_t max_depth, std::chrono::milliseconds interval)
    : redis_(std::move(redis)), max_(max_depth), interval_(interval) {}

QueueDepth::~QueueDepth() {
    Stop();
}

void QueueDepth::Start() {
    if (thread_.joinable()) return;
    thread_ = std::thread([this] {
        std::unique_lock lock(mu_);
        while (!stop_) {
            lock.unlock();
            Refresh();
            lock.lock();
            cv_.wait_for(lock, interval_, [this] { return stop_; });
        }
    });
}

void QueueDepth::Stop() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void QueueDepth::Refresh() {
    const std::string& prefix = redis_->endpoint().key_prefix;
    const executions::Keys ek(prefix);
    const auto now = std::chrono::steady_clock::now();
    if (streams_.empty() || now - pools_read_ >= std::chrono::seconds(2)) {
        std::set<std::string> pools = {"default", "workflow"};
        if (Result<std::vector<core::ServiceMember>> members = core::ListServiceMembersBlocking(*redis_); members) {
            for (const auto& m : *members) {
                if (!m.pool.empty()) pools.insert(m.pool);
            }
        }
        streams_.clear();
        for (const auto& p : pools) streams_.push_back(ek.RequestStream(p));
        pools_read_ = now;
    }
    std::vector<core::RedisClient::Args> cmds = {{"XLEN", core::Keys(prefix).TriggerStream()}};
    for (const auto& s : streams_) cmds.push_back({"XLEN", s});
    Result<std::vector<core::RedisReply>> r = redis_->PipelineBlocking(std::move(cmds));
    if (!r || r->size() != streams_.size() + 1) return;  // Redis away: the last reading stands
    triggers_.store((*r)[0].integer, std::memory_order_relaxed);
    int64_t sum = 0;
    for (size_t i = 1; i < r->size(); ++i) sum += (*r)[i].integer;
    executions_.store(sum, std::memory_order_relaxed);
}

}  // namespace squall::api
