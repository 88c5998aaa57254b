#include "squall/packs/content_cache.hpp"

#include <future>

namespace squall::packs {

ContentCache::ContentCache(ContentStore& store, const core::Clock& clock, std::chrono::milliseconds max_age)
    : store_(store), clock_(clock), max_age_(max_age) {}

Result<ContentSnapshotPtr> ContentCache::GetBlocking() {
    std::lock_guard lock(mu_);
    const auto now = clock_.SteadyNow();
    if (snapshot_ && now - checked_ < max_age_) return snapshot_;
    auto promise = std::make_shared<std::promise<Result<int64_t>>>();
    auto future = promise->get_future();
    store_.Version([promise](Result<int64_t> v) { promise->set_value(std::move(v)); });
    Result<int64_t> version = future.get();
    if (!version) {
        if (snapshot_) return snapshot_;
        return version.error();
    }
    if (!snapshot_ || snapshot_->version != *version) {
        Result<ContentSnapshotPtr> fresh = store_.LoadBlocking();
        if (!fresh) {
            if (snapshot_) return snapshot_;
            return fresh.error();
        }
        snapshot_ = std::move(*fresh);
    }
    checked_ = now;
    return snapshot_;
}

ContentSnapshotPtr ContentCache::FreshNow() {
    std::unique_lock lock(mu_, std::try_to_lock);  // held by a refresh waiting for Redis: not fresh now
    if (!lock.owns_lock() || !snapshot_ || clock_.SteadyNow() - checked_ >= max_age_) return nullptr;
    return snapshot_;
}

void ContentCache::Invalidate() {
    std::lock_guard lock(mu_);
    checked_ = {};
}

void ContentFollower::Refresh(std::function<void(Status, bool changed)> next) {
    store_.Version([this, next = std::move(next)](Result<int64_t> v) mutable {
        if (!v) return next(v.error(), false);
        if (snapshot_ && snapshot_->version == *v) return next(Status{}, false);
        store_.Load([this, next = std::move(next)](Result<ContentSnapshotPtr> snap) mutable {
            if (!snap) return next(snap.error(), false);
            snapshot_ = std::move(*snap);
            next(Status{}, true);
        });
    });
}

}  // namespace squall::packs
