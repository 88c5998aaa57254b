#include "squall/core/template.hpp"

#include <cctype>

namespace squall::core {
namespace {

std::string Trim(std::string_view s) {
    size_t a = 0;
    size_t b = s.size();
    while (a < b && std::isspace(static_cast<unsigned char>(s[a])))
        ++a;
    while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1])))
        --b;
    return std::string(s.substr(a, b - a));
}

// Parses one path into steps; returns false on a syntax error.
bool ParsePath(std::string_view path, std::vector<std::string>* steps, std::vector<bool>* is_index) {
    size_t i = 0;
    auto ident = [&](std::string* out) {
        const size_t start = i;
        while (i < path.size() &&
               (std::isalnum(static_cast<unsigned char>(path[i])) || path[i] == '_' || path[i] == '-')) {
            ++i;
        }
        *out = std::string(path.substr(start, i - start));
        return !out->empty();
    };
    std::string name;
    if (!ident(&name))
        return false;
    steps->push_back(name);
    is_index->push_back(false);
    while (i < path.size()) {
        if (path[i] == '.') {
            ++i;
            if (!ident(&name))
                return false;
            steps->push_back(name);
            is_index->push_back(false);
        } else if (path[i] == '[') {
            ++i;
            if (i < path.size() && (path[i] == '\'' || path[i] == '"')) {
                const char q = path[i++];
                const size_t end = path.find(q, i);
                if (end == std::string_view::npos)
                    return false;
                steps->emplace_back(path.substr(i, end - i));
                is_index->push_back(false);
                i = end + 1;
            } else {
                const size_t start = i;
                while (i < path.size() && std::isdigit(static_cast<unsigned char>(path[i])))
                    ++i;
                if (i == start)
                    return false;
                steps->emplace_back(path.substr(start, i - start));
                is_index->push_back(true);
            }
            if (i >= path.size() || path[i] != ']')
                return false;
            ++i;
        } else {
            return false;
        }
    }
    return true;
}

const Json* Walk(
    const Json& root, const std::vector<std::string>& steps, const std::vector<bool>& is_index, size_t* failed_at
) {
    const Json* cur = &root;
    for (size_t s = 0; s < steps.size(); ++s) {
        if (cur->is_object()) {
            auto it = cur->find(steps[s]);
            if (it == cur->end()) {
                *failed_at = s;
                return nullptr;
            }
            cur = &*it;
        } else if (cur->is_array() && (is_index[s] || std::isdigit(static_cast<unsigned char>(steps[s][0])))) {
            const size_t idx = std::stoul(steps[s]);
            if (idx >= cur->size()) {
                *failed_at = s;
                return nullptr;
            }
            cur = &(*cur)[idx];
        } else {
            *failed_at = s;
            return nullptr;
        }
    }
    return cur;
}

std::string PyQuote(const std::string& s) {
    // Python repr() of a str: single quotes unless the text has a single quote and no double quote.
    const bool use_double = s.find('\'') != std::string::npos && s.find('"') == std::string::npos;
    const char q = use_double ? '"' : '\'';
    std::string out(1, q);
    for (char c : s) {
        if (c == q || c == '\\') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c == '\r') {
            out += "\\r";
        } else {
            out += c;
        }
    }
    out += q;
    return out;
}

std::string PyRepr(const Json& v) {
    if (v.is_string())
        return PyQuote(v.get<std::string>());
    return PythonStr(v);
}

}  // namespace

std::string PythonStr(const Json& v) {
    switch (v.type()) {
        case Json::value_t::null:
            return "None";
        case Json::value_t::boolean:
            return v.get<bool>() ? "True" : "False";
        case Json::value_t::string:
            return v.get<std::string>();
        case Json::value_t::number_float: {
            // Python prints the shortest round-trip repr, as JSON does; it adds ".0" to integral floats.
            std::string s = v.dump();
            if (s.find_first_of(".eE") == std::string::npos && s != "inf" && s != "-inf" && s != "nan")
                s += ".0";
            return s;
        }
        case Json::value_t::array: {
            std::string out = "[";
            for (size_t i = 0; i < v.size(); ++i)
                out += (i ? ", " : "") + PyRepr(v[i]);
            return out + "]";
        }
        case Json::value_t::object: {
            std::string out = "{";
            bool first = true;
            for (const auto& [k, val] : v.items()) {
                out += (first ? "" : ", ") + PyQuote(k) + ": " + PyRepr(val);
                first = false;
            }
            return out + "}";
        }
        default:
            return v.dump();
    }
}

const Json* LookupPath(const Json& root, std::string_view path) {
    std::vector<std::string> steps;
    std::vector<bool> is_index;
    if (!ParsePath(path, &steps, &is_index))
        return nullptr;
    size_t failed = 0;
    return Walk(root, steps, is_index, &failed);
}

namespace {

Result<Json> Evaluate(std::string_view text, size_t expr_start, size_t expr_end, const Json& context) {
    const std::string expr = Trim(text.substr(expr_start, expr_end - expr_start));
    std::vector<std::string> steps;
    std::vector<bool> is_index;
    auto fail = [&](const std::string& what) -> Error {
        return InvalidArgument(
            "template error at column " + std::to_string(expr_start - 1) + ": " + what + " in \"" + std::string(text) +
            "\""
        );
    };
    if (!ParsePath(expr, &steps, &is_index))
        return fail("unsupported expression \"" + expr + "\"");
    size_t failed = 0;
    const Json* v = Walk(context, steps, is_index, &failed);
    if (!v) {
        std::string shown = steps[0];
        for (size_t i = 1; i <= failed && i < steps.size(); ++i)
            shown += "." + steps[i];
        return fail("'" + shown + "' is undefined");
    }
    return *v;
}

}  // namespace

Result<std::string> RenderString(std::string_view text, const Json& context) {
    std::string out;
    size_t pos = 0;
    while (true) {
        const size_t open = text.find("{{", pos);
        if (open == std::string_view::npos) {
            out.append(text.substr(pos));
            return out;
        }
        const size_t close = text.find("}}", open + 2);
        if (close == std::string_view::npos) {
            return InvalidArgument(
                "template error at column " + std::to_string(open + 1) + ": unclosed \"{{\" in \"" + std::string(text) +
                "\""
            );
        }
        out.append(text.substr(pos, open - pos));
        Result<Json> v = Evaluate(text, open + 2, close, context);
        if (!v)
            return v.error();
        out += PythonStr(*v);
        pos = close + 2;
    }
}

Result<Json> RenderValue(const Json& value, const Json& context) {
    if (value.is_string()) {
        const std::string& s = value.get_ref<const std::string&>();
        if (s.find("{{") == std::string::npos)
            return value;
        const std::string trimmed = Trim(s);
        // Exactly one expression: keep the JSON type.
        if (trimmed.rfind("{{", 0) == 0 && trimmed.size() >= 4 && trimmed.compare(trimmed.size() - 2, 2, "}}") == 0 &&
            trimmed.find("{{", 2) == std::string::npos) {
            const size_t offset = s.find("{{");
            return Evaluate(s, offset + 2, offset + trimmed.size() - 2, context);
        }
        Result<std::string> r = RenderString(s, context);
        if (!r)
            return r.error();
        return Json(*r);
    }
    if (value.is_object()) {
        Json out = Json::object();
        for (const auto& [k, v] : value.items()) {
            Result<Json> r = RenderValue(v, context);
            if (!r)
                return r.error();
            out[k] = std::move(*r);
        }
        return out;
    }
    if (value.is_array()) {
        Json out = Json::array();
        for (const auto& v : value) {
            Result<Json> r = RenderValue(v, context);
            if (!r)
                return r.error();
            out.push_back(std::move(*r));
        }
        return out;
    }
    return value;
}

}  // namespace squall::core
