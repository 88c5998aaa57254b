// YAQL expressions (see yaql.hpp). Interface only: the evaluator is being written.
#include "squall/templates/yaql.hpp"

#include <string>

namespace squall::core {

Result<Json> EvaluateYaql(std::string_view expression, const Json&, const RenderOptions&) {
    return InvalidArgument(
        "yaql error at column 1: YAQL expressions are not supported yet in \"" + std::string(expression) + "\""
    );
}

bool HasYaql(std::string_view text) {
    auto open = text.find("<%");
    return open != std::string_view::npos && text.find("%>", open + 2) != std::string_view::npos;
}

Result<Json> RenderYaqlString(std::string_view text, const Json& root, const RenderOptions& options) {
    auto open = text.find("<%");
    if (open == std::string_view::npos) return Json(std::string(text));
    auto close = text.find("%>", open + 2);
    if (close == std::string_view::npos) return Json(std::string(text));
    return EvaluateYaql(text.substr(open + 2, close - open - 2), root, options);
}

}  // namespace squall::core
