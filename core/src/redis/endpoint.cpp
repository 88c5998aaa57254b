#include "squall/core/redis/endpoint.hpp"

#include <charconv>
#include <optional>
#include <string>
#include <string_view>

namespace squall::core {
namespace {

constexpr std::string_view kRedisScheme = "redis://";
constexpr std::string_view kUnixScheme = "unix://";
constexpr std::string_view kSentinelScheme = "sentinel://";

// Parses a whole decimal number in [min, max]; nullopt for anything else (sign, spaces, overflow, trailing text).
std::optional<int> ParseInt(std::string_view s, int min, int max) {
    int value = 0;
    const char* end = s.data() + s.size();
    auto [ptr, ec] = std::from_chars(s.data(), end, value);
    if (s.empty() || ec != std::errc() || ptr != end || value < min || value > max) {
        return std::nullopt;
    }
    return value;
}

Error BadUrl(std::string_view url, std::string_view why) {
    return InvalidArgument(
        "invalid redis url '" + std::string(url) + "': " + std::string(why) +
        " (expected redis://host:port[/db], unix:///path[?db=N] or sentinel://host:port[,host:port...]/MASTER[?db=N])"
    );
}

}  // namespace

Result<RedisEndpoint> RedisEndpoint::Parse(std::string_view url) {
    RedisEndpoint ep;
    if (url.starts_with(kSentinelScheme)) {
        std::string_view rest = url.substr(kSentinelScheme.size());
        std::string_view query;
        if (auto q = rest.find('?'); q != std::string_view::npos) {
            query = rest.substr(q + 1);
            rest = rest.substr(0, q);
        }
        const auto slash = rest.find('/');
        if (slash == std::string_view::npos || slash + 1 == rest.size()) {
            return BadUrl(url, "the master's name is missing after '/'");
        }
        ep.master_name = std::string(rest.substr(slash + 1));
        for (char c : ep.master_name) {
            if (c <= ' ' || c == '/' || c == ',' || c == 0x7f) {
                return BadUrl(url, "the master's name \"" + ep.master_name + "\" has a space, '/' or ','");
            }
        }
        std::string_view list = rest.substr(0, slash);
        while (!list.empty()) {
            const auto comma = list.find(',');
            std::string_view one = list.substr(0, comma);
            list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
            Result<RedisEndpoint> sentinel = Parse("redis://" + std::string(one));
            if (!sentinel || one.find('/') != std::string_view::npos) {
                return BadUrl(url, "sentinel address \"" + std::string(one) + "\" is not host:port");
            }
            // A sentinel listens on 26379 unless told otherwise.
            const bool has_port = one.starts_with('[') ? one.find("]:") != std::string_view::npos
                                                       : one.find(':') != std::string_view::npos;
            ep.sentinels.emplace_back(sentinel->host, has_port ? sentinel->port : 26379);
        }
        if (ep.sentinels.empty()) return BadUrl(url, "no sentinel address");
        if (!query.empty()) {
            auto db = query.starts_with("db=") ? ParseInt(query.substr(3), 0, 65535) : std::nullopt;
            if (!db) return BadUrl(url, "the only query parameter is db=N");
            ep.db = *db;
        }
        ep.host.clear();
        ep.port = 0;
        return ep;
    }
    if (url.starts_with(kUnixScheme)) {
        std::string_view rest = url.substr(kUnixScheme.size());
        std::string_view query;
        if (auto q = rest.find('?'); q != std::string_view::npos) {
            query = rest.substr(q + 1);
            rest = rest.substr(0, q);
        }
        if (rest.empty() || rest.front() != '/') {
            return BadUrl(url, "the socket path must be absolute");
        }
        ep.unix_path = std::string(rest);
        if (!query.empty()) {
            if (!query.starts_with("db=")) {
                return BadUrl(url, "the only query parameter is db=N");
            }
            auto db = ParseInt(query.substr(3), 0, 65535);
            if (!db) {
                return BadUrl(url, "db must be a non-negative integer");
            }
            ep.db = *db;
        }
        return ep;
    }
    if (!url.starts_with(kRedisScheme)) {
        return BadUrl(url, "unknown scheme");
    }
    std::string_view rest = url.substr(kRedisScheme.size());
    std::string_view db_part;
    if (auto slash = rest.find('/'); slash != std::string_view::npos) {
        db_part = rest.substr(slash + 1);
        rest = rest.substr(0, slash);
        if (db_part.empty()) {
            return BadUrl(url, "empty db after '/'");
        }
    }
    std::string_view host = rest;
    std::string_view port_part;
    if (rest.starts_with('[')) {  // [ipv6]:port
        auto close = rest.find(']');
        if (close == std::string_view::npos) {
            return BadUrl(url, "unterminated '['");
        }
        host = rest.substr(1, close - 1);
        std::string_view after = rest.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                return BadUrl(url, "expected ':' after ']'");
            }
            port_part = after.substr(1);
            if (port_part.empty()) {
                return BadUrl(url, "empty port");
            }
        }
    } else if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
        host = rest.substr(0, colon);
        port_part = rest.substr(colon + 1);
        if (port_part.empty()) {
            return BadUrl(url, "empty port");
        }
    }
    if (host.empty()) {
        return BadUrl(url, "empty host");
    }
    ep.host = std::string(host);
    if (!port_part.empty()) {
        auto port = ParseInt(port_part, 1, 65535);
        if (!port) {
            return BadUrl(url, "port must be an integer in 1..65535");
        }
        ep.port = *port;
    }
    if (!db_part.empty()) {
        auto db = ParseInt(db_part, 0, 65535);
        if (!db) {
            return BadUrl(url, "db must be a non-negative integer");
        }
        ep.db = *db;
    }
    return ep;
}

std::string RedisEndpoint::ToString() const {
    if (IsSentinel()) {
        std::string out(kSentinelScheme);
        for (size_t i = 0; i < sentinels.size(); ++i) {
            const std::string& h = sentinels[i].first;
            out += (i ? "," : "") + (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" +
                   std::to_string(sentinels[i].second);
        }
        out += "/" + master_name;
        if (db != 0) out += "?db=" + std::to_string(db);
        return out;
    }
    if (!unix_path.empty()) {
        std::string out = std::string(kUnixScheme) + unix_path;
        if (db != 0) {
            out += "?db=" + std::to_string(db);
        }
        return out;
    }
    std::string out(kRedisScheme);
    if (host.find(':') != std::string::npos) {
        out += "[" + host + "]";
    } else {
        out += host;
    }
    out += ":" + std::to_string(port);
    if (db != 0) {
        out += "/" + std::to_string(db);
    }
    return out;
}

}  // namespace squall::core
