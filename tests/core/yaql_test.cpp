// YAQL expressions (Orquesta's `<% %>`): the data-driven corpus in tests/cases/yaql/, Orquesta-style functions
// given through RenderOptions::functions, st2kv through RenderOptions::kv, string rendering and the budgets.
#include "squall/templates/yaql.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <string>
#include <utility>

namespace squall::core {
namespace {

bool Contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

TEST(YaqlCorpusTest, EveryCaseGivesItsResultOrError) {
    const std::string path = std::string(SQUALL_SOURCE_DIR) + "/tests/cases/yaql/expressions.jsonl";
    std::ifstream in(path);
    ASSERT_TRUE(in) << path;
    std::string line;
    Json context;
    int line_no = 0, cases = 0, errors = 0;
    while (std::getline(in, line)) {
        ++line_no;
        if (line.empty() || line[0] == '#') continue;
        const Json c = Json::parse(line);
        if (c.contains("context")) {
            context = c["context"];
            continue;
        }
        ++cases;
        const std::string expr = c.at("expr").get<std::string>();
        SCOPED_TRACE(path + ":" + std::to_string(line_no) + ": " + expr);
        Result<Json> got = EvaluateYaql(expr, context);
        if (c.contains("error")) {
            ++errors;
            if (got) {
                ADD_FAILURE() << "expected an error, got " << got->dump();
                continue;
            }
            EXPECT_TRUE(Contains(got.error().message, c["error"].get<std::string>())) << got.error().message;
            EXPECT_TRUE(got.error().message.starts_with("yaql error at column ")) << got.error().message;
        } else {
            if (!got) {
                ADD_FAILURE() << got.error().message;
                continue;
            }
            const Json& want = c.at("result");
            EXPECT_EQ(*got, want) << "got " << got->dump() << ", want " << want.dump();
            // 2 and 2.0 compare equal in JSON; the type must match too.
            EXPECT_EQ(got->type_name(), std::string(want.type_name())) << got->dump();
        }
    }
    EXPECT_GE(cases, 200);
    EXPECT_GE(errors, 30);
}

/// Orquesta's functions over a small workflow state, as the workflow engine will register them.
struct OrquestaState {
    Json ctx = {{"hosts", Json::array({"a", "b"})}, {"count", 2}, {"cfg", {{"retries", 3}}}};
    Json tasks = {{"t1", "succeeded"}, {"t2", "failed"}};
    Json current_result = {{"stdout", "ok"}, {"return_code", 0}};
    Json current_item = {{"host", "a"}, {"port", 22}};
    TemplateFunctions functions;

    OrquestaState() {
        functions["ctx"] = [this](const std::vector<Json>& args, const auto&) -> Result<Json> {
            if (args.empty()) return ctx;
            const std::string name = args[0].get<std::string>();
            if (!ctx.contains(name))
                return InvalidArgument("variable \"" + name + "\" is referenced before assignment");
            return ctx[name];
        };
        functions["result"] = [this](const auto&, const auto&) -> Result<Json> { return current_result; };
        functions["item"] = [this](const std::vector<Json>& args, const auto&) -> Result<Json> {
            if (args.empty()) return current_item;
            return current_item.at(args[0].get<std::string>());
        };
        functions["task_status"] = [this](const std::vector<Json>& args, const auto&) -> Result<Json> {
            return Json(tasks.value(args.at(0).get<std::string>(), "unset"));
        };
        functions["succeeded"] = [](const auto&, const auto&) -> Result<Json> { return Json(true); };
        functions["failed"] = [](const auto&, const auto&) -> Result<Json> { return Json(false); };
        functions["echo_kwargs"] = [](const std::vector<Json>& args, const auto& kwargs) -> Result<Json> {
            Json out = {{"args", args}, {"kwargs", Json::object()}};
            for (const auto& [k, v] : kwargs) out["kwargs"][k] = v;
            return out;
        };
    }
    RenderOptions Options() const {
        RenderOptions o;
        o.functions = &functions;
        return o;
    }
};

Json Eval(const std::string& expr, const OrquestaState& s) {
    Result<Json> r = EvaluateYaql(expr, Json::object(), s.Options());
    EXPECT_TRUE(r) << expr << ": " << r.error().message;
    return r ? *r : Json();
}

TEST(YaqlFunctionsTest, OrquestaFunctionsAreCalledWithTheirArguments) {
    OrquestaState s;
    EXPECT_EQ(Eval("ctx().count + 1", s), 3);
    EXPECT_EQ(Eval("ctx(count) * 10", s), 20);  // a bare name is a string, as Orquesta writes ctx(x)
    EXPECT_EQ(Eval("ctx('hosts')[1]", s), "b");
    EXPECT_EQ(Eval("ctx().hosts.len()", s), 2);
    EXPECT_EQ(Eval("ctx().cfg.retries", s), 3);
    EXPECT_EQ(Eval("result().stdout", s), "ok");
    EXPECT_EQ(Eval("result().return_code = 0", s), true);
    EXPECT_EQ(Eval("item().host + ':' + str(item(port))", s), "a:22");
    EXPECT_EQ(Eval("task_status(t1) = 'succeeded' and not failed()", s), true);
    EXPECT_EQ(Eval("task_status('t9')", s), "unset");
    EXPECT_EQ(Eval("succeeded() and ctx().count > 1", s), true);
    EXPECT_EQ(Eval("ctx().hosts.select($ + '.' + ctx().hosts[0])", s), Json::array({"a.a", "b.a"}));
    EXPECT_EQ(
        Eval("echo_kwargs(1, 'x', flag => true, n => 2 + 3)", s),
        Json::parse(R"({"args": [1, "x"], "kwargs": {"flag": true, "n": 5}})")
    );
    // Method syntax passes the receiver first.
    EXPECT_EQ(Eval("'r'.echo_kwargs(2)", s), Json::parse(R"({"args": ["r", 2], "kwargs": {}})"));
}

TEST(YaqlFunctionsTest, AFunctionsErrorNamesTheCallAndItsColumn) {
    OrquestaState s;
    Result<Json> r = EvaluateYaql("1 + ctx(nope)", Json::object(), s.Options());
    ASSERT_FALSE(r);
    EXPECT_EQ(
        r.error().message,
        "yaql error at column 5: ctx(): variable \"nope\" is referenced before assignment in \"1 + ctx(nope)\""
    );
    // Without the functions, ctx() is unknown.
    r = EvaluateYaql("ctx()", Json::object());
    ASSERT_FALSE(r);
    EXPECT_TRUE(Contains(r.error().message, "unknown function 'ctx'")) << r.error().message;
}

/// A datastore of fixed entries; "decryption" reverses the text, so that a test can tell it happened.
class MapKv : public KeyValueLookup {
public:
    std::map<std::pair<std::string, std::string>, std::string> entries;
    std::optional<std::string> Get(std::string_view scope, std::string_view key) const override {
        auto it = entries.find({std::string(scope), std::string(key)});
        if (it == entries.end()) return std::nullopt;
        return it->second;
    }
    Result<std::string> Decrypt(std::string_view ciphertext) const override {
        return std::string(ciphertext.rbegin(), ciphertext.rend());
    }
};

TEST(YaqlSt2kvTest, ReadsSystemAndUserScopesWithDefaultAndDecrypt) {
    MapKv kv;
    kv.entries[{"system", "api_url"}] = "http://127.0.0.1:9101";
    kv.entries[{"user", "token"}] = "terces";
    kv.entries[{"system", "a.b"}] = "dotted";
    RenderOptions o;
    o.kv = &kv;
    EXPECT_EQ(*EvaluateYaql("st2kv('system.api_url')", Json::object(), o), "http://127.0.0.1:9101");
    EXPECT_EQ(*EvaluateYaql("st2kv('api_url') + '/v1'", Json::object(), o), "http://127.0.0.1:9101/v1");
    EXPECT_EQ(*EvaluateYaql("st2kv('system.a.b')", Json::object(), o), "dotted");
    EXPECT_EQ(*EvaluateYaql("st2kv('user.token')", Json::object(), o), "terces");
    EXPECT_EQ(*EvaluateYaql("st2kv('user.token', decrypt => true)", Json::object(), o), "secret");
    EXPECT_EQ(*EvaluateYaql("st2kv('system.none', default => 'fallback')", Json::object(), o), "fallback");
    Result<Json> r = EvaluateYaql("st2kv('system.none')", Json::object(), o);
    ASSERT_FALSE(r);
    EXPECT_EQ(
        r.error().message,
        "yaql error at column 1: st2kv(): the key \"system.none\" does not exist in the datastore in "
        "\"st2kv('system.none')\""
    );
    r = EvaluateYaql("st2kv('x', decrypt => 'yes')", Json::object(), o);
    ASSERT_FALSE(r);
    EXPECT_TRUE(Contains(r.error().message, "decrypt must be true or false")) << r.error().message;
    // Without a datastore every key is missing.
    r = EvaluateYaql("st2kv('system.api_url')", Json::object());
    ASSERT_FALSE(r);
    EXPECT_TRUE(Contains(r.error().message, "does not exist")) << r.error().message;
}

/// Inspection parses without evaluating (Orquesta's YAQLEvaluator.validate): each expression that does not parse,
/// with its delimiters and the column; unknown functions and names are not syntax errors.
TEST(YaqlSyntaxTest, ReportsEachExpressionThatDoesNotParse) {
    EXPECT_TRUE(YaqlSyntaxErrors("<% ctx(x) = 1 %> and <% nope($.y).z() %> and text").empty());
    EXPECT_TRUE(YaqlSyntaxErrors("no expression, or an unclosed <% 1 +").empty());
    const auto errors = YaqlSyntaxErrors("<% ctx(x) = = 1 %> then <% 1 + 2 %> then <% [1, %>");
    ASSERT_EQ(errors.size(), 2u);
    EXPECT_EQ(errors[0].expression, "<% ctx(x) = = 1 %>");
    EXPECT_TRUE(Contains(errors[0].message, "yaql error at column ")) << errors[0].message;
    EXPECT_TRUE(Contains(errors[0].message, "in \" ctx(x) = = 1 \"")) << errors[0].message;
    EXPECT_EQ(errors[1].expression, "<% [1, %>");
}

TEST(YaqlRenderTest, OneExpressionKeepsItsType) {
    const Json root = {{"n", 5}, {"l", Json::array({1, 2})}, {"s", "x"}};
    EXPECT_EQ(*RenderYaqlString("<% $.n %>", root), 5);
    EXPECT_EQ(*RenderYaqlString("  <%$.l%>\n", root), Json::array({1, 2}));
    EXPECT_EQ(*RenderYaqlString("<% $.n > 3 %>", root), true);
    EXPECT_EQ(*RenderYaqlString("<% null %>", root), nullptr);
    EXPECT_EQ(*RenderYaqlString("no expressions", root), "no expressions");
}

TEST(YaqlRenderTest, TextAroundExpressionsGivesAStringOfPythonStr) {
    const Json root = {{"n", 5}, {"l", Json::array({1, "a"})}, {"b", true}, {"z", nullptr}, {"f", 1.0}};
    EXPECT_EQ(*RenderYaqlString("n=<% $.n %>", root), "n=5");
    EXPECT_EQ(*RenderYaqlString("<% $.n %><% $.n %>", root), "55");
    EXPECT_EQ(*RenderYaqlString("<% $.l %> <% $.b %> <% $.z %> <% $.f %>", root), "[1, 'a'] True None 1.0");
    EXPECT_EQ(*RenderYaqlString("a <% 'b' %> c", root), "a b c");
    // As Orquesta's `<%.*?%>`, an expression does not span lines; an unclosed one is text.
    EXPECT_EQ(*RenderYaqlString("<% 1\n%> and <% 2 %>", root), "<% 1\n%> and 2");
    EXPECT_EQ(*RenderYaqlString("50<%", root), "50<%");
    EXPECT_TRUE(HasYaql("x <% 1 %>"));
    EXPECT_FALSE(HasYaql("x <% 1"));
    EXPECT_FALSE(HasYaql("<% 1\n %>"));
    EXPECT_FALSE(HasYaql("{{ jinja }}"));
}

TEST(YaqlRenderTest, AnErrorNamesTheColumnInItsExpression) {
    Result<Json> r = RenderYaqlString("ok <% 1 %> then <% $.a.missing %>", Json{{"a", Json::object()}});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "yaql error at column 6: unable to resolve key 'missing' in \" $.a.missing \"");
}

TEST(YaqlBudgetTest, AHugeRangeStopsAtTheBudget) {
    const auto start = std::chrono::steady_clock::now();
    Result<Json> r = EvaluateYaql("range(1000000000).select($ * 2).sum()", Json::object());
    ASSERT_FALSE(r);
    EXPECT_TRUE(Contains(r.error().message, "exceeded the render budget of")) << r.error().message;
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

TEST(YaqlBudgetTest, NestedQueriesStopAtTheStepBudget) {
    RenderOptions o;
    o.max_steps = 100000;
    Result<Json> r = EvaluateYaql("range(1000).select(range(1000).where($ > 1).len())", Json::object(), o);
    ASSERT_FALSE(r);
    EXPECT_TRUE(Contains(r.error().message, "exceeded the render budget of 100000 steps")) << r.error().message;
    o.max_steps = 10'000'000;
    EXPECT_TRUE(EvaluateYaql("range(100).select(range(100).where($ > 1).len())", Json::object(), o));
}

TEST(YaqlBudgetTest, RepeatedStringsStopAtTheMemoryBudget) {
    RenderOptions o;
    o.max_bytes = 1 << 20;
    Result<Json> r = EvaluateYaql("'abcdefgh' * 1000000", Json::object(), o);
    ASSERT_FALSE(r);
    EXPECT_TRUE(Contains(r.error().message, "exceeded the render budget of 1 MiB")) << r.error().message;
    r = EvaluateYaql("[['x' * 1000] * 1000] * 1000", Json::object(), o);
    ASSERT_FALSE(r);
    EXPECT_TRUE(Contains(r.error().message, "exceeded the render budget of 1 MiB")) << r.error().message;
    r = EvaluateYaql("range(20).select('y' * 100000)", Json::object(), o);
    ASSERT_FALSE(r);
    EXPECT_TRUE(Contains(r.error().message, "exceeded the render budget of 1 MiB")) << r.error().message;
}

// Found by the yaql fuzz target: an empty string repeated 4073709551615 times looped for hours, since it costs no
// bytes. Nothing to repeat is done at once.
TEST(YaqlBudgetTest, RepeatingNothingAHugeNumberOfTimesIsInstant) {
    for (const char* expr : {"'' * 4073709551615", "4073709551615 * ''"}) {
        Result<Json> r = EvaluateYaql(expr, Json::object());
        ASSERT_TRUE(r) << expr << ": " << r.error().message;
        EXPECT_EQ(*r, "") << expr;
    }
}

TEST(YaqlBudgetTest, DeepNestingIsRefusedNotACrash) {
    const std::string deep = std::string(5000, '(') + "1" + std::string(5000, ')');
    Result<Json> r = EvaluateYaql(deep, Json::object());
    ASSERT_FALSE(r);
    EXPECT_TRUE(Contains(r.error().message, "nested too deeply")) << r.error().message.substr(0, 80);
    std::string chain = "1";
    for (int i = 0; i < 100000; ++i) chain += "+1";
    r = EvaluateYaql(chain, Json::object());
    ASSERT_FALSE(r);
    EXPECT_TRUE(Contains(r.error().message, "nested too deeply")) << r.error().message.substr(0, 80);
    std::string path = "$";
    for (int i = 0; i < 100000; ++i) path += ".a";
    r = EvaluateYaql(path, Json::object());
    ASSERT_FALSE(r);
    EXPECT_TRUE(Contains(r.error().message, "nested too deeply")) << r.error().message.substr(0, 80);
    // Long but shallow expressions are fine.
    std::string sum = "[";
    for (int i = 0; i < 5000; ++i) sum += (i ? ", " : "") + std::string("1 + 1");
    r = EvaluateYaql(sum + "].sum()", Json::object());
    ASSERT_TRUE(r) << r.error().message.substr(0, 200);
    EXPECT_EQ(*r, 10000);
    const std::string deep_list = std::string(5000, '[') + std::string(5000, ']');
    r = EvaluateYaql(deep_list, Json::object());
    ASSERT_FALSE(r);
    EXPECT_TRUE(Contains(r.error().message, "nested too deeply")) << r.error().message.substr(0, 80);
}

// from_json_string / json_parse bound what they parse (core::ParseJsonLimited): nested 100,000 deep, the value
// overflowed the stack of its next walk.
TEST(YaqlBudgetTest, ParsedJsonNestedTooDeepIsRefusedNotACrash) {
    const Json ctx = {{"s", std::string(100000, '[') + std::string(100000, ']')}};
    for (const char* expr : {"from_json_string($.s)", "json_parse($.s)"}) {
        Result<Json> r = EvaluateYaql(expr, ctx);
        ASSERT_FALSE(r) << expr;
        EXPECT_TRUE(Contains(r.error().message, "nested deeper than the limit of 256 levels"))
            << r.error().message.substr(0, 200);
    }
}

TEST(YaqlTest, IndexingAStringCountsCodePointsEvenInInvalidUtf8) {
    EXPECT_EQ(*EvaluateYaql("'h\u00e9llo'[1] + $.s[-1]", Json{{"s", "ab"}}), "\u00e9b");
    // Found by the yaql fuzz target: a string of stray and truncated UTF-8 bytes indexed at every position.
    const std::string bad = "\xa3]]\xe6\xff\xea\xea\xf0\x9f\xd0\xff\xef";
    const Json root = {{"s", bad}};
    const int64_t n = *EvaluateYaql("len($.s)", root);
    for (int64_t i = -n - 2; i < n + 2; ++i) {
        Result<Json> r = EvaluateYaql("$.s[" + std::to_string(i) + "]", root);
        if (r)
            EXPECT_TRUE(r->is_string());
        else
            EXPECT_TRUE(Contains(r.error().message, "out of range")) << r.error().message;
    }
}

TEST(YaqlTest, TheContextIsNotCopiedOrChangedByQueries) {
    Json root = {{"big", Json::array()}};
    for (int i = 0; i < 1000; ++i) root["big"].push_back({{"id", i}, {"tags", Json::array({"a", "b"})}});
    const Json before = root;
    Result<Json> r = EvaluateYaql("$.big.where($.id mod 100 = 0).select($.id)", root);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(*r, Json::parse("[0, 100, 200, 300, 400, 500, 600, 700, 800, 900]"));
    EXPECT_EQ(*EvaluateYaql("$.big.d", Json{{"big", {{"d", 1}}}}), 1);
    EXPECT_EQ(root, before);
    // `$` is the root again after a query's `$` rebinding.
    EXPECT_EQ(*EvaluateYaql("[$.big.select($.id).len(), $.big.len()]", root), Json::array({1000, 1000}));
}

}  // namespace
}  // namespace squall::core
