#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "squall/core/error.hpp"
#include "squall/core/model/model.hpp"
#include "squall/core/yaml_json.hpp"

/// The Orquesta workflow language, version 1.0 (reference §6): the definition as parsed from its YAML, with the
/// line of every task and transition so that errors name them.
namespace squall::workflows {

using core::Json;

/// One `next` item of a task.
struct Transition {
    std::string when;                                   ///< expression; empty = always
    std::vector<std::pair<std::string, Json>> publish;  ///< in order
    std::vector<std::string> targets;                   ///< task names and engine commands (default: continue)
    int line = 0;
};

/// One task.
struct TaskSpec {
    std::string name;
    std::string action;  ///< action ref (may be an expression); empty: a task that runs nothing (succeeds)
    Json input = Json::object();
    /// `input: <% ctx(params) %>`: the input is one expression that renders to the mapping (Orquesta's TaskSpec takes
    /// a string or a mapping); `input` is empty then.
    std::string input_expression;
    std::vector<Transition> next;
    int join = 0;  ///< 0: no join; -1: all; N > 0: N inbound transitions
    bool has_items = false;
    std::string items;                    ///< the items expression
    std::vector<std::string> item_names;  ///< `x in ...`, `x, y in zip(...)`; empty: item() is the item
    Json concurrency;                     ///< null, an integer or an expression
    bool has_retry = false;
    std::string retry_when;  ///< empty: the task failed
    Json retry_count = 0;
    Json retry_delay = 0;
    Json delay;  ///< null or seconds (integer or expression)
    int line = 0;
};

/// A parsed workflow.
struct WorkflowSpec {
    std::string file;
    std::vector<std::pair<std::string, Json>> input;  ///< name → default (null when none)
    std::vector<std::string> required_input;          ///< inputs listed without a default
    std::vector<std::pair<std::string, Json>> vars;
    std::vector<std::pair<std::string, Json>> output;
    std::map<std::string, TaskSpec> tasks;
    std::vector<std::string> order;  ///< task names in the file's order
    core::YamlDocument doc;

    const TaskSpec* Find(const std::string& name) const;
    /// Tasks named in some other task's `do` (by any transition).
    std::vector<std::string> Inbound(const std::string& name) const;
    /// Tasks with no inbound transition (but from themselves): where the workflow starts.
    std::vector<std::string> StartTasks() const;
};

/// The engine commands that may appear in `do`.
bool IsEngineCommand(const std::string& name);

/// Parses a workflow definition. Errors are "file:line:col: tasks.t1.next[0].do: what".
Result<WorkflowSpec> ParseWorkflow(const std::string& text, const std::string& file);
Result<WorkflowSpec> LoadWorkflowFile(const std::string& path);

/// One problem found by Inspect.
struct Problem {
    /// syntax, semantic (bad reference, unreachable), context (undefined variable), expression (does not parse)
    std::string type;
    std::string message;     ///< for people: "file:line: task \"t1\": what" (the CLI, the API, pack warnings)
    std::string what;        ///< the problem alone, without file and line (StackStorm's words where it has them)
    std::string task;        ///< empty for workflow-level problems
    std::string path;        ///< spec path (tasks.t1.next[0].do)
    std::string language;    ///< expression problems: yaql or jinja (st2's `language`)
    std::string expression;  ///< expression problems: the expression that does not parse, with its delimiters
    int line = 0;
    Json ToJson() const;
    /// As a failed run's `result.errors` entry, StackStorm's: {type, message (`what`), spec_path[, language,
    /// expression]}; no file name (the server's path is no business of the caller).
    Json ToResultError() const;
};

/// Static checks before running (StackStorm's `st2 workflow inspect`): a `do` naming no task, a task nothing
/// reaches, a YAQL or Jinja expression that does not parse, and an expression reading a variable that no input, var
/// or publish defines. Empty: fine.
std::vector<Problem> Inspect(const WorkflowSpec& spec);
/// What InspectTaskContents knows of an action: nullopt when no action of that ref is registered; else its
/// effective parameter schema (name → {type, required, default...}), or null when it cannot be read (then its
/// parameters are not checked).
using ActionSchemaLookup = std::function<std::optional<Json>(const std::string& ref)>;

/// StackStorm's content checks before a workflow runs (st2's inspect_task_contents), problems of type `content`
/// with its messages and spec paths: for each task whose action is a plain ref (not an expression), the ref is
/// `pack.name`, the action is registered, every input is a parameter of the action, and every required parameter
/// without a default is given.
std::vector<Problem> InspectTaskContents(const WorkflowSpec& spec, const ActionSchemaLookup& schema_of);

/// Parses and inspects `text`; a parse error is returned as one problem of type syntax.
std::vector<Problem> InspectText(const std::string& text, const std::string& file);

/// Splits an inline `k=v k2=<% expr with spaces %>` string (task input, publish, action short form) into its pairs.
/// Values keep their text (JSON literals are parsed: numbers, true/false/null).
Result<std::vector<std::pair<std::string, Json>>> ParseInlineParams(const std::string& text);

}  // namespace squall::workflows
