#include "squall/core/yaml_json.hpp"

#include <fstream>
#include <regex>
#include <sstream>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace squall::core {
namespace {

Json Scalar(const YAML::Node& node) {
    const std::string& s = node.Scalar();
    if (node.Tag() == "!") return s;  // quoted
    static const std::regex kInt("^[-+]?(0|[1-9][0-9_]*)$");
    static const std::regex kFloat(
        "^[-+]?([0-9][0-9_]*)?\\.[0-9_]*([eE][-+]?[0-9]+)?$|^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$"
    );
    if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
    if (s == "true" || s == "True" || s == "TRUE" || s == "yes" || s == "Yes" || s == "YES" || s == "on" || s == "On" ||
        s == "ON") {
        return true;
    }
    if (s == "false" || s == "False" || s == "FALSE" || s == "no" || s == "No" || s == "NO" || s == "off" ||
        s == "Off" || s == "OFF") {
        return false;
    }
    if (std::regex_match(s, kInt)) {
        std::string digits;
        for (char c : s) {
            if (c != '_') digits += c;
        }
        try {
            return std::stoll(digits);
        } catch (const std::exception&) {
            return s;
        }
    }
    if (s != "." && std::regex_match(s, kFloat)) {
        try {
            return std::stod(s);
        } catch (const std::exception&) {
            return s;
        }
    }
    if (s == ".inf" || s == ".Inf" || s == "+.inf") return std::numeric_limits<double>::infinity();
    if (s == "-.inf" || s == "-.Inf") return -std::numeric_limits<double>::infinity();
    return s;
}

/// yaml-cpp reads a quoted scalar whose closing quote is missing to the end of the file, where PyYAML (and so
/// StackStorm) rejects the file; this finds the closing quote of the scalar that opens at `pos` in `text`.
bool QuoteCloses(const std::string& text, size_t pos) {
    if (pos >= text.size() || (text[pos] != '"' && text[pos] != '\'')) return true;  // not at a quote: no opinion
    const char q = text[pos];
    for (size_t i = pos + 1; i < text.size(); ++i) {
        if (q == '"' && text[i] == '\\') {
            ++i;
        } else if (text[i] == q) {
            if (q == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
                ++i;  // '' is an escaped quote
                continue;
            }
            return true;
        }
    }
    return false;
}

Json Convert(const YAML::Node& node, const std::string& path, YamlDocument& doc, const std::string& text) {
    doc.marks[path] = Location{doc.file, node.Mark().line + 1, node.Mark().column + 1};
    switch (node.Type()) {
        case YAML::NodeType::Null:
        case YAML::NodeType::Undefined:
            return nullptr;
        case YAML::NodeType::Scalar:
            if (node.Tag() == "!" && node.Mark().pos >= 0 && !QuoteCloses(text, static_cast<size_t>(node.Mark().pos)))
                throw YAML::ParserException(node.Mark(), "end of file inside a quoted string (missing closing quote)");
            return Scalar(node);
        case YAML::NodeType::Sequence: {
            Json arr = Json::array();
            size_t i = 0;
            for (const auto& item : node) {
                arr.push_back(Convert(item, path + "[" + std::to_string(i) + "]", doc, text));
                ++i;
            }
            return arr;
        }
        case YAML::NodeType::Map: {
            Json obj = Json::object();
            for (const auto& kv : node) {
                const std::string key = kv.first.Scalar();
                const std::string child = path.empty() ? key : path + "." + key;
                doc.marks[child] = Location{doc.file, kv.first.Mark().line + 1, kv.first.Mark().column + 1};
                Json value = Convert(kv.second, child, doc, text);
                // Keep the key's position for the field itself (more useful than the value's).
                doc.marks[child] = Location{doc.file, kv.first.Mark().line + 1, kv.first.Mark().column + 1};
                doc.marks[child + "="] = Location{doc.file, kv.second.Mark().line + 1, kv.second.Mark().column + 1};
                obj[key] = std::move(value);
            }
            return obj;
        }
    }
    return nullptr;
}

}  // namespace

Location YamlDocument::At(const std::string& path) const {
    std::string p = path;
    while (true) {
        auto it = marks.find(p);
        if (it != marks.end()) return it->second;
        const size_t cut = p.find_last_of(".[");
        if (cut == std::string::npos || p.empty()) break;
        p = p.substr(0, cut);
    }
    // A missing top-level key: the document itself (its first line) is where it is missing.
    return Location{file, 1, 1};
}

Error YamlDocument::ErrorAt(const std::string& path, const std::string& message) const {
    Error e = InvalidArgument(path.empty() ? message : path + ": " + message);
    e.location = At(path);
    return e;
}

Result<YamlDocument> ParseYaml(const std::string& text, const std::string& file) {
    YamlDocument doc;
    doc.file = file;
    try {
        const std::vector<YAML::Node> docs = YAML::LoadAll(text);
        if (docs.size() > 1) {
            // PyYAML's safe_load: "expected a single document in the stream".
            throw YAML::ParserException(docs[1].Mark(), "a second YAML document (a file holds one)");
        }
        doc.value = docs.empty() ? Json(nullptr) : Convert(docs[0], "", doc, text);
    } catch (const YAML::Exception& e) {
        Error err = InvalidArgument("invalid YAML: " + e.msg);
        err.location = Location{file, e.mark.line + 1, e.mark.column + 1};
        return err;
    }
    return doc;
}

Result<YamlDocument> LoadYamlFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        Error err = InvalidArgument("cannot read file");
        err.location = Location{path, 0, 0};
        return err;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    return ParseYaml(ss.str(), path);
}

}  // namespace squall::core
