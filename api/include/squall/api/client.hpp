#pragma once

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
    Result<ApiResponse> Get(const std::string& path);
    Result<ApiResponse> Post(const std::string& path, const core::Json& body);
    Result<ApiResponse> Put(const std::string& path, const core::Json& body);
    Result<ApiResponse> Delete(const std::string& path);

private:
    Result<ApiResponse> Send(const std::string& method, const std::string& path, const core::Json* body);
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace squall::api
