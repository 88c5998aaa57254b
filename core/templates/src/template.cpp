// The Jinja-compatible template engine's public API (squall/templates/template.hpp): compile (lexer → parser → name
// check against the builtin table), cache, render. Rendering never throws: errors are collected in the evaluator
// and returned as Result values.
#include "squall/templates/template.hpp"

#include <algorithm>
#include <mutex>
#include <unordered_map>

#include "evaluator.hpp"
#include "lexer.hpp"
#include "parser.hpp"

namespace squall::core {

using namespace templates;  // NOLINT(google-build-using-namespace): the engine's internals

namespace {

template <typename Map>
bool CheckName(const Map& names, const char* kind, const Expr& e, CompileError* err) {
    if (names.count(e.name)) return true;
    std::string what = std::string("unknown ") + kind + " \"" + e.name + "\"";
    const std::string close = ClosestOf(names, e.name);
    if (!close.empty()) what += " (did you mean \"" + close + "\"?)";
    *err = {e.pos, std::move(what)};
    return false;
}

bool CheckNames(const Expr& e, CompileError* err) {
    if (e.kind == Ek::kFilter && !CheckName(Builtins().filters, "filter", e, err)) return false;
    if (e.kind == Ek::kTest && !CheckName(Builtins().tests, "test", e, err)) return false;
    for (const auto& a : e.args) {
        if (a && !CheckNames(*a, err)) return false;
    }
    for (const auto& [k, a] : e.kwargs) {
        if (!CheckNames(*a, err)) return false;
    }
    return true;
}

bool CheckBody(const Body& body, CompileError* err) {
    for (const Stmt& s : body) {
        if (s.expr && !CheckNames(*s.expr, err)) return false;
        if (s.cond && !CheckNames(*s.cond, err)) return false;
        for (const auto& v : s.values) {
            if (v && !CheckNames(*v, err)) return false;
        }
        for (const auto& [c, b] : s.branches) {
            if (!CheckNames(*c, err) || !CheckBody(b, err)) return false;
        }
        if (!CheckBody(s.body, err) || !CheckBody(s.else_body, err)) return false;
    }
    return true;
}

bool IsBlank(const Stmt& s) {
    return s.kind == Sk::kData && std::all_of(s.text.begin(), s.text.end(), IsSpace);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Template.

Template::Template(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Template::~Template() = default;

Result<std::shared_ptr<const Template>> Template::Compile(std::string_view text, bool stackstorm_whitespace) {
    auto impl = std::make_unique<Impl>();
    impl->source = std::string(text);
    // Jinja2 normalises newlines to "\n" and drops one trailing newline (keep_trailing_newline=False).
    std::string src;
    src.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\r') {
            src += '\n';
            if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
        } else {
            src += text[i];
        }
    }
    if (!src.empty() && src.back() == '\n') src.pop_back();
    std::vector<Token> toks;
    CompileError err;
    Lexer lexer(src, stackstorm_whitespace, stackstorm_whitespace);
    if (!lexer.Run(&toks, &err)) return InvalidArgument(ErrorText(impl->source, err.pos, err.what));
    if (!Parse(std::move(toks), &impl->body, &err) || !CheckBody(impl->body, &err))
        return InvalidArgument(ErrorText(impl->source, err.pos, err.what));
    const Stmt* only = nullptr;
    bool single = true;
    for (const Stmt& s : impl->body) {
        if (IsBlank(s)) continue;
        if (s.kind != Sk::kOutput || only) {
            single = false;
            break;
        }
        only = &s;
    }
    if (single && only) impl->single = only->expr.get();
    return std::make_shared<const Template>(std::move(impl));
}

Result<std::shared_ptr<const Template>> Template::Cached(std::string_view text, bool stackstorm_whitespace) {
    // The one process-wide cache (immutable values; guarded map). Bounded: cleared when full, which is cheap
    // because templates come from a bounded set of rules and actions.
    constexpr size_t kMaxEntries = 4096;
    static std::mutex mu;  // NOLINT(cppcoreguidelines-avoid-non-const-global-variables)
    static std::unordered_map<std::string, TemplatePtr>
        cache;  // NOLINT(cppcoreguidelines-avoid-non-const-global-variables)
    std::string key(1, stackstorm_whitespace ? 's' : 'j');
    key += text;
    {
        std::lock_guard<std::mutex> lock(mu);
        auto it = cache.find(key);
        if (it != cache.end()) return it->second;
    }
    Result<TemplatePtr> compiled = Compile(text, stackstorm_whitespace);
    if (!compiled) return compiled;
    std::lock_guard<std::mutex> lock(mu);
    if (cache.size() >= kMaxEntries) cache.clear();
    cache.emplace(key, *compiled);
    return compiled;
}

bool Template::IsSingleExpression() const {
    return impl_->single != nullptr;
}

Result<std::string> Template::RenderText(const Json& context, const RenderOptions& options) const {
    Evaluator ev(*impl_, context, options);
    std::string out;
    if (!ev.Exec(impl_->body, out)) return *ev.error;
    return out;
}

Result<Json> Template::Render(const Json& context, const RenderOptions& options) const {
    if (!impl_->single) {
        Result<std::string> r = RenderText(context, options);
        if (!r) return r.error();
        return Json(std::move(*r));
    }
    Evaluator ev(*impl_, context, options);
    Value v = ev.Eval(*impl_->single);
    if (ev.error) return *ev.error;
    if (options.strict_undefined && v.kind == Value::Kind::kUndefined) {
        ev.FailUndefined(*impl_->single, v);
        return *ev.error;
    }
    if (!v.IsJson()) return Json("");
    // Tuples and undefined values kept in lists leave as JSON does them: lists and nulls (a built value only;
    // the context holds none).
    if (!v.ref && (v.own.is_object() || v.own.is_array()) && HasSpecial(v.own)) return Plain(v.own);
    return std::move(v).Take();
}

namespace {
bool HasMarkup(std::string_view s) {
    return s.find("{{") != std::string_view::npos || s.find("{%") != std::string_view::npos ||
           s.find("{#") != std::string_view::npos;
}
}  // namespace

Result<std::string> RenderString(std::string_view text, const Json& context, const RenderOptions& options) {
    if (!HasMarkup(text)) return std::string(text);
    Result<TemplatePtr> t = Template::Cached(text, options.stackstorm_whitespace);
    if (!t) return t.error();
    return (*t)->RenderText(context, options);
}

Result<Json> RenderValue(const Json& value, const Json& context, const RenderOptions& options) {
    if (value.is_string()) {
        const std::string& s = value.get_ref<const std::string&>();
        if (!HasMarkup(s)) return value;
        Result<TemplatePtr> t = Template::Cached(s, options.stackstorm_whitespace);
        if (!t) return t.error();
        return (*t)->Render(context, options);
    }
    if (value.is_object()) {
        Json out = Json::object();
        for (auto it = value.begin(); it != value.end(); ++it) {
            Result<Json> r = RenderValue(*it, context, options);
            if (!r) return r.error();
            out[it.key()] = std::move(*r);
        }
        return out;
    }
    if (value.is_array()) {
        Json out = Json::array();
        for (const auto& v : value) {
            Result<Json> r = RenderValue(v, context, options);
            if (!r) return r.error();
            out.push_back(std::move(*r));
        }
        return out;
    }
    return value;
}

namespace {

void CollectSyntaxErrors(
    const Json& value, const std::string& path, bool ws, std::vector<std::pair<std::string, Error>>& out
) {
    if (value.is_string()) {
        const std::string& s = value.get_ref<const std::string&>();
        if (!HasMarkup(s)) return;
        Result<TemplatePtr> t = Template::Cached(s, ws);
        if (!t) out.emplace_back(path, t.error());
    } else if (value.is_object()) {
        for (auto it = value.begin(); it != value.end(); ++it)
            CollectSyntaxErrors(*it, path.empty() ? it.key() : path + "." + it.key(), ws, out);
    } else if (value.is_array()) {
        for (size_t i = 0; i < value.size(); ++i)
            CollectSyntaxErrors(value[i], path + "[" + std::to_string(i) + "]", ws, out);
    }
}

}  // namespace

std::vector<std::pair<std::string, Error>> TemplateSyntaxErrors(
    const Json& value, const std::string& path, bool stackstorm_whitespace
) {
    std::vector<std::pair<std::string, Error>> out;
    CollectSyntaxErrors(value, path, stackstorm_whitespace, out);
    return out;
}

std::string PythonLower(std::string_view s) {
    std::string out(s);
    bool ascii = true;
    for (char& c : out) {
        if (static_cast<unsigned char>(c) >= 0x80) {
            ascii = false;
            break;
        }
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    if (ascii) return out;
    return PyLower(std::string(s));
}

}  // namespace squall::core