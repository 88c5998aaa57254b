#pragma once

#include <functional>
#include <memory>
#include <string>

#include "squall/core/error.hpp"
#include "squall/core/model/model.hpp"

namespace squall::api {

/// A response from the API: the JSON body and X-Total-Count when the endpoint pages.
struct ApiResponse {
    int status = 0;
    core::Json body;
    std::string text;      ///< raw body (for text endpoints)
    long long total = -1;  ///< X-Total-Count, -1 when absent
};

/// The HTTP client the CLI uses. Non-2xx answers become Errors carrying the server's faultstring.
class ApiClient {
public:
    /// `base_url` like http://127.0.0.1:9101 (a trailing /api or /api/v1 is accepted). Blocking, with timeouts.
    ApiClient(std::string base_url, std::string api_key);
    ~ApiClient();
    ApiClient(ApiClient&&) noexcept;
    ApiClient& operator=(ApiClient&&) noexcept;
    Result<ApiResponse> Get(const std::string& path);
    Result<ApiResponse> Post(const std::string& path, const core::Json& body);
    Result<ApiResponse> Put(const std::string& path, const core::Json& body);
    Result<ApiResponse> Delete(const std::string& path);
    /// GET of a Server-Sent Events path on the server's origin (`/stream/v1/stream?...`): calls `on_event` with each
    /// event's name and data until the server ends the stream or `on_event` returns false. Comments (heartbeats)
    /// are skipped; the read times out after 60 s without a byte (the server sends a heartbeat every 25 s).
    /// `on_open`, if given, runs once when the server's first bytes arrive (its `: connected`, sent once the
    /// subscription is in place), before any event is handed over.
    Status Stream(
        const std::string& path,
        const std::function<bool(const std::string& event, const std::string& data)>& on_event,
        const std::function<void()>& on_open = {}
    );
    /// Another client for the same server and credentials (a request while this one streams).
    ApiClient Clone() const;

    /// Authenticates with an auth token (X-Auth-Token) instead of an API key: `squall login`'s saved token or
    /// $SQUALL_AUTH_TOKEN. An API key, when one was given, is sent instead.
    void SetAuthToken(std::string token);
    /// POST /auth/v1/tokens with HTTP Basic: 201 {user, token, expiry, id, metadata}. `ttl_seconds` 0: the server's
    /// default lifetime.
    Result<ApiResponse> CreateToken(const std::string& user, const std::string& password, int64_t ttl_seconds = 0);
    /// The base URL as given (for messages and the CLI config).
    const std::string& base_url() const;

private:
    Result<ApiResponse> Send(
        const std::string& method,
        const std::string& full_path,
        const core::Json* body,
        const std::string& basic_auth = ""
    );
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace squall::api
