#include "squall/packs/config.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>

#include <yaml-cpp/yaml.h>

#include "squall/core/id.hpp"
#include "squall/core/input.hpp"
#include "squall/packs/content.hpp"
#include "squall/packs/json_schema.hpp"
#include "squall/packs/parameters.hpp"

namespace squall::packs {
namespace fs = std::filesystem;
namespace {

constexpr const char* kSubject = "config property";

std::string Join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
}

bool IsTemplate(const Json& v) {
    if (!v.is_string()) return false;
    const std::string& s = v.get_ref<const std::string&>();
    return s.find("{{") != std::string::npos || s.find("{%") != std::string::npos;
}

/// The declared type names of a property schema.
std::vector<std::string> Types(const Json& s) {
    std::vector<std::string> out;
    auto t = s.find("type");
    if (t == s.end()) return out;
    if (t->is_string()) out.push_back(t->get<std::string>());
    if (t->is_array()) {
        for (const auto& x : *t) {
            if (x.is_string()) out.push_back(x.get<std::string>());
        }
    }
    return out;
}

/// A string given for a non-string property is cast to the declared type (StackStorm casts values the same way).
Json Cast(const Json& v, const Json& s) {
    const std::vector<std::string> types = Types(s);
    if (!v.is_string() || types.empty() || std::find(types.begin(), types.end(), "string") != types.end()) return v;
    const std::string& text = v.get_ref<const std::string&>();
    for (const auto& type : types) {
        try {
            size_t pos = 0;
            if (type == "integer") {
                long long n = std::stoll(text, &pos);
                if (pos == text.size()) return n;
            } else if (type == "number") {
                double d = std::stod(text, &pos);
                if (pos == text.size() && std::isfinite(d)) return d;
            } else if (type == "boolean") {
                if (text == "true" || text == "True") return true;
                if (text == "false" || text == "False") return false;
            } else if (type == "object" || type == "array") {
                Result<Json> parsed = core::ParseJsonLimited(text, "value");
                if (parsed && ((type == "object" && parsed->is_object()) || (type == "array" && parsed->is_array())))
                    return *parsed;
            }
        } catch (const std::exception&) {
        }
    }
    return v;
}

bool HasDefaults(const Json& properties) {
    for (const auto& [name, s] : properties.items()) {
        if (!s.is_object()) continue;
        if (s.contains("default")) return true;
        if (s.contains("properties") && s["properties"].is_object() && HasDefaults(s["properties"])) return true;
    }
    return false;
}

void CollectSecrets(const Json& properties, const std::string& path, std::vector<std::string>& out) {
    if (!properties.is_object()) return;
    for (const auto& [name, s] : properties.items()) {
        if (!s.is_object()) continue;
        if (core::BoolOr(s, "secret", false)) out.push_back(Join(path, name));
        if (s.contains("properties")) CollectSecrets(s["properties"], Join(path, name), out);
    }
}

class ConfigValidator {
public:
    explicit ConfigValidator(const core::YamlDocument* doc) : doc_(doc) {}

    /// Checks `obj` (at `path`) against a properties map, filling defaults in place.
    Status Object(const Json& properties, Json& obj, const std::string& path, bool enforce_required) {
        for (const auto& [name, s] : properties.items()) {
            if (!s.is_object()) continue;
            const std::string at = Join(path, name);
            auto it = obj.find(name);
            if (it == obj.end() || it->is_null()) {
                if (s.contains("default")) {
                    obj[name] = s["default"];
                } else if (s.contains("properties") && s["properties"].is_object() && HasDefaults(s["properties"])) {
                    Json nested = Json::object();
                    if (Status st = Object(s["properties"], nested, at, false); !st) return st;
                    obj[name] = std::move(nested);
                    continue;
                } else if (enforce_required && core::BoolOr(s, "required", false)) {
                    return Fail(at, "is required");
                } else {
                    continue;
                }
            }
            Json& value = obj[name];
            if (IsTemplate(value)) continue;  // checked when rendered
            value = Cast(value, s);
            Json own = s;  // the nested properties are checked (with their templates and defaults) by the recursion
            if (value.is_object() && s.contains("properties") && s["properties"].is_object()) {
                if (Status st = Object(s["properties"], value, at, enforce_required); !st) return st;
                own.erase("properties");
            }
            Result<JsonSchema> compiled = JsonSchema::Compile(own);
            if (!compiled) return Fail(at, "invalid schema: " + compiled.error().message);
            const bool secret = core::BoolOr(s, "secret", false);
            if (Status st = compiled->Validate(value, at, {.subject = kSubject, .mask_values = secret}); !st) {
                return Relocate(st.error().message);
            }
            const std::vector<std::string> types = Types(s);
            const bool integer = std::find(types.begin(), types.end(), "integer") != types.end() &&
                                 std::find(types.begin(), types.end(), "number") == types.end();
            if (integer && value.is_number_unsigned() && value.get<uint64_t>() > 9223372036854775807ULL)
                return Fail(at, value.dump() + " does not fit in a 64-bit integer");  // 2^63 .. 2^64 - 1
            if (value.is_number_float() && std::find(types.begin(), types.end(), "integer") != types.end() &&
                std::find(types.begin(), types.end(), "number") == types.end()) {
                // [-2^63, 2^63) converts exactly; outside it the conversion is undefined (2^64 and 1e20 became
                // INT64_MIN, past the schema's `minimum`), as action parameters refuse it.
                const double d = value.get<double>();
                if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
                    return Fail(at, value.dump() + " does not fit in a 64-bit integer");
                value = static_cast<long long>(d);
            }
        }
        return {};
    }

private:
    Error Fail(const std::string& path, const std::string& what) const {
        if (doc_ != nullptr) {
            // A missing property has no mark of its own: point at the mapping that lacks it.
            Error e = doc_->ErrorAt(path, what);
            if (doc_->marks.count(path) == 0) {
                const size_t dot = path.rfind('.');
                e.location = doc_->At(dot == std::string::npos ? "" : path.substr(0, dot));
            }
            return e;
        }
        return InvalidArgument(std::string(kSubject) + " \"" + path + "\": " + what);
    }

    /// A JsonSchema message `config property "a.b": what` → located at a.b in the file when there is one.
    Error Relocate(const std::string& message) const {
        if (doc_ == nullptr) return InvalidArgument(message);
        const std::string head = std::string(kSubject) + " \"";
        const size_t close = message.find("\": ", head.size());
        if (message.rfind(head, 0) != 0 || close == std::string::npos) return doc_->ErrorAt("", message);
        return doc_->ErrorAt(message.substr(head.size(), close - head.size()), message.substr(close + 3));
    }

    const core::YamlDocument* doc_;
};

void Emit(YAML::Emitter& out, const Json& v) {
    switch (v.type()) {
        case Json::value_t::object:
            out << YAML::BeginMap;
            for (const auto& [k, x] : v.items()) {
                out << YAML::Key << YAML::DoubleQuoted << k << YAML::Value;
                Emit(out, x);
            }
            out << YAML::EndMap;
            break;
        case Json::value_t::array:
            out << YAML::BeginSeq;
            for (const auto& x : v) Emit(out, x);
            out << YAML::EndSeq;
            break;
        case Json::value_t::string:
            out << YAML::DoubleQuoted << v.get<std::string>();
            break;
        case Json::value_t::boolean:
            out << (v.get<bool>() ? "true" : "false");
            break;
        case Json::value_t::null:
            out << YAML::Null;
            break;
        default:  // numbers, in their shortest round-trip text
            out << v.dump();
            break;
    }
}

}  // namespace

Result<ConfigSchema> ConfigSchema::FromDocument(const core::YamlDocument& doc, std::vector<Error>* all_errors) {
    std::vector<Error> errors;
    ConfigSchema schema;
    if (doc.value.is_null()) return schema;  // an empty file
    if (!doc.value.is_object()) {
        errors.push_back(doc.ErrorAt("", "config.schema.yaml must be a mapping of property: schema"));
    } else {
        CheckParametersAt(doc, doc.value, "", errors);
        schema.properties_ = doc.value;
        CollectSecrets(schema.properties_, "", schema.secret_keys_);
    }
    if (errors.empty()) return schema;
    if (all_errors != nullptr) all_errors->insert(all_errors->end(), errors.begin(), errors.end());
    return errors.front();
}

Result<ConfigSchema> ConfigSchema::FromJson(const Json& properties) {
    ConfigSchema schema;
    if (properties.is_null()) return schema;
    if (!properties.is_object()) return InvalidArgument("config schema must be a mapping of property: schema");
    schema.properties_ = properties;
    CollectSecrets(schema.properties_, "", schema.secret_keys_);
    return schema;
}

Result<Json> ConfigSchema::Validate(const Json& values, const core::YamlDocument* doc, bool enforce_required) const {
    if (values.is_null()) return Validate(Json::object(), doc, enforce_required);
    if (!values.is_object()) {
        if (doc != nullptr) return doc->ErrorAt("", "a config must be a mapping of property: value");
        return InvalidArgument("config: must be an object of property: value");
    }
    Json out = values;
    ConfigValidator v(doc);
    if (Status st = v.Object(properties_, out, "", enforce_required); !st) return st.error();
    return out;
}

Json MaskConfig(const Json& values, const std::vector<std::string>& secret_keys) {
    Json out = values;
    for (const auto& key : secret_keys) {
        Json* node = &out;
        size_t start = 0;
        while (node != nullptr && node->is_object()) {
            const size_t dot = key.find('.', start);
            const std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
            auto it = node->find(part);
            if (it == node->end()) break;
            if (dot == std::string::npos) {
                if (!it->is_null()) *it = kMask;
                break;
            }
            node = &*it;
            start = dot + 1;
        }
    }
    return out;
}

Json KeepMaskedSecrets(const Json& update, const Json& current, const std::vector<std::string>& secret_keys) {
    Json out = update;
    for (const auto& key : secret_keys) {
        Json* node = &out;
        const Json* old = &current;
        size_t start = 0;
        while (node->is_object() && old->is_object()) {
            const size_t dot = key.find('.', start);
            const std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
            auto it = node->find(part);
            auto was = old->find(part);
            if (it == node->end() || was == old->end()) break;
            if (dot == std::string::npos) {
                if (*it == kMask) *it = *was;
                break;
            }
            node = &*it;
            old = &*was;
            start = dot + 1;
        }
    }
    return out;
}

Result<Json> RenderConfig(const Json& values, const Json& context, const core::RenderOptions& options) {
    if (!values.is_object()) return values;
    Json out = Json::object();
    for (const auto& [k, v] : values.items()) {
        Result<Json> rendered = core::RenderValue(v, context, options);
        if (!rendered) return InvalidArgument("config \"" + k + "\": " + rendered.error().message);
        out[k] = std::move(*rendered);
    }
    return out;
}

std::string ConfigFilePath(const std::string& data_dir, const std::string& pack) {
    return data_dir + "/configs/" + pack + ".yaml";
}

Result<PackConfig> LoadPackConfigBlocking(const std::string& file, const ConfigSchema& schema) {
    PackConfig config;
    config.secret_keys = schema.secret_keys();
    std::error_code ec;
    if (!fs::exists(file, ec)) {
        // Not configured yet: the defaults alone, without enforcing `required`.
        Result<Json> defaults = schema.Validate(Json::object(), nullptr, false);
        if (!defaults) return defaults.error();
        config.values = std::move(*defaults);
        return config;
    }
    Result<core::YamlDocument> doc = core::LoadYamlFile(file);
    if (!doc) return doc.error();
    Result<Json> values = schema.Validate(doc->value, &*doc);
    if (!values) return values.error();
    config.values = std::move(*values);
    return config;
}

Status WriteConfigFileBlocking(const std::string& file, const Json& values) {
    YAML::Emitter out;
    out << YAML::Block;
    if (values.empty()) {
        out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
    } else {
        Emit(out, values);
    }
    if (!out.good()) return Internal("cannot write the config as YAML: " + out.GetLastError());
    std::string text = "---\n";
    text += out.c_str();
    text += "\n";
    std::error_code ec;
    fs::create_directories(fs::path(file).parent_path(), ec);
    const std::string tmp = file + ".tmp-" + core::RandomToken().substr(0, 12);
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return Unavailable("cannot write " + tmp + ": " + std::strerror(errno));
    size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            const std::string why = std::strerror(errno);
            ::close(fd);
            ::unlink(tmp.c_str());
            return Unavailable("cannot write " + tmp + ": " + why);
        }
        done += static_cast<size_t>(n);
    }
    const bool synced = ::fsync(fd) == 0;
    ::close(fd);
    if (!synced) {
        ::unlink(tmp.c_str());
        return Unavailable("cannot sync " + tmp);
    }
    if (::rename(tmp.c_str(), file.c_str()) != 0) {
        const std::string why = std::strerror(errno);
        ::unlink(tmp.c_str());
        return Unavailable("cannot replace " + file + ": " + why);
    }
    return {};
}

std::vector<std::string> SecretValuesOf(const Json& values, const std::vector<std::string>& secret_keys) {
    std::vector<std::string> out;
    for (const auto& key : secret_keys) {
        const Json* node = &values;
        size_t start = 0;
        while (node != nullptr) {
            const size_t dot = key.find('.', start);
            const std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
            if (!node->is_object() || !node->contains(part)) {
                node = nullptr;
                break;
            }
            node = &(*node)[part];
            if (dot == std::string::npos) break;
            start = dot + 1;
        }
        if (node == nullptr || node->is_null() || node->is_structured()) continue;
        out.push_back(node->is_string() ? node->get<std::string>() : node->dump());
    }
    return out;
}

}  // namespace squall::packs
