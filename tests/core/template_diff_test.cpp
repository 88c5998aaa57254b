// Differential test of the template engine against the real Jinja2 (Debian's python3-jinja2): every case in
// tests/cases/templates/*.jsonl is rendered by both; any difference in output, or in whether it is an error, fails.
// Each corpus line is its own test (Corpus/TemplateCorpusTest.MatchesJinja2/<file>_line<n>).
#include <gtest/gtest.h>

#include <unistd.h>
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

std::string Slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

/// One corpus line: `file:line` is its id (the oracle's too), `name` the test name built from it.
struct Case {
    std::string id;
    std::string name;
    std::string line;
};

void PrintTo(const Case& c, std::ostream* os) {
    *os << c.id;
}

std::vector<std::string> CorpusFiles() {
    std::vector<std::string> files;
    for (const auto& entry : std::filesystem::directory_iterator(kCaseDir)) {
        if (entry.path().extension() == ".jsonl") files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
    return files;
}

/// Every non-blank line of every corpus file, in file then line order. Lines are parsed by the test that runs them,
/// so that a malformed line fails its own test only.
const std::vector<Case>& Cases() {
    static const std::vector<Case>* cases = [] {
        auto* out = new std::vector<Case>();  // NOLINT: test-wide immutable list
        for (const auto& path : CorpusFiles()) {
            std::istringstream in(Slurp(path));
            const std::filesystem::path p(path);
            const std::string file = p.filename().string();
            std::string stem = p.stem().string();
            std::replace_if(
                stem.begin(), stem.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_'
            );
            std::string line;
            size_t lineno = 0;
            while (std::getline(in, line)) {
                ++lineno;
                if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
                out->push_back({file + ":" + std::to_string(lineno), stem + "_line" + std::to_string(lineno), line});
            }
        }
        return out;
    }();
    return *cases;
}

/// Jinja2's verdict per case id, from one run of oracle.py over the whole corpus. Every case is its own test
/// process (ctest), so the run's output is kept in the build tree, named by a hash of the corpus and of oracle.py:
/// the first test runs the oracle, the others read its answer. `error` is set when the oracle could not run.
struct Oracle {
    std::map<std::string, Json> by_id;
    std::string error;
};

const Oracle& JinjaOracle() {
    static const Oracle* oracle = [] {
        auto* o = new Oracle();  // NOLINT: test-wide immutable answers
        const std::vector<std::string> files = CorpusFiles();
        std::string all = Slurp(kCaseDir + "/oracle.py");
        for (const auto& f : files) all += '\x1f' + f + '\x1f' + Slurp(f);
        const std::filesystem::path cache_dir = SQUALL_TEST_CACHE_DIR;
        const std::filesystem::path cached =
            cache_dir / ("template_oracle_" + std::to_string(std::hash<std::string>{}(all)) + ".jsonl");
        std::string out = Slurp(cached.string());
        if (out.empty()) {
            std::string cmd = "/usr/bin/python3 '" + kCaseDir + "/oracle.py'";
            for (const auto& f : files) cmd += " '" + f + "'";
            FILE* p = popen(cmd.c_str(), "r");  // NOLINT(cert-env33-c): test-only, fixed command
            if (!p) {
                o->error = "cannot run " + cmd;
                return o;
            }
            char buf[65536];
            size_t n = 0;
            while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
            const int status = pclose(p);
            if (status != 0) {
                o->error = cmd + " exited with status " + std::to_string(status) +
                           " (it needs Debian's python3-jinja2, python3-yaml, python3-semver and python3-jsonpath-rw: "
                           "deploy/deps.sh installs them)";
                return o;
            }
            // Written once, atomically: tests running in parallel either see the whole file or none.
            std::error_code ec;
            std::filesystem::create_directories(cache_dir, ec);
            const std::filesystem::path tmp = cached.string() + ".tmp" + std::to_string(::getpid());
            std::ofstream(tmp, std::ios::binary) << out;
            std::filesystem::rename(tmp, cached, ec);
        }
        std::istringstream in(out);
        std::string line;
        while (std::getline(in, line)) {
            Json rec = Json::parse(line, nullptr, false);
            if (rec.is_discarded() || !rec.contains("id")) {
                o->error = "oracle.py printed a line that is not a result: " + line;
                continue;
            }
            o->by_id[rec["id"].get<std::string>()] = rec;
        }
        return o;
    }();
    return *oracle;
}

class TemplateCorpusTest : public ::testing::TestWithParam<Case> {};

TEST_P(TemplateCorpusTest, MatchesJinja2) {
    const Case& c = GetParam();
    const Oracle& oracle = JinjaOracle();
    ASSERT_EQ(oracle.error, "");
    const Json json = Json::parse(c.line, nullptr, false);
    ASSERT_FALSE(json.is_discarded()) << c.id << ": not a JSON line";
    const std::string tpl = json["template"].get<std::string>();
    auto it = oracle.by_id.find(c.id);
    ASSERT_NE(it, oracle.by_id.end()) << c.id << ": oracle gave no result for " << tpl;
    const Json& want = it->second;
    std::string got_text;
    std::string got_error;
    const bool st2 = json.value("env", "") == "stackstorm";
    Result<TemplatePtr> t = Template::Compile(tpl, st2);
    if (!t) {
        got_error = t.error().message;
    } else {
        RenderOptions options;
        options.stackstorm_whitespace = st2;
        Result<std::string> r = (*t)->RenderText(json.value("context", Json::object()), options);
        if (r)
            got_text = *r;
        else
            got_error = r.error().message;
    }
    const bool want_error = want.contains("error");
    const bool same = want_error ? !got_error.empty() : got_error.empty() && got_text == want["out"].get<std::string>();
    EXPECT_TRUE(same) << c.id << ": " << Json(tpl).dump() << "\n  jinja2: "
                      << (want_error ? "ERROR " + want["error"].get<std::string>() : Json(want["out"]).dump())
                      << "\n  squall: " << (got_error.empty() ? Json(got_text).dump() : "ERROR " + got_error);
}

INSTANTIATE_TEST_SUITE_P(
    Corpus,
    TemplateCorpusTest,
    ::testing::ValuesIn(Cases()),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; }
);

TEST(TemplateDiffTest, CorpusIsThere) {
    EXPECT_GE(Cases().size(), 400u) << "cases in " << kCaseDir;
}

}  // namespace
}  // namespace squall::core
