#pragma once

#include <string>
#include <string_view>
#include <vector>

/// The one execution status machine (docs/executions.md): StackStorm's statuses and the transitions Squall
/// allows between them. The table below is the only list of allowed transitions; the Redis script that changes
/// a status is generated from it (ExecutionStore), so code and script cannot disagree.
namespace squall::executions {

/// Every (from, to) pair that a status change may take. A status not listed as `from` is final.
const std::vector<std::pair<std::string_view, std::string_view>>& Transitions();

/// True when `from` → `to` is in Transitions().
bool CanTransition(std::string_view from, std::string_view to);

/// Statuses an execution ends in (succeeded, failed, timeout, canceled, abandoned).
bool IsFinal(std::string_view status);

/// Statuses from which a cancel request ends the execution at once (nothing is running for it).
bool CancelsAtOnce(std::string_view status);

/// Statuses in which a process may be running for the execution: a cancel goes through `canceling`.
bool CancelsThroughCanceling(std::string_view status);

/// The Lua string literal `',requested>scheduled,...,'` of Transitions(), for the transition script: an edge
/// is allowed iff `,from>to,` occurs in it.
std::string TransitionsAsLuaString();

}  // namespace squall::executions
