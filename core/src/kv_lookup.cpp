#include "squall/core/kv_lookup.hpp"

namespace squall::core {

Result<std::string> KeyValueLookup::Decrypt(std::string_view) const {
    return InvalidArgument("decrypt_kv: no datastore encryption key is configured");
}

}  // namespace squall::core
