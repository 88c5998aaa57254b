#pragma once

// Slack's side of the chat adapter (docs/chatops.md): request signing, form bodies, command text. Pure functions.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "squall/core/error.hpp"

namespace squall::api::chatops {

/// Slack's v0 request signature: `v0=` + hex HMAC-SHA256(secret, "v0:" + timestamp + ":" + body), compared in
/// constant time; the timestamp must be within 300 s of `now` either way (exactly 300 s passes). Errors
/// (kUnauthenticated) say which check failed: a missing header, a stale timestamp or a wrong signature.
Status VerifySlackSignature(
    std::string_view secret,
    std::string_view timestamp,
    std::string_view signature,
    std::string_view body,
    int64_t now_seconds
);

/// An application/x-www-form-urlencoded body: `+` is a space, %XX a byte; later duplicates win.
std::map<std::string, std::string> ParseForm(std::string_view body);

/// The command in a message text: `<@U123>` mentions removed, Slack's escapes (&amp; &lt; &gt;) undone, a leading
/// `!` (the bot prefix in channels) dropped, spaces trimmed.
std::string CommandText(std::string_view text);

}  // namespace squall::api::chatops
