#pragma once

#include <vector>

#include "ast.hpp"
#include "lexer.hpp"

namespace squall::core::templates {

/// Parses the lexer's tokens into `out`; false with `err` set on a syntax error.
bool Parse(std::vector<Token>&& tokens, Body* out, CompileError* err);

}  // namespace squall::core::templates
