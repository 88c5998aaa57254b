#include "files.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace squall::test {

std::string ReadFile(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string ReadFixture(const std::string& relative) {
    const std::string path = std::string(SQUALL_FIXTURES_DIR) + "/" + relative;
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("test fixture missing or unreadable: " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw std::runtime_error("test fixture could not be read: " + path);
    return ss.str();
}

std::vector<std::string> GitHubPayloadFixtures() {
    const std::string dir = std::string(SQUALL_FIXTURES_DIR) + "/github";
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        const std::string name = entry.path().filename().string();
        if (entry.path().extension() == ".json" && name != "signature-vectors.json") names.push_back(name);
    }
    if (names.empty()) throw std::runtime_error("no GitHub payload fixtures in " + dir);
    std::sort(names.begin(), names.end());
    return names;
}

std::vector<pid_t> LiveProcessesMatching(const std::string& text) {
    std::vector<pid_t> out;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
        const std::string name = entry.path().filename();
        if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
        std::string cmdline = ReadFile(entry.path().string() + "/cmdline");
        std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
        if (cmdline.find(text) == std::string::npos) continue;
        const std::string stat = ReadFile(entry.path().string() + "/stat");
        const auto paren = stat.rfind(')');
        if (paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] == 'Z') continue;
        out.push_back(static_cast<pid_t>(std::stoi(name)));
    }
    return out;
}

}  // namespace squall::test
