#pragma once

#include <string>
#include <vector>

namespace squall::app {

/// `squall server [flags]`: the composition root. Returns the process exit code.
int ServerMain(const std::vector<std::string>& args);
/// Every other command: the CLI client over ApiClient. Returns the process exit code.
int CliMain(const std::vector<std::string>& args);

}  // namespace squall::app
