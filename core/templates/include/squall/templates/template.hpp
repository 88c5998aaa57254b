#pragma once

// The template engine's public API (library squall::templates, core/templates/). The names stay in
// squall::core, where they were before the engine became its own library.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "squall/core/error.hpp"
#include "squall/core/kv_lookup.hpp"
#include "squall/core/model/model.hpp"

namespace squall::core {

/// A global function added for one render (Orquesta's `ctx()`, `task()`, `result()`): called with the evaluated
/// positional and keyword arguments (an undefined argument is null). An error fails the render, naming the call.
using TemplateFunction =
    std::function<Result<Json>(const std::vector<Json>& args, const std::vector<std::pair<std::string, Json>>& kwargs)>;
/// Extra global functions by name; they take precedence over the builtin ones (range, dict, namespace).
using TemplateFunctions = std::map<std::string, TemplateFunction, std::less<>>;

/// Per-render options. Pointers are borrowed for the duration of the render only.
struct RenderOptions {
    /// Datastore for `st2kv.*`; null → `st2kv` is undefined unless the context has it.
    const KeyValueLookup* kv = nullptr;
    /// A bare `system` (not in the context) is `st2kv.system`, as in StackStorm's action-chain templates
    /// (`{{ system.key }}`, the datastore's old name).
    bool kv_system_alias = false;
    /// Printing (or returning) an undefined value is an error naming it, as with Jinja's StrictUndefined;
    /// `default` and `is defined` still work. Criteria patterns render this way: a typo must not match.
    bool strict_undefined = false;
    /// StackStorm's environment for action parameters: Jinja's `trim_blocks` (the newline after a block or
    /// comment tag is removed) and `lstrip_blocks` (spaces and tabs before one on its line are removed).
    bool stackstorm_whitespace = false;
    /// Extra global functions for this render; null → only the builtin ones.
    const TemplateFunctions* functions = nullptr;
    /// The render's budget of work: one step per expression evaluated, 20 per loop iteration (it builds
    /// `loop`), and one per 64 bytes of the strings and lists built or copied. Past it the render fails with `exceeded
    /// the render budget of N steps`, so that a template cannot hold a thread for minutes (a rule's parameters are
    /// rendered per event).
    uint64_t max_steps = 10'000'000;
    /// The render's budget of memory: the bytes of the output and of the strings and lists built along the way,
    /// counted together. Past it the render fails with `exceeded the render budget of N MiB`.
    uint64_t max_bytes = uint64_t{64} << 20;
};

/// A compiled Jinja-compatible template (SPEC §5): `{{ expr }}`, `{% if/elif/else %}`, `{% for %}` with `loop.*`
/// and `else`, `{% set %}`, comments, `{% raw %}`, whitespace control, filters and tests. Behaves as Python's
/// Jinja2 with the default `Undefined`: an undefined value prints empty and is falsy; an attribute of an
/// undefined value is an error naming it. Values print as Python's str() does.
/// Immutable after Compile and safe to render from many threads at once. Rendering never throws.
class Template {
public:
    struct Impl;

    /// Parses `text`. Errors read `template error at column N: <what> in "<text>"`. `stackstorm_whitespace`: as
    /// RenderOptions::stackstorm_whitespace.
    static Result<std::shared_ptr<const Template>> Compile(std::string_view text, bool stackstorm_whitespace = false);
    /// Compile through a bounded process-wide cache keyed by the text (thread-safe).
    static Result<std::shared_ptr<const Template>> Cached(std::string_view text, bool stackstorm_whitespace = false);

    explicit Template(std::unique_ptr<Impl> impl);
    ~Template();
    Template(const Template&) = delete;
    Template& operator=(const Template&) = delete;

    /// Renders to text, as Jinja2's `Template.render` does.
    Result<std::string> RenderText(const Json& context, const RenderOptions& options = {}) const;
    /// Renders keeping the JSON type when the template is exactly one `{{ expr }}` (surrounding whitespace
    /// allowed); otherwise the rendered text as a JSON string. An undefined single expression gives "".
    Result<Json> Render(const Json& context, const RenderOptions& options = {}) const;
    /// True when the template is exactly one `{{ expr }}`.
    bool IsSingleExpression() const;

private:
    std::unique_ptr<Impl> impl_;
};

using TemplatePtr = std::shared_ptr<const Template>;

/// Renders `text` (compiled through Template::Cached) over a JSON context such as {"trigger": payload}.
/// Thread-safe.
Result<std::string> RenderString(std::string_view text, const Json& context, const RenderOptions& options = {});

/// Renders every string inside `value` (recursively through objects and arrays); other values are kept. A string
/// that is exactly one `{{ expr }}` keeps the JSON type of the value; strings without template markup are kept
/// as they are. Thread-safe.
Result<Json> RenderValue(const Json& value, const Json& context, const RenderOptions& options = {});

/// Compiles every template inside `value` (each string with `{{`/`{%` markup, at any depth, as RenderValue would)
/// without rendering, so that a syntax error is found when content loads instead of at every render. Returns one
/// (path, error) per template that does not parse; the path extends `path` as YAML marks do ("a.b", "a[0]").
std::vector<std::pair<std::string, Error>> TemplateSyntaxErrors(
    const Json& value, const std::string& path, bool stackstorm_whitespace = true
);

/// Looks up a dotted path like `trigger.body.ref` or `trigger.commits[0]['id']` (used by criteria keys);
/// returns nullptr when any step is missing.
const Json* LookupPath(const Json& root, std::string_view path);

/// Python's str.lower() for ASCII, Latin-1, Greek and basic Cyrillic (other scripts are kept); ASCII text takes a
/// fast path. What `lower`, `iequals`, `icontains`... compare.
std::string PythonLower(std::string_view s);

/// Python str() of a JSON value, as Jinja prints it (True, None, ['a', 1], {'k': 1.0}).
std::string PythonStr(const Json& v);

}  // namespace squall::core
