#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace squall::test {

/// Runs `git <args>` in `dir` with a fixed identity, `main` as the default branch and no signing; returns its
/// stdout without the trailing newline. Fails the current test when git fails.
std::string Git(const std::filesystem::path& dir, std::vector<std::string> args);

/// Writes `text` to `file`, creating its parent folders.
void WriteFile(const std::filesystem::path& file, const std::string& text);

}  // namespace squall::test
