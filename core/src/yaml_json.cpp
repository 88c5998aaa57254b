#include "squall/core/yaml_json.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>
#include <string_view>
#include <vector>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "squall/core/input.hpp"

namespace squall::core {
namespace {

/// PyYAML's int: `[-+]?(0|[1-9][0-9_]*)`. Hand-written: std::regex recurses per character and a scalar of
/// 200,000 digits overflowed the stack.
bool LooksInt(std::string_view s) {
    size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
    if (i >= s.size()) return false;
    if (s[i] == '0') return i + 1 == s.size();
    if (s[i] < '1' || s[i] > '9') return false;
    for (++i; i < s.size(); ++i) {
        if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '_')) return false;
    }
    return true;
}

/// PyYAML's float (without inf/nan): `[-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+]?[0-9]+)?` or
/// `[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+`.
bool LooksFloat(std::string_view s) {
    size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
    auto digit = [&](size_t k) { return k < s.size() && s[k] >= '0' && s[k] <= '9'; };
    const size_t int_start = i;
    if (digit(i)) {
        for (++i; i < s.size() && (digit(i) || s[i] == '_');) ++i;
    }
    const bool has_int = i > int_start;
    bool has_dot = false;
    if (i < s.size() && s[i] == '.') {
        has_dot = true;
        for (++i; i < s.size() && (digit(i) || s[i] == '_');) ++i;
    }
    if (!has_dot && !has_int) return false;
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
        if (!digit(i)) return false;
        while (digit(i)) ++i;
        return i == s.size();
    }
    return has_dot && i == s.size();
}

Json Scalar(const YAML::Node& node) {
    const std::string& s = node.Scalar();
    if (node.Tag() == "!") return s;  // quoted
    if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
    if (s == "true" || s == "True" || s == "TRUE" || s == "yes" || s == "Yes" || s == "YES" || s == "on" || s == "On" ||
        s == "ON") {
        return true;
    }
    if (s == "false" || s == "False" || s == "FALSE" || s == "no" || s == "No" || s == "NO" || s == "off" ||
        s == "Off" || s == "OFF") {
        return false;
    }
    if (LooksInt(s)) {
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
    if (s != "." && LooksFloat(s)) {
        try {
            const double d = std::stod(s);
            if (std::isfinite(d)) return d;
        } catch (const std::exception&) {
        }
        return s;  // out of a double's range: kept as written rather than read as inf
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

/// What one document may expand to. yaml-cpp keeps an aliased node once, but converting it to JSON copies it at
/// every alias, so a 1 KB "billion laughs" file would expand to gigabytes; without aliases a document cannot
/// hold more nodes or scalar bytes than it has characters, so the budget is a multiple of the text's size
/// (generous for real anchors and merge keys) plus a floor.
struct Budget {
    size_t nodes_left;
    size_t bytes_left;
    static Budget For(size_t text_size) { return Budget{10 * text_size + 100000, 10 * text_size + (1u << 20)}; }
};

/// Deeper documents are refused: the JSON built here is walked recursively (templates, schema checks, dump).
constexpr int kMaxYamlDepth = 256;

YAML::ParserException Refuse(const YAML::Node& node, const std::string& what) {
    return YAML::ParserException(node.Mark(), what);
}

/// "0xA0": a byte as error messages show it.
std::string ByteHex(char c) {
    char byte[8];
    std::snprintf(byte, sizeof byte, "0x%02X", static_cast<unsigned char>(c));
    return byte;
}

/// A scalar that is not UTF-8 once yaml-cpp has read it, from a file that is, is refused where it is, before it
/// reaches JSON, whose serializer throws on it (ParseYaml refuses the one way the fuzzer found, a NUL byte; this is
/// the backstop).
void NotUtf8(const YAML::Node& node) {
    const std::string& s = node.Scalar();
    if (const size_t bad = InvalidUtf8Offset(s); bad != std::string::npos) {
        throw Refuse(node, "the value is not UTF-8 once read (byte " + ByteHex(s[bad]) + ")");
    }
}

Json Convert(
    const YAML::Node& node,
    const std::string& path,
    YamlDocument& doc,
    const std::string& text,
    Budget& budget,
    int depth
) {
    if (budget.nodes_left == 0) {
        throw Refuse(
            node,
            "the document expands to too many values (aliases repeat a node more than a file this size allows: "
            "a \"billion laughs\" document?)"
        );
    }
    --budget.nodes_left;
    if (depth > kMaxYamlDepth) {
        throw Refuse(node, "nested deeper than the limit of " + std::to_string(kMaxYamlDepth) + " levels");
    }
    doc.marks[path] = Location{doc.file, node.Mark().line + 1, node.Mark().column + 1};
    switch (node.Type()) {
        case YAML::NodeType::Null:
        case YAML::NodeType::Undefined:
            return nullptr;
        case YAML::NodeType::Scalar:
            if (node.Tag() == "!" && node.Mark().pos >= 0 && !QuoteCloses(text, static_cast<size_t>(node.Mark().pos)))
                throw YAML::ParserException(node.Mark(), "end of file inside a quoted string (missing closing quote)");
            if (node.Scalar().size() > budget.bytes_left) {
                throw Refuse(
                    node,
                    "the document expands to too much text (aliases repeat a string more than a file this size "
                    "allows)"
                );
            }
            budget.bytes_left -= node.Scalar().size();
            NotUtf8(node);
            return Scalar(node);
        case YAML::NodeType::Sequence: {
            Json arr = Json::array();
            size_t i = 0;
            for (const auto& item : node) {
                std::string child = path + "[" + std::to_string(i) + "]";
                // Every remembered path costs its length (found by the yaml_content fuzzer: aliases of nested
                // sequences made millions of long paths within the node budget, gigabytes of marks).
                if (child.size() > budget.bytes_left) {
                    throw Refuse(
                        item,
                        "the document expands to too many values (aliases repeat a node more than a file this size "
                        "allows: a \"billion laughs\" document?)"
                    );
                }
                budget.bytes_left -= child.size();
                arr.push_back(Convert(item, child, doc, text, budget, depth + 1));
                ++i;
            }
            return arr;
        }
        case YAML::NodeType::Map: {
            Json obj = Json::object();
            for (const auto& kv : node) {
                NotUtf8(kv.first);
                const std::string key = kv.first.Scalar();
                const std::string child = path.empty() ? key : path + "." + key;
                if (child.size() > budget.bytes_left) {
                    throw Refuse(kv.first, "the document expands to too much text (keys repeated through aliases)");
                }
                budget.bytes_left -= child.size();
                doc.marks[child] = Location{doc.file, kv.first.Mark().line + 1, kv.first.Mark().column + 1};
                Json value = Convert(kv.second, child, doc, text, budget, depth + 1);
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

/// The first pass over a YAML text: yaml-cpp's events are counted, without building nodes, before a document is
/// loaded. yaml-cpp 0.7 never advances past some stray tokens (a lone `,` yields an endless series of empty
/// documents, and `YAML::LoadAll` then allocates nodes until memory runs out), so the stream must not have a second
/// document start, and a bound on the events (a few per byte is far beyond any real file) ends whatever else keeps
/// it going. Throws YAML::ParserException at the place that is refused.
class StreamShapeCheck : public YAML::EventHandler {
public:
    explicit StreamShapeCheck(size_t text_size) : max_events_(8 * text_size + 1024) {}
    void OnDocumentStart(const YAML::Mark& mark) override {
        if (documents_++ > 0) {
            // PyYAML's safe_load: "expected a single document in the stream".
            throw YAML::ParserException(mark, "a second YAML document (a file holds one)");
        }
        Count(mark);
    }
    void OnDocumentEnd() override { Count(last_); }
    void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { Count(mark); }
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { Count(mark); }
    void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t, const std::string&) override {
        Count(mark);
    }
    void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value)
        override {
        Count(mark);
    }
    void OnSequenceEnd() override { Count(last_); }
    void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
        Count(mark);
    }
    void OnMapEnd() override { Count(last_); }

private:
    void Count(const YAML::Mark& mark) {
        last_ = mark;
        if (++events_ > max_events_) throw YAML::ParserException(mark, "the document does not end (parser stuck)");
    }
    const size_t max_events_;
    size_t events_ = 0;
    size_t documents_ = 0;
    YAML::Mark last_ = YAML::Mark::null_mark();
};

Result<YamlDocument> ParseYaml(const std::string& text, const std::string& file) {
    YamlDocument doc;
    doc.file = file;
    // YAML is Unicode; yaml-cpp passes other bytes through, and a key that is not UTF-8 cannot become JSON. Control
    // characters other than tab, newline and carriage return are refused as PyYAML refuses them ("special characters
    // are not allowed"): yaml-cpp reads `II\0_` as a scalar holding byte 0xA0 (found by the yaml_content fuzzer).
    size_t control = std::string::npos;
    for (size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F) {
            control = i;
            break;
        }
    }
    const size_t not_utf8 = InvalidUtf8Offset(text);
    if (const size_t bad = std::min(control, not_utf8); bad != std::string::npos) {
        size_t line = 1;
        size_t line_start = 0;
        for (size_t i = 0; i < bad; ++i) {
            if (text[i] == '\n') {
                ++line;
                line_start = i + 1;
            }
        }
        Error err = InvalidArgument(
            std::string("invalid YAML: ") + (bad == control ? "a control character" : "not UTF-8") + " (byte " +
            ByteHex(text[bad]) + ")"
        );
        err.location = Location{file, static_cast<int>(line), static_cast<int>(bad - line_start + 1)};
        return err;
    }
    try {
        {
            std::istringstream in(text);
            YAML::Parser parser(in);
            StreamShapeCheck check(text.size());
            while (parser.HandleNextDocument(check)) {
            }
        }
        // One document at most (checked above): Load builds it, or a null for an empty stream.
        const YAML::Node root = YAML::Load(text);
        Budget budget = Budget::For(text.size());
        doc.value = Convert(root, "", doc, text, budget, 0);
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
