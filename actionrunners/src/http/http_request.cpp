#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "builtin_runners.hpp"
#include "common/shell_common.hpp"
#include "squall/core/input.hpp"
#include "squall/core/mask.hpp"
#include "squall/core/process/supervisor.hpp"

namespace squall::actionrunners {
namespace {

constexpr size_t kWorkers = 8;      // concurrent HTTP requests per runner process
constexpr size_t kMaxQueued = 512;  // waiting beyond the workers; past this a request fails at once
/// What StackStorm's http runner sends (`st2/v<st2 version>`), naming Squall: the st2 version is the one whose API
/// and runners Squall follows (docs/api.md).
constexpr const char* kUserAgent = "st2/v3.9.0 (Squall)";

/// httplib's error names ("Connection", "Read") say little on their own.
std::string DescribeError(httplib::Error err, double timeout_s) {
    switch (err) {
        case httplib::Error::Connection:
            return "could not connect (refused, unreachable or no answer within " + FormatSeconds(timeout_s) + " s)";
        case httplib::Error::ConnectionTimeout:
            return "no connection within " + FormatSeconds(timeout_s) + " s";
        case httplib::Error::Read:
            return "the connection broke or timed out while reading the response";
        case httplib::Error::Write:
            return "the connection broke or timed out while sending the request";
        case httplib::Error::SSLConnection:
        case httplib::Error::SSLServerVerification:
            return "TLS handshake or certificate verification failed (" + httplib::to_string(err) +
                   "; verify_ssl_cert=false skips verification)";
        default:
            return httplib::to_string(err);
    }
}

/// A fixed set of threads for blocking HTTP calls, so that the event loop never waits on a socket.
/// TryPost refuses work when the queue is full (the caller reports it) instead of growing without bound.
class BoundedWorkers {
public:
    BoundedWorkers(size_t threads, size_t max_queued) : max_queued_(max_queued) {
        for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
    }
    ~BoundedWorkers() {
        {
            std::lock_guard lock(mu_);
            stopping_ = true;
        }
        cv_.notify_all();
        for (auto& t : threads_) t.join();
    }
    BoundedWorkers(const BoundedWorkers&) = delete;
    BoundedWorkers& operator=(const BoundedWorkers&) = delete;

    bool TryPost(std::function<void()> job) {
        {
            std::lock_guard lock(mu_);
            if (stopping_ || queue_.size() >= max_queued_) return false;
            queue_.push_back(std::move(job));
        }
        cv_.notify_one();
        return true;
    }

private:
    void Loop() {
        while (true) {
            std::function<void()> job;
            {
                std::unique_lock lock(mu_);
                cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
                if (stopping_) return;  // queued jobs are dropped: the runner is being destroyed
                job = std::move(queue_.front());
                queue_.pop_front();
            }
            job();
        }
    }

    const size_t max_queued_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> queue_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

/// scheme://host[:port] and the rest of a URL.
struct SplitUrl {
    std::string origin;  ///< "http://host:port"
    std::string host;
    std::string path;  ///< "/..." including any query
};

Result<SplitUrl> Split(const std::string& url) {
    const size_t scheme_end = url.find("://");
    if (scheme_end == std::string::npos) return InvalidArgument("parameter \"url\": \"" + url + "\" has no scheme");
    const std::string scheme = url.substr(0, scheme_end);
    if (scheme != "http" && scheme != "https") {
        return InvalidArgument("parameter \"url\": scheme \"" + scheme + "\" is not http or https");
    }
    const size_t path_start = url.find_first_of("/?#", scheme_end + 3);
    SplitUrl s;
    s.origin = url.substr(0, path_start);
    std::string authority = s.origin.substr(scheme_end + 3);
    if (authority.empty()) return InvalidArgument("parameter \"url\": \"" + url + "\" has no host");
    if (const size_t at = authority.rfind('@'); at != std::string::npos) authority = authority.substr(at + 1);
    s.host =
        authority[0] == '[' ? authority.substr(1, authority.find(']') - 1) : authority.substr(0, authority.find(':'));
    s.path = path_start == std::string::npos ? "/" : url.substr(path_start);
    if (const size_t hash = s.path.find('#'); hash != std::string::npos) s.path.resize(hash);
    if (s.path.empty() || s.path[0] == '?') s.path = "/" + s.path;
    return s;
}

std::string QueryEncode(const std::string& s) {
    static const char* kHex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out;
}

/// One request in flight. `finished` makes completion happen once: the worker, the deadline and Cancel race.
struct Job {
    explicit Job(asio::io_context& io) : timer(io) {}
    std::string execution_id;
    std::string action_name;  ///< X-Stanley-Action
    double timeout_s = 60;
    asio::steady_timer timer;
    std::atomic<bool> finished{false};
    std::mutex mu;
    bool stopped = false;               // guarded by mu
    httplib::Client* client = nullptr;  // guarded by mu; set while the worker uses it
    std::function<void(core::ExecutionResult)> on_done;

    void Stop() {
        std::lock_guard lock(mu);
        stopped = true;
        if (client) client->stop();
    }
};

core::ExecutionResult Failed(const std::string& error, const std::string& status = core::status::kFailed) {
    core::ExecutionResult r;
    r.status = status;
    r.result = {{"error", error}};
    return r;
}

class HttpRequestRunner final : public Runner {
public:
    explicit HttpRequestRunner(asio::io_context& io) : io_(io), workers_(kWorkers, kMaxQueued) {}
    ~HttpRequestRunner() override {
        std::vector<std::shared_ptr<Job>> jobs;
        {
            std::lock_guard lock(mu_);
            for (auto& [id, j] : active_) jobs.push_back(j);
        }
        for (auto& j : jobs) j->Stop();
    }

    void Run(const RunRequest& req, RunCallbacks cb) override {
        const Json& p = req.parameters;
        std::string url = p.contains("url") && p["url"].is_string() ? p["url"].get<std::string>() : "";
        if (url.empty()) return cb.on_done(Failed("parameter \"url\" is required (runner http-request)"));
        // A path ("/api/v1/health") is this server's own API: the origin of ST2_ACTION_API_URL, so that a pack can
        // call the server it runs on whatever --listen says (the examples pack's api_health does).
        if (url[0] == '/' && (url.size() < 2 || url[1] != '/')) {
            Result<SplitUrl> own = Split(req.api_url);
            if (!own) {
                return cb.on_done(Failed(
                    "parameter \"url\": \"" + url +
                    "\" is a path, and the runner knows no API URL to resolve it against"
                ));
            }
            url = own->origin + url;
        }
        Result<SplitUrl> split = Split(url);
        if (!split) return cb.on_done(Failed(split.error().message));
        if (Status st = CheckHostLists(p, split->host); !st) return cb.on_done(Failed(st.error().message));

        auto job = std::make_shared<Job>(io_);
        job->execution_id = req.execution_id;
        job->action_name = req.action.value("name", "");
        job->timeout_s = TimeoutSeconds(p, 60.0);
        job->on_done = std::move(cb.on_done);
        {
            std::lock_guard lock(mu_);
            active_[req.execution_id] = job;
        }
        job->timer.expires_after(ToMillis(job->timeout_s));
        job->timer.async_wait(
            [this, job, url = core::MaskSecrets(url, req.secret_values)](const boost::system::error_code& ec) {
                if (ec) return;
                Finish(
                    job,
                    Failed(
                        "Action failed to complete in " + FormatSeconds(job->timeout_s) + " seconds: " + url +
                            " did not answer in time",
                        core::status::kTimeout
                    )
                );
                job->Stop();
            }
        );
        const bool posted = workers_.TryPost([this, job, p, split = *split, secrets = req.secret_values] {
            core::ExecutionResult r = Perform(*job, p, split, secrets);
            Finish(job, std::move(r));
        });
        if (!posted) {
            Finish(
                job,
                Failed("too many HTTP requests in flight on this runner (" + std::to_string(kMaxQueued) + " queued)")
            );
        }
    }

    void Cancel(const std::string& execution_id) override {
        std::shared_ptr<Job> job;
        {
            std::lock_guard lock(mu_);
            auto it = active_.find(execution_id);
            if (it == active_.end()) return;
            job = it->second;
        }
        Finish(job, Failed("the HTTP request was canceled", core::status::kCanceled));
        job->Stop();
    }

private:
    /// url_hosts_blacklist / url_hosts_whitelist (StackStorm http runner), mutually exclusive.
    static Status CheckHostLists(const Json& p, const std::string& host) {
        auto list = [&](const char* name) {
            std::vector<std::string> out;
            if (p.contains(name) && p[name].is_array()) {
                for (const auto& h : p[name]) {
                    if (h.is_string()) out.push_back(h);
                }
            }
            return out;
        };
        const auto deny = list("url_hosts_blacklist");
        const auto allow = list("url_hosts_whitelist");
        if (!deny.empty() && !allow.empty()) {
            return InvalidArgument("\"url_hosts_blacklist\" and \"url_hosts_whitelist\" are mutually exclusive");
        }
        if (std::find(deny.begin(), deny.end(), host) != deny.end()) {
            return InvalidArgument("URL host \"" + host + "\" is in url_hosts_blacklist");
        }
        if (!allow.empty() && std::find(allow.begin(), allow.end(), host) == allow.end()) {
            return InvalidArgument("URL host \"" + host + "\" is not in url_hosts_whitelist");
        }
        return {};
    }

    /// Completes a job once, on the io_context (the timer is canceled, the job forgotten).
    void Finish(const std::shared_ptr<Job>& job, core::ExecutionResult r) {
        if (job->finished.exchange(true)) return;
        asio::post(io_, [this, job, r = std::move(r)]() mutable {
            job->timer.cancel();
            {
                std::lock_guard lock(mu_);
                active_.erase(job->execution_id);
            }
            job->on_done(std::move(r));
        });
    }

    /// Blocking: runs on a worker thread.
    static core::ExecutionResult Perform(
        Job& job, const Json& p, const SplitUrl& url, const std::vector<std::string>& secrets
    ) {
        httplib::Client client(url.origin);
        if (!client.is_valid()) return Failed("cannot make an HTTP client for \"" + url.origin + "\"");
        // The deadline timer owns the timeout verdict; the socket timeouts are a second line, a little later,
        // so a busy machine cannot turn "timed out" into a transport failure.
        const auto timeout = ToMillis(job.timeout_s) + std::chrono::milliseconds(1000);
        client.set_connection_timeout(timeout);
        client.set_read_timeout(timeout);
        client.set_write_timeout(timeout);
        client.set_follow_location(core::BoolOr(p, "allow_redirects", false));
        client.enable_server_certificate_verification(core::BoolOr(p, "verify_ssl_cert", true));
        const std::string username =
            p.contains("username") && p["username"].is_string() ? p["username"].get<std::string>() : "";
        if (!username.empty()) client.set_basic_auth(username, p.value("password", ""));
        const char* proxy_param = url.origin.rfind("https", 0) == 0 ? "https_proxy" : "http_proxy";
        if (p.contains(proxy_param) && p[proxy_param].is_string() && !p[proxy_param].get<std::string>().empty()) {
            Result<SplitUrl> proxy = Split(p[proxy_param].get<std::string>());
            if (!proxy) return Failed("parameter \"" + std::string(proxy_param) + "\": " + proxy.error().message);
            const std::string authority = proxy->origin.substr(proxy->origin.find("://") + 3);
            const size_t colon = authority.rfind(':');
            client.set_proxy(proxy->host, colon == std::string::npos ? 80 : std::atoi(authority.c_str() + colon + 1));
        }

        httplib::Request hreq;
        hreq.method = p.value("method", "GET");
        for (auto& c : hreq.method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        hreq.path = url.path;
        if (p.contains("params") && p["params"].is_object() && !p["params"].empty()) {
            std::string q;
            for (const auto& [k, v] : p["params"].items()) {
                q += (q.empty() ? "" : "&") + QueryEncode(k) + "=" + QueryEncode(ParamString(v));
            }
            hreq.path += (hreq.path.find('?') == std::string::npos ? "?" : "&") + q;
        }
        bool has_content_type = false;
        bool has_user_agent = false;
        bool has_action_header = false;
        if (p.contains("headers") && p["headers"].is_object()) {
            for (const auto& [k, v] : p["headers"].items()) {
                hreq.headers.emplace(k, ParamString(v));
                std::string lower = k;
                for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                if (lower == "content-type") has_content_type = true;
                if (lower == "user-agent") has_user_agent = true;
                if (lower == "x-stanley-action") has_action_header = true;
            }
        }
        // As StackStorm's http runner, so that a receiver can tell the request came from an action, and which: its
        // User-Agent `st2/v<version>` (the `st2/` that receivers match on) and X-Stanley-Action, the action's name.
        // A header the action gives wins (StackStorm overwrites both).
        if (!has_user_agent) hreq.headers.emplace("User-Agent", kUserAgent);
        if (!has_action_header) hreq.headers.emplace("X-Stanley-Action", job.action_name);
        if (p.contains("cookies") && p["cookies"].is_object() && !p["cookies"].empty()) {
            std::string cookie;
            for (const auto& [k, v] : p["cookies"].items())
                cookie += (cookie.empty() ? "" : "; ") + k + "=" + ParamString(v);
            hreq.headers.emplace("Cookie", cookie);
        }
        if (p.contains("body") && !p["body"].is_null()) {
            const Json& body = p["body"];
            hreq.body = body.is_string() ? body.get<std::string>() : body.dump();
            // Without a Content-Type of the action's: a JSON value given as an object or array goes as JSON, text as
            // text/plain (StackStorm's requests sends none; the HTTP library here always sends one with a body).
            if (!has_content_type) {
                hreq.headers.emplace("Content-Type", body.is_string() ? "text/plain" : "application/json");
            }
        }

        httplib::Response hres;
        httplib::Error err = httplib::Error::Success;
        {
            std::lock_guard lock(job.mu);
            if (job.stopped) return Failed("stopped before the request was sent");
            job.client = &client;
        }
        const auto started = std::chrono::steady_clock::now();
        const bool ok = client.send(hreq, hres, err);
        {
            std::lock_guard lock(job.mu);
            job.client = nullptr;
        }
        const std::string shown = hreq.method + " " + core::MaskSecrets(url.origin + url.path, secrets);
        if (!ok) {
            const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
            if ((err == httplib::Error::Read || err == httplib::Error::ConnectionTimeout) &&
                took.count() >= job.timeout_s) {
                return Failed(
                    "Action failed to complete in " + FormatSeconds(job.timeout_s) + " seconds: " + shown +
                        " did not answer in time",
                    core::status::kTimeout
                );
            }
            return Failed(shown + " failed: " + DescribeError(err, job.timeout_s));
        }

        core::ExecutionResult r;
        const core::SecretMasker masker(secrets);
        Json headers = Json::object();
        for (const auto& [k, v] : hres.headers) {
            const std::string value = masker.Text(v);
            headers[k] = headers.contains(k) ? headers[k].get<std::string>() + ", " + value : value;
        }
        // A JSON body is parsed first and its strings masked, so that masking never breaks the document.
        Json body;
        bool parsed = false;
        if (hres.get_header_value("Content-Type").find("json") != std::string::npos) {
            Result<Json> j =
                core::ParseJsonLimited(hres.body, "response body", {core::JsonLimits::kDefaultMaxDepth, SIZE_MAX});
            if (j) {
                masker.Value(*j);
                body = std::move(*j);
                parsed = true;
            }
        }
        if (!parsed) body = masker.Text(hres.body);
        r.result = {{"status_code", hres.status}, {"body", body}, {"parsed", parsed}, {"headers", headers}};
        // Any 2xx is success (issue 4; StackStorm's runner lists 200-206, the other 2xx codes are unused in
        // practice). Everything else, redirects (not followed) included, fails.
        if (hres.status >= 200 && hres.status <= 299) {
            r.status = core::status::kSucceeded;
        } else {
            r.status = core::status::kFailed;
            r.result["error"] = shown + " answered " + std::to_string(hres.status);
        }
        return r;
    }

    asio::io_context& io_;
    std::mutex mu_;
    std::map<std::string, std::shared_ptr<Job>> active_;  // guarded by mu_
    BoundedWorkers workers_;                              // last: its threads join before the members they use go away
};

}  // namespace

RunnerFactory HttpRequestFactory() {
    RunnerFactory f;
    f.info.name = "http-request";
    f.info.description = "A HTTP client for running HTTP actions.";
    f.info.parameters = {
        {"url",
         {{"type", "string"},
          {"required", true},
          {"description", "URL to the HTTP endpoint (a path such as /api/v1/health: this server's own API)."}}},
        {"method",
         {{"type", "string"},
          {"default", "GET"},
          {"enum", {"HEAD", "GET", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH", "PURGE"}},
          {"description", "HTTP method to use."}}},
        {"headers", {{"type", "object"}, {"description", "HTTP headers for the request."}}},
        {"body", {{"type", "string"}, {"description", "Body to send with the request."}}},
        {"params", {{"type", "object"}, {"description", "Query string parameters."}}},
        {"cookies", {{"type", "object"}, {"description", "Optional cookies to send with the request."}}},
        {"username", {{"type", "string"}, {"description", "Username for basic auth."}}},
        {"password", {{"type", "string"}, {"secret", true}, {"description", "Password for basic auth."}}},
        {"timeout",
         {{"type", "number"}, {"default", 60}, {"description", "Timeout for the HTTP request, in seconds."}}},
        {"verify_ssl_cert",
         {{"type", "boolean"}, {"default", true}, {"description", "Verify the server's TLS certificate."}}},
        {"allow_redirects", {{"type", "boolean"}, {"default", false}, {"description", "Follow redirects."}}},
        {"http_proxy", {{"type", "string"}, {"description", "URL of the proxy for HTTP requests."}}},
        {"https_proxy", {{"type", "string"}, {"description", "URL of the proxy for HTTPS requests."}}},
        {"url_hosts_blacklist",
         {{"type", "array"}, {"items", {{"type", "string"}}}, {"description", "Hosts the URL must not point at."}}},
        {"url_hosts_whitelist",
         {{"type", "array"}, {"items", {{"type", "string"}}}, {"description", "The only hosts the URL may point at."}}},
    };
    f.create = [](RunnerServices& s) { return std::make_unique<HttpRequestRunner>(s.io); };
    return f;
}

}  // namespace squall::actionrunners
