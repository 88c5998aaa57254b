// `squall key ...`: the datastore commands, mirroring `st2 key` (reference §9) over /api/v1/keys.
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>

#include "app.hpp"
#include "squall/api/client.hpp"
#include "squall/core/input.hpp"
#include "squall/core/model/model.hpp"
#include "squall/core/yaml_json.hpp"

namespace squall::app {
namespace {

using core::Json;

constexpr const char* kKeyUsage = R"(usage: squall key <command> [args]

  set NAME VALUE [--scope system|user] [--encrypt|--secret|-e] [--ttl|-l SECONDS] [--description D] [--user U]
  get NAME [--scope S] [--decrypt|-d] [--user U] [-j]
  list [--prefix P] [--scope system|user|all] [--decrypt|-d] [--user U] [-n N] [-j]
  delete NAME [--scope S] [--user U]
  load FILE [--convert|-c]        FILE: a JSON or YAML list of {name, value, scope, secret, ttl, description}
)";

struct KeyArgs {
    std::vector<std::string> positional;
    std::map<std::string, std::string> options;  // "scope" → value
    bool json = false;
    bool secret = false;
    bool decrypt = false;
    bool convert = false;
};

Result<KeyArgs> ParseKeyArgs(const std::vector<std::string>& args) {
    KeyArgs out;
    const std::map<std::string, std::string> with_value = {
        {"--scope", "scope"},
        {"-s", "scope"},
        {"--ttl", "ttl"},
        {"-l", "ttl"},
        {"--description", "description"},
        {"--user", "user"},
        {"-u", "user"},
        {"--prefix", "prefix"},
        {"-p", "prefix"},
        {"-n", "limit"},
        {"--last", "limit"},
    };
    for (size_t i = 2; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "-j" || a == "--json") {
            out.json = true;
        } else if (a == "-e" || a == "--encrypt" || a == "--secret") {
            out.secret = true;
        } else if (a == "-d" || a == "--decrypt") {
            out.decrypt = true;
        } else if (a == "-c" || a == "--convert") {
            out.convert = true;
        } else if (auto it = with_value.find(a); it != with_value.end()) {
            if (i + 1 >= args.size()) return InvalidArgument("option " + a + " needs a value");
            out.options[it->second] = args[++i];
        } else if (a.size() > 1 && a[0] == '-' && a != "-") {
            return InvalidArgument("unknown option " + a);
        } else {
            out.positional.push_back(a);
        }
    }
    return out;
}

/// Percent-encodes everything but RFC 3986 unreserved characters (key names may hold ':', '/', spaces).
std::string Encode(const std::string& s) {
    std::ostringstream out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out << c;
        } else {
            out << '%' << std::uppercase << std::hex << std::setw(2) << std::setfill('0') << static_cast<int>(c);
        }
    }
    return out.str();
}

std::string Query(const KeyArgs& a, const std::vector<std::string>& names) {
    std::string q;
    for (const auto& n : names) {
        auto it = a.options.find(n);
        if (it == a.options.end()) continue;
        q += (q.empty() ? "?" : "&") + n + "=" + Encode(it->second);
    }
    if (a.decrypt) q += (q.empty() ? "?" : "&") + std::string("decrypt=true");
    return q;
}

int Fail(const Error& e) {
    std::cerr << "ERROR: " << e.What() << "\n";
    return ExitCode(e.code);
}

std::string Str(const Json& v) {
    if (v.is_null()) return "";
    return v.is_string() ? v.get<std::string>() : v.dump();
}

void PrintPair(const Json& p) {
    for (const char* k :
         {"name", "value", "secret", "encrypted", "scope", "user", "ttl", "expire_timestamp", "description"}) {
        if (p.contains(k)) std::cout << std::left << std::setw(18) << k << Str(p[k]) << "\n";
    }
}

void PrintPairs(const Json& rows) {
    PrintTable(
        rows,
        {{"name", "name"},
         {"value", "value"},
         {"secret", "secret"},
         {"encrypted", "encrypted"},
         {"scope", "scope"},
         {"user", "user"},
         {"expire_timestamp", "expire_timestamp"}}
    );
}

int Show(const Result<api::ApiResponse>& r, bool json) {
    if (!r) return Fail(r.error());
    if (json) {
        std::cout << r->body.dump(2) << "\n";
    } else {
        PrintPair(r->body);
    }
    return 0;
}

/// One key object from a file or the command line, as the PUT body.
Result<Json> PutBody(Json item, const std::string& where, bool convert) {
    if (!item.is_object()) return InvalidArgument(where + ": must be an object with name and value");
    if (!item.contains("name") || !item["name"].is_string() || item["name"].get<std::string>().empty()) {
        return InvalidArgument(where + ": name: is required and must be a string");
    }
    if (!item.contains("value")) return InvalidArgument(where + ": value: is required");
    if (!item["value"].is_string()) {
        if (!convert) {
            return InvalidArgument(where + ": value: must be a string (use --convert to store other values as JSON)");
        }
        item["value"] = item["value"].dump();
    }
    Json body = Json::object();
    for (const char* k : {"name", "value", "scope", "secret", "ttl", "description", "user"}) {
        if (item.contains(k) && !item[k].is_null()) body[k] = item[k];
    }
    return body;
}

int Load(api::ApiClient& client, const KeyArgs& a) {
    if (a.positional.size() != 1) return Fail(InvalidArgument("usage: squall key load FILE"));
    const std::string& path = a.positional[0];
    std::ifstream in(path);
    if (!in) return Fail(InvalidArgument("cannot read " + path));
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // JSON is YAML too, but read as JSON first: the limited parser bounds depth and numbers; only a file that is
    // not JSON at all goes to the YAML reader (which bounds depth and alias expansion).
    Result<Json> as_json = core::ParseJsonLimited(text, path);
    Json doc;
    if (as_json) {
        doc = std::move(*as_json);
    } else {
        Result<core::YamlDocument> yaml = core::ParseYaml(text, path);
        if (!yaml) return Fail(yaml.error());
        doc = yaml->value;
    }
    if (doc.is_object()) doc = Json::array({doc});
    if (!doc.is_array()) return Fail(InvalidArgument(path + ": must be a list of key objects"));
    // Validate everything first so that a bad file changes nothing.
    std::vector<Json> bodies;
    auto where = [&](size_t i) {  // items count from 1, as a reader of the file counts them
        std::string w = path + ": item " + std::to_string(i + 1);
        if (doc[i].is_object() && doc[i].contains("name") && doc[i]["name"].is_string())
            w += " (\"" + doc[i]["name"].get<std::string>() + "\")";
        return w;
    };
    for (size_t i = 0; i < doc.size(); ++i) {
        Result<Json> body = PutBody(doc[i], where(i), a.convert);
        if (!body) return Fail(body.error());
        bodies.push_back(std::move(*body));
    }
    Json loaded = Json::array();
    for (size_t i = 0; i < bodies.size(); ++i) {
        Result<api::ApiResponse> r = client.Put("/keys/" + Encode(bodies[i]["name"]), bodies[i]);
        if (!r) {
            // As st2 key load: the keys before this one stay loaded; say which and how many.
            return Fail(Error(
                r.error().code,
                where(i) + ": " + r.error().message + " (" + std::to_string(i) + " of " +
                    std::to_string(bodies.size()) + " keys were loaded before it)"
            ));
        }
        loaded.push_back(r->body);
    }
    if (a.json) {
        std::cout << loaded.dump(2) << "\n";
    } else {
        PrintPairs(loaded);
    }
    return 0;
}

}  // namespace

int KeyCommand(const std::vector<std::string>& args) {
    if (args.size() < 2 || args[1] == "-h" || args[1] == "--help") {
        (args.size() < 2 ? std::cerr : std::cout) << kKeyUsage;
        return args.size() < 2 ? 2 : 0;
    }
    Result<KeyArgs> parsed = ParseKeyArgs(args);
    if (!parsed) {
        std::cerr << "ERROR: " << parsed.error().message << "\n" << kKeyUsage;
        return 2;
    }
    const KeyArgs& a = *parsed;
    const std::string& sub = args[1];
    api::ApiClient client = CliClient();
    if (sub == "set") {
        if (a.positional.size() != 2) return Fail(InvalidArgument("usage: squall key set NAME VALUE [options]"));
        Json item = {{"name", a.positional[0]}, {"value", a.positional[1]}};
        if (a.secret) item["secret"] = true;
        if (a.options.count("scope")) item["scope"] = a.options.at("scope");
        if (a.options.count("user")) item["user"] = a.options.at("user");
        if (a.options.count("description")) item["description"] = a.options.at("description");
        if (a.options.count("ttl")) {
            const std::string& ttl = a.options.at("ttl");
            char* end = nullptr;
            const long long n = std::strtoll(ttl.c_str(), &end, 10);
            if (ttl.empty() || *end != '\0' || n <= 0) {
                return Fail(InvalidArgument("--ttl: \"" + ttl + "\" is not a positive number of seconds"));
            }
            item["ttl"] = n;
        }
        Result<Json> body = PutBody(item, "key", false);
        if (!body) return Fail(body.error());
        return Show(client.Put("/keys/" + Encode(a.positional[0]), *body), a.json);
    }
    if (sub == "get") {
        if (a.positional.size() != 1) return Fail(InvalidArgument("usage: squall key get NAME [options]"));
        return Show(client.Get("/keys/" + Encode(a.positional[0]) + Query(a, {"scope", "user"})), a.json);
    }
    if (sub == "list") {
        if (!a.positional.empty()) return Fail(InvalidArgument("usage: squall key list [options]"));
        KeyArgs q = a;
        if (!q.options.count("limit")) q.options["limit"] = "1000";
        if (q.options["limit"] == "-1") q.options["limit"] = "1000";
        // Every scope unless told, as `st2 key list` (the API's own default is the system scope).
        if (!q.options.count("scope") && !q.options.count("user")) q.options["scope"] = "all";
        Result<api::ApiResponse> r = client.Get("/keys" + Query(q, {"prefix", "scope", "user", "limit"}));
        if (!r) return Fail(r.error());
        if (a.json) {
            std::cout << r->body.dump(2) << "\n";
        } else {
            PrintPairs(r->body);
            if (r->total >= 0 && static_cast<size_t>(r->total) > r->body.size()) {
                std::cout << "(" << r->body.size() << " of " << r->total << "; use -n to see more)\n";
            }
        }
        return 0;
    }
    if (sub == "delete") {
        if (a.positional.size() != 1) return Fail(InvalidArgument("usage: squall key delete NAME [options]"));
        Result<api::ApiResponse> r = client.Delete("/keys/" + Encode(a.positional[0]) + Query(a, {"scope", "user"}));
        if (!r) return Fail(r.error());
        std::cout << "Resource with id \"" << a.positional[0] << "\" has been successfully deleted.\n";
        return 0;
    }
    if (sub == "load") return Load(client, a);
    std::cerr << "unknown key command \"" << sub << "\"\n" << kKeyUsage;
    return 2;
}

}  // namespace squall::app
