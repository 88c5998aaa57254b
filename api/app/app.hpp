#pragma once

#include <string>
#include <utility>
#include <vector>

#include "squall/api/client.hpp"
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
/// Prints `rows` (objects) as a table: one column per (title, dotted path), each as wide as its widest cell; when the
/// row is wider than the terminal (TerminalWidth) the widest columns narrow and their long cells end in "…"
/// (cli_table.cpp).
void PrintTable(const core::Json& rows, const std::vector<std::pair<std::string, std::string>>& columns);
/// The terminal's width in columns: $COLUMNS, else the TIOCGWINSZ of stdout when it is a terminal, else 0 (unknown:
/// no fitting, cells cut at 60 columns).
size_t TerminalWidth();
/// Column widths narrowed to fit `terminal` columns (2 between columns): the widest first, none below its title or
/// 6 columns. `terminal` 0 leaves them as they are.
std::vector<size_t> FitColumns(std::vector<size_t> widths, const std::vector<size_t>& titles, size_t terminal);

/// The client every CLI command uses (cli_login.cpp): the API at $SQUALL_API_URL, else the URL `squall login`
/// saved, else http://127.0.0.1:9101/api/v1; authenticated by $SQUALL_API_KEY, else $SQUALL_AUTH_TOKEN, else the
/// token `squall login` saved (while it has not expired).
api::ApiClient CliClient();
/// The API URL CliClient uses.
std::string CliApiUrl();
/// Where `squall login` saves its token: $SQUALL_CLI_CONFIG, else $XDG_CONFIG_HOME/squall/cli.json, else
/// ~/.config/squall/cli.json.
std::string CliConfigPath();
/// `squall login USER [-p PASSWORD] [--ttl S]`, `squall logout`, `squall whoami [-j]`.
int LoginCommand(const std::vector<std::string>& args);
int LogoutCommand(const std::vector<std::string>& args);
int WhoamiCommand(const std::vector<std::string>& args);

}  // namespace squall::app
