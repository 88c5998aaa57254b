#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace squall::test {

/// The whole file, or "" when it cannot be read.
std::string ReadFile(const std::string& path);

/// Live (not zombie) processes whose command line (arguments joined by spaces) contains `text`.
std::vector<pid_t> LiveProcessesMatching(const std::string& text);

}  // namespace squall::test
