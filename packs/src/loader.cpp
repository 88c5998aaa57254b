#include "squall/packs/loader.hpp"

#include <algorithm>
#include <filesystem>

namespace squall::packs {
namespace fs = std::filesystem;

namespace {

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

}  // namespace

Result<LoadedPack> PackLoader::LoadPackBlocking(const std::string& dir) const {
    LoadedPack pack;
    const fs::path root(dir);
    fs::path meta_file = root / "pack.yaml";
    Result<core::YamlDocument> meta = core::LoadYamlFile(meta_file.string());
    if (!meta) return meta.error();
    const Json& m = meta->value;
    if (!m.is_object()) return meta->ErrorAt("", "pack.yaml must be a mapping");
    std::string ref = m.value("ref", "");
    const std::string name = m.contains("name") && m["name"].is_string() ? m["name"].get<std::string>() : "";
    if (ref.empty()) ref = name;
    if (ref.empty()) return meta->ErrorAt("name", "is required");
    for (char c : ref) {
        if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_')) {
            return meta->ErrorAt(
                m.contains("ref") ? "ref" : "name",
                "\"" + ref + "\" is not a valid pack ref (lowercase letters, digits and _; set ref:)"
            );
        }
    }
    pack.meta.ref = ref;
    pack.meta.name = name.empty() ? ref : name;
    pack.meta.description =
        m.contains("description") && m["description"].is_string() ? m["description"].get<std::string>() : "";
    pack.meta.version = m.contains("version") && m["version"].is_string() ? m["version"].get<std::string>()
                        : m.contains("version")                           ? m["version"].dump()
                                                                          : "";
    pack.meta.author = m.contains("author") && m["author"].is_string() ? m["author"].get<std::string>() : "";
    pack.meta.path = fs::absolute(root).string();

    for (const auto& file : YamlFilesIn(root / "actions")) {
        Result<core::YamlDocument> doc = core::LoadYamlFile(file.string());
        if (!doc) {
            pack.errors.push_back(doc.error());
            continue;
        }
        Result<ActionMeta> action = ActionMeta::FromDocument(*doc, ref);
        if (!action) {
            pack.errors.push_back(action.error());
            continue;
        }
        action->metadata_file = fs::relative(file, root).string();
        pack.actions.push_back(std::move(*action));
    }
    for (const auto& file : YamlFilesIn(root / "rules")) {
        Result<core::YamlDocument> doc = core::LoadYamlFile(file.string());
        if (!doc) {
            pack.errors.push_back(doc.error());
            continue;
        }
        Result<RuleMeta> rule = RuleMeta::FromDocument(*doc, ref);
        if (!rule) {
            pack.errors.push_back(rule.error());
            continue;
        }
        if (rule->pack != ref) {
            pack.errors.push_back(
                doc->ErrorAt("pack", "is \"" + rule->pack + "\" but the file is in pack \"" + ref + "\"")
            );
            continue;
        }
        rule->metadata_file = fs::relative(file, root).string();
        pack.rules.push_back(std::move(*rule));
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
