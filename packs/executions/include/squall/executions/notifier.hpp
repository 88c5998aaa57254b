#pragma once

#include <memory>
#include <string>

#include "squall/core/asio.hpp"
#include "squall/core/redis/client.hpp"
#include "squall/core/store/store.hpp"
#include "squall/executions/store.hpp"
#include "squall/packs/content_store.hpp"

namespace squall::executions {

/// The notifier role: reads the notify stream (Keys::Notify(), consumer group "notifier": the final events of the
/// executions something listened to when they ended) and, for every such execution, emits StackStorm's
/// `core.st2.generic.actiontrigger` (when a registered rule listens to it) and one `core.st2.generic.notifytrigger` per
/// route of the action's `notify` (on-complete, on-success, on-failure). Trigger instance ids derive from the execution
/// id, so a redelivered event emits nothing twice; events are acknowledged only once their trigger instances are
/// stored.
class Notifier {
public:
    Notifier(
        asio::io_context& io,
        core::RedisClientPtr client,
        ExecutionStore& executions,
        core::TriggerStore& triggers,
        packs::ContentStore& content,
        std::string consumer_name
    );
    ~Notifier();
    void Start();
    void Stop(std::function<void()> on_stopped);

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

/// StackStorm's actiontrigger payload for a finished execution (`execution`: ExecutionStore::FromHash's JSON).
core::Json ActionTriggerPayload(const core::Json& execution);

}  // namespace squall::executions
