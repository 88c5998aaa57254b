#pragma once

// The expressions of a workflow as Orquesta reads them, shared by inspection (spec.cpp) and the conductor: the Jinja
// filter aliases Orquesta adds, and the syntax check of every YAQL and Jinja expression. Private to the library.
#include <memory>
#include <string>
#include <vector>

#include "squall/core/error.hpp"
#include "squall/templates/template.hpp"

namespace squall::workflows {

/// Orquesta registers StackStorm's functions as Jinja filters too, among them the aliases `json_dump`,
/// `json_parse`, `yaml_dump` and `yaml_parse` of the filters `to_json_string`, `from_json_string`, `to_yaml_string`
/// and `from_yaml_string`. The template library knows the filters by their StackStorm names (the aliases exist
/// only in Orquesta), so a workflow's Jinja expression has an alias after `|` renamed before it compiles. Only
/// names in filter position inside `{{ }}` / `{% %}` change; quoted strings are left alone.
std::string AliasFilters(const std::string& text);

/// A workflow's Jinja text compiled as the conductor renders it (aliases renamed, through the template cache).
Result<core::TemplatePtr> CompileJinja(const std::string& text);

/// One expression that does not parse.
struct ExpressionError {
    std::string language;    ///< yaql or jinja
    std::string expression;  ///< with its delimiters (Jinja: the whole text, which compiles as one template)
    std::string message;
};

/// The expressions of `text` that do not parse, as Orquesta's evaluators' validate() finds them: each `<% %>` with
/// the YAQL parser, a text with Jinja markup compiled whole (as the conductor compiles it). Nothing is evaluated.
std::vector<ExpressionError> ExpressionErrors(const std::string& text);

}  // namespace squall::workflows
