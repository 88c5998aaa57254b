#pragma once

// The one gate for untrusted input (docs/decisions.md "Input limits"): JSON from HTTP bodies, webhooks, files and
// Redis documents is parsed here with a depth, size and number-range check, and every name or ref a user
// chooses (rule, action, pack, key, webhook url) is validated here, so that no entry point can hand a
// 60,000-deep document to a recursive walk or a "../../etc" pack name to the filesystem.

#include <cstddef>
#include <string>
#include <string_view>

#include "squall/core/error.hpp"
#include "squall/core/model/model.hpp"

namespace squall::core {

/// Bounds applied by ParseJsonLimited. nlohmann's dump, comparison and our own walkers (templates, masking,
/// schema validation) recurse once per nesting level, so the depth bound is what keeps them off the end of a
/// thread's stack.
struct JsonLimits {
    static constexpr size_t kDefaultMaxDepth = 256;
    static constexpr size_t kDefaultMaxBytes = 16 * 1024 * 1024;
    size_t max_depth = kDefaultMaxDepth;  ///< objects and arrays nested deeper are refused
    size_t max_bytes = kDefaultMaxBytes;  ///< longer texts are refused before parsing
};

/// Parses JSON text with the bounds of `limits`. `what` names the input in errors ("request body",
/// "file payload.json"). Errors are kInvalidArgument and name the limit or, for a number out of range
/// (`1e999999`), the path of the value ("request body: a.b[2]: number 1e999999 is out of range").
/// Thread-safe; iterative (never recurses per nesting level).
Result<Json> ParseJsonLimited(std::string_view text, std::string_view what, const JsonLimits& limits = {});

/// How deep `value` nests (a scalar is 0, `[]` is 1); iterative. Stops counting past `stop_at`.
size_t JsonDepth(const Json& value, size_t stop_at = SIZE_MAX);

/// True when `text` is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
bool IsValidUtf8(std::string_view text);
/// The offset of the first byte that does not start a valid UTF-8 sequence; npos when the text is valid.
size_t InvalidUtf8Offset(std::string_view text);
/// `text` read as ISO-8859-1 (every byte one code point), encoded as UTF-8. HTTP header values are Latin-1 by
/// RFC 7230's history; real senders still use it.
std::string Latin1ToUtf8(std::string_view text);
/// `text` itself when valid UTF-8, else its Latin-1 reading.
std::string Utf8OrLatin1(std::string_view text);

/// The longest name or ref accepted anywhere (StackStorm's names are short; Redis keys and file names are not
/// the place for 40,000 characters).
inline constexpr size_t kMaxNameLength = 255;

/// A content name (rule, action, sensor, trigger, alias, policy): 1..255 characters from letters, digits,
/// `_ . -`, starting with a letter, digit or `_`, and no `..`. The error names `field`.
Status CheckName(std::string_view field, std::string_view name);
/// A pack name (ref): 1..255 characters from lowercase letters, digits and `_` (StackStorm's pack ref rule),
/// which keeps `/`, `..` and every other path trick out of the packs directory.
Status CheckPackName(std::string_view field, std::string_view name);
/// A `pack.name` ref: a valid pack name, a dot and a valid content name.
Status CheckRef(std::string_view field, std::string_view ref);
/// A datastore key name: 1..255 bytes of valid UTF-8 without control characters.
Status CheckKeyName(std::string_view field, std::string_view name);
/// A webhook url (the part after /webhooks/): 1..255 characters from letters, digits and `_ . - /`, no `..` and
/// no empty segment.
Status CheckWebhookUrl(std::string_view field, std::string_view url);

}  // namespace squall::core
