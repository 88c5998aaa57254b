#pragma once

#include <string>
#include <utility>
#include <vector>

#include "squall/core/model/model.hpp"

namespace squall::app {

/// `squall server [flags]`: the composition root. Returns the process exit code.
int ServerMain(const std::vector<std::string>& args);
/// Every other command: the CLI client over ApiClient. Returns the process exit code.
int CliMain(const std::vector<std::string>& args);
/// `squall template render [--context FILE] [--json] TEMPLATE`: local rendering; exit 2 on a template error.
int TemplateRenderCommand(const std::vector<std::string>& args);
/// `squall workflow inspect FILE [-j]`: local inspection of an Orquesta workflow; exit 1 when it has problems.
int WorkflowCommand(const std::vector<std::string>& args);
/// `squall rule test <rule.yaml> (--payload FILE | --trigger-instance ID)`: 0 match, 1 no match, 2 load error.
int RuleTestCommand(const std::vector<std::string>& args);
/// `squall key set|get|list|delete|load` (cli_key.cpp), as `st2 key`.
int KeyCommand(const std::vector<std::string>& args);
/// `squall inquiry list|get|respond`.
int InquiryCommand(const std::vector<std::string>& args);
/// `squall pack install|remove|list|get|register|config` (cli_pack.cpp).
int PackCommand(const std::vector<std::string>& args);
/// `squall alias list|get|create|delete|match|execute` (cli_alias.cpp), as `st2 action-alias`.
int AliasCommand(const std::vector<std::string>& args);
/// `squall trigger-instance list|get|re-emit` (cli_trace.cpp), as `st2 trigger-instance`.
int TriggerInstanceCommand(const std::vector<std::string>& args);
/// `squall trace list|get` (cli_trace.cpp): `get` prints the trace as a tree.
int TraceCommand(const std::vector<std::string>& args);
/// `squall user add|list|delete` (cli_user.cpp): DATA/users.json, for POST /auth/v1/tokens.
int UserCommand(const std::vector<std::string>& args);
/// Prints `rows` (objects) as a plain table: one column per (title, dotted path), each as wide as its widest cell.
void PrintTable(const core::Json& rows, const std::vector<std::pair<std::string, std::string>>& columns);

}  // namespace squall::app
