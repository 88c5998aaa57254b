#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace squall::test {

/// The whole file, or "" when it cannot be read.
std::string ReadFile(const std::string& path);

/// The file `relative` under tests/fixtures/ (SQUALL_FIXTURES_DIR). Throws std::runtime_error naming the full
/// path when the file is missing or unreadable, so a test fails with the path instead of parsing "".
std::string ReadFixture(const std::string& relative);

/// The names of the GitHub webhook payloads in tests/fixtures/github/ (every `*.json` but the signature vectors),
/// sorted. Throws when there are none, so a test that covers "every payload" cannot pass over an empty folder.
std::vector<std::string> GitHubPayloadFixtures();

/// Live (not zombie) processes whose command line (arguments joined by spaces) contains `text`.
std::vector<pid_t> LiveProcessesMatching(const std::string& text);

}  // namespace squall::test
