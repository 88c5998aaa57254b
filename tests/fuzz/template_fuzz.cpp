// The template engine (core/templates): any template text rendered over any JSON context compiles or fails with an
// error, and renders or fails within its budget; never a crash, a hang, unbounded memory or a throw.
// Input: template text, then optionally a NUL byte and a JSON context.
#include <cstdint>

#include "fuzz_input.hpp"
#include "squall/core/input.hpp"
#include "squall/templates/template.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace squall;
    using namespace squall::core;
    auto [text, context_text] = squall::fuzz::SplitAtNul(data, size);
    static const Json kDefault = Json::parse(R"({"trigger": {"body": {"ref": "refs/heads/main", "n": 3,
        "list": [1, "two", null, 4.5, {"k": "v"}], "nested": {"a": {"b": [true, false]}}}, "headers": {}},
        "action_context": {"user": "stanley"}})");
    Json context = kDefault;
    if (!context_text.empty()) {
        Result<Json> parsed = ParseJsonLimited(context_text, "context");
        if (parsed) context = std::move(*parsed);
    }
    for (bool st2_whitespace : {false, true}) {
        auto tpl = Template::Compile(text, st2_whitespace);
        if (!tpl) continue;
        RenderOptions options;
        options.stackstorm_whitespace = st2_whitespace;
        options.max_steps = 200'000;  // small budgets keep each input fast; the limits themselves are what is tested
        options.max_bytes = uint64_t{4} << 20;
        (void)(*tpl)->RenderText(context, options);
        options.strict_undefined = true;
        (void)(*tpl)->Render(context, options);
    }
    return 0;
}
