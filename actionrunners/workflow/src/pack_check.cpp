#include "squall/workflows/pack_check.hpp"

#include <fstream>
#include <sstream>

#include "squall/workflows/chain.hpp"
#include "squall/workflows/spec.hpp"

namespace squall::workflows {
namespace {

std::string FailsWhenRun(const packs::ActionMeta& action) {
    return " (action \"" + action.Ref() + "\" is registered; running it fails)";
}

/// The parsers put the location in the message already ("file:line:col: ..."); What() would say it twice.
std::string Located(const Error& e) {
    if (e.location && e.message.rfind(e.location->file + ":", 0) != 0) return e.What();
    return e.message;
}

}  // namespace

packs::WorkflowCheck MakeWorkflowCheck() {
    return [](const packs::ActionMeta& action, const std::string& file) {
        packs::WorkflowFindings out;
        std::ifstream in(file, std::ios::binary);
        if (!in) {
            out.errors.push_back(NotFound(file + ": the workflow definition cannot be read"));
            return out;
        }
        std::stringstream ss;
        ss << in.rdbuf();
        const std::string text = ss.str();
        if (action.runner_type == "action-chain") {
            Result<ChainSpec> chain = ParseChain(text, file);
            if (!chain) out.warnings.push_back(InvalidArgument(Located(chain.error()) + FailsWhenRun(action)));
            return out;
        }
        if (action.runner_type != "orquesta") return out;
        Result<WorkflowSpec> spec = ParseWorkflow(text, file);
        if (!spec) {
            out.warnings.push_back(InvalidArgument(Located(spec.error()) + FailsWhenRun(action)));
            return out;
        }
        for (const Problem& p : Inspect(*spec))
            out.warnings.push_back(InvalidArgument(p.message + FailsWhenRun(action)));
        return out;
    };
}

}  // namespace squall::workflows
