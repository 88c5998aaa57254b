#pragma once

// HTTP request metrics of this process, for GET /metrics (routes/metrics.cpp): requests by method, route and
// status code, and a latency histogram per method and route. The Router observes every request it dispatches.
#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>

#include "squall/core/redis/counters.hpp"

namespace squall::api {

class HttpMetrics {
public:
    /// The process-wide instance (every ApiServer of the process shares it, as Prometheus sees one process).
    static HttpMetrics& Instance();

    /// Counts one answered request. `route` is a route label (RouteLabel), never a raw path: the set of series
    /// stays bounded by the routes, whatever paths clients send.
    void Observe(const std::string& method, const std::string& route, int status, std::chrono::nanoseconds took);
    /// Counts a request the webhook lane gave to the worker threads because its bytes did not all arrive in time.
    void CountSlowLaneRequest() { slow_lane_requests_.fetch_add(1, std::memory_order_relaxed); }
    /// Appends the series in Prometheus text format (HELP/TYPE lines included).
    void Write(std::string& out) const;

    /// The upper bounds (seconds) of the latency histogram's buckets; +Inf is implied.
    static constexpr std::array<double, 12> kBuckets = {
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0};

private:
    struct Histogram {
        std::array<uint64_t, kBuckets.size()> buckets{};  ///< non-cumulative counts per bucket
        uint64_t count = 0;
        double sum = 0;
    };
    std::atomic<uint64_t> slow_lane_requests_{0};
    mutable std::mutex mu_;
    /// Find by string views: counting a request of a route seen before allocates nothing.
    struct RequestLess {
        using is_transparent = void;
        template <class A, class B>
        bool operator()(const A& a, const B& b) const {
            const std::string_view a0 = std::get<0>(a), b0 = std::get<0>(b);
            if (a0 != b0) return a0 < b0;
            const std::string_view a1 = std::get<1>(a), b1 = std::get<1>(b);
            if (a1 != b1) return a1 < b1;
            return std::get<2>(a) < std::get<2>(b);
        }
    };
    std::map<std::tuple<std::string, std::string, int>, uint64_t, RequestLess> requests_;  // guarded by mu_
    std::map<std::pair<std::string, std::string>, Histogram, core::DeferredCounters::KeyLess>
        latency_;  // guarded by mu_
};

/// A route pattern as registered with httplib (a regex) as a path template: each regex group replaced by what
/// `group` returns for it (it gets the path written so far), escapes resolved, anchors and the optional trailing
/// slash dropped. Serves the metrics' route labels and the OpenAPI document's paths.
std::string RouteTemplate(const std::string& pattern, const std::function<std::string(const std::string&)>& group);

/// The label of a route pattern: each regex group shown as `{}`
/// ("/api/v1/executions/([^/]+)/?" → "/api/v1/executions/{}").
std::string RouteLabel(const std::string& pattern);

/// `text` as a Prometheus label value: backslash, double quote and newline escaped.
std::string PromEscape(const std::string& text);

}  // namespace squall::api
