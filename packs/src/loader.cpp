#include "squall/packs/loader.hpp"

#include "python_imports.hpp"

#include "squall/core/config.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

namespace squall::packs {
namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxListedFiles = 5000;

std::vector<fs::path> YamlFilesIn(const fs::path& dir) {
    std::vector<fs::path> out;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return out;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        if (!entry.is_regular_file()) continue;
        const auto ext = entry.path().extension();
        if (ext == ".yaml" || ext == ".yml") out.push_back(entry.path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

/// Every file of the pack, relative and sorted; hidden folders (.git) and Python caches are skipped.
std::vector<std::string> ListFiles(const fs::path& root) {
    std::vector<std::string> out;
    std::error_code ec;
    fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (it->is_directory() && (name.rfind('.', 0) == 0 || name == "__pycache__")) {
            it.disable_recursion_pending();
            continue;
        }
        if (!it->is_regular_file()) continue;
        out.push_back(fs::relative(it->path(), root).string());
        if (out.size() >= kMaxListedFiles) break;
    }
    std::sort(out.begin(), out.end());
    return out;
}

/// "file \"actions/x.py\" does not exist in the pack", with the closest file of `folder` (actions/ or sensors/)
/// as a did-you-mean, located at the entry_point's value.
Error MissingEntryPoint(
    const core::YamlDocument& doc, const fs::path& root, const std::string& folder, const std::string& entry_point
) {
    std::vector<std::string> files = ListFiles(root / folder);
    const std::string hint = core::ClosestMatch(entry_point, files);
    Error e = doc.ErrorAt(
        "entry_point",
        "file \"" + folder + "/" + entry_point + "\" does not exist in the pack" +
            (hint.empty() ? std::string() : " (did you mean \"" + hint + "\"?)")
    );
    if (auto it = doc.marks.find("entry_point="); it != doc.marks.end()) e.location = it->second;
    return e;
}

/// Reads one YAML file; a syntax error goes to `errors`.
std::optional<core::YamlDocument> Read(const fs::path& file, std::vector<Error>& errors) {
    Result<core::YamlDocument> doc = core::LoadYamlFile(file.string());
    if (!doc) {
        errors.push_back(doc.error());
        return std::nullopt;
    }
    return std::move(*doc);
}

/// Refs defined twice in a pack: the second definition is an error naming the first file.
class Seen {
public:
    bool Add(
        const std::string& ref,
        const std::string& file,
        const core::YamlDocument& doc,
        const std::string& field,
        std::vector<Error>& errors
    ) {
        auto [it, inserted] = files_.emplace(ref, file);
        if (!inserted) errors.push_back(doc.ErrorAt(field, "\"" + ref + "\" is already defined by " + it->second));
        return inserted;
    }

private:
    std::map<std::string, std::string> files_;
};

/// The runner types StackStorm has shipped (st2's contrib/runners, and the older ones its packs may still name).
bool IsStackStormRunner(const std::string& name) {
    static const std::set<std::string> kRunners = {
        "action-chain",
        "announcement",
        "cloudslang",
        "http-request",
        "inquirer",
        "local-shell-cmd",
        "local-shell-script",
        "mistral-v2",
        "noop",
        "orquesta",
        "python-script",
        "remote-shell-cmd",
        "remote-shell-script",
        "windows-cmd",
        "windows-script",
        "winrm-cmd",
        "winrm-ps-cmd",
        "winrm-ps-script"};
    return kRunners.count(name) > 0;
}

/// StackStorm's validate_runner_parameter_attribute_override: an action's parameter that its runner also has may
/// change only these attributes; another one with another value refuses the action, naming the file and field.
bool OverridesAllowed(
    const ActionMeta& action, const Json& runner_parameters, const core::YamlDocument& doc, std::vector<Error>& errors
) {
    static const std::set<std::string> kOverridable = {"default", "description", "enum", "immutable", "required"};
    if (!action.parameters.is_object() || !runner_parameters.is_object()) return true;
    bool ok = true;
    for (const auto& [name, schema] : action.parameters.items()) {
        auto runner = runner_parameters.find(name);
        if (runner == runner_parameters.end() || !runner->is_object() || !schema.is_object()) continue;
        for (const auto& [attr, value] : schema.items()) {
            if (kOverridable.count(attr)) continue;
            auto theirs = runner->find(attr);
            if (theirs != runner->end() && *theirs == value) continue;
            errors.push_back(doc.ErrorAt(
                "parameters." + name + "." + attr,
                "the attribute \"" + attr + "\" of the runner parameter \"" + name + "\" (runner " +
                    action.runner_type + ") cannot be overridden in action \"" + action.Ref() +
                    "\"; only default, description, enum, immutable and required can"
            ));
            ok = false;
        }
    }
    return ok;
}

}  // namespace

bool PackLoader::NeedsEntryPoint(const std::string& runner_type) {
    static const std::vector<std::string> kRunners = {
        "local-shell-script", "remote-shell-script", "python-script", "orquesta", "action-chain"};
    return std::find(kRunners.begin(), kRunners.end(), runner_type) != kRunners.end();
}

Result<LoadedPack> PackLoader::LoadPackBlocking(const std::string& dir) const {
    LoadedPack pack;
    const fs::path root(dir);
    Result<core::YamlDocument> meta_doc = core::LoadYamlFile((root / "pack.yaml").string());
    if (!meta_doc) return meta_doc.error();
    pack.meta = PackMeta::Parse(*meta_doc, pack.errors);
    // Without a valid ref nothing can be registered; pack.yaml's other problems do not stop the pack. Even then
    // the rest is checked (under a stand-in ref), so that one attempt reports every error.
    const bool no_ref = pack.meta.ref.empty();
    if (no_ref) {
        const Json& m = meta_doc->value;
        auto text = [&](const char* k) {
            return m.is_object() && m.contains(k) && m[k].is_string() ? m[k].get<std::string>() : "";
        };
        pack.meta.ref = !text("ref").empty()    ? text("ref")
                        : !text("name").empty() ? text("name")
                                                : root.filename().string();
    }
    const std::string& ref = pack.meta.ref;
    pack.meta.path = fs::absolute(root).lexically_normal().string();
    pack.meta.files = ListFiles(root);
    auto relative = [&](const fs::path& file) { return fs::relative(file, root).string(); };
    std::error_code ec;

    Seen actions_seen;
    // Actions left out for a mistyped runner still exist as far as aliases and policies go: their one error is the
    // runner, reported once.
    std::set<std::string> mistyped_runner_actions;
    for (const auto& file : YamlFilesIn(root / "actions")) {
        std::optional<core::YamlDocument> doc = Read(file, pack.errors);
        if (!doc) continue;
        Result<ActionMeta> action = ActionMeta::FromDocument(*doc, ref, &pack.errors);
        if (!action) continue;
        if (!options_.runner_types.empty() && !options_.runner_types.count(action->runner_type)) {
            const std::string hint = core::ClosestMatch(
                action->runner_type,
                std::vector<std::string>(options_.runner_types.begin(), options_.runner_types.end())
            );
            if (!IsStackStormRunner(action->runner_type) && !hint.empty()) {
                // A near miss of a runner we have is a typo: the action would never run as meant.
                pack.errors.push_back(doc->ErrorAt(
                    "runner_type", "unknown runner \"" + action->runner_type + "\" (did you mean \"" + hint + "\"?)"
                ));
                mistyped_runner_actions.insert(action->Ref());
                continue;
            }
            // StackStorm's own packs hold actions for runners an installation may lack (winrm-*, announcement):
            // the rest of the pack is usable, so the action is registered, unavailable, and says why.
            action->unavailable = "runner \"" + action->runner_type + "\" is not available on this server";
            pack.warnings.push_back(doc->ErrorAt(
                "runner_type", action->unavailable + ": action \"" + action->Ref() + "\" is registered but cannot run"
            ));
        }
        if (auto rp = options_.runner_parameters.find(action->runner_type);
            rp != options_.runner_parameters.end() && !OverridesAllowed(*action, rp->second, *doc, pack.errors)) {
            continue;
        }
        action->metadata_file = relative(file);
        action->pack_path = pack.meta.path;
        if (NeedsEntryPoint(action->runner_type)) {
            if (action->entry_point.empty()) {
                pack.errors.push_back(doc->ErrorAt("entry_point", "is required for runner " + action->runner_type));
                continue;
            }
            const fs::path entry = root / "actions" / action->entry_point;
            if (!fs::is_regular_file(entry, ec)) {
                pack.errors.push_back(MissingEntryPoint(*doc, root, "actions", action->entry_point));
                continue;
            }
            if (action->runner_type == "python-script" && action->unavailable.empty()) {
                // An import of StackStorm's internals (st2common.services.packs, st2common.util.pack_management, ...)
                // that the python runner's shim does not have: the action can never load, so it is registered
                // unavailable with the reason, as for a runner this server lacks.
                if (std::optional<MissingImport> miss = FindMissingSt2commonImport(entry, St2commonShimDir())) {
                    action->unavailable = "it imports \"" + miss->module +
                                          "\", a StackStorm-internal module that Squall does not provide";
                    Error w = InvalidArgument(
                        action->unavailable + ": action \"" + action->Ref() + "\" is registered but cannot run"
                    );
                    w.location = Location{entry.string(), static_cast<int>(miss->line), static_cast<int>(miss->column)};
                    pack.warnings.push_back(std::move(w));
                }
            }
            if (action->runner_type == "orquesta" || action->runner_type == "action-chain") {
                // The workflow file itself must at least be a YAML mapping; the workflow engine checks the rest.
                std::optional<core::YamlDocument> wf = Read(entry, pack.errors);
                if (!wf) continue;
                if (!wf->value.is_object()) {
                    pack.errors.push_back(wf->ErrorAt("", "a workflow must be a mapping"));
                    continue;
                }
                if (options_.check_workflow) {
                    // The action stays either way: a run fails with the same problems, as in StackStorm.
                    WorkflowFindings found = options_.check_workflow(*action, entry.string());
                    for (Error& w : found.warnings) pack.warnings.push_back(std::move(w));
                    for (Error& e : found.errors) pack.errors.push_back(std::move(e));
                }
            }
        }
        if (!actions_seen.Add(action->Ref(), action->metadata_file, *doc, "name", pack.errors)) continue;
        pack.actions.push_back(std::move(*action));
    }

    Seen rules_seen;
    for (const auto& file : YamlFilesIn(root / "rules")) {
        std::optional<core::YamlDocument> doc = Read(file, pack.errors);
        if (!doc) continue;
        Result<RuleMeta> rule = RuleMeta::FromDocument(*doc, ref, &pack.errors);
        if (!rule) {
            // The criteria are checked too, so that a broken file reports all its errors at once.
            if (options_.check_rule && doc->value.is_object() && doc->value.contains("criteria") &&
                doc->value["criteria"].is_object()) {
                RuleMeta partial;
                partial.criteria = doc->value["criteria"];
                for (Error& e : options_.check_rule(partial, *doc)) pack.errors.push_back(std::move(e));
            }
            continue;
        }
        if (rule->pack != ref) {
            pack.errors.push_back(
                doc->ErrorAt("pack", "is \"" + rule->pack + "\" but the file is in pack \"" + ref + "\"")
            );
            continue;
        }
        rule->metadata_file = relative(file);
        if (options_.check_rule) {
            std::vector<Error> errors = options_.check_rule(*rule, *doc);
            if (!errors.empty()) {
                for (Error& e : errors) pack.errors.push_back(std::move(e));
                continue;
            }
        }
        if (!rules_seen.Add(rule->Ref(), rule->metadata_file, *doc, "name", pack.errors)) continue;
        pack.rules.push_back(std::move(*rule));
    }

    Seen triggers_seen;
    for (const auto& file : YamlFilesIn(root / "triggers")) {
        std::optional<core::YamlDocument> doc = Read(file, pack.errors);
        if (!doc) continue;
        Result<TriggerTypeMeta> t = TriggerTypeMeta::FromDocument(*doc, ref, "", &pack.errors);
        if (!t) continue;
        t->metadata_file = relative(file);
        if (!triggers_seen.Add(t->Ref(), t->metadata_file, *doc, "name", pack.errors)) continue;
        pack.trigger_types.push_back(std::move(*t));
    }

    Seen sensors_seen;
    for (const auto& file : YamlFilesIn(root / "sensors")) {
        std::optional<core::YamlDocument> doc = Read(file, pack.errors);
        if (!doc) continue;
        Result<SensorMeta> s = SensorMeta::FromDocument(*doc, ref, file.stem().string(), &pack.errors);
        if (!s) continue;
        s->metadata_file = relative(file);
        if (!fs::is_regular_file(root / "sensors" / s->entry_point, ec)) {
            pack.errors.push_back(MissingEntryPoint(*doc, root, "sensors", s->entry_point));
            continue;
        }
        const std::string field = doc->value.contains("class_name") ? "class_name" : "entry_point";
        if (!sensors_seen.Add(s->Ref(), s->metadata_file, *doc, field, pack.errors)) continue;
        bool duplicate = false;
        for (size_t i = 0; i < s->declared_trigger_types.size(); ++i) {
            auto& t = s->declared_trigger_types[i];
            t.metadata_file = s->metadata_file;
            duplicate =
                !triggers_seen.Add(
                    t.Ref(), s->metadata_file, *doc, "trigger_types[" + std::to_string(i) + "].name", pack.errors
                ) ||
                duplicate;
        }
        if (duplicate) continue;
        for (const auto& t : s->declared_trigger_types) pack.trigger_types.push_back(t);
        pack.sensors.push_back(std::move(*s));
    }

    auto own_action_missing = [&](const std::string& action_ref) {
        Result<std::pair<std::string, std::string>> parts = core::SplitRef(action_ref);
        if (!parts || parts->first != ref || mistyped_runner_actions.count(action_ref)) return false;
        for (const auto& a : pack.actions) {
            if (a.Ref() == action_ref) return false;
        }
        return true;
    };

    Seen aliases_seen;
    for (const auto& file : YamlFilesIn(root / "aliases")) {
        std::optional<core::YamlDocument> doc = Read(file, pack.errors);
        if (!doc) continue;
        Result<AliasMeta> a = AliasMeta::FromDocument(*doc, ref, &pack.errors);
        if (!a) continue;
        a->metadata_file = relative(file);
        if (own_action_missing(a->action_ref)) {
            pack.errors.push_back(
                doc->ErrorAt("action_ref", "action \"" + a->action_ref + "\" is not defined in the pack")
            );
            continue;
        }
        if (!aliases_seen.Add(a->Ref(), a->metadata_file, *doc, "name", pack.errors)) continue;
        pack.aliases.push_back(std::move(*a));
    }

    Seen policies_seen;
    for (const auto& file : YamlFilesIn(root / "policies")) {
        std::optional<core::YamlDocument> doc = Read(file, pack.errors);
        if (!doc) continue;
        Result<PolicyMeta> p = PolicyMeta::FromDocument(*doc, ref, &pack.errors);
        if (!p) continue;
        p->metadata_file = relative(file);
        if (own_action_missing(p->resource_ref)) {
            pack.errors.push_back(
                doc->ErrorAt("resource_ref", "action \"" + p->resource_ref + "\" is not defined in the pack")
            );
            continue;
        }
        if (!policies_seen.Add(p->Ref(), p->metadata_file, *doc, "name", pack.errors)) continue;
        pack.policies.push_back(std::move(*p));
    }

    ConfigSchema schema;
    bool schema_ok = true;
    for (const char* name : {"config.schema.yaml", "config.schema.yml"}) {
        if (!fs::is_regular_file(root / name, ec)) continue;
        std::optional<core::YamlDocument> doc = Read(root / name, pack.errors);
        if (!doc) {
            schema_ok = false;
            break;
        }
        Result<ConfigSchema> parsed = ConfigSchema::FromDocument(*doc, &pack.errors);
        if (!parsed) {
            schema_ok = false;
            break;
        }
        schema = std::move(*parsed);
        pack.config_schema = schema.properties();
        break;
    }
    if (!options_.configs_dir.empty()) {
        const std::string file = options_.configs_dir + "/" + ref + ".yaml";
        if (!schema_ok) {
            pack.drop_config = true;  // a config cannot be checked against a broken schema
        } else {
            Result<PackConfig> config = LoadPackConfigBlocking(file, schema);
            if (config && config->values.empty() && !fs::exists(file, ec)) {
                pack.drop_config = true;  // nothing to store: no file, no defaults
            } else if (config) {
                pack.config = std::move(*config);
            } else {
                pack.errors.push_back(config.error());
                // StackStorm keeps the last valid config; with none, the actions still get the schema's defaults.
                Result<PackConfig> defaults = LoadPackConfigBlocking("", schema);
                if (defaults && !defaults->values.empty()) pack.config_fallback = std::move(*defaults);
            }
        }
    }
    if (no_ref) {
        Error first = pack.errors.front();
        for (size_t i = 1; i < pack.errors.size(); ++i) first.message += "\n  " + pack.errors[i].What();
        return first;
    }
    return pack;
}

std::vector<LoadedPack> PackLoader::LoadAllBlocking(const std::string& base) const {
    std::vector<LoadedPack> out;
    std::error_code ec;
    if (!fs::is_directory(base, ec)) return out;
    std::vector<fs::path> dirs;
    for (const auto& entry : fs::directory_iterator(base, ec)) {
        if (entry.is_directory() && fs::exists(entry.path() / "pack.yaml")) dirs.push_back(entry.path());
    }
    std::sort(dirs.begin(), dirs.end());
    for (const auto& d : dirs) {
        Result<LoadedPack> p = LoadPackBlocking(d.string());
        if (p) {
            out.push_back(std::move(*p));
        } else {
            LoadedPack broken;
            broken.meta.ref = d.filename().string();
            broken.meta.path = d.string();
            broken.errors.push_back(p.error());
            out.push_back(std::move(broken));
        }
    }
    return out;
}

}  // namespace squall::packs
