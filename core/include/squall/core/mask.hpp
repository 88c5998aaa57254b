#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "squall/core/model/model.hpp"

namespace squall::core {

/// Hides secret values (secret parameters, decrypted datastore values, secret config values) in what an
/// execution produces: output text, parsed results, rendered parameters. Immutable and thread-safe.
///
/// A secret of kMinSubstring bytes or more is replaced by "********" wherever it occurs, also in the forms JSON
/// gives it inside a string (`Q\"x`, `p\u00e4ss`), so that a result printed as JSON text is covered. A shorter
/// secret ("1", "yes", a PIN of three digits) is replaced only where it is a whole text or string value: hunting
/// for it inside every word would mangle results and output and point at where the secret occurs.
class SecretMasker {
public:
    static constexpr std::string_view kMask = "********";
    static constexpr size_t kMinSubstring = 4;

    SecretMasker() = default;
    explicit SecretMasker(const std::vector<std::string>& secrets);

    bool empty() const { return exact_.empty(); }
    /// `text` with the secrets masked.
    std::string Text(std::string text) const;
    /// Text, for a capture cut off after its last byte: a tail that begins a long secret is masked too.
    std::string CutOff(std::string text) const;
    /// Masks the strings of `value` in place, object keys included, as Text does. Numbers and booleans are left:
    /// only their text could equal a secret, and masking them would change the result's type.
    void Value(Json& value) const;

private:
    std::vector<std::string> needles_;  ///< secrets of kMinSubstring+ bytes and their JSON forms, longest first
    std::vector<std::string> exact_;    ///< every secret
};

}  // namespace squall::core
