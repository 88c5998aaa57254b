// Pack metadata (packs/): any YAML text parses (bounded: aliases, depth, size) or fails with file:line:column, and a
// parsed document becomes an action or a rule, or errors naming the field; never a crash,
// a hang, unbounded memory or a throw.
#include <cstdint>
#include <string>

#include "squall/core/yaml_json.hpp"
#include "squall/packs/content.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace squall;
    const std::string text(reinterpret_cast<const char*>(data), size);
    Result<core::YamlDocument> doc = core::ParseYaml(text, "fuzz.yaml");
    if (!doc) return 0;
    std::vector<Error> errors;
    (void)packs::ActionMeta::FromDocument(*doc, "fuzz", &errors);
    (void)packs::RuleMeta::FromDocument(*doc, "fuzz", &errors);
    for (const auto& e : errors) {
        if (e.message.empty()) __builtin_trap();  // every error says something
    }
    return 0;
}
