#include "squall/core/config.hpp"

#include <algorithm>
#include <map>

#include <yaml-cpp/yaml.h>

#include "squall/core/store/retention.hpp"

namespace squall::core {
namespace {

using Setter = std::function<Status(ServerConfig&, const std::string&)>;

Status SetInt(int& out, const std::string& name, const std::string& value, int min, int max) {
    try {
        size_t pos = 0;
        const int v = std::stoi(value, &pos);
        if (pos != value.size() || v < min || v > max) throw std::invalid_argument("range");
        out = v;
        return {};
    } catch (const std::exception&) {
        return InvalidArgument(
            "option '" + name + "': expected an integer from " + std::to_string(min) + " to " + std::to_string(max) +
            ", got \"" + value + "\""
        );
    }
}

Status SetTtl(std::chrono::seconds& out, const std::string& name, const std::string& value) {
    Result<std::chrono::seconds> ttl = ParseRetention(value, "option '" + name + "'");
    if (!ttl) return ttl.error();
    out = *ttl;
    return {};
}

Status SetChoice(
    std::string& out, const std::string& name, const std::string& value, std::vector<std::string> choices
) {
    if (std::find(choices.begin(), choices.end(), value) == choices.end()) {
        std::string list;
        for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
        return InvalidArgument("option '" + name + "': \"" + value + "\" is not one of " + list);
    }
    out = value;
    return {};
}

std::vector<std::string> SplitList(const std::string& value) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : value + ",") {
        if (c == ',' || c == ' ') {
            if (!cur.empty()) out.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    return out;
}

Status SetRoles(ServerConfig& c, const std::string& value) {
    std::vector<std::string> roles;
    for (const auto& r : SplitList(value)) {
        if (r == "all") {
            roles.insert(roles.end(), kAllRoles.begin(), kAllRoles.end());
        } else if (std::find(kAllRoles.begin(), kAllRoles.end(), r) != kAllRoles.end()) {
            roles.push_back(r);
        } else {
            std::string hint = ClosestMatch(r, kAllRoles);
            return InvalidArgument(
                "option 'roles': unknown role \"" + r + "\"" + (hint.empty() ? "" : " (did you mean \"" + hint + "\"?)")
            );
        }
    }
    if (roles.empty()) return InvalidArgument("option 'roles': no role given");
    c.roles = roles;
    return {};
}

const std::vector<std::pair<std::string, Setter>>& Options() {
    static const std::vector<std::pair<std::string, Setter>> kOptions = {
        {"data_dir",
         [](ServerConfig& c, const std::string& v) -> Status {
             c.data_dir = v;
             return {};
         }},
        {"listen",
         [](ServerConfig& c, const std::string& v) -> Status {
             if (v.find(':') == std::string::npos)
                 return InvalidArgument("option 'listen': expected HOST:PORT, got \"" + v + "\"");
             c.listen = v;
             return {};
         }},
        {"redis",
         [](ServerConfig& c, const std::string& v) -> Status {
             c.redis = v;
             return {};
         }},
        {"roles", SetRoles},
        {"pool",
         [](ServerConfig& c, const std::string& v) -> Status {
             c.pool = v;
             return {};
         }},
        {"workers", [](ServerConfig& c, const std::string& v) { return SetInt(c.workers, "workers", v, 1, 10000); }},
        {"log_level",
         [](ServerConfig& c, const std::string& v) {
             return SetChoice(
                 c.log_level, "log_level", v, {"trace", "debug", "info", "warn", "error", "critical", "off"}
             );
         }},
        {"log_format",
         [](ServerConfig& c, const std::string& v) {
             return SetChoice(c.log_format, "log_format", v, {"text", "json"});
         }},
        {"packs_dir",
         [](ServerConfig& c, const std::string& v) -> Status {
             c.packs_dir = v;
             return {};
         }},
        {"redis_server",
         [](ServerConfig& c, const std::string& v) -> Status {
             c.redis_server = v;
             return {};
         }},
        {"shutdown_grace",
         [](ServerConfig& c, const std::string& v) { return SetInt(c.shutdown_grace, "shutdown_grace", v, 0, 86400); }},
        {"http_threads",
         [](ServerConfig& c, const std::string& v) { return SetInt(c.http_threads, "http_threads", v, 1, 1024); }},
        {"token_ttl",
         [](ServerConfig& c, const std::string& v) { return SetInt(c.token_ttl, "token_ttl", v, 1, 31536000); }},
        {"token_max_ttl",
         [](ServerConfig& c, const std::string& v) {
             return SetInt(c.token_max_ttl, "token_max_ttl", v, 1, 31536000);
         }},
        {"stream_heartbeat",
         [](ServerConfig& c, const std::string& v) {
             return SetInt(c.stream_heartbeat, "stream_heartbeat", v, 1, 3600);
         }},
        {"max_connections",
         [](ServerConfig& c, const std::string& v) {
             return SetInt(c.max_connections, "max_connections", v, 1, 100000);
         }},
        {"max_connections_per_client",
         [](ServerConfig& c, const std::string& v) {
             return SetInt(c.max_connections_per_client, "max_connections_per_client", v, 1, 100000);
         }},
        {"rules_consumers",
         [](ServerConfig& c, const std::string& v) { return SetInt(c.rules_consumers, "rules_consumers", v, 1, 16); }},
        {"webhook_lane",
         [](ServerConfig& c, const std::string& v) { return SetInt(c.webhook_lane, "webhook_lane", v, 0, 1); }},
        {"max_queue_depth",
         [](ServerConfig& c, const std::string& v) {
             return SetInt(c.max_queue_depth, "max_queue_depth", v, 0, 1000000000);
         }},
        {"executions_ttl",
         [](ServerConfig& c, const std::string& v) { return SetTtl(c.executions_ttl, "executions_ttl", v); }},
        {"output_ttl", [](ServerConfig& c, const std::string& v) { return SetTtl(c.output_ttl, "output_ttl", v); }},
        {"trigger_instances_ttl",
         [](ServerConfig& c, const std::string& v) {
             return SetTtl(c.trigger_instances_ttl, "trigger_instances_ttl", v);
         }},
        {"enforcements_ttl",
         [](ServerConfig& c, const std::string& v) { return SetTtl(c.enforcements_ttl, "enforcements_ttl", v); }},
        {"purge_inquiries",
         [](ServerConfig& c, const std::string& v) { return SetInt(c.purge_inquiries, "purge_inquiries", v, 0, 1); }},
    };
    return kOptions;
}

const Setter* FindSetter(const std::string& name) {
    for (const auto& [n, s] : Options()) {
        if (n == name) return &s;
    }
    return nullptr;
}

std::string YamlScalarOrList(const YAML::Node& node) {
    if (node.IsSequence()) {
        std::string out;
        for (const auto& item : node) out += (out.empty() ? "" : ",") + item.as<std::string>();
        return out;
    }
    return node.as<std::string>();
}

Status ApplyFile(ServerConfig& config, const std::string& path) {
    YAML::Node root;
    try {
        root = YAML::LoadFile(path);
    } catch (const YAML::BadFile&) {
        return InvalidArgument("config file " + path + ": cannot be read");
    } catch (const YAML::Exception& e) {
        Error err = InvalidArgument(e.msg);
        err.location = Location{path, e.mark.line + 1, e.mark.column + 1};
        return err;
    }
    if (root.IsNull()) return {};
    if (!root.IsMap()) {
        Error err = InvalidArgument("the config file must be a mapping of option: value");
        err.location = Location{path, root.Mark().line + 1, root.Mark().column + 1};
        return err;
    }
    for (const auto& kv : root) {
        const std::string key = kv.first.as<std::string>();
        const Setter* setter = FindSetter(key);
        auto locate = [&](Error err) {
            err.location = Location{path, kv.first.Mark().line + 1, kv.first.Mark().column + 1};
            return err;
        };
        if (!setter) {
            std::string hint = ClosestMatch(key, ServerOptionNames());
            return locate(InvalidArgument(
                "key '" + key + "': unknown option" + (hint.empty() ? "" : " (did you mean '" + hint + "'?)")
            ));
        }
        if (!kv.second.IsScalar() && !(key == "roles" && kv.second.IsSequence())) {
            return locate(InvalidArgument("key '" + key + "': expected a single value"));
        }
        Status st = (*setter)(config, YamlScalarOrList(kv.second));
        if (!st) return locate(st.error());
    }
    return {};
}

}  // namespace

bool ServerConfig::HasRole(const std::string& role) const {
    return std::find(roles.begin(), roles.end(), role) != roles.end();
}

std::vector<std::string> ServerOptionNames() {
    std::vector<std::string> names;
    for (const auto& [n, s] : Options()) names.push_back(n);
    return names;
}

std::string ClosestMatch(const std::string& word, const std::vector<std::string>& candidates) {
    std::string best;
    size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
    for (const auto& c : candidates) {
        // Levenshtein distance, two rows.
        std::vector<size_t> prev(c.size() + 1), cur(c.size() + 1);
        for (size_t j = 0; j <= c.size(); ++j) prev[j] = j;
        for (size_t i = 1; i <= word.size(); ++i) {
            cur[0] = i;
            for (size_t j = 1; j <= c.size(); ++j) {
                const size_t sub = prev[j - 1] + (word[i - 1] == c[j - 1] ? 0 : 1);
                cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
            }
            std::swap(prev, cur);
        }
        if (prev[c.size()] < best_distance) {
            best_distance = prev[c.size()];
            best = c;
        }
    }
    return best;
}

Result<ServerConfig> LoadServerConfig(
    const std::vector<std::string>& args, const std::function<const char*(const char*)>& getenv
) {
    ServerConfig config;
    // Flags first into a list, so the config file can be applied before them.
    std::vector<std::pair<std::string, std::string>> flags;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a.rfind("--", 0) != 0) return InvalidArgument("unexpected argument \"" + a + "\"");
        std::string name = a.substr(2);
        std::string value;
        const auto eq = name.find('=');
        if (eq != std::string::npos) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
        } else if (i + 1 < args.size()) {
            value = args[++i];
        } else {
            return InvalidArgument("flag --" + name + " needs a value");
        }
        std::replace(name.begin(), name.end(), '-', '_');
        if (name != "config" && !FindSetter(name)) {
            std::string dashed = ClosestMatch(name, ServerOptionNames());
            std::replace(dashed.begin(), dashed.end(), '_', '-');
            return InvalidArgument(
                "unknown flag --" + a.substr(2, eq == std::string::npos ? std::string::npos : eq) +
                (dashed.empty() ? "" : " (did you mean --" + dashed + "?)")
            );
        }
        flags.emplace_back(name, value);
    }
    for (const auto& [name, value] : flags) {
        if (name == "config") config.config_file = value;
    }
    if (config.config_file.empty()) {
        if (const char* env = getenv("SQUALL_CONFIG")) config.config_file = env;
    }
    if (!config.config_file.empty()) {
        if (Status st = ApplyFile(config, config.config_file); !st) return st.error();
    }
    for (const auto& name : ServerOptionNames()) {
        std::string var = "SQUALL_" + name;
        std::transform(var.begin(), var.end(), var.begin(), ::toupper);
        if (const char* env = getenv(var.c_str())) {
            Status st = (*FindSetter(name))(config, env);
            if (!st) return InvalidArgument("env " + var + ": " + st.error().message);
        }
    }
    for (const auto& [name, value] : flags) {
        if (name == "config") continue;
        Status st = (*FindSetter(name))(config, value);
        if (!st) return st.error();
    }
    if (config.data_dir.empty()) {
        if (const char* home = getenv("SQUALL_HOME")) {
            config.data_dir = home;
        } else if (const char* h = getenv("HOME")) {
            config.data_dir = std::string(h) + "/.squall";
        } else {
            config.data_dir = ".squall";
        }
    }
    return config;
}

}  // namespace squall::core
