// The expressions of a workflow as Orquesta reads them (expressions.hpp).
#include "expressions.hpp"

#include <cctype>
#include <string_view>
#include <utility>

#include "squall/templates/yaql.hpp"

namespace squall::workflows {

std::string AliasFilters(const std::string& text) {
    static const std::pair<std::string_view, std::string_view> kAliases[] = {
        {"json_dump", "to_json_string"},
        {"json_parse", "from_json_string"},
        {"yaml_dump", "to_yaml_string"},
        {"yaml_parse", "from_yaml_string"}};
    if (text.find("json_") == std::string::npos && text.find("yaml_") == std::string::npos) return text;
    std::string out;
    out.reserve(text.size() + 16);
    bool in_expr = false;
    char quote = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (!in_expr) {
            out += c;
            if (c == '{' && i + 1 < text.size() && (text[i + 1] == '{' || text[i + 1] == '%')) {
                out += text[++i];
                in_expr = true;
            }
            continue;
        }
        if (quote) {
            out += c;
            if (c == '\\' && i + 1 < text.size()) {
                out += text[++i];
            } else if (c == quote) {
                quote = 0;
            }
            continue;
        }
        if (c == '\'' || c == '"') {
            quote = c;
        } else if ((c == '}' || c == '%') && i + 1 < text.size() && text[i + 1] == '}') {
            in_expr = false;
        } else if (c == '|') {
            out += c;
            size_t j = i + 1;
            while (j < text.size() && (text[j] == ' ' || text[j] == '\t' || text[j] == '\n')) ++j;
            size_t end = j;
            while (end < text.size() && (std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '_'))
                ++end;
            const std::string_view name(text.data() + j, end - j);
            out.append(text, i + 1, j - i - 1);
            bool renamed = false;
            for (const auto& [alias, filter] : kAliases) {
                if (name != alias) continue;
                out += filter;
                renamed = true;
                break;
            }
            if (!renamed) out += name;
            i = end - 1;
            continue;
        }
        out += c;
    }
    return out;
}

Result<core::TemplatePtr> CompileJinja(const std::string& text) {
    return core::Template::Cached(AliasFilters(text));
}

std::vector<ExpressionError> ExpressionErrors(const std::string& text) {
    std::vector<ExpressionError> out;
    for (auto& e : core::YaqlSyntaxErrors(text)) out.push_back({"yaql", std::move(e.expression), std::move(e.message)});
    if (text.find("{{") != std::string::npos || text.find("{%") != std::string::npos) {
        auto t = CompileJinja(text);
        if (!t) out.push_back({"jinja", text, t.error().message});
    }
    return out;
}

}  // namespace squall::workflows
