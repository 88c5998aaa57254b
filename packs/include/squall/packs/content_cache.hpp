#pragma once

#include <chrono>
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

}  // namespace squall::packs
