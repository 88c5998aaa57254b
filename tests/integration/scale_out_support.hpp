// Shared by the scale-out tests (service registry, pools, policies, back-pressure): real processes sharing one real
// Redis, driven over real HTTP.
#pragma once

#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "squall/core/model/model.hpp"
#include "squall_process.hpp"

namespace squall::test {

using core::Json;

/// An HTTP answer: status (-1 without one), parsed body (null when not JSON) and headers.
struct Answer {
    int status = -1;
    Json body;
    std::string text;
    httplib::Headers headers;
};

inline Answer Call(
    const SquallProcess& s, const std::string& method, const std::string& path, const Json& body = Json()
) {
    httplib::Client c(s.host(), s.port());
    c.set_read_timeout(30, 0);
    c.set_connection_timeout(5, 0);
    const httplib::Headers h = {{"St2-Api-Key", s.api_key()}};
    httplib::Result r = method == "GET"    ? c.Get(path.c_str(), h)
                        : method == "POST" ? c.Post(path.c_str(), h, body.dump(), "application/json")
                                           : c.Delete(path.c_str(), h);
    Answer a;
    if (!r) return a;
    a.status = r->status;
    a.text = r->body;
    a.body = Json::parse(r->body, nullptr, false);
    if (a.body.is_discarded()) a.body = Json();
    a.headers = r->headers;
    return a;
}

inline Json GetJson(const SquallProcess& s, const std::string& path) {
    Answer a = Call(s, "GET", "/api/v1" + path);
    return a.status == 200 ? a.body : Json();
}

/// Starts an execution; its id, or "" (with the answer in `why`).
inline std::string Start(const SquallProcess& s, const std::string& action, const Json& parameters, std::string* why) {
    Answer a = Call(s, "POST", "/api/v1/executions", {{"action", action}, {"parameters", parameters}});
    if (a.status != 201 || !a.body.is_object()) {
        if (why) *why = std::to_string(a.status) + " " + a.text;
        return "";
    }
    return a.body.value("id", "");
}

/// Writes `text` to `path`, creating its folder.
inline void Write(const std::filesystem::path& path, const std::string& text) {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << text;
}

/// Statuses an execution went through, from its log.
inline std::vector<std::string> StatusLog(const Json& execution) {
    std::vector<std::string> out;
    for (const auto& entry : execution.value("log", Json::array())) out.push_back(entry.value("status", ""));
    return out;
}

}  // namespace squall::test
