// `squall alias list|get|create|delete|match|execute` (st2 action-alias): aliases and running them from a terminal
// as a chat bot would.
#include <cstdlib>
#include <iostream>

#include "app.hpp"
#include "squall/api/client.hpp"
#include "squall/core/input.hpp"
#include "squall/core/yaml_json.hpp"

namespace squall::app {
namespace {

using core::Json;

constexpr const char* kUsage =
    "usage: squall alias list [--pack PACK] [-j]\n"
    "       squall alias get <pack.name> [-j]\n"
    "       squall alias create <file.yaml>\n"
    "       squall alias delete <pack.name>\n"
    "       squall alias match \"TEXT\" [-j]\n"
    "       squall alias execute \"TEXT\" [--user USER] [--channel CHANNEL] [-j]\n";

api::ApiClient Client() {
    return CliClient();
}

int Fail(const Error& e) {
    std::cerr << "ERROR: " << e.What() << "\n";
    return ExitCode(e.code);
}

std::string UrlEncode(const std::string& s) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

}  // namespace

int AliasCommand(const std::vector<std::string>& args) {
    const std::string sub = args.size() > 1 ? args[1] : "";
    if (sub == "-h" || sub == "--help" || sub == "help") {
        std::cout << kUsage;
        return 0;
    }
    std::vector<std::string> positional;
    std::string pack, user, channel;
    bool json = false;
    for (size_t i = 2; i < args.size(); ++i) {
        if (args[i] == "-j" || args[i] == "--json") {
            json = true;
        } else if ((args[i] == "--pack" || args[i] == "-p") && i + 1 < args.size()) {
            pack = args[++i];
        } else if (args[i] == "--user" && i + 1 < args.size()) {
            user = args[++i];
        } else if (args[i] == "--channel" && i + 1 < args.size()) {
            channel = args[++i];
        } else {
            positional.push_back(args[i]);
        }
    }
    api::ApiClient client = Client();
    auto print = [&](const Json& body) { std::cout << body.dump(2) << "\n"; };
    if (sub == "list" && positional.empty()) {
        Result<api::ApiResponse> r =
            client.Get("/actionalias?limit=-1" + (pack.empty() ? "" : "&pack=" + UrlEncode(pack)));
        if (!r) return Fail(r.error());
        if (json) {
            print(r->body);
            return 0;
        }
        PrintTable(r->body, {{"ref", "ref"}, {"pack", "pack"}, {"description", "description"}, {"enabled", "enabled"}});
        return 0;
    }
    if (sub == "get" && positional.size() == 1) {
        Result<api::ApiResponse> r = client.Get("/actionalias/" + positional[0]);
        if (!r) return Fail(r.error());
        print(r->body);
        return 0;
    }
    if (sub == "create" && positional.size() == 1) {
        Result<core::YamlDocument> doc = core::LoadYamlFile(positional[0]);
        if (!doc) return Fail(doc.error());
        Result<api::ApiResponse> r = client.Post("/actionalias", doc->value);
        if (!r) return Fail(r.error());
        if (json) {
            print(r->body);
        } else {
            std::cout << "Created action alias " << r->body.value("ref", "") << ".\n";
        }
        return 0;
    }
    if (sub == "delete" && positional.size() == 1) {
        Result<api::ApiResponse> r = client.Delete("/actionalias/" + positional[0]);
        if (!r) return Fail(r.error());
        std::cout << "Deleted action alias " << positional[0] << ".\n";
        return 0;
    }
    if (sub == "match" && positional.size() == 1) {
        Result<api::ApiResponse> r = client.Post("/actionalias/match", {{"command", positional[0]}});
        if (!r) return Fail(r.error());
        if (json) {
            print(r->body);
        } else {
            std::cout << r->body["actionalias"].value("ref", "") << ": " << r->body.value("display", "") << "\n";
        }
        return 0;
    }
    if (sub == "execute" && positional.size() == 1) {
        Json body = {{"command", positional[0]}, {"source_channel", channel.empty() ? "cli" : channel}};
        if (!user.empty()) body["user"] = user;
        Result<api::ApiResponse> r = client.Post("/aliasexecution/match_and_execute", body);
        if (!r) return Fail(r.error());
        if (json) {
            print(r->body);
            return 0;
        }
        for (const Json& result : r->body.value("results", Json::array())) {
            if (result.contains("message") && result["message"].is_string())
                std::cout << result["message"].get<std::string>() << "\n";
            std::cout << "Started execution " << result["execution"].value("id", "") << " of "
                      << result["actionalias"].value("action_ref", "") << ".\n"
                      << "To see it: squall execution get " << result["execution"].value("id", "") << "\n";
        }
        return 0;
    }
    std::cerr << kUsage;
    return 2;
}

}  // namespace squall::app
