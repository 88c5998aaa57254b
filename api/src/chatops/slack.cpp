#include "chatops/slack.hpp"

#include <charconv>
#include <optional>

#include "squall/core/id.hpp"

namespace squall::api::chatops {
namespace {

int Hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

Error Unauthenticated(std::string msg) {
    return Error(ErrorCode::kUnauthenticated, std::move(msg));
}

void Trim(std::string& s) {
    const auto space = [](unsigned char c) { return std::isspace(c) != 0; };
    while (!s.empty() && space(s.back())) s.pop_back();
    size_t i = 0;
    while (i < s.size() && space(s[i])) ++i;
    s.erase(0, i);
}

void ReplaceAll(std::string& s, std::string_view what, std::string_view with) {
    for (size_t pos = 0; (pos = s.find(what, pos)) != std::string::npos; pos += with.size())
        s.replace(pos, what.size(), with);
}

}  // namespace

Status VerifySlackSignature(
    std::string_view secret,
    std::string_view timestamp,
    std::string_view signature,
    std::string_view body,
    int64_t now_seconds
) {
    if (timestamp.empty() || signature.empty())
        return Unauthenticated("X-Slack-Request-Timestamp and X-Slack-Signature are required");
    int64_t ts = 0;
    auto [end, ec] = std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), ts);
    if (ec != std::errc() || end != timestamp.data() + timestamp.size())
        return Unauthenticated("X-Slack-Request-Timestamp is not a number of seconds");
    constexpr int64_t kWindow = 300;
    if (ts < now_seconds - kWindow || ts > now_seconds + kWindow)
        return Unauthenticated("X-Slack-Request-Timestamp is more than 5 minutes from now (a replay?)");
    constexpr std::string_view kPrefix = "v0=";
    std::optional<core::Sha256Digest> given;
    if (signature.substr(0, kPrefix.size()) == kPrefix) given = core::ParseSha256Hex(signature.substr(kPrefix.size()));
    if (!given) return Unauthenticated("X-Slack-Signature is not v0= and 64 hex digits");
    std::string base = "v0:";
    base.append(timestamp);
    base += ':';
    base.append(body);
    if (!core::HmacSha256Equals(secret, base, *given))
        return Unauthenticated("X-Slack-Signature does not match the body (wrong signing secret?)");
    return {};
}

std::map<std::string, std::string> ParseForm(std::string_view body) {
    std::map<std::string, std::string> out;
    auto decode = [](std::string_view s) {
        std::string r;
        for (size_t i = 0; i < s.size(); ++i) {
            if (s[i] == '+') {
                r += ' ';
            } else if (s[i] == '%' && i + 2 < s.size() + 0 && Hex(s[i + 1]) >= 0 && Hex(s[i + 2]) >= 0) {
                r += static_cast<char>(Hex(s[i + 1]) * 16 + Hex(s[i + 2]));
                i += 2;
            } else {
                r += s[i];
            }
        }
        return r;
    };
    size_t pos = 0;
    while (pos <= body.size()) {
        size_t amp = body.find('&', pos);
        if (amp == std::string_view::npos) amp = body.size();
        const std::string_view pair = body.substr(pos, amp - pos);
        if (!pair.empty()) {
            const size_t eq = pair.find('=');
            if (eq == std::string_view::npos) {
                out[decode(pair)] = "";
            } else {
                out[decode(pair.substr(0, eq))] = decode(pair.substr(eq + 1));
            }
        }
        pos = amp + 1;
    }
    return out;
}

std::string CommandText(std::string_view text) {
    std::string s(text);
    for (size_t start; (start = s.find("<@")) != std::string::npos;) {
        const size_t end = s.find('>', start);
        if (end == std::string::npos) break;
        s.erase(start, end - start + 1);
    }
    ReplaceAll(s, "&lt;", "<");
    ReplaceAll(s, "&gt;", ">");
    ReplaceAll(s, "&amp;", "&");
    Trim(s);
    if (!s.empty() && s[0] == '!') s.erase(0, 1);
    Trim(s);
    return s;
}

}  // namespace squall::api::chatops
