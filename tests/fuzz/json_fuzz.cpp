// The one JSON entry point for request bodies, webhook payloads and stored documents (core::ParseJsonLimited):
// any bytes give a value within the limits or an error naming the limit; never a crash, a hang or a throw.
#include <cstdint>
#include <string_view>

#include "squall/core/input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace squall;
    using namespace squall::core;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    Result<Json> parsed = ParseJsonLimited(text, "fuzz input");
    if (parsed) {
        // What the API does with an accepted body: serialize it (stored, answered) and measure it.
        const std::string dumped = parsed->dump(-1, ' ', false, Json::error_handler_t::replace);
        (void)JsonDepth(*parsed);
        Result<Json> again = ParseJsonLimited(dumped, "fuzz round trip");
        if (!again) __builtin_trap();  // what we wrote must read back
    }
    // Header values from real senders may be Latin-1: the conversion must always give valid UTF-8.
    if (!IsValidUtf8(Utf8OrLatin1(text))) __builtin_trap();
    (void)CheckName("name", text);
    (void)CheckRef("ref", text);
    (void)CheckKeyName("name", text);
    (void)CheckWebhookUrl("url", text);
    return 0;
}
