#include "http.hpp"

#include "metrics.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "squall/core/id.hpp"
#include "squall/core/input.hpp"
#include "squall/core/log.hpp"

namespace squall::api {

namespace {

/// The include_attributes / exclude_attributes of the request this thread is answering, while Router::Wrap runs
/// a route that they narrow: SendJson and SendList apply them to the JSON they are given, so that the answer is
/// not serialized, parsed again and filtered (ApplyAttributeFilter remains for answers made another way).
struct AttributeFilter {
    std::vector<std::string> include;
    std::vector<std::string> exclude;
    bool applied = false;
};
thread_local AttributeFilter* tl_attribute_filter = nullptr;
/// Whether the request this thread serves is an admin's (Router::Wrap): a route's upper bound for explicit `limit`s
/// is for other users only, as StackStorm's `max_page_size` (an admin may ask for everything with `limit=-1` anyway).
thread_local bool tl_admin_request = false;

std::string DumpJson(const Json& j) {
    return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

/// The filter to apply to a `status` answer now (nullptr: none), marked as applied.
AttributeFilter* FilterFor(int status) {
    AttributeFilter* f = tl_attribute_filter;
    if (f == nullptr || status < 200 || status >= 300) return nullptr;
    f->applied = true;
    return f;
}

}  // namespace

void SendJson(httplib::Response& res, int status, const Json& body) {
    res.status = status;
    if (AttributeFilter* f = FilterFor(status)) {
        res.set_content(DumpJson(FilterAttributes(body, f->include, f->exclude)), "application/json");
        return;
    }
    res.set_content(DumpJson(body), "application/json");
}

namespace {

/// Redis answers every command with `-LOADING ...` while it reads its data set at start; stores turn that reply
/// into an error carrying its text. It is the server starting, not a bug: 503 with Retry-After.
bool IsRedisLoading(const Error& e) {
    auto has = [](const std::string& s) { return s.find("LOADING") != std::string::npos; };
    return e.code != ErrorCode::kInvalidArgument && e.code != ErrorCode::kNotFound && (has(e.message) || has(e.detail));
}

/// Logs a failed request, at most one line per kErrorLogInterval for unavailability (a Redis restart would
/// otherwise log a line per request), with the number of lines left out.
void LogFailure(const Error& error) {
    constexpr int64_t kErrorLogIntervalMs = 10000;
    static std::atomic<int64_t> last_ms{INT64_MIN / 2};  // NOLINT: a log limiter, not state anything reads
    static std::atomic<int64_t> suppressed{0};           // NOLINT
    if (error.code == ErrorCode::kUnavailable) {
        const int64_t now =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
                .count();
        int64_t last = last_ms.load();
        if (now - last < kErrorLogIntervalMs || !last_ms.compare_exchange_strong(last, now)) {
            ++suppressed;
            return;
        }
    }
    const int64_t left_out = suppressed.exchange(0);
    core::Log(
        *core::Logger("api"),
        spdlog::level::err,
        "request failed",
        {{"error", error.What()}, {"detail", error.detail}, {"similar_lines_left_out", std::to_string(left_out)}}
    );
}

}  // namespace

void SendError(httplib::Response& res, const Error& error) {
    const Error shown =
        IsRedisLoading(error)
            ? Unavailable("Redis is loading its data set; retry shortly", error.message + " " + error.detail)
            : error;
    const int status = HttpStatus(shown.code);
    if (status == 503) res.set_header("Retry-After", "1");
    if (status >= 500) LogFailure(shown);
    SendJson(res, status, {{"faultstring", shown.What()}, {"code", ErrorCodeName(shown.code)}});
}

void SendList(httplib::Response& res, const std::vector<Json>& items, size_t total, size_t limit) {
    res.set_header("X-Total-Count", std::to_string(total));
    res.set_header("X-Limit", limit >= Page::kNoLimit ? std::string("-1") : std::to_string(limit));
    // Each item serialized in place (no copy of the whole list into one JSON array first).
    AttributeFilter* f = FilterFor(200);
    std::string body = "[";
    for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) body += ',';
        body += f != nullptr ? DumpJson(FilterAttributes(items[i], f->include, f->exclude)) : DumpJson(items[i]);
    }
    body += ']';
    res.status = 200;
    res.set_content(std::move(body), "application/json");
}

Result<Json> ParseBody(const httplib::Request& req) {
    if (req.body.empty()) return Json::object();
    return core::ParseJsonLimited(req.body, "request body");
}

Result<Json> ParseObjectBody(const httplib::Request& req) {
    Result<Json> body = ParseBody(req);
    if (!body) return body.error();
    if (!body->is_object())
        return InvalidArgument("request body: must be a JSON object, not " + std::string(body->type_name()));
    for (auto it = body->begin(); it != body->end();) {
        if (it->is_null()) {
            it = body->erase(it);
        } else {
            ++it;
        }
    }
    return body;
}

Result<size_t> QueryCount(const httplib::Request& req, const std::string& name, size_t def, size_t max) {
    if (!req.has_param(name.c_str())) return def;
    const std::string v = req.get_param_value(name.c_str());
    try {
        size_t pos = 0;
        const long long n = std::stoll(v, &pos);
        if (pos != v.size() || n < 0) throw std::invalid_argument(v);
        if (static_cast<unsigned long long>(n) > max) {
            return InvalidArgument(
                "query parameter \"" + name + "\": " + v + " is above the maximum " + std::to_string(max)
            );
        }
        return static_cast<size_t>(n);
    } catch (const std::exception&) {
        return InvalidArgument("query parameter \"" + name + "\": \"" + v + "\" is not a non-negative integer");
    }
}

Result<Page> QueryPage(const httplib::Request& req, size_t max_limit) {
    Page page;
    if (req.get_param_value("limit") == "-1") {
        page.limit = Page::kNoLimit;
    } else {
        Result<size_t> limit = QueryCount(req, "limit", 100, tl_admin_request ? Page::kNoLimit - 1 : max_limit);
        if (!limit) return limit.error();
        if (*limit == 0) {
            return InvalidArgument("query parameter \"limit\": 0 is not a page size (use -1 for everything)");
        }
        page.limit = *limit;
    }
    // Offsets past any stored count answer an empty page; the bound keeps offset + limit from overflowing.
    Result<size_t> offset = QueryCount(req, "offset", 0, Page::kNoLimit);
    if (!offset) return offset.error();
    page.offset = *offset;
    return page;
}

std::vector<std::string> SplitList(const std::string& text) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= text.size()) {
        size_t comma = text.find(',', start);
        if (comma == std::string::npos) comma = text.size();
        std::string item = text.substr(start, comma - start);
        while (!item.empty() && item.front() == ' ') item.erase(item.begin());
        while (!item.empty() && item.back() == ' ') item.pop_back();
        if (!item.empty()) out.push_back(std::move(item));
        start = comma + 1;
    }
    return out;
}

namespace {

std::vector<std::string> SplitPath(const std::string& dotted) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (true) {
        const size_t dot = dotted.find('.', start);
        parts.push_back(dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
        if (dot == std::string::npos) return parts;
        start = dot + 1;
    }
}

/// Copies the value at `path` of `from` (if there) into the same place of `to`; nothing when the path is not
/// there (no empty objects on the way).
void CopyPath(const Json& from, Json& to, const std::vector<std::string>& path) {
    const Json* src = &from;
    for (const auto& key : path) {
        if (!src->is_object()) return;
        auto it = src->find(key);
        if (it == src->end()) return;
        src = &*it;
    }
    Json* dst = &to;
    for (size_t i = 0; i + 1 < path.size(); ++i) {
        if (!dst->contains(path[i]) || !(*dst)[path[i]].is_object()) (*dst)[path[i]] = Json::object();
        dst = &(*dst)[path[i]];
    }
    (*dst)[path.back()] = *src;
}

void ErasePath(Json& j, const std::vector<std::string>& path) {
    Json* at = &j;
    for (size_t i = 0; i + 1 < path.size(); ++i) {
        if (!at->is_object() || !at->contains(path[i])) return;
        at = &(*at)[path[i]];
    }
    if (at->is_object()) at->erase(path.back());
}

Json FilterOne(const Json& item, const std::vector<std::string>& include, const std::vector<std::string>& exclude) {
    if (!item.is_object()) return item;
    Json out;
    if (include.empty()) {
        out = item;
    } else {
        out = Json::object();
        if (item.contains("id")) out["id"] = item["id"];
        for (const auto& p : include) CopyPath(item, out, SplitPath(p));
    }
    for (const auto& p : exclude) ErasePath(out, SplitPath(p));
    return out;
}

}  // namespace

void TopLevelAttributes(
    const httplib::Request& req, std::vector<std::string>* only, std::vector<std::string>* without
) {
    for (const auto& path : SplitList(req.get_param_value("include_attributes"))) {
        std::string top = path.substr(0, path.find('.'));
        if (std::find(only->begin(), only->end(), top) == only->end()) only->push_back(std::move(top));
    }
    for (const auto& path : SplitList(req.get_param_value("exclude_attributes"))) {
        if (path.find('.') == std::string::npos) without->push_back(path);
    }
}

Json FilterAttributes(
    const Json& body, const std::vector<std::string>& include, const std::vector<std::string>& exclude
) {
    if (!body.is_array()) return FilterOne(body, include, exclude);
    Json out = Json::array();
    for (const auto& item : body) out.push_back(FilterOne(item, include, exclude));
    return out;
}

namespace {

/// Whether the request asks for include_attributes / exclude_attributes; if so, `filter` holds them.
bool NarrowsAttributes(const httplib::Request& req, AttributeFilter& filter) {
    if (!req.has_param("include_attributes") && !req.has_param("exclude_attributes")) return false;
    filter.include = SplitList(req.get_param_value("include_attributes"));
    filter.exclude = SplitList(req.get_param_value("exclude_attributes"));
    return !filter.include.empty() || !filter.exclude.empty();
}

/// include_attributes / exclude_attributes on a successful JSON answer that a route made without SendJson or
/// SendList (the one generic place, so that every route has them).
void ApplyAttributeFilter(const httplib::Request& req, httplib::Response& res) {
    if (res.status < 200 || res.status >= 300) return;
    if (!req.has_param("include_attributes") && !req.has_param("exclude_attributes")) return;
    if (res.get_header_value("Content-Type").rfind("application/json", 0) != 0) return;
    const std::vector<std::string> include = SplitList(req.get_param_value("include_attributes"));
    const std::vector<std::string> exclude = SplitList(req.get_param_value("exclude_attributes"));
    if (include.empty() && exclude.empty()) return;
    Json body = Json::parse(res.body, nullptr, false);
    if (body.is_discarded()) return;
    res.set_content(
        FilterAttributes(body, include, exclude).dump(-1, ' ', false, Json::error_handler_t::replace),
        "application/json"
    );
}

/// The regex of a route with an optional trailing slash.
std::string WithOptionalSlash(const std::string& pattern) {
    if (!pattern.empty() && pattern.back() == '/') return pattern + "?";
    return pattern + "/?";
}

}  // namespace

IdentityHandler AdminOnly(std::string what, Handler h) {
    return [what = std::move(what),
            h = std::move(h)](const httplib::Request& req, httplib::Response& res, const Identity& who) {
        if (Status st = RequireAdmin(who, what); !st) return SendError(res, st.error());
        h(req, res);
    };
}

IdentityHandler Router::Plain(Handler h) {
    return [h = std::move(h)](const httplib::Request& req, httplib::Response& res, const Identity&) { h(req, res); };
}

namespace {

/// What only admins may ask of any route (StackStorm: `limit=-1` and `show_secrets` need admin).
Status CheckAdminQuery(const httplib::Request& req, const Identity& who) {
    if (who.admin) return {};
    if (req.get_param_value("limit") == "-1") {
        return RequireAdmin(who, "limit=-1 (every item at once; non-admins page with limit <= 100)");
    }
    const std::string show = req.get_param_value("show_secrets");
    if (req.has_param("show_secrets") && show != "false" && show != "False" && show != "0") {
        return RequireAdmin(who, "show_secrets=true");
    }
    return {};
}

}  // namespace

Handler Router::Wrap(IdentityHandler h, bool needs_auth, bool filter_attributes) {
    return
        [this, h = std::move(h), needs_auth, filter_attributes](const httplib::Request& req, httplib::Response& res) {
            Guarded(res, [&] {
                Identity who;
                if (needs_auth) {
                    Result<Identity> checked = auth_.Check(req);
                    if (!checked) return SendError(res, checked.error());
                    who = std::move(*checked);
                    if (Status st = CheckAdminQuery(req, who); !st) return SendError(res, st.error());
                }
                AttributeFilter filter;
                const bool narrows = filter_attributes && NarrowsAttributes(req, filter);
                if (narrows) tl_attribute_filter = &filter;
                tl_admin_request = who.admin;
                struct Reset {
                    ~Reset() {
                        tl_attribute_filter = nullptr;
                        tl_admin_request = false;
                    }
                } reset;
                h(req, res, who);
                tl_attribute_filter = nullptr;
                if (narrows && !filter.applied) ApplyAttributeFilter(req, res);
            });
        };
}

std::vector<std::string> Router::Prefixed(const std::string& p) const {
    return {WithOptionalSlash("/api/v1" + p), WithOptionalSlash("/v1" + p)};
}

namespace {

/// `h`, counted in HttpMetrics under `method` and `label` with its status and time.
Handler Timed(const std::string& method, std::string label, Handler h) {
    return [method, label = std::move(label), h = std::move(h)](const httplib::Request& req, httplib::Response& res) {
        const auto start = std::chrono::steady_clock::now();
        h(req, res);
        HttpMetrics::Instance().Observe(
            method, label, res.status < 0 ? 200 : res.status, std::chrono::steady_clock::now() - start
        );
    };
}

}  // namespace

void Router::Add(const std::string& method, const std::vector<std::string>& patterns, const Handler& plain, bool a) {
    // Every alias of the route (/api/v1 and /v1) counts under the first one's label.
    const Handler h = Timed(method, patterns.empty() ? std::string() : RouteLabel(patterns.front()), plain);
    for (const auto& pattern : patterns) {
        if (method == "GET") {
            server_.Get(pattern, h);
        } else if (method == "POST") {
            server_.Post(pattern, h);
        } else if (method == "PUT") {
            server_.Put(pattern, h);
        } else if (method == "DELETE") {
            server_.Delete(pattern, h);
        }
        routes_.push_back({method, pattern, a});
    }
}

void Router::GetWhole(const std::string& p, Handler h, bool a) {
    Add("GET", Prefixed(p), Wrap(Plain(std::move(h)), a, /*filter_attributes=*/false), a);
}
void Router::Get(const std::string& p, Handler h, bool a) {
    Get(p, Plain(std::move(h)), a);
}
void Router::Get(const std::string& p, IdentityHandler h, bool a) {
    Add("GET", Prefixed(p), Wrap(std::move(h), a), a);
}
void Router::Post(const std::string& p, Handler h, bool a) {
    Post(p, Plain(std::move(h)), a);
}
void Router::Post(const std::string& p, IdentityHandler h, bool a) {
    Add("POST", Prefixed(p), Wrap(std::move(h), a), a);
}
void Router::PostRaw(const std::string& p, Handler h, bool a) {
    PostRaw(p, Plain(std::move(h)), a);
}
void Router::PostRaw(const std::string& p, IdentityHandler h, bool a) {
    auto w = Timed("POST", RouteLabel("/api/v1" + p), Wrap(std::move(h), a));
    auto reading = [w](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
        httplib::Request whole = req;
        if (!reader([&whole](const char* data, size_t n) {
                whole.body.append(data, n);
                return true;
            })) {
            return;  // too large (413) or cut short: httplib has set the status
        }
        w(whole, res);
    };
    for (const std::string prefix : {"/api/v1", "/v1"}) {
        server_.Post(prefix + p, reading);
        routes_.push_back({"POST", prefix + p, a});
    }
}
void Router::Put(const std::string& p, Handler h, bool a) {
    Put(p, Plain(std::move(h)), a);
}
void Router::Put(const std::string& p, IdentityHandler h, bool a) {
    Add("PUT", Prefixed(p), Wrap(std::move(h), a), a);
}
void Router::Delete(const std::string& p, Handler h, bool a) {
    Delete(p, Plain(std::move(h)), a);
}
void Router::Delete(const std::string& p, IdentityHandler h, bool a) {
    Add("DELETE", Prefixed(p), Wrap(std::move(h), a), a);
}

void Router::GetAt(const std::string& path, Handler h, bool a) {
    Add("GET", {WithOptionalSlash(path)}, Wrap(Plain(std::move(h)), a), a);
}
void Router::PostAt(const std::string& path, Handler h, bool a) {
    PostAt(path, Plain(std::move(h)), a);
}
void Router::PostAt(const std::string& path, IdentityHandler h, bool a) {
    Add("POST", {WithOptionalSlash(path)}, Wrap(std::move(h), a), a);
}
void Router::DeleteAt(const std::string& path, IdentityHandler h, bool a) {
    Add("DELETE", {WithOptionalSlash(path)}, Wrap(std::move(h), a), a);
}

}  // namespace squall::api
