// `squall template render [--context FILE] [--json] [--stackstorm] TEMPLATE`: renders a template locally (no server
// needed) as Jinja2's default environment does, or with --stackstorm as the rules enforcer renders action
// parameters (StackStorm's trim_blocks and lstrip_blocks). A render error prints the message and exits 2.
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>

#include "app.hpp"
#include "squall/core/input.hpp"
#include "squall/core/model/model.hpp"
#include "squall/templates/template.hpp"

namespace squall::app {

int TemplateRenderCommand(const std::vector<std::string>& args) {
    constexpr const char* kUsage =
        "usage: squall template render [--context FILE.json] [--json] [--stackstorm] TEMPLATE   (TEMPLATE '-' reads "
        "stdin)\n"
        "  --stackstorm   trim_blocks and lstrip_blocks, as action parameters and criteria patterns render\n";
    if (args.size() >= 2 && (args[1] == "-h" || args[1] == "--help")) {
        std::cout << kUsage;
        return 0;
    }
    if (args.size() < 2 || args[1] != "render") {
        std::cerr << kUsage;
        return 2;
    }
    std::string context_file;
    std::optional<std::string> text;
    bool as_json = false;
    bool stackstorm = false;
    for (size_t i = 2; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--json" || a == "-j") {
            as_json = true;
        } else if (a == "--stackstorm") {
            stackstorm = true;
        } else if (a == "--context" || a == "-c") {
            if (i + 1 >= args.size()) {
                std::cerr << kUsage;
                return 2;
            }
            context_file = args[++i];
        } else if (a.rfind("--context=", 0) == 0) {
            context_file = a.substr(10);
        } else if (!text) {
            text = a;
        } else {
            std::cerr << kUsage;
            return 2;
        }
    }
    if (!text) {
        std::cerr << kUsage;
        return 2;
    }
    if (*text == "-") text = std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    core::Json context = core::Json::object();
    if (!context_file.empty()) {
        std::ifstream in(context_file);
        if (!in) {
            std::cerr << "error: cannot read " << context_file << "\n";
            return 2;
        }
        const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        Result<core::Json> parsed = core::ParseJsonLimited(text, context_file);
        if (!parsed) {
            std::cerr << "error: " << parsed.error().message << "\n";
            return 2;
        }
        context = std::move(*parsed);
    }
    Result<core::TemplatePtr> tpl = core::Template::Compile(*text, stackstorm);
    if (!tpl) {
        std::cerr << tpl.error().message << "\n";
        return 2;
    }
    if (as_json) {
        Result<core::Json> r = (*tpl)->Render(context);
        if (!r) {
            std::cerr << r.error().message << "\n";
            return 2;
        }
        std::cout << r->dump(-1, ' ', false, core::Json::error_handler_t::replace) << "\n";
        return 0;
    }
    Result<std::string> r = (*tpl)->RenderText(context);
    if (!r) {
        std::cerr << r.error().message << "\n";
        return 2;
    }
    std::cout << *r << "\n";
    return 0;
}

}  // namespace squall::app
