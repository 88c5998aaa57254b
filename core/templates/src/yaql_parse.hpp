#pragma once

// The YAQL syntax tree and parser, shared by yaql_parse.cpp (lexer, parser) and yaql.cpp (evaluator). Private to
// the templates library.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "squall/core/model/model.hpp"

namespace squall::core::yaql {

/// Thrown inside the parser and the evaluator only; EvaluateYaql turns it into a Result.
struct YaqlFailure {
    size_t pos;
    std::string what;
};

/// Throws YaqlFailure{pos, what}.
[[noreturn]] void Throw(size_t pos, std::string what);

enum class Nk { kLiteral, kRoot, kVar, kIdent, kAttr, kIndex, kCall, kList, kMap, kUnary, kBinary };

struct Node;
using NodePtr = std::unique_ptr<Node>;

/// One call argument: positional (`value`), keyword (`name => value`) or a mapping pair (`key_expr => value`).
struct Arg {
    std::string name;
    NodePtr key;
    NodePtr value;
};

struct Node {
    Nk kind;
    size_t pos = 0;
    Json literal;
    std::string name;           // attribute, function, operator, variable
    bool safe = false;          // `?.`
    std::vector<NodePtr> kids;  // receiver / operands / list items / index and default
    std::vector<Arg> args;      // call arguments, map entries
    int depth = 1;              // of the tree below (see Parser::Seal)
};

constexpr int kMaxDepth = 200;

/// Lexes and parses one expression (the text between `<%` and `%>`); throws YaqlFailure with the column.
NodePtr Parse(std::string_view expression);

}  // namespace squall::core::yaql
