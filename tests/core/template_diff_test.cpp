// Differential test of the template engine against the real Jinja2 (Debian's python3-jinja2): every case in
// tests/cases/templates/*.jsonl is rendered by both; any difference in output, or in whether it is an error, fails.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "squall/templates/template.hpp"

namespace squall::core {
namespace {

const std::string kCaseDir = std::string(SQUALL_SOURCE_DIR) + "/tests/cases/templates";

std::vector<std::string> CorpusFiles() {
    std::vector<std::string> files;
    for (const auto& entry : std::filesystem::directory_iterator(kCaseDir)) {
        if (entry.path().extension() == ".jsonl") files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
    return files;
}

std::string RunOracle(const std::vector<std::string>& files) {
    std::string cmd = "python3 '" + kCaseDir + "/oracle.py'";
    for (const auto& f : files) cmd += " '" + f + "'";
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");  // NOLINT(cert-env33-c): test-only, fixed command
    if (!p) return out;
    char buf[65536];
    size_t n = 0;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
    pclose(p);
    return out;
}

TEST(TemplateDiffTest, MatchesJinja2OnCorpus) {
    const std::vector<std::string> files = CorpusFiles();
    ASSERT_FALSE(files.empty());
    std::map<std::string, Json> oracle;
    {
        std::istringstream in(RunOracle(files));
        std::string line;
        while (std::getline(in, line)) {
            Json rec = Json::parse(line);
            oracle[rec["id"].get<std::string>()] = rec;
        }
    }
    size_t total = 0;
    size_t diffs = 0;
    for (const auto& path : files) {
        std::ifstream in(path);
        std::string line;
        size_t lineno = 0;
        const std::string name = std::filesystem::path(path).filename().string();
        while (std::getline(in, line)) {
            ++lineno;
            if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
            ++total;
            const Json c = Json::parse(line);
            const std::string id = name + ":" + std::to_string(lineno);
            const std::string tpl = c["template"].get<std::string>();
            auto it = oracle.find(id);
            if (it == oracle.end()) {
                ++diffs;
                std::cout << "DIFF " << id << ": oracle gave no result for " << tpl << "\n";
                continue;
            }
            const Json& want = it->second;
            std::string got_text;
            std::string got_error;
            const bool st2 = c.value("env", "") == "stackstorm";
            Result<TemplatePtr> t = Template::Compile(tpl, st2);
            if (!t) {
                got_error = t.error().message;
            } else {
                RenderOptions options;
                options.stackstorm_whitespace = st2;
                Result<std::string> r = (*t)->RenderText(c.value("context", Json::object()), options);
                if (r)
                    got_text = *r;
                else
                    got_error = r.error().message;
            }
            const bool want_error = want.contains("error");
            bool same =
                want_error ? !got_error.empty() : got_error.empty() && got_text == want["out"].get<std::string>();
            if (!same) {
                ++diffs;
                std::cout << "DIFF " << id << ": " << Json(tpl).dump() << "\n  jinja2: "
                          << (want_error ? "ERROR " + want["error"].get<std::string>() : Json(want["out"]).dump())
                          << "\n  squall: " << (got_error.empty() ? Json(got_text).dump() : "ERROR " + got_error)
                          << "\n";
            }
        }
    }
    std::cout << "template corpus: " << total << " cases, " << diffs << " differences\n";
    EXPECT_GE(total, 400u);
    EXPECT_EQ(diffs, 0u);
}

}  // namespace
}  // namespace squall::core
