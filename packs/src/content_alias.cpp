#include "content_common.hpp"

namespace squall::packs {

using namespace detail;  // NOLINT(google-build-using-namespace): this component's own helpers

namespace {

/// `{{name}}` / `{{ name = default }}` placeholders of an alias format must be closed and name a parameter.
void CheckAliasFormat(Checker& c, const Json& f, const std::string& at) {
    if (!f.is_string() || f.get<std::string>().empty()) {
        c.Fail(at, "must be a non-empty string");
        return;
    }
    static const core::RegexPtr kPlaceholder =
        core::Regex::Compile(R"(^\s*[A-Za-z_][A-Za-z0-9_.]*\s*(=[\s\S]*)?$)", {}).value();
    const std::string& s = f.get_ref<const std::string&>();
    size_t pos = 0;
    while ((pos = s.find("{{", pos)) != std::string::npos) {
        const size_t end = s.find("}}", pos + 2);
        if (end == std::string::npos) {
            c.Fail(at, "\"{{\" at column " + std::to_string(pos + 1) + " is not closed by \"}}\" in \"" + s + "\"");
            return;
        }
        const std::string inner = s.substr(pos + 2, end - pos - 2);
        if (!kPlaceholder->FullMatch(inner)) {
            c.Fail(
                at,
                "\"{{" + inner + "}}\" is not a parameter placeholder ({{name}} or {{name=default}}) in \"" + s + "\""
            );
        }
        pos = end + 2;
    }
}

}  // namespace

// --- aliases -------------------------------------------------------------------------------------------------

Json AliasMeta::ToJson() const {
    return {
        {"id", Ref()},
        {"ref", Ref()},
        {"uid", "action_alias:" + pack + ":" + name},
        {"name", name},
        {"pack", pack},
        {"description", description},
        {"enabled", enabled},
        {"action_ref", action_ref},
        {"formats", formats},
        {"ack", ack},
        {"result", result},
        {"extra", extra},
        {"immutable_parameters", immutable_parameters},
        {"metadata_file", metadata_file},
    };
}

Result<AliasMeta> AliasMeta::FromDocument(const YamlDocument& doc, const std::string& pack, std::vector<Error>* all) {
    Checker c(doc);
    const Json& j = doc.value;
    AliasMeta a;
    if (!j.is_object()) {
        c.Fail("", "an action alias must be a mapping");
        return Finish(c, std::move(a), all);
    }
    c.Keys(
        j,
        "",
        {"name",
         "pack",
         "description",
         "enabled",
         "action_ref",
         "formats",
         "ack",
         "result",
         "extra",
         "immutable_parameters",
         "ref",
         "uid",
         "id",
         "metadata_file"}
    );
    a.name = c.Name(j);
    a.pack = c.Pack(j, pack);
    a.description = c.Str(j, "description", "");
    a.enabled = c.Bool(j, "enabled", "", true);
    a.action_ref = c.Ref(j, "action_ref", "").value_or("");
    auto formats = j.find("formats");
    if (formats == j.end() || formats->is_null()) {
        c.Fail("formats", "is required (a list of formats)");
    } else if (!formats->is_array() || formats->empty()) {
        c.Fail("formats", "must be a non-empty list of strings or {display, representation} mappings");
    } else {
        for (size_t i = 0; i < formats->size(); ++i) {
            const std::string at = "formats[" + std::to_string(i) + "]";
            const Json& f = (*formats)[i];
            if (!f.is_object()) {
                CheckAliasFormat(c, f, at);
                continue;
            }
            c.Keys(f, at, {"display", "representation"});
            if (f.contains("display")) CheckAliasFormat(c, f["display"], at + ".display");
            auto rep = f.find("representation");
            if (rep == f.end() || rep->is_null()) {
                if (!f.contains("display")) c.Fail(at, "needs display or representation");
            } else if (rep->is_string()) {
                CheckAliasFormat(c, *rep, at + ".representation");
            } else if (!rep->is_array()) {
                c.Fail(at + ".representation", "must be a list of format strings");
            } else {
                for (size_t k = 0; k < rep->size(); ++k)
                    CheckAliasFormat(c, (*rep)[k], at + ".representation[" + std::to_string(k) + "]");
            }
        }
        a.formats = *formats;
    }
    a.ack = c.Mapping(j, "ack", "", "{enabled, format, append_url, extra}");
    c.Keys(a.ack, "ack", {"enabled", "format", "append_url", "extra"});
    c.Bool(a.ack, "enabled", "ack", true);
    c.Bool(a.ack, "append_url", "ack", true);
    c.Str(a.ack, "format", "ack");
    c.Mapping(a.ack, "extra", "ack");
    a.result = c.Mapping(j, "result", "", "{enabled, format, extra}");
    c.Keys(a.result, "result", {"enabled", "format", "extra"});
    c.Bool(a.result, "enabled", "result", true);
    c.Str(a.result, "format", "result");
    c.Mapping(a.result, "extra", "result");
    a.extra = c.Mapping(j, "extra", "");
    a.immutable_parameters = c.Mapping(j, "immutable_parameters", "", "parameter: value");
    return Finish(c, std::move(a), all);
}

}  // namespace squall::packs
