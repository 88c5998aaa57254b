// `squall workflow inspect FILE [-j]`: checks an Orquesta workflow before it runs (no server needed), as
// `st2 workflow inspect` does: syntax, a `do` naming no task, an unreachable task, an undefined variable, each
// with file, task and line. Exit 0 when it is fine, 1 when it has problems, 2 on usage errors.
#include <fstream>
#include <iostream>
#include <sstream>

#include "app.hpp"
#include "squall/workflows/spec.hpp"

namespace squall::app {

int WorkflowCommand(const std::vector<std::string>& args) {
    constexpr const char* kUsage = "usage: squall workflow inspect FILE [-j]\n";
    if (args.size() < 3 || args[1] != "inspect") {
        std::cerr << kUsage;
        return 2;
    }
    std::string file;
    bool as_json = false;
    for (size_t i = 2; i < args.size(); ++i) {
        if (args[i] == "-j" || args[i] == "--json") {
            as_json = true;
        } else {
            file = args[i];
        }
    }
    std::ifstream in(file, std::ios::binary);
    if (file.empty() || !in) {
        std::cerr << "squall workflow inspect: cannot read " << (file.empty() ? "(no file)" : file) << "\n";
        return 2;
    }
    std::stringstream text;
    text << in.rdbuf();
    const auto problems = workflows::InspectText(text.str(), file);
    if (as_json) {
        core::Json out = core::Json::array();
        for (const auto& p : problems) out.push_back(p.ToJson());
        std::cout << out.dump(2) << "\n";
    } else if (problems.empty()) {
        std::cout << file << ": ok\n";
    } else {
        for (const auto& p : problems) std::cout << p.type << ": " << p.message << "\n";
    }
    return problems.empty() ? 0 : 1;
}

}  // namespace squall::app
