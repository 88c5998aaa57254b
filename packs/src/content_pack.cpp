#include "content_common.hpp"

#include <algorithm>
#include <cctype>

namespace squall::packs {

using namespace detail;  // NOLINT(google-build-using-namespace): this component's own helpers

namespace {

/// A pack ref: lower-case letters, digits and `_`.
bool IsValidPackRef(const std::string& ref) {
    return core::CheckPackName("ref", ref).has_value();
}

}  // namespace

// --- pack.yaml -----------------------------------------------------------------------------------------------

Json PackMeta::ToJson() const {
    return {
        {"id", ref},
        {"ref", ref},
        {"name", name},
        {"description", description},
        {"version", version},
        {"author", author},
        {"email", email},
        {"contributors", contributors},
        {"keywords", keywords},
        {"stackstorm_version", stackstorm_version},
        {"python_versions", python_versions},
        {"dependencies", dependencies},
        {"system", system},
        {"files", files},
        {"path", path},
        {"uid", "pack:" + ref}};
}

Result<PackMeta> PackMeta::FromDocument(const YamlDocument& doc, std::vector<Error>* all_errors) {
    std::vector<Error> errors;
    PackMeta p = Parse(doc, errors);
    if (errors.empty()) return p;
    if (all_errors != nullptr) all_errors->insert(all_errors->end(), errors.begin(), errors.end());
    return errors.front();
}

PackMeta PackMeta::Parse(const YamlDocument& doc, std::vector<Error>& errors) {
    Checker c(doc);
    const Json& m = doc.value;
    PackMeta p;
    if (!m.is_object()) {
        c.Fail("", "pack.yaml must be a mapping");
        errors.insert(errors.end(), c.errors().begin(), c.errors().end());
        return p;
    }
    c.Keys(
        m,
        "",
        {"ref",
         "name",
         "description",
         "version",
         "author",
         "email",
         "contributors",
         "keywords",
         "stackstorm_version",
         "python_versions",
         "dependencies",
         "system",
         "files",
         "path",
         "uid",
         "id"}
    );
    p.name = c.Str(m, "name", "");
    p.ref = c.Str(m, "ref", "");
    if (p.ref.empty() && p.name.empty()) {
        c.Fail("name", "is required");
    } else {
        const std::string field = p.ref.empty() ? "name" : "ref";
        if (p.ref.empty()) p.ref = p.name;
        if (!IsValidPackRef(p.ref)) {
            c.Fail(field, "\"" + p.ref + "\" is not a valid pack ref (lowercase letters, digits and _; set ref:)");
            p.ref.clear();
        }
    }
    if (p.name.empty()) p.name = p.ref;
    p.description = c.Str(m, "description", "");
    if (auto v = m.find("version"); v != m.end() && !v->is_null()) {
        static const core::RegexPtr kSemver =
            core::Regex::Compile(
                R"(^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$)", {}
            )
                .value();
        // As StackStorm's normalize_pack_version: str(version), and "X.Y" (a YAML float like 1.0 included)
        // becomes "X.Y.0".
        std::string text = v->is_string() ? v->get<std::string>() : v->is_number() ? v->dump() : std::string();
        if (std::count(text.begin(), text.end(), '.') == 1) text += ".0";
        if (!(v->is_string() || v->is_number()) || !kSemver->FullMatch(text)) {
            c.Fail(
                "version",
                (v->is_string() ? "\"" + v->get<std::string>() + "\"" : v->dump()) +
                    " is not a semantic version like \"1.0.0\""
            );
        } else {
            p.version = text;
        }
    }
    p.author = c.Str(m, "author", "");
    p.email = c.Str(m, "email", "");
    p.contributors = c.StringList(m, "contributors", "");
    p.keywords = c.StringList(m, "keywords", "");
    p.stackstorm_version = c.Str(m, "stackstorm_version", "");
    p.python_versions = c.StringList(m, "python_versions", "");
    for (size_t i = 0; i < p.python_versions.size(); ++i) {
        if (p.python_versions[i] != "2" && p.python_versions[i] != "3")
            c.Fail("python_versions[" + std::to_string(i) + "]", "must be \"2\" or \"3\"");
    }
    p.dependencies = c.StringList(m, "dependencies", "");
    p.system = c.Mapping(m, "system", "");
    errors.insert(errors.end(), c.errors().begin(), c.errors().end());
    return p;
}

}  // namespace squall::packs
