#pragma once

// The per-instance cache of the Matcher, shared by the index (matcher_index.cpp) and the search loop
// (matcher_evaluate.cpp). Private to squall_rules.

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "squall/rules/matcher.hpp"

namespace squall::rules {
namespace detail {

inline const Json kUnresolvedMarker;  // immutable; only its address is used

/// Marks a value not looked up yet in the instance cache.
inline const Json* Unresolved() {
    return &kUnresolvedMarker;
}

}  // namespace detail

/// What one trigger instance has computed so far while it is matched against a bucket: the values at the
/// bucket's criteria keys (each resolved once), their lower-cased strings for the case-insensitive operators, the
/// verdict of each distinct criterion, and for `search` the values and verdicts per item. Reused from instance to
/// instance (thread_local), so that matching allocates nothing once warm.
struct Matcher::InstanceCache {
    const Json* root = nullptr;
    /// Entries are valid for the instance being matched when their stamp equals `epoch`, so that starting an
    /// instance costs nothing per path or criterion (a bucket of 10,000 rules has 10,000 verdicts to forget).
    uint32_t epoch = 0;
    std::vector<uint32_t> path_epoch;  ///< per path: stamp of values/lowered_at/items_at
    std::vector<const Json*> values;   ///< per path: detail::Unresolved(), the value, or nullptr (absent)
    std::vector<int32_t> lowered_at;   ///< per path: index in `lowered`, -1 until needed
    /// Search: per path, the first item slot of the list at that path (-1 until a search looks at it).
    std::vector<int32_t> items_at;
    /// Per distinct criterion: epoch << 2 | verdict (1 passed, 2 failed); another epoch: not checked yet.
    std::vector<uint32_t> verdicts;
    std::vector<std::string> lowered;  ///< buffers reused across instances
    size_t lowered_used = 0;
    /// Per item slot: the values at the bucket's item paths and the verdicts of its item criteria.
    std::vector<const Json*> item_values;
    std::vector<uint8_t> item_verdicts;
    size_t item_slots = 0;

    void Reset(const Bucket& b, const Json& payload) {
        root = &payload;
        if (++epoch == (1u << 30)) {  // wrapped: forget every stamp once
            std::fill(path_epoch.begin(), path_epoch.end(), 0);
            std::fill(verdicts.begin(), verdicts.end(), 0);
            epoch = 1;
        }
        if (path_epoch.size() < b.paths.size()) {
            path_epoch.resize(b.paths.size(), 0);
            values.resize(b.paths.size());
            lowered_at.resize(b.paths.size());
            items_at.resize(b.paths.size());
        }
        if (verdicts.size() < b.criteria.size()) verdicts.resize(b.criteria.size(), 0);
        lowered_used = 0;
        item_values.clear();
        item_verdicts.clear();
        item_slots = 0;
    }
    void Touch(uint32_t path) {
        if (path_epoch[path] == epoch) return;
        path_epoch[path] = epoch;
        values[path] = detail::Unresolved();
        lowered_at[path] = -1;
        items_at[path] = -1;
    }
    const Json* Value(const Bucket& b, uint32_t path) {
        Touch(path);
        const Json*& v = values[path];
        if (v == detail::Unresolved()) v = ResolvePath(*root, b.paths[path]);
        return v;
    }
    /// The string at `path` (`s`), lower-cased (Python's str.lower) once per instance. Valid until the next call.
    const std::string& Lowered(uint32_t path, const std::string& s) {
        Touch(path);
        int32_t& at = lowered_at[path];
        if (at < 0) {
            if (lowered_used == lowered.size()) lowered.emplace_back();
            at = static_cast<int32_t>(lowered_used++);
            std::string& l = lowered[static_cast<size_t>(at)];
            l.assign(s);
            LowerInPlace(l);
        }
        return lowered[static_cast<size_t>(at)];
    }
    int32_t& ItemsAt(uint32_t path) {
        Touch(path);
        return items_at[path];
    }
    /// The verdict of distinct criterion `id` on this instance: 0 not checked yet, 1 passed, 2 failed.
    uint32_t Verdict(uint32_t id) const {
        const uint32_t v = verdicts[id];
        return v >> 2 == epoch ? v & 3 : 0;
    }
    void SetVerdict(uint32_t id, bool passed) { verdicts[id] = epoch << 2 | (passed ? 1 : 2); }
};

}  // namespace squall::rules
