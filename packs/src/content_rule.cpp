#include "content_common.hpp"

#include <algorithm>
#include <cctype>

namespace squall::packs {

using namespace detail;  // NOLINT(google-build-using-namespace): this component's own helpers

// --- rules ---------------------------------------------------------------------------------------------------

Json RuleMeta::ToJson() const {
    Json j = {
        {"ref", Ref()},
        {"name", name},
        {"pack", pack},
        {"uid", "rule:" + pack + ":" + name},
        {"description", description},
        {"enabled", enabled},
        {"type", {{"ref", type}, {"parameters", Json::object()}}},
        {"trigger", {{"type", trigger_type}, {"parameters", trigger_parameters}, {"ref", trigger_type}}},
        {"criteria", criteria},
        {"action", {{"ref", action_ref}, {"parameters", action_parameters}}},
        {"metadata_file", metadata_file},
    };
    if (!id.empty()) j["id"] = id;
    return j;
}

Result<RuleMeta> RuleMeta::FromDocument(
    const YamlDocument& doc, const std::string& default_pack, std::vector<Error>* all
) {
    Checker c(doc);
    const Json& j = doc.value;
    RuleMeta r;
    if (!j.is_object()) {
        c.Fail("", "a rule must be a mapping");
        return Finish(c, std::move(r), all);
    }
    c.Keys(
        j,
        "",
        {"name",
         "pack",
         "description",
         "enabled",
         "type",
         "trigger",
         "criteria",
         "action",
         "tags",
         "context",
         "ref",
         "uid",
         "id",
         "metadata_file"}
    );
    r.name = c.Name(j);
    r.pack = c.PackName(j, "pack", "", default_pack);
    if (r.pack.empty()) r.pack = "default";
    r.description = c.Str(j, "description", "");
    r.enabled = c.Bool(j, "enabled", "", true);
    if (j.contains("id") && j["id"].is_string()) r.id = j["id"];
    if (j.contains("type") && !j["type"].is_null()) {
        const Json& t = j["type"];
        if (t.is_object()) c.Keys(t, "type", {"ref", "parameters"});
        std::string ref = t.is_string() ? t.get<std::string>() : (t.is_object() ? t.value("ref", "standard") : "");
        if (ref != "standard" && ref != "backstop") {
            c.Fail("type.ref", "must be \"standard\" or \"backstop\"");
        } else {
            r.type = ref;
        }
    }
    Tags(c, j, "");
    // trigger
    if (!j.contains("trigger") || !j["trigger"].is_object()) {
        c.Fail("trigger", "is required (a mapping with type)");
    } else {
        const Json& trig = j["trigger"];
        c.Keys(trig, "trigger", {"type", "parameters", "ref", "description", "name", "pack"});
        std::optional<std::string> ttype = c.Ref(trig, "type", "trigger");
        if (ttype) r.trigger_type = *ttype;
        r.trigger_parameters = c.Mapping(trig, "parameters", "trigger");
        if (r.trigger_type == "core.st2.webhook") {
            if (!r.trigger_parameters.contains("url") || !r.trigger_parameters["url"].is_string() ||
                r.trigger_parameters["url"].get<std::string>().empty()) {
                c.Fail("trigger.parameters.url", "is required for core.st2.webhook (the hook name)");
            } else {
                std::string url = r.trigger_parameters["url"];
                while (!url.empty() && url.front() == '/') url.erase(url.begin());
                if (Status st = core::CheckWebhookUrl("trigger.parameters.url", url); !st) {
                    c.Fail("trigger.parameters.url", Checker::Detail(st.error()));
                }
                r.trigger_parameters["url"] = url;
            }
        }
    }
    // criteria
    if (j.contains("criteria") && !j["criteria"].is_null()) {
        if (!j["criteria"].is_object()) {
            c.Fail("criteria", "must be a mapping of key: {type, pattern}");
        } else {
            for (const auto& [key, crit] : j["criteria"].items()) {
                const std::string path = "criteria." + key;
                if (!crit.is_object()) {
                    c.Fail(path, "must be a mapping with type and pattern");
                    continue;
                }
                c.Keys(crit, path, {"type", "pattern", "condition"});
                if (!crit.contains("type") || !crit["type"].is_string())
                    c.Fail(path + ".type", "is required (the operator)");
            }
            r.criteria = j["criteria"];
        }
    }
    // action
    if (!j.contains("action") || !j["action"].is_object()) {
        c.Fail("action", "is required (a mapping with ref)");
    } else {
        const Json& act = j["action"];
        c.Keys(act, "action", {"ref", "parameters", "description"});
        std::optional<std::string> aref = c.Ref(act, "ref", "action");
        if (aref) r.action_ref = *aref;
        r.action_parameters = c.Mapping(act, "parameters", "action");
    }
    r.metadata_file = doc.file;
    return Finish(c, std::move(r), all);
}

// --- shell-injection warnings ----------------------------------------------------------------------------------

namespace {

/// True when `v` is a template text that reads trigger data.
bool RendersTrigger(const Json& v) {
    if (!v.is_string()) return false;
    const std::string& s = v.get_ref<const std::string&>();
    return (s.find("{{") != std::string::npos || s.find("{%") != std::string::npos) &&
           s.find("trigger") != std::string::npos;
}

/// The identifiers read inside `{{ }}` and `{% %}` of `text`.
std::vector<std::string> TemplateNames(const std::string& text) {
    std::vector<std::string> names;
    size_t pos = 0;
    while ((pos = text.find_first_of('{', pos)) != std::string::npos) {
        if (pos + 1 >= text.size() || (text[pos + 1] != '{' && text[pos + 1] != '%')) {
            ++pos;
            continue;
        }
        const std::string close = text[pos + 1] == '{' ? "}}" : "%}";
        const size_t end = text.find(close, pos + 2);
        const std::string inner = text.substr(pos + 2, end == std::string::npos ? std::string::npos : end - pos - 2);
        std::string word;
        for (char c : inner + " ") {
            if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') {
                word += c;
            } else {
                if (!word.empty() && !std::isdigit(static_cast<unsigned char>(word[0]))) names.push_back(word);
                word.clear();
            }
        }
        if (end == std::string::npos) break;
        pos = end + 2;
    }
    return names;
}

}  // namespace

std::vector<std::string> TriggerDataInShellWarnings(const RuleMeta& rule, const Json& action) {
    std::vector<std::string> out;
    const std::string runner = action.is_object() ? action.value("runner_type", "") : std::string();
    const bool shell = action.is_null() || runner == "local-shell-cmd" || runner == "remote-shell-cmd";
    if (!shell || !rule.action_parameters.is_object()) return out;
    const std::string advice =
        " (a webhook body such as {\"x\": \"$(id)\"} would run as a command: pass the value in `env` or as an "
        "argument of a script action, as the examples pack's greet action does)";
    if (auto cmd = rule.action_parameters.find("cmd"); cmd != rule.action_parameters.end() && RendersTrigger(*cmd)) {
        out.push_back(
            "rule " + rule.Ref() + " renders trigger data into the shell command (action.parameters.cmd) of " +
            rule.action_ref + advice
        );
    }
    if (!action.is_object()) return out;
    const Json params = action.value("parameters", Json::object());
    const Json cmd_spec = params.is_object() ? params.value("cmd", Json::object()) : Json::object();
    const Json cmd_default = cmd_spec.is_object() ? cmd_spec.value("default", Json()) : Json();
    if (!cmd_default.is_string()) return out;
    const std::vector<std::string> read = TemplateNames(cmd_default.get<std::string>());
    for (const auto& [name, value] : rule.action_parameters.items()) {
        if (name == "cmd" || !RendersTrigger(value)) continue;
        if (std::find(read.begin(), read.end(), name) != read.end()) {
            out.push_back(
                "rule " + rule.Ref() + " renders trigger data into parameter \"" + name +
                "\", which the shell command of " + rule.action_ref +
                " renders (cmd: " + cmd_default.get<std::string>() + ")" + advice
            );
        }
    }
    return out;
}

}  // namespace squall::packs
