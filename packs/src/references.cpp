#include "squall/packs/references.hpp"

#include <filesystem>

#include "squall/core/config.hpp"
#include "squall/core/yaml_json.hpp"

namespace squall::packs {

namespace fs = std::filesystem;

void KnownContent::Add(const LoadedPack& pack) {
    for (const auto& a : pack.actions) actions.insert(a.Ref());
    for (const auto& t : pack.trigger_types) trigger_types.insert(t.Ref());
}

namespace {

std::string Hint(const std::string& word, const std::set<std::string>& known) {
    const std::string hint = core::ClosestMatch(word, std::vector<std::string>(known.begin(), known.end()));
    return hint.empty() ? std::string() : " (did you mean \"" + hint + "\"?)";
}

/// An error at the value of `path` (where the offending word is: `ref: ops.gret` points at `ops.gret`), or at its
/// key when the value has no position of its own.
Error ErrorAtValue(const core::YamlDocument& doc, const std::string& path, const std::string& message) {
    Error e = doc.ErrorAt(path, message);
    if (auto it = doc.marks.find(path + "="); it != doc.marks.end()) e.location = it->second;
    return e;
}

}  // namespace

size_t CheckRuleReferences(LoadedPack& pack, const KnownContent& known) {
    KnownContent all = known;
    all.Add(pack);
    size_t errors = 0;
    std::vector<RuleMeta> kept;
    for (auto& rule : pack.rules) {
        const bool trigger_ok = all.trigger_types.count(rule.trigger_type) > 0;
        const bool action_ok = all.actions.count(rule.action_ref) > 0;
        if (trigger_ok && action_ok) {
            kept.push_back(std::move(rule));
            continue;
        }
        // The file is read again for the locations, only for a rule that has a problem.
        core::YamlDocument doc;
        doc.file = (fs::path(pack.meta.path) / rule.metadata_file).string();
        if (Result<core::YamlDocument> read = core::LoadYamlFile(doc.file); read) doc = std::move(*read);
        if (!action_ok) {
            pack.warnings.push_back(ErrorAtValue(
                doc,
                "action.ref",
                "action \"" + rule.action_ref + "\" does not exist" + Hint(rule.action_ref, all.actions) +
                    "; the rule is registered and its enforcements fail until the action exists"
            ));
        }
        if (!trigger_ok) {
            pack.errors.push_back(ErrorAtValue(
                doc,
                "trigger.type",
                "unknown trigger type \"" + rule.trigger_type + "\"" + Hint(rule.trigger_type, all.trigger_types) +
                    ": the rule could never fire"
            ));
            ++errors;
            continue;
        }
        kept.push_back(std::move(rule));
    }
    pack.rules = std::move(kept);
    return errors;
}

}  // namespace squall::packs
