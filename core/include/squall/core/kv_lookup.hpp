#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "squall/core/error.hpp"

namespace squall::core {

/// Resolves `st2kv.system.<key>` / `st2kv.user.<key>` lazily while a template renders (SPEC §5). Implementations
/// may block (a Redis read); they are called on the rendering thread and must be thread-safe when the same lookup
/// is shared between threads. Declared in core so that the datastore (store/kv_store.hpp) implements it without
/// depending on the template library.
class KeyValueLookup {
public:
    virtual ~KeyValueLookup() = default;
    /// The stored value of `key` in `scope` ("system" or "user"), or nullopt when there is none.
    virtual std::optional<std::string> Get(std::string_view scope, std::string_view key) const = 0;
    /// Decrypts a secret value for the `decrypt_kv` filter. The default has no key and fails.
    virtual Result<std::string> Decrypt(std::string_view ciphertext) const;
    /// The plaintexts Decrypt has handed out so far, so that callers can mask them where they were rendered.
    virtual std::vector<std::string> Revealed() const { return {}; }
};

}  // namespace squall::core
