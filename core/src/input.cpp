#include "squall/core/input.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace squall::core {
namespace {

/// How much of a path or value an error message quotes: a 60,000-deep path is not a message.
constexpr size_t kQuoteMax = 120;

std::string Clip(std::string s) {
    if (s.size() > kQuoteMax) s = s.substr(0, kQuoteMax) + "...";
    return s;
}

/// nlohmann's DOM builder plus a depth bound and a record of where the parser is, so that errors name the
/// path of the offending value. nlohmann's parser and this builder are iterative (explicit stacks), and the
/// value type's destructor is too, so a refused deep document is also freed without recursion.
class LimitedSax : public nlohmann::detail::json_sax_dom_parser<Json> {
public:
    using Base = nlohmann::detail::json_sax_dom_parser<Json>;
    LimitedSax(Json& root, size_t max_depth) : Base(root, /*allow_exceptions_=*/false), max_depth_(max_depth) {}

    bool key(string_t& val) {
        if (!frames_.empty()) frames_.back().key = val;
        return Base::key(val);
    }
    bool start_object(std::size_t len) {
        if (!Enter(/*array=*/false)) return false;
        return Base::start_object(len);
    }
    bool end_object() {
        Leave();
        return Base::end_object();
    }
    bool start_array(std::size_t len) {
        if (!Enter(/*array=*/true)) return false;
        return Base::start_array(len);
    }
    bool end_array() {
        Leave();
        return Base::end_array();
    }
    bool null() { return Value(Base::null()); }
    bool boolean(bool v) { return Value(Base::boolean(v)); }
    bool number_integer(number_integer_t v) { return Value(Base::number_integer(v)); }
    bool number_unsigned(number_unsigned_t v) { return Value(Base::number_unsigned(v)); }
    bool number_float(number_float_t v, const string_t& s) { return Value(Base::number_float(v, s)); }
    bool string(string_t& v) { return Value(Base::string(v)); }
    bool binary(binary_t& v) { return Value(Base::binary(v)); }

    template <class Exception>
    bool parse_error(std::size_t position, const std::string& token, const Exception& ex) {
        error_position_ = position;
        error_token_ = token;
        error_id_ = ex.id;
        error_message_ = ex.what();
        return false;
    }

    bool too_deep() const { return too_deep_; }
    int error_id() const { return error_id_; }
    size_t error_position() const { return error_position_; }
    const std::string& error_token() const { return error_token_; }
    const std::string& error_message() const { return error_message_; }

    /// The path of the value being read ("a.b[2]"), clipped for messages.
    std::string Path() const {
        std::string out;
        for (const Frame& f : frames_) {
            if (out.size() > 4 * kQuoteMax) {
                out += "...";
                break;
            }
            if (f.array) {
                out += "[" + std::to_string(f.index) + "]";
            } else {
                out += (out.empty() ? "" : ".") + f.key;
            }
        }
        return out;
    }

private:
    struct Frame {
        bool array = false;
        size_t index = 0;
        std::string key;
    };

    bool Enter(bool array) {
        if (frames_.size() >= max_depth_) {
            too_deep_ = true;
            return false;
        }
        frames_.push_back(Frame{array, 0, {}});
        return true;
    }
    void Leave() {
        if (!frames_.empty()) frames_.pop_back();
        Advance();
    }
    /// A value was completed in the current container: the next array element has the next index.
    void Advance() {
        if (!frames_.empty() && frames_.back().array) ++frames_.back().index;
    }
    bool Value(bool ok) {
        Advance();
        return ok;
    }

    size_t max_depth_;
    std::vector<Frame> frames_;
    bool too_deep_ = false;
    int error_id_ = 0;
    size_t error_position_ = 0;
    std::string error_token_;
    std::string error_message_;
};

/// The UTF-8 sequence length starting at `s[i]`, or 0 when it is not a valid sequence.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) return 1;
    size_t len = 0;
    uint32_t cp = 0;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        len = 2;
        cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        len = 3;
        cp = b0 & 0x0F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        len = 4;
        cp = b0 & 0x07;
    } else {
        return 0;
    }
    if (i + len > s.size()) return 0;
    for (size_t k = 1; k < len; ++k) {
        const auto b = static_cast<unsigned char>(s[i + k]);
        if ((b & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (b & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;  // overlong, range
    if (cp >= 0xD800 && cp <= 0xDFFF) return 0;                                               // surrogates
    return len;
}

bool NameChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-';
}

std::string Quoted(std::string_view value) {
    return "\"" + Clip(Utf8OrLatin1(value)) + "\"";
}

Status TooLong(std::string_view field, std::string_view value) {
    return InvalidArgument(
        std::string(field) + ": " + Quoted(value) + " is " + std::to_string(value.size()) +
        " characters long; names are at most " + std::to_string(kMaxNameLength)
    );
}

}  // namespace

Result<Json> ParseJsonLimited(std::string_view text, std::string_view what, const JsonLimits& limits) {
    const std::string name(what);
    if (text.size() > limits.max_bytes) {
        return InvalidArgument(
            name + ": " + std::to_string(text.size()) + " bytes is over the limit of " +
            std::to_string(limits.max_bytes) + " bytes"
        );
    }
    Json root;
    LimitedSax sax(root, limits.max_depth);
    const bool ok = Json::sax_parse(text.begin(), text.end(), &sax, nlohmann::detail::input_format_t::json, true);
    if (ok && !sax.is_errored()) return root;
    if (sax.too_deep()) {
        return InvalidArgument(
            name + ": nested deeper than the limit of " + std::to_string(limits.max_depth) + " levels (at " +
            Clip(sax.Path()) + ")"
        );
    }
    if (sax.error_id() == 406) {  // out_of_range: a number that does not fit a double
        const std::string path = sax.Path();
        return InvalidArgument(
            name + ": " + (path.empty() ? std::string() : path + ": ") + "number " + Clip(sax.error_token()) +
            " is out of range (at byte " + std::to_string(sax.error_position()) + ")"
        );
    }
    std::string message = sax.error_message();
    if (message.empty()) message = "invalid JSON";
    const std::string path = sax.Path();
    return InvalidArgument(
        name + " is not valid JSON" + (path.empty() ? std::string() : " (in " + Clip(path) + ")") + ": " + Clip(message)
    );
}

size_t JsonDepth(const Json& value, size_t stop_at) {
    size_t deepest = 0;
    std::vector<std::pair<const Json*, size_t>> todo = {{&value, 0}};
    while (!todo.empty()) {
        auto [v, depth] = todo.back();
        todo.pop_back();
        if (!v->is_structured()) continue;
        deepest = std::max(deepest, depth + 1);
        if (deepest > stop_at) return deepest;
        for (const Json& child : *v) todo.emplace_back(&child, depth + 1);
    }
    return deepest;
}

size_t InvalidUtf8Offset(std::string_view text) {
    for (size_t i = 0; i < text.size();) {
        const size_t n = Utf8SequenceLength(text, i);
        if (n == 0) return i;
        i += n;
    }
    return std::string_view::npos;
}

bool IsValidUtf8(std::string_view text) {
    return InvalidUtf8Offset(text) == std::string_view::npos;
}

std::string Latin1ToUtf8(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x80) {
            out += ch;
        } else {
            out += static_cast<char>(0xC0 | (c >> 6));
            out += static_cast<char>(0x80 | (c & 0x3F));
        }
    }
    return out;
}

std::string Utf8OrLatin1(std::string_view text) {
    return IsValidUtf8(text) ? std::string(text) : Latin1ToUtf8(text);
}

Status CheckName(std::string_view field, std::string_view name) {
    const std::string f(field);
    if (name.empty()) return InvalidArgument(f + ": must be a non-empty name");
    if (name.size() > kMaxNameLength) return TooLong(field, name);
    const bool chars_ok = std::all_of(name.begin(), name.end(), NameChar) && name.front() != '.' && name.front() != '-';
    if (!chars_ok || name.find("..") != std::string_view::npos) {
        return InvalidArgument(f + ": " + Quoted(name) + " is not a valid name (letters, digits, _ . -)");
    }
    return {};
}

Status CheckPackName(std::string_view field, std::string_view name) {
    const std::string f(field);
    if (name.empty()) return InvalidArgument(f + ": must be a non-empty pack name");
    if (name.size() > kMaxNameLength) return TooLong(field, name);
    const bool ok = std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
    if (!ok) {
        return InvalidArgument(f + ": " + Quoted(name) + " is not a valid pack name (lowercase letters, digits and _)");
    }
    return {};
}

Status CheckRef(std::string_view field, std::string_view ref) {
    const std::string f(field);
    if (ref.size() > 2 * kMaxNameLength + 1) return TooLong(field, ref);
    const size_t dot = ref.find('.');
    if (dot == std::string_view::npos || dot == 0 || dot + 1 == ref.size()) {
        return InvalidArgument(f + ": " + Quoted(ref) + " is not a reference of the form pack.name");
    }
    // The pack part of a ref is checked by name characters only: StackStorm refs such as `core.local` and
    // `my-pack.x` from older packs both appear in the wild, and a ref never becomes a path by itself.
    if (Status st = CheckName(f, ref.substr(0, dot)); !st) return st;
    return CheckName(f, ref.substr(dot + 1));
}

Status CheckKeyName(std::string_view field, std::string_view name) {
    const std::string f(field);
    if (name.empty()) return InvalidArgument(f + ": a key name is required");
    if (name.size() > kMaxNameLength) return TooLong(field, name);
    if (!IsValidUtf8(name)) return InvalidArgument(f + ": the key name is not valid UTF-8");
    for (char ch : name) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7f) return InvalidArgument(f + ": control characters are not allowed in key names");
    }
    return {};
}

Status CheckWebhookUrl(std::string_view field, std::string_view url) {
    const std::string f(field);
    if (url.empty()) return InvalidArgument(f + ": must be a non-empty webhook name");
    if (url.size() > kMaxNameLength) return TooLong(field, url);
    const bool chars_ok = std::all_of(url.begin(), url.end(), [](char c) { return NameChar(c) || c == '/'; });
    if (!chars_ok || url.find("..") != std::string_view::npos || url.find("//") != std::string_view::npos ||
        url.front() == '/' || url.back() == '/') {
        return InvalidArgument(
            f + ": " + Quoted(url) + " is not a valid webhook name (letters, digits, _ . - and / between parts)"
        );
    }
    return {};
}

}  // namespace squall::core
