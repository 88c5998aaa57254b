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
    uint8_t spread = 0;            // an argument written `*seq` (1) or `**mapping` (2)
};

enum class Sk { kData, kOutput, kIf, kFor, kSet, kSetBlock, kWith, kFilterBlock, kMacro, kCallBlock };

/// The name a `{% filter %}` block's rendered body is bound to for its filter chain (not a valid identifier).
inline constexpr const char* kFilterBodyName = "\x01filter body";

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
    std::vector<std::string> targets;  // for / set / with targets; macro / call parameters
    std::string attr;                  // set ns.attr; macro name
    ExprPtr cond;                      // for ... if cond
    std::vector<ExprPtr> values;       // with: one per target; macro / call: parameter defaults (null: none)
    bool uses_varargs = false;         // macro / call: the body reads `varargs`, `kwargs`, `caller`
    bool uses_kwargs = false;
    bool uses_caller = false;
    bool recursive = false;  // for ... recursive: the body may call loop(children)
};

}  // namespace squall::core::templates
