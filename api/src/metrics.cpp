#include "metrics.hpp"

#include <cstdio>

namespace squall::api {

HttpMetrics& HttpMetrics::Instance() {
    static HttpMetrics m;
    return m;
}

void HttpMetrics::Observe(
    const std::string& method, const std::string& route, int status, std::chrono::nanoseconds took
) {
    const double seconds = std::chrono::duration<double>(took).count();
    size_t bucket = 0;
    while (bucket < kBuckets.size() && seconds > kBuckets[bucket]) ++bucket;
    std::lock_guard<std::mutex> lock(mu_);
    const std::tuple<std::string_view, std::string_view, int> request(method, route, status);
    auto counted = requests_.find(request);
    if (counted == requests_.end()) counted = requests_.emplace(std::tuple(method, route, status), 0).first;
    ++counted->second;
    auto timed = latency_.find(std::pair<std::string_view, std::string_view>(method, route));
    if (timed == latency_.end()) timed = latency_.emplace(std::pair(method, route), Histogram{}).first;
    Histogram& h = timed->second;
    if (bucket < kBuckets.size()) ++h.buckets[bucket];
    ++h.count;
    h.sum += seconds;
}

void HttpMetrics::Write(std::string& out) const {
    out +=
        "# HELP squall_http_lane_slow_requests_total Requests the webhook lane gave to the HTTP worker threads because "
        "their bytes did not all arrive within a second.\n";
    out += "# TYPE squall_http_lane_slow_requests_total counter\n";
    out += "squall_http_lane_slow_requests_total " + std::to_string(slow_lane_requests_.load()) + "\n";
    std::lock_guard<std::mutex> lock(mu_);
    out += "# HELP squall_http_requests_total HTTP requests answered by this process, by method, route and code.\n";
    out += "# TYPE squall_http_requests_total counter\n";
    for (const auto& [key, n] : requests_) {
        const auto& [method, route, code] = key;
        out += "squall_http_requests_total{method=\"" + method + "\",route=\"" + PromEscape(route) + "\",code=\"" +
               std::to_string(code) + "\"} " + std::to_string(n) + "\n";
    }
    out += "# HELP squall_http_request_duration_seconds Time to answer an HTTP request, by method and route.\n";
    out += "# TYPE squall_http_request_duration_seconds histogram\n";
    char num[64];
    for (const auto& [key, h] : latency_) {
        const std::string labels = "method=\"" + key.first + "\",route=\"" + PromEscape(key.second) + "\"";
        uint64_t cumulative = 0;
        for (size_t i = 0; i < kBuckets.size(); ++i) {
            cumulative += h.buckets[i];
            std::snprintf(num, sizeof(num), "%g", kBuckets[i]);
            out += "squall_http_request_duration_seconds_bucket{" + labels + ",le=\"" + num + "\"} " +
                   std::to_string(cumulative) + "\n";
        }
        out +=
            "squall_http_request_duration_seconds_bucket{" + labels + ",le=\"+Inf\"} " + std::to_string(h.count) + "\n";
        std::snprintf(num, sizeof(num), "%.6f", h.sum);
        out += "squall_http_request_duration_seconds_sum{" + labels + "} " + num + "\n";
        out += "squall_http_request_duration_seconds_count{" + labels + "} " + std::to_string(h.count) + "\n";
    }
}

std::string RouteTemplate(const std::string& pattern, const std::function<std::string(const std::string&)>& group) {
    std::string out;
    int depth = 0;
    for (size_t i = 0; i < pattern.size(); ++i) {
        const char c = pattern[i];
        if (c == '\\' && i + 1 < pattern.size()) {
            if (depth == 0) out += pattern[i + 1];
            ++i;
        } else if (c == '(') {
            if (depth++ == 0) out += group(out);
        } else if (c == ')') {
            if (depth > 0) --depth;
        } else if (depth == 0 && c != '^' && c != '$') {
            out += c;
        }
    }
    if (out.size() >= 2 && out.compare(out.size() - 2, 2, "/?") == 0) out.resize(out.size() - 2);
    if (out.size() > 1 && out.back() == '?') out.pop_back();
    return out;
}

std::string RouteLabel(const std::string& pattern) {
    return RouteTemplate(pattern, [](const std::string&) { return std::string("{}"); });
}

std::string PromEscape(const std::string& text) {
    std::string out;
    for (const char c : text) {
        if (c == '\\' || c == '"') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

}  // namespace squall::api
