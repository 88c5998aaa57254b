// Parsing and static inspection of Orquesta workflow definitions (reference §6).
#include "squall/workflows/spec.hpp"

#include <algorithm>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "expressions.hpp"
#include "squall/core/input.hpp"
#include "squall/templates/yaql.hpp"

namespace squall::workflows {
namespace {

const std::set<std::string> kCommands = {"continue", "fail", "noop", "retry"};
const std::regex kTaskName("^\\w+$");

/// `<% expr %>` or `{{ expr }}` and nothing else (around it only spaces): one expression, not `k=v` pairs.
bool IsWholeExpression(const std::string& text) {
    const size_t a = text.find_first_not_of(" \t\r\n");
    const size_t b = text.find_last_not_of(" \t\r\n");
    if (a == std::string::npos || b - a < 4) return false;
    const std::string t = text.substr(a, b - a + 1);
    const auto whole = [&](const std::string& open, const std::string& close) {
        return t.rfind(open, 0) == 0 && t.compare(t.size() - close.size(), close.size(), close) == 0 &&
               t.find(close) == t.size() - close.size();
    };
    return whole("<%", "%>") || whole("{{", "}}");
}

struct Parser {
    const core::YamlDocument& doc;

    /// "file:line:col: path: what" (the message itself names where, for the CLI and the API alike).
    Error At(const std::string& path, const std::string& what) const {
        Error e = doc.ErrorAt(path, what);
        if (e.location) e.message = e.location->ToString() + ": " + e.message;
        return e;
    }
    int Line(const std::string& path) const { return doc.At(path).line; }

    /// `[{a: 1}, {b: 2}]`, `{a: 1, b: 2}` or `[a, b]` (names without value: null) → ordered pairs.
    Result<std::vector<std::pair<std::string, Json>>> Pairs(const Json& v, const std::string& path, bool names_ok) {
        std::vector<std::pair<std::string, Json>> out;
        if (v.is_null()) return out;
        if (v.is_object()) {
            for (const auto& [k, x] : v.items()) out.emplace_back(k, x);
            return out;
        }
        if (!v.is_array()) return At(path, "must be a list of {name: value} items");
        for (size_t i = 0; i < v.size(); ++i) {
            const Json& item = v[i];
            const std::string p = path + "[" + std::to_string(i) + "]";
            if (item.is_string() && names_ok) {
                out.emplace_back(item.get<std::string>(), Json());
            } else if (item.is_object() && item.size() == 1) {
                out.emplace_back(item.begin().key(), item.begin().value());
            } else {
                return At(
                    p, names_ok ? "must be a name or one {name: default} item" : "must be one {name: value} item"
                );
            }
        }
        return out;
    }

    Result<TaskSpec> Task(const std::string& name, const Json& t) {
        const std::string path = "tasks." + name;
        TaskSpec task;
        task.name = name;
        task.line = Line(path);
        if (!std::regex_match(name, kTaskName)) return At(path, "task name must be letters, digits and _");
        if (kCommands.count(name)) return At(path, "\"" + name + "\" is an engine command and cannot name a task");
        if (t.is_null()) return task;  // a task that does nothing
        if (!t.is_object()) return At(path, "must be a mapping");
        static const std::set<std::string> kKeys = {"action", "input", "next", "join", "with", "retry", "delay"};
        for (const auto& [k, v] : t.items()) {
            if (!kKeys.count(k))
                return At(
                    path + "." + k, "unknown task field (allowed: action, input, next, join, with, retry, delay)"
                );
        }
        if (t.contains("input")) {
            const Json& in = t["input"];
            if (in.is_object()) {
                task.input = in;
            } else if (in.is_string() && IsWholeExpression(in.get<std::string>())) {
                task.input_expression = in.get<std::string>();
            } else if (in.is_string()) {
                auto pairs = ParseInlineParams(in.get<std::string>());
                if (!pairs) return At(path + ".input", pairs.error().message);
                for (auto& [k, v] : *pairs) task.input[k] = v;
            } else if (!in.is_null()) {
                return At(path + ".input", "must be a mapping of parameters");
            }
        }
        if (t.contains("action") && !t["action"].is_null()) {
            if (!t["action"].is_string()) return At(path + ".action", "must be an action ref");
            std::string a = t["action"].get<std::string>();
            // Short form `core.local cmd=<% ctx(cmd) %> timeout=10`.
            const size_t sp = a.find_first_of(" \t");
            if (sp != std::string::npos && a.rfind("<%", 0) != 0 && a.rfind("{{", 0) != 0) {
                auto pairs = ParseInlineParams(a.substr(sp + 1));
                if (!pairs) return At(path + ".action", pairs.error().message);
                for (auto& [k, v] : *pairs) task.input[k] = v;
                a = a.substr(0, sp);
            }
            task.action = a;
        }
        if (t.contains("join")) {
            const Json& j = t["join"];
            if (j.is_string() && j == "all") {
                task.join = -1;
            } else if (j.is_number_integer() && j.get<int>() > 0) {
                task.join = j.get<int>();
            } else {
                return At(path + ".join", "must be \"all\" or a positive integer");
            }
        }
        if (t.contains("with")) {
            const Json& w = t["with"];
            task.has_items = true;
            std::string items;
            if (w.is_string()) {
                items = w.get<std::string>();
            } else if (w.is_object() && w.contains("items") && w["items"].is_string()) {
                items = w["items"].get<std::string>();
                if (w.contains("concurrency")) task.concurrency = w["concurrency"];
                for (const auto& [k, v] : w.items()) {
                    if (k != "items" && k != "concurrency")
                        return At(path + ".with." + k, "unknown field (allowed: items, concurrency)");
                }
            } else {
                return At(path + ".with", "must be an items expression or {items, concurrency}");
            }
            static const std::regex kNamed("^\\s*(\\w+(?:\\s*,\\s*\\w+)*)\\s+in\\s+(.*)$");
            std::smatch m;
            if (std::regex_match(items, m, kNamed)) {
                std::string names = m[1];
                std::string rest = m[2];
                std::stringstream ss(names);
                std::string n;
                while (std::getline(ss, n, ',')) {
                    n.erase(0, n.find_first_not_of(" \t"));
                    n.erase(n.find_last_not_of(" \t") + 1);
                    task.item_names.push_back(n);
                }
                items = rest;
            }
            task.items = items;
        }
        if (t.contains("retry")) {
            const Json& r = t["retry"];
            if (!r.is_object() || !r.contains("count"))
                return At(path + ".retry", "must be {count, when, delay} with count");
            task.has_retry = true;
            task.retry_count = r["count"];
            if (r.contains("when")) {
                if (!r["when"].is_string()) return At(path + ".retry.when", "must be an expression");
                task.retry_when = r["when"];
            }
            if (r.contains("delay")) task.retry_delay = r["delay"];
        }
        if (t.contains("delay")) task.delay = t["delay"];
        if (t.contains("next") && !t["next"].is_null()) {
            const Json& next = t["next"];
            if (!next.is_array()) return At(path + ".next", "must be a list of transitions");
            for (size_t i = 0; i < next.size(); ++i) {
                const std::string tp = path + ".next[" + std::to_string(i) + "]";
                const Json& n = next[i];
                if (!n.is_object()) return At(tp, "must be a mapping with when, publish, do");
                Transition tr;
                tr.line = Line(tp);
                for (const auto& [k, v] : n.items()) {
                    if (k != "when" && k != "publish" && k != "do")
                        return At(tp + "." + k, "unknown field (allowed: when, publish, do)");
                }
                if (n.contains("when") && !n["when"].is_null()) {
                    if (!n["when"].is_string()) return At(tp + ".when", "must be an expression");
                    tr.when = n["when"];
                }
                if (n.contains("publish")) {
                    const Json& p = n["publish"];
                    if (p.is_string()) {
                        auto pairs = ParseInlineParams(p.get<std::string>());
                        if (!pairs) return At(tp + ".publish", pairs.error().message);
                        tr.publish = std::move(*pairs);
                    } else {
                        auto pairs = Pairs(p, tp + ".publish", false);
                        if (!pairs) return pairs.error();
                        tr.publish = std::move(*pairs);
                    }
                }
                if (n.contains("do")) {
                    const Json& d = n["do"];
                    std::vector<std::string> names;
                    if (d.is_string()) {
                        std::stringstream ss(d.get<std::string>());
                        std::string x;
                        while (std::getline(ss, x, ',')) names.push_back(x);
                    } else if (d.is_array()) {
                        for (size_t k = 0; k < d.size(); ++k) {
                            if (!d[k].is_string())
                                return At(tp + ".do[" + std::to_string(k) + "]", "must be a task name");
                            names.push_back(d[k]);
                        }
                    } else if (!d.is_null()) {
                        return At(tp + ".do", "must be a task name, a list of them or a comma-separated string");
                    }
                    for (auto& x : names) {
                        x.erase(0, x.find_first_not_of(" \t"));
                        x.erase(x.find_last_not_of(" \t") + 1);
                        if (!x.empty()) tr.targets.push_back(x);
                    }
                }
                task.next.push_back(std::move(tr));
            }
        }
        return task;
    }
};

void CollectStrings(const Json& v, std::vector<std::string>& out) {
    if (v.is_string()) {
        out.push_back(v.get<std::string>());
    } else if (v.is_array() || v.is_object()) {
        for (const auto& x : v) CollectStrings(x, out);
    }
}

/// Variables an expression reads from the context: ctx(name), ctx('name'), ctx().name, ctx()['name'],
/// `$.name` in YAQL and `_.name` in Jinja.
/// `text` with the contents of string literals blanked (quotes kept) and, for every character, the depth of
/// parentheses it is in: a `$.name` inside a literal (`"$.foo.bar"`, a JSONPath) or inside a call's arguments
/// (`select($.stdout)`, where `$` is the item) is not the workflow's context.
std::pair<std::string, std::vector<int>> Unquoted(const std::string& text) {
    std::string out = text;
    std::vector<int> depth(text.size(), 0);
    char quote = 0;
    int d = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        depth[i] = d;
        if (quote) {
            if (c == '\\' && i + 1 < text.size()) {
                out[i] = ' ';
                out[++i] = ' ';
                if (i < depth.size()) depth[i] = d;
            } else if (c == quote) {
                quote = 0;
            } else {
                out[i] = ' ';
            }
            continue;
        }
        if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '(') {
            ++d;
        } else if (c == ')' && d > 0) {
            --d;
        } else if (i + 1 < text.size() && ((c == '%' && text[i + 1] == '>') || (c == '}' && text[i + 1] == '}'))) {
            d = 0;  // an expression ends: parentheses never span two
        }
    }
    return {out, depth};
}

std::vector<std::string> ReadVariables(const std::string& text) {
    // ctx('name'), ctx().name, ctx()['name'] anywhere; `$.name` (YAQL) only outside calls, `_.name` (Jinja) anywhere,
    // neither inside string literals. A name followed by `(` is a method called on the context (`ctx().keys()`,
    // `ctx().get(k, 1)`, `$.len()`), not a variable: Orquesta's extraction skips it (`\b(?!\()`).
    static const std::regex kCtx(
        "ctx\\(\\s*['\"]?(\\w+)['\"]?\\s*\\)|ctx\\(\\s*\\)\\s*\\.\\s*(\\w+)\\b(?!\\s*\\()|"
        "ctx\\(\\s*\\)\\s*\\[\\s*['\"](\\w+)['\"]"
    );
    static const std::regex kShort("(?:^|[^\\w$\\)\\]])\\$\\.(\\w+)\\b(?!\\s*\\()|(?:^|[^\\w.])_\\.(\\w+)\\b(?!\\s*\\()"
    );
    std::vector<std::string> out;
    const bool has_expr = text.find("<%") != std::string::npos || text.find("{{") != std::string::npos ||
                          text.find("{%") != std::string::npos;
    if (!has_expr) return out;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), kCtx); it != std::sregex_iterator(); ++it) {
        for (size_t g = 1; g <= 3; ++g) {
            if ((*it)[g].matched) out.push_back((*it)[g].str());
        }
    }
    const auto [bare, depth] = Unquoted(text);
    for (auto it = std::sregex_iterator(bare.begin(), bare.end(), kShort); it != std::sregex_iterator(); ++it) {
        if ((*it)[1].matched) {
            const auto at = static_cast<size_t>((*it).position(1));
            if (at < depth.size() && depth[at] == 0) out.push_back((*it)[1].str());
        }
        if ((*it)[2].matched) out.push_back((*it)[2].str());
    }
    return out;
}

}  // namespace

bool IsEngineCommand(const std::string& name) {
    return kCommands.count(name) > 0;
}

const TaskSpec* WorkflowSpec::Find(const std::string& name) const {
    auto it = tasks.find(name);
    return it == tasks.end() ? nullptr : &it->second;
}

std::vector<std::string> WorkflowSpec::Inbound(const std::string& name) const {
    std::vector<std::string> out;
    for (const auto& n : order) {
        const TaskSpec& t = tasks.at(n);
        for (const auto& tr : t.next) {
            if (std::find(tr.targets.begin(), tr.targets.end(), name) != tr.targets.end() &&
                std::find(out.begin(), out.end(), n) == out.end()) {
                out.push_back(n);
            }
        }
    }
    return out;
}

std::vector<std::string> WorkflowSpec::StartTasks() const {
    // A task that only loops back to itself (a poll) still starts the workflow.
    std::set<std::string> targeted;
    for (const auto& [n, t] : tasks) {
        for (const auto& tr : t.next) {
            for (const auto& x : tr.targets) {
                if (x != n) targeted.insert(x);
            }
        }
    }
    std::vector<std::string> out;
    for (const auto& n : order) {
        if (!targeted.count(n)) out.push_back(n);
    }
    return out;
}

Result<std::vector<std::pair<std::string, Json>>> ParseInlineParams(const std::string& text) {
    std::vector<std::pair<std::string, Json>> out;
    size_t i = 0;
    const size_t n = text.size();
    while (i < n) {
        while (i < n && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
        if (i >= n) break;
        const size_t eq = text.find('=', i);
        if (eq == std::string::npos) return InvalidArgument("expected name=value at \"" + text.substr(i) + "\"");
        std::string key = text.substr(i, eq - i);
        if (!std::regex_match(key, kTaskName))
            return InvalidArgument("bad parameter name \"" + key + "\" in \"" + text + "\"");
        i = eq + 1;
        std::string value;
        int depth = 0;
        char quote = 0;
        while (i < n) {
            const char c = text[i];
            if (quote) {
                if (c == quote) quote = 0;
                value += c;
                ++i;
                continue;
            }
            if (depth == 0 && std::isspace(static_cast<unsigned char>(c))) break;
            if ((c == '<' && i + 1 < n && text[i + 1] == '%') || (c == '{' && i + 1 < n && text[i + 1] == '{')) {
                ++depth;
                value += text.substr(i, 2);
                i += 2;
                continue;
            }
            if (depth > 0 &&
                ((c == '%' && i + 1 < n && text[i + 1] == '>') || (c == '}' && i + 1 < n && text[i + 1] == '}'))) {
                --depth;
                value += text.substr(i, 2);
                i += 2;
                continue;
            }
            if ((c == '"' || c == '\'') && (depth > 0 || value.empty())) quote = c;
            value += c;
            ++i;
        }
        Json v = value;
        if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front()) {
            v = value.substr(1, value.size() - 2);
        } else {
            Result<Json> parsed = core::ParseJsonLimited(value, "value");
            if (parsed && !parsed->is_string()) v = std::move(*parsed);
        }
        out.emplace_back(std::move(key), std::move(v));
    }
    return out;
}

Result<WorkflowSpec> ParseWorkflow(const std::string& text, const std::string& file) {
    auto doc = core::ParseYaml(text, file);
    if (!doc) return doc.error();
    WorkflowSpec spec;
    spec.file = file;
    spec.doc = std::move(*doc);
    Parser p{spec.doc};
    const Json& root = spec.doc.value;
    if (!root.is_object()) return p.At("", "a workflow must be a mapping with version and tasks");
    static const std::set<std::string> kKeys = {"version", "description", "input", "vars", "output", "tasks"};
    for (const auto& [k, v] : root.items()) {
        if (!kKeys.count(k))
            return p.At(k, "unknown field (allowed: version, description, input, vars, output, tasks)");
    }
    if (!root.contains("version")) return p.At("", "version is required (1.0)");
    const Json& ver = root["version"];
    const bool v1 = (ver.is_number() && ver.get<double>() == 1.0) || (ver.is_string() && (ver == "1.0" || ver == "1"));
    if (!v1) return p.At("version", "unsupported version (only 1.0)");
    if (root.contains("input")) {
        auto in = p.Pairs(root["input"], "input", true);
        if (!in) return in.error();
        const Json& raw = root["input"];
        for (size_t i = 0; i < in->size(); ++i) {
            if (raw.is_array() && raw[i].is_string()) spec.required_input.push_back((*in)[i].first);
        }
        spec.input = std::move(*in);
    }
    if (root.contains("vars")) {
        auto v = p.Pairs(root["vars"], "vars", false);
        if (!v) return v.error();
        spec.vars = std::move(*v);
    }
    if (root.contains("output")) {
        auto v = p.Pairs(root["output"], "output", false);
        if (!v) return v.error();
        spec.output = std::move(*v);
    }
    if (!root.contains("tasks") || !root["tasks"].is_object() || root["tasks"].empty())
        return p.At("tasks", "tasks is required: a mapping of task name to task");
    for (const auto& [name, t] : root["tasks"].items()) {  // the file's order: Json objects keep it
        auto task = p.Task(name, t);
        if (!task) return task.error();
        spec.order.push_back(name);
        spec.tasks.emplace(name, std::move(*task));
    }
    return spec;
}

Result<WorkflowSpec> LoadWorkflowFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return NotFound("workflow file " + path + " cannot be read");
    std::stringstream ss;
    ss << in.rdbuf();
    return ParseWorkflow(ss.str(), path);
}

Json Problem::ToJson() const {
    Json j = {{"type", type}, {"message", message}, {"spec_path", path}, {"line", line}};
    if (!task.empty()) j["task"] = task;
    if (!language.empty()) j["language"] = language;
    if (!expression.empty()) j["expression"] = expression;
    return j;
}

Json Problem::ToResultError() const {
    Json j = {{"type", type}, {"message", what}};
    if (!path.empty()) j["spec_path"] = path;
    if (!language.empty()) j["language"] = language;
    if (!expression.empty()) j["expression"] = expression;
    return j;
}

std::vector<Problem> Inspect(const WorkflowSpec& spec) {
    std::vector<Problem> out;
    // Bad references in `do`.
    for (const auto& name : spec.order) {
        const TaskSpec& t = spec.tasks.at(name);
        for (size_t i = 0; i < t.next.size(); ++i) {
            for (const auto& target : t.next[i].targets) {
                if (IsEngineCommand(target) || spec.tasks.count(target)) continue;
                Problem p;
                p.type = "semantic";
                p.task = name;
                p.path = "tasks." + name + ".next[" + std::to_string(i) + "].do";
                p.line = t.next[i].line;
                p.what = "task \"" + name + "\" transitions to \"" + target +
                         "\", which is not a task of the workflow nor an engine command";
                p.message = spec.file + ":" + std::to_string(p.line) + ": " + p.what;
                out.push_back(std::move(p));
            }
        }
    }
    // Unreachable tasks: not reached from the start tasks.
    std::set<std::string> seen;
    std::vector<std::string> todo = spec.StartTasks();
    while (!todo.empty()) {
        std::string n = todo.back();
        todo.pop_back();
        if (!seen.insert(n).second) continue;
        for (const auto& tr : spec.tasks.at(n).next) {
            for (const auto& x : tr.targets) {
                if (spec.tasks.count(x) && !seen.count(x)) todo.push_back(x);
            }
        }
    }
    for (const auto& name : spec.order) {
        if (seen.count(name)) continue;
        Problem p;
        p.type = "semantic";
        p.task = name;
        p.path = "tasks." + name;
        p.line = spec.tasks.at(name).line;
        p.what = "task \"" + name + "\" is unreachable: no path leads to it from a task that starts the workflow";
        p.message = spec.file + ":" + std::to_string(p.line) + ": " + p.what;
        out.push_back(std::move(p));
    }
    // Variables read but defined nowhere (input, vars, publish).
    std::set<std::string> defined;
    for (const auto& [k, v] : spec.input) defined.insert(k);
    for (const auto& [k, v] : spec.vars) defined.insert(k);
    defined.insert("st2");
    for (const auto& [n, t] : spec.tasks) {
        for (const auto& tr : t.next) {
            for (const auto& [k, v] : tr.publish) defined.insert(k);
        }
    }
    const auto where = [&](const std::string& task, int line) {
        return spec.file + ":" + std::to_string(line) + ": " + (task.empty() ? "" : "task \"" + task + "\": ");
    };
    // Every expression must parse (Orquesta inspects them all before anything runs), whatever it reads.
    auto check_syntax = [&](const Json& value, const std::string& task, const std::string& path, int line) {
        std::vector<std::string> texts;
        CollectStrings(value, texts);
        for (const auto& text : texts) {
            // One text is YAQL or Jinja, not both: Orquesta's inspection refuses the mix (it fails at run time).
            if (core::HasYaql(text) && (text.find("{{") != std::string::npos || text.find("{%") != std::string::npos)) {
                Problem p;
                p.type = "expression";
                p.task = task;
                p.path = path;
                p.line = line;
                p.what = "Expression with multiple types is not supported.";  // Orquesta's words
                p.message = where(task, line) + "\"" + text + "\" mixes YAQL <% %> and Jinja {{ }} (" + path + ")";
                p.expression = text;
                out.push_back(std::move(p));
                continue;
            }
            for (auto& e : ExpressionErrors(text)) {
                Problem p;
                p.type = "expression";
                p.task = task;
                p.path = path;
                p.line = line;
                p.language = e.language;
                p.what = e.language == "yaql"
                             ? e.message
                             : "jinja expression \"" + e.expression + "\" does not parse: " + e.message;
                p.message = where(task, line) + p.what;
                p.expression = std::move(e.expression);
                out.push_back(std::move(p));
            }
        }
    };
    auto check = [&](const Json& value, const std::string& task, const std::string& path, int line) {
        check_syntax(value, task, path, line);
        std::vector<std::string> texts;
        CollectStrings(value, texts);
        for (const auto& text : texts) {
            for (const auto& var : ReadVariables(text)) {
                if (defined.count(var)) continue;
                Problem p;
                p.type = "context";
                p.task = task;
                p.path = path;
                p.line = line;
                p.message = where(task, line) + "variable \"" + var + "\" is referenced in \"" + text +
                            "\" but no input, var or publish defines it";
                p.what = "Variable \"" + var + "\" is referenced before assignment.";  // Orquesta's words
                out.push_back(std::move(p));
            }
        }
    };
    const auto line_of = [&](const std::string& path, int fallback) {
        return spec.doc.marks.count(path) ? spec.doc.At(path).line : fallback;
    };
    // Input defaults may read the inputs before them: only their syntax is checked.
    for (const auto& [k, v] : spec.input) check_syntax(v, "", "input." + k, line_of("input", 0));
    for (const auto& [k, v] : spec.vars) check(v, "", "vars." + k, spec.doc.At("vars").line);
    for (const auto& name : spec.order) {
        const TaskSpec& t = spec.tasks.at(name);
        const std::string base = "tasks." + name;
        check(t.action, name, base + ".action", t.line);
        check(t.concurrency, name, base + ".with.concurrency", line_of(base + ".with.concurrency", t.line));
        check(t.delay, name, base + ".delay", line_of(base + ".delay", t.line));
        if (t.has_retry) {
            check(t.retry_count, name, base + ".retry.count", line_of(base + ".retry.count", t.line));
            check(t.retry_delay, name, base + ".retry.delay", line_of(base + ".retry.delay", t.line));
        }
        if (!t.input_expression.empty())
            check(Json(t.input_expression), name, base + ".input", line_of(base + ".input", t.line));
        for (const auto& [k, v] : t.input.items()) {
            const std::string kp = base + ".input." + k;
            const int line = spec.doc.marks.count(kp) ? spec.doc.At(kp).line : spec.doc.At(base + ".action").line;
            check(v, name, kp, line);
        }
        if (t.has_items) check(t.items, name, base + ".with", spec.doc.At(base + ".with").line);
        if (t.has_retry) check(t.retry_when, name, base + ".retry", spec.doc.At(base + ".retry").line);
        for (size_t i = 0; i < t.next.size(); ++i) {
            const std::string tp = base + ".next[" + std::to_string(i) + "]";
            check(t.next[i].when, name, tp + ".when", line_of(tp + ".when", t.next[i].line));
            for (const auto& [k, v] : t.next[i].publish) check(v, name, tp + ".publish", t.next[i].line);
        }
    }
    // Output entries render in order, each seeing the ones before it (as Orquesta renders them).
    for (const auto& [k, v] : spec.output) {
        check(v, "", "output." + k, spec.doc.At("output").line);
        defined.insert(k);
    }
    return out;
}

std::vector<Problem> InspectTaskContents(const WorkflowSpec& spec, const ActionSchemaLookup& schema_of) {
    std::vector<Problem> out;
    const auto add = [&](const std::string& task, const std::string& path, std::string message) {
        Problem p;
        p.type = "content";
        p.task = task;
        p.path = path;
        p.line = spec.doc.marks.count(path) ? spec.doc.At(path).line : spec.tasks.at(task).line;
        p.what = message;
        p.message = std::move(message);
        out.push_back(std::move(p));
    };
    // In the order StackStorm walks them (the task mapping's, by name), with its messages.
    for (const auto& [name, t] : spec.tasks) {
        const std::string& ref = t.action;
        const std::string base = "tasks." + name;
        const bool expression =
            core::HasYaql(ref) || ref.find("{{") != std::string::npos || ref.find("{%") != std::string::npos;
        if (ref.empty() || expression) continue;
        const size_t dot = ref.find('.');
        const bool input_known = t.input_expression.empty();  // an input expression's keys are known when it renders
        if (dot == std::string::npos || dot == 0 || dot + 1 == ref.size()) {
            add(name, base + ".action", "The action reference \"" + ref + "\" is not formatted correctly.");
            continue;
        }
        const std::optional<Json> schema = schema_of(ref);
        if (!schema) {
            add(name, base + ".action", "The action \"" + ref + "\" is not registered in the database.");
            continue;
        }
        if (!schema->is_object()) continue;
        std::set<std::string> missing;  // sorted, as st2 sorts them
        for (const auto& [param, meta] : schema->items()) {
            if (input_known && meta.is_object() && core::BoolOr(meta, "required", false) && !meta.contains("default") &&
                !t.input.contains(param))
                missing.insert(param);
        }
        for (const auto& param : missing)
            add(name, base + ".input", "Action \"" + ref + "\" is missing required input \"" + param + "\".");
        std::set<std::string> unexpected;
        for (const auto& [param, value] : t.input.items()) {
            if (!schema->contains(param)) unexpected.insert(param);
        }
        for (const auto& param : unexpected)
            add(name, base + ".input." + param, "Action \"" + ref + "\" has unexpected input \"" + param + "\".");
    }
    return out;
}

std::vector<Problem> InspectText(const std::string& text, const std::string& file) {
    auto spec = ParseWorkflow(text, file);
    if (!spec) {
        Problem p;
        p.type = "syntax";
        p.message = spec.error().message;
        p.what = p.message;
        return {p};
    }
    return Inspect(*spec);
}

}  // namespace squall::workflows
