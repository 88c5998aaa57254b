#pragma once

// What the ChatOps integration tests share: the test secrets, a local HTTP server standing in for Slack's Web API,
// response_url, the Mattermost incoming webhook and the generic callback (it records every POST), and Slack's
// request signing.
#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "squall/core/model/model.hpp"
#include "wait.hpp"

namespace squall::test::chatops {

using core::Json;
using namespace std::chrono_literals;

inline const std::string kSigningSecret = "chatops-signing-secret-for-tests";
inline const std::string kBotToken = "xoxb-test-bot-token-0001";
inline const std::string kGenericKey = "generic-adapter-key-0001";

/// Slack's Web API and response_url on 127.0.0.1: records every POST.
class SlackStandIn {
public:
    struct Post {
        std::string path;
        std::string authorization;
        Json body;
    };
    SlackStandIn() {
        server_.Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
            std::lock_guard lock(mu_);
            posts_.push_back({req.path, req.get_header_value("Authorization"), Json::parse(req.body, nullptr, false)});
            res.set_content(R"({"ok":true})", "application/json");
        });
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
    }
    ~SlackStandIn() {
        server_.stop();
        thread_.join();
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    std::vector<Post> posts() {
        std::lock_guard lock(mu_);
        return posts_;
    }
    /// Waits for a post to `path` whose text contains `needle`.
    std::optional<Post> WaitForPost(const std::string& path, const std::string& needle) {
        std::optional<Post> found;
        WaitFor(
            [&] {
                for (const auto& p : posts()) {
                    if (p.path == path && p.body.is_object() &&
                        p.body.value("text", "").find(needle) != std::string::npos) {
                        found = p;
                        return true;
                    }
                }
                return false;
            },
            60s
        );
        return found;
    }

    /// How many posts to `path` have a text containing `needle`.
    size_t Count(const std::string& path, const std::string& needle) {
        size_t n = 0;
        for (const auto& p : posts()) {
            if (p.path == path && p.body.is_object() && p.body.value("text", "").find(needle) != std::string::npos) ++n;
        }
        return n;
    }

private:
    httplib::Server server_;
    int port_ = 0;
    std::thread thread_;
    std::mutex mu_;
    std::vector<Post> posts_;
};

inline std::string Hex(const unsigned char* p, unsigned int n) {
    static const char* kDigits = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < n; ++i) {
        out += kDigits[p[i] >> 4];
        out += kDigits[p[i] & 0xf];
    }
    return out;
}

inline std::string SlackSignature(const std::string& secret, const std::string& ts, const std::string& body) {
    const std::string base = "v0:" + ts + ":" + body;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(
        EVP_sha256(),
        secret.data(),
        static_cast<int>(secret.size()),
        reinterpret_cast<const unsigned char*>(base.data()),  // NOLINT
        base.size(),
        mac,
        &len
    );
    return "v0=" + Hex(mac, len);
}

inline std::string Now() {
    return std::to_string(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count()
    );
}

inline std::string FormEncode(const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.') {
            out += static_cast<char>(c);
        } else if (c == ' ') {
            out += '+';
        } else {
            out += '%' + Hex(&c, 1);
        }
    }
    return out;
}

/// A slash command's form `body` (a fixture) with another text and response_url.
inline std::string WithSlashText(std::string body, const std::string& text, const std::string& response_url) {
    auto replace = [&](const std::string& field, const std::string& value) {
        const size_t start = body.find(field + "=");
        const size_t end = body.find('&', start);
        body.replace(start, end - start, field + "=" + FormEncode(value));
    };
    replace("text", text);
    replace("response_url", response_url);
    return body;
}

/// POSTs `body` to the API's Slack endpoint on host:port, signed with `secret` at `ts` as Slack signs.
inline httplib::Result PostSlack(
    const std::string& host,
    int port,
    const std::string& body,
    const std::string& content_type,
    const std::string& ts = Now(),
    const std::string& secret = kSigningSecret,
    httplib::Headers extra = {}
) {
    httplib::Client c(host, port);
    c.set_read_timeout(30, 0);
    extra.emplace("X-Slack-Request-Timestamp", ts);
    extra.emplace("X-Slack-Signature", SlackSignature(secret, ts, body));
    return c.Post("/api/v1/chatops/slack", extra, body, content_type.c_str());
}

/// A client of the API's event stream (Server-Sent Events) collecting what it receives. Start the server with
/// `--stream-heartbeat 1`: the destructor returns at the next heartbeat.
class StreamReader {
public:
    StreamReader(const std::string& host, int port, const std::string& path) {
        thread_ = std::thread([this, host, port, path] {
            httplib::Client c(host, port);
            c.set_read_timeout(120, 0);
            c.Get(path.c_str(), [this](const char* data, size_t n) {
                std::lock_guard lock(mu_);
                text_.append(data, n);
                cv_.notify_all();
                return !stop_;
            });
        });
    }
    ~StreamReader() {
        {
            std::lock_guard lock(mu_);
            stop_ = true;
        }
        thread_.join();
    }
    bool WaitForText(const std::string& needle, std::chrono::seconds d) {
        std::unique_lock lock(mu_);
        return cv_.wait_for(lock, d, [&] { return text_.find(needle) != std::string::npos; });
    }
    std::string Text() {
        std::lock_guard lock(mu_);
        return text_;
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::string text_;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace squall::test::chatops
