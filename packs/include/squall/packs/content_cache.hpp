#pragma once

#include <chrono>
#include <functional>
#include <mutex>

#include "squall/core/clock.hpp"
#include "squall/packs/content_store.hpp"

namespace squall::packs {

/// A content snapshot shared by threads that may block (HTTP handlers): re-checks the version at most every
/// `max_age` and reloads when it changed. Thread-safe.
class ContentCache {
public:
    ContentCache(ContentStore& store, const core::Clock& clock, std::chrono::milliseconds max_age);
    /// The current snapshot; an error only when Redis fails and no snapshot was ever loaded.
    Result<ContentSnapshotPtr> GetBlocking();
    /// The snapshot when it is younger than the cache's age and nobody is refreshing it now; null otherwise (then
    /// GetBlocking would wait for Redis). Never waits: for event loops (the API's webhook lane).
    ContentSnapshotPtr FreshNow();
    /// Forces the next GetBlocking to reload (after this process changed content).
    void Invalidate();
    /// The snapshot as of now (checks the version whatever its age). For misses: a ref that another process
    /// registered a moment ago (a pack install finishing in a runner) must not read as "not found".
    Result<ContentSnapshotPtr> RecheckBlocking() {
        Invalidate();
        return GetBlocking();
    }

private:
    ContentStore& store_;
    const core::Clock& clock_;
    std::chrono::milliseconds max_age_;
    std::mutex mu_;
    ContentSnapshotPtr snapshot_;
    std::chrono::steady_clock::time_point checked_{};
};

/// The asynchronous counterpart for event-loop users (the rules engine, the notifier): one object per consumer
/// chain, so it needs no lock. Refresh() checks the version (one GET) and reloads the snapshot when it moved.
class ContentFollower {
public:
    explicit ContentFollower(ContentStore& store) : store_(store) {}
    /// `next(status, changed)` runs on the Redis client's strand; on error the previous snapshot stays.
    void Refresh(std::function<void(Status, bool changed)> next);
    /// The snapshot of the last successful Refresh (null before the first).
    const ContentSnapshotPtr& snapshot() const { return snapshot_; }

private:
    ContentStore& store_;
    ContentSnapshotPtr snapshot_;
};

}  // namespace squall::packs
