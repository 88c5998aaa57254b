// The retry schedule shared by the runner container and the gc role's reaper (docs/delivery.md "Policies").
#pragma once

#include <functional>

#include "squall/actionrunners/container.hpp"
#include "squall/core/clock.hpp"
#include "squall/core/model/model.hpp"
#include "squall/core/redis/client.hpp"

namespace squall::actionrunners {

/// Puts `id` on the due set at now + its policy's delay (ZADD: asking twice keeps one entry).
void ScheduleRetry(
    core::RedisClient& client,
    const RunnerKeys& keys,
    const core::Clock& clock,
    const core::ExecutionRequest& r,
    std::function<void(bool)> then
);

}  // namespace squall::actionrunners
