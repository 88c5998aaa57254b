#include "squall/api/client.hpp"

#include <httplib.h>
#include <cstdlib>
#include <iostream>

#include "squall/core/crypto.hpp"

namespace squall::api {

using core::Json;

struct ApiClient::Impl {
    std::unique_ptr<httplib::Client> http;
    std::string prefix = "/api/v1";
    std::string api_key;
    std::string auth_token;
    std::string base;
    std::string origin;  ///< scheme://host:port, what paths are appended to
};

ApiClient::ApiClient(std::string base_url, std::string api_key) : impl_(std::make_unique<Impl>()) {
    impl_->api_key = std::move(api_key);
    impl_->base = base_url;
    // Strip a trailing /api, /api/v1 or /v1: paths given to Get() etc. start after /api/v1.
    while (!base_url.empty() && base_url.back() == '/') base_url.pop_back();
    for (const char* suffix : {"/api/v1", "/v1", "/api"}) {
        const std::string s(suffix);
        if (base_url.size() > s.size() && base_url.compare(base_url.size() - s.size(), s.size(), s) == 0) {
            base_url.resize(base_url.size() - s.size());
            break;
        }
    }
    impl_->origin = base_url;
    impl_->http = std::make_unique<httplib::Client>(base_url);
    impl_->http->set_connection_timeout(5);
    impl_->http->set_read_timeout(60);
    impl_->http->set_write_timeout(30);
    impl_->http->set_tcp_nodelay(true);
}

ApiClient::~ApiClient() = default;
ApiClient::ApiClient(ApiClient&&) noexcept = default;
ApiClient& ApiClient::operator=(ApiClient&&) noexcept = default;

namespace {

/// The credentials the client sends: its API key, else its auth token.
httplib::Headers Credentials(const std::string& api_key, const std::string& auth_token) {
    httplib::Headers headers;
    if (!api_key.empty()) {
        headers.emplace("St2-Api-Key", api_key);
    } else if (!auth_token.empty()) {
        headers.emplace("X-Auth-Token", auth_token);
    }
    return headers;
}

/// A 4xx/5xx answer as an Error carrying the server's faultstring.
Error ErrorOfAnswer(int status, const std::string& text) {
    const Json body = Json::parse(text, nullptr, false);
    const std::string fault = body.is_object() ? body.value("faultstring", text) : text;
    ErrorCode code = ErrorCode::kInternal;
    switch (status) {
        case 400:
            code = ErrorCode::kInvalidArgument;
            break;
        case 401:
            code = ErrorCode::kUnauthenticated;
            break;
        case 403:
            code = ErrorCode::kPermissionDenied;
            break;
        case 404:
            code = ErrorCode::kNotFound;
            break;
        case 409:
            code = ErrorCode::kAlreadyExists;
            break;
        case 429:
            code = ErrorCode::kResourceExhausted;
            break;
        case 503:
            code = ErrorCode::kUnavailable;
            break;
        case 504:
            code = ErrorCode::kTimeout;
            break;
        default:
            break;
    }
    return Error(code, fault);
}

/// `text` in single quotes for a POSIX shell.
std::string ShellQuoted(const std::string& text) {
    std::string out = "'";
    for (const char c : text) {
        if (c == '\'')
            out += "'\\''";
        else
            out += c;
    }
    return out + "'";
}

}  // namespace

Result<ApiResponse> ApiClient::Send(
    const std::string& method, const std::string& full, const Json* body, const std::string& basic_auth
) {
    httplib::Headers headers;
    if (!basic_auth.empty()) {
        headers.emplace("Authorization", "Basic " + basic_auth);
    } else {
        headers = Credentials(impl_->api_key, impl_->auth_token);
    }
    const std::string payload = body ? body->dump() : std::string();
    if (const char* debug = std::getenv("SQUALL_DEBUG"); debug && *debug && std::string(debug) != "0") {  // NOLINT
        // Credentials stay out of the output: the command reads them from the environment, as this CLI does.
        std::string curl = "curl -X " + method;
        if (!basic_auth.empty()) {
            curl += " -u \"$SQUALL_USER\"";
        } else if (!impl_->api_key.empty()) {
            curl += " -H \"St2-Api-Key: $SQUALL_API_KEY\"";
        } else if (!impl_->auth_token.empty()) {
            curl += " -H \"X-Auth-Token: $SQUALL_AUTH_TOKEN\"";
        }
        if (body) curl += " -H 'Content-Type: application/json' --data-binary " + ShellQuoted(payload);
        std::cerr << "# " << method << " " << full << "\n" << curl << " " << ShellQuoted(impl_->origin + full) << "\n";
    }
    httplib::Result r = method == "GET"    ? impl_->http->Get(full.c_str(), headers)
                        : method == "POST" ? impl_->http->Post(full.c_str(), headers, payload, "application/json")
                        : method == "PUT"  ? impl_->http->Put(full.c_str(), headers, payload, "application/json")
                                           : impl_->http->Delete(full.c_str(), headers);
    if (!r) {
        return Unavailable(
            "cannot reach the Squall API at " + impl_->base + " (" + httplib::to_string(r.error()) +
            "); is `squall server` running and SQUALL_API_URL right?"
        );
    }
    ApiResponse out;
    out.status = r->status;
    out.text = r->body;
    if (r->has_header("X-Total-Count")) out.total = std::stoll(r->get_header_value("X-Total-Count"));
    out.body = Json::parse(r->body, nullptr, false);
    if (out.body.is_discarded()) out.body = nullptr;
    if (r->status >= 400) return ErrorOfAnswer(r->status, r->body);
    return out;
}

Result<ApiResponse> ApiClient::Get(const std::string& path) {
    return Send("GET", impl_->prefix + path, nullptr);
}
Result<ApiResponse> ApiClient::Post(const std::string& path, const Json& body) {
    return Send("POST", impl_->prefix + path, &body);
}
Result<ApiResponse> ApiClient::Put(const std::string& path, const Json& body) {
    return Send("PUT", impl_->prefix + path, &body);
}
Result<ApiResponse> ApiClient::Delete(const std::string& path) {
    return Send("DELETE", impl_->prefix + path, nullptr);
}

Status ApiClient::Stream(
    const std::string& path,
    const std::function<bool(const std::string& event, const std::string& data)>& on_event,
    const std::function<void()>& on_open
) {
    const httplib::Headers headers = Credentials(impl_->api_key, impl_->auth_token);
    int status = 0;
    std::string pending, error_body;
    bool stopped = false;
    bool opened = false;
    httplib::Result r = impl_->http->Get(
        path,
        headers,
        [&](const httplib::Response& res) {
            status = res.status;
            return true;
        },
        [&](const char* data, size_t n) {
            if (status >= 400) {
                error_body.append(data, n);
                return true;
            }
            if (!opened) {
                opened = true;
                if (on_open) on_open();
            }
            pending.append(data, n);
            // One event per blank-line-terminated block: `event: NAME` and `data: JSON` lines, or a `:` comment.
            for (size_t end; (end = pending.find("\n\n")) != std::string::npos;) {
                const std::string block = pending.substr(0, end);
                pending.erase(0, end + 2);
                std::string event, payload;
                for (size_t at = 0; at <= block.size();) {
                    size_t nl = block.find('\n', at);
                    if (nl == std::string::npos) nl = block.size();
                    const std::string line = block.substr(at, nl - at);
                    if (line.rfind("event: ", 0) == 0) event = line.substr(7);
                    if (line.rfind("data: ", 0) == 0) payload += line.substr(6);
                    at = nl + 1;
                }
                if (!event.empty() && !on_event(event, payload)) {
                    stopped = true;
                    return false;
                }
            }
            return true;
        }
    );
    if (stopped) return Status{};
    if (status >= 400) return ErrorOfAnswer(status, error_body);
    if (!r) {
        return Unavailable("the event stream of " + impl_->base + " ended (" + httplib::to_string(r.error()) + ")");
    }
    return Status{};
}

ApiClient ApiClient::Clone() const {
    ApiClient copy(impl_->base, impl_->api_key);
    copy.impl_->auth_token = impl_->auth_token;
    return copy;
}

void ApiClient::SetAuthToken(std::string token) {
    impl_->auth_token = std::move(token);
}

Result<ApiResponse> ApiClient::CreateToken(const std::string& user, const std::string& password, int64_t ttl_seconds) {
    Json body = Json::object();
    if (ttl_seconds > 0) body["ttl"] = ttl_seconds;
    return Send("POST", "/auth/v1/tokens", &body, core::Base64Encode(user + ":" + password));
}

const std::string& ApiClient::base_url() const {
    return impl_->base;
}

}  // namespace squall::api
