#include "squall/core/mask.hpp"

#include <algorithm>

namespace squall::core {

SecretMasker::SecretMasker(const std::vector<std::string>& secrets) {
    for (const auto& s : secrets) {
        if (s.empty()) continue;
        exact_.push_back(s);
        if (s.size() < kMinSubstring) continue;
        needles_.push_back(s);
        // How the secret reads inside a JSON string: escaped quotes and backslashes, and \u00e4-style escapes for
        // non-ASCII text when the producer escapes it (Python's json.dumps does by default).
        for (const bool ascii : {false, true}) {
            const std::string quoted = Json(s).dump(-1, ' ', ascii, Json::error_handler_t::replace);
            const std::string inner = quoted.substr(1, quoted.size() - 2);
            if (inner != s) needles_.push_back(inner);
        }
    }
    std::sort(needles_.begin(), needles_.end(), [](const std::string& a, const std::string& b) {
        return a.size() > b.size();
    });
    needles_.erase(std::unique(needles_.begin(), needles_.end()), needles_.end());
}

std::string SecretMasker::Text(std::string text) const {
    if (exact_.empty() || text.empty()) return text;
    if (std::find(exact_.begin(), exact_.end(), text) != exact_.end()) return std::string(kMask);
    for (const auto& needle : needles_) {
        for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + kMask.size())) {
            text.replace(at, needle.size(), kMask);
        }
    }
    return text;
}

std::string SecretMasker::CutOff(std::string text) const {
    text = Text(std::move(text));
    size_t longest_tail = 0;
    for (const auto& needle : needles_) {
        for (size_t len = std::min(needle.size() - 1, text.size()); len > longest_tail; --len) {
            if (text.compare(text.size() - len, len, needle, 0, len) == 0) {
                longest_tail = len;
                break;
            }
        }
    }
    if (longest_tail > 0) text.replace(text.size() - longest_tail, longest_tail, kMask);
    return text;
}

void SecretMasker::Value(Json& value) const {
    if (exact_.empty()) return;
    if (value.is_string()) {
        value = Text(value.get<std::string>());
    } else if (value.is_array()) {
        for (auto& item : value) Value(item);
    } else if (value.is_object()) {
        Json out = Json::object();
        for (auto& [k, v] : value.items()) {
            Value(v);
            out[Text(k)] = std::move(v);
        }
        value = std::move(out);
    }
}

}  // namespace squall::core
