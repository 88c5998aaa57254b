// The template AST: expressions (Expr) and statements (Stmt) as the parser builds them.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "squall/core/model/model.hpp"

namespace squall::core::templates {

// ---------------------------------------------------------------------------------------------------------------
// AST.

enum class Ek {
    kLiteral,
    kName,
    kGetAttr,
    kGetItem,
    kSlice,
    kNeg,
    kPos,
    kNot,
    kBinary,
    kAnd,
    kOr,
    kCompare,
    kCond,
    kFilter,
    kTest,
    kCall,
    kList,
    kDict,
    kConcat,
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
    Ek kind;
    size_t pos = 0;
    std::string name;  // variable / attribute / filter / test / method / binary op
    Json literal;
    std::vector<ExprPtr> args;  // operands; for filters/tests/calls: [0] = subject, then positional args
    std::vector<std::pair<std::string, ExprPtr>> kwargs;
    std::vector<std::string> ops;  // compare operators
    bool negated = false;          // `is not`
    bool has_subject = false;      // kCall: method call on args[0]
};

enum class Sk { kData, kOutput, kIf, kFor, kSet, kSetBlock };

struct Stmt;
using Body = std::vector<Stmt>;

struct Stmt {
    Sk kind = Sk::kData;
    size_t pos = 0;
    std::string text;                                // data
    ExprPtr expr;                                    // output / set value / for iterable
    std::vector<std::pair<ExprPtr, Body>> branches;  // if / elif
    Body body;                                       // for body / set block body
    Body else_body;
    std::vector<std::string> targets;  // for / set targets
    std::string attr;                  // set ns.attr
    ExprPtr cond;                      // for ... if cond
};

}  // namespace squall::core::templates
