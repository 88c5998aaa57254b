// `squall inquiry list|get|respond` (st2 inquiry): answer the executions that core.ask left `pending`.
#include <cstdlib>
#include <iostream>

#include "app.hpp"
#include "squall/api/client.hpp"
#include "squall/core/input.hpp"

namespace squall::app {
namespace {

using core::Json;

constexpr const char* kUsage =
    "usage: squall inquiry list [-j]\n"
    "       squall inquiry get <id> [-j]\n"
    "       squall inquiry respond <id> -r '<json object>'\n";

api::ApiClient Client() {
    return CliClient();
}

int Fail(const Error& e) {
    std::cerr << "ERROR: " << e.What() << "\n";
    return ExitCode(e.code);
}

}  // namespace

int InquiryCommand(const std::vector<std::string>& args) {
    const std::string sub = args.size() > 1 ? args[1] : "";
    if (sub == "-h" || sub == "--help") {
        std::cout << kUsage;
        return 0;
    }
    std::vector<std::string> positional;
    std::string response_text;
    bool json = false;
    for (size_t i = 2; i < args.size(); ++i) {
        if (args[i] == "-j" || args[i] == "--json") {
            json = true;
        } else if ((args[i] == "-r" || args[i] == "--response") && i + 1 < args.size()) {
            response_text = args[++i];
        } else {
            positional.push_back(args[i]);
        }
    }
    api::ApiClient client = Client();
    if (sub == "list") {
        Result<api::ApiResponse> r = client.Get("/inquiries");
        if (!r) return Fail(r.error());
        if (json) {
            std::cout << r->body.dump(2) << "\n";
            return 0;
        }
        PrintTable(r->body, {{"id", "id"}, {"action", "action"}, {"route", "route"}, {"ttl", "ttl"}});
        return 0;
    }
    if (sub == "get" && positional.size() == 1) {
        Result<api::ApiResponse> r = client.Get("/inquiries/" + positional[0]);
        if (!r) return Fail(r.error());
        std::cout << r->body.dump(2) << "\n";
        return 0;
    }
    if (sub == "respond" && positional.size() == 1) {
        if (response_text.empty()) return Fail(InvalidArgument("respond needs -r '<json object>' (the response)"));
        Result<Json> parsed = core::ParseJsonLimited(response_text, "-r");
        const Json response = parsed ? *parsed : Json();
        if (!response.is_object())
            return Fail(InvalidArgument("-r: the response must be a JSON object, e.g. '{\"continue\": true}'"));
        Result<api::ApiResponse> r =
            client.Put("/inquiries/" + positional[0], {{"id", positional[0]}, {"response", response}});
        if (!r) return Fail(r.error());
        if (json) {
            std::cout << r->body.dump(2) << "\n";
        } else {
            std::cout << "Response accepted for inquiry " << positional[0] << ".\n";
        }
        return 0;
    }
    std::cerr << kUsage;
    return 2;
}

}  // namespace squall::app
