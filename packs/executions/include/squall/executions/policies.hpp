#pragma once
// StackStorm's action policies as they travel with an execution request (docs/delivery.md "Policies"):
// ExecutionService puts the applicable ones in the request's action snapshot (`action.policies`); whoever claims
// and ends the execution applies them — runner processes for actions, the workflow role for workflows.

#include <chrono>
#include <cstdint>
#include <string>

#include "squall/core/model/model.hpp"

namespace squall::executions {

/// A policy (`concurrency`, `retry`) in the request's action snapshot, or null.
const core::Json* RequestPolicy(const core::ExecutionRequest& r, const char* kind);

/// The retry count of a request (0 for a first run): its context's `policies.retry.retry_count`.
int64_t RetryCount(const core::ExecutionRequest& r);

/// Whether an execution of `r` that ended in `status` is to be run again by its action.retry policy:
/// `retry_on: failure` takes `failed` and `abandoned` (its runner died mid-run: the action did not complete),
/// `retry_on: timeout` takes `timeout`; while the chain of retries is shorter than max_retry_count. Never for an
/// Orquesta task (`orquesta` in its context), as in StackStorm: the task's own `retry` does that.
bool RetryWanted(const core::ExecutionRequest& r, const std::string& status);

/// The policy's `delay` (seconds, 0 to a day).
std::chrono::milliseconds RetryDelay(const core::ExecutionRequest& r);

}  // namespace squall::executions
