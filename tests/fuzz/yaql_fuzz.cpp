// YAQL (core/templates/src/yaql.cpp): any expression, and any string of `<% %>` expressions, over any JSON context
// evaluates or fails with an error within its budget; never a crash, a hang, unbounded memory or a throw.
// Input: the text, then optionally a NUL byte and a JSON context.
#include <cstdint>

#include "fuzz_input.hpp"
#include "squall/core/input.hpp"
#include "squall/templates/yaql.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace squall;
    using namespace squall::core;
    auto [text, context_text] = squall::fuzz::SplitAtNul(data, size);
    static const Json kDefault = Json::parse(R"({"a": 1, "s": "Hello", "list": [1, 2.5, "x", null, [true]],
        "users": [{"name": "ann", "age": 30}, {"name": "bob"}], "d": {"k": {"j": [1, 2]}}})");
    Json context = kDefault;
    if (!context_text.empty()) {
        Result<Json> parsed = ParseJsonLimited(context_text, "context");
        if (parsed) context = std::move(*parsed);
    }
    static const TemplateFunctions kFunctions = {
        {"ctx",
         [](const std::vector<Json>& args, const auto&) -> Result<Json> {
             if (args.empty()) return kDefault;
             if (!args[0].is_string() || !kDefault.contains(args[0].get<std::string>()))
                 return InvalidArgument("no such variable");
             return kDefault[args[0].get<std::string>()];
         }},
    };
    RenderOptions options;
    options.functions = &kFunctions;
    options.max_steps = 200'000;  // small budgets keep each input fast; the limits themselves are what is tested
    options.max_bytes = uint64_t{4} << 20;
    (void)EvaluateYaql(text, context, options);
    (void)RenderYaqlString(text, context, options);
    (void)HasYaql(text);
    return 0;
}
