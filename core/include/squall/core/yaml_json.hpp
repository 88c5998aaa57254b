#pragma once

#include <map>
#include <string>

#include "squall/core/error.hpp"
#include "squall/core/model/model.hpp"

namespace squall::core {

/// A YAML document converted to JSON, remembering where every field was written so that errors can name
/// file:line:column. Scalars resolve as PyYAML (YAML 1.1) resolves them, since StackStorm packs are written for
/// it: quoted → string; null/~ → null; true/yes/on → true; false/no/off → false; integers; floats.
struct YamlDocument {
    std::string file;
    Json value;
    /// Dotted path ("criteria.trigger.body.ref.type", "action.parameters.cmd", "tags[0]") → where it is.
    std::map<std::string, Location> marks;

    /// The location of `path`, or of its nearest ancestor that has one, or the file itself.
    Location At(const std::string& path) const;
    /// An InvalidArgument error located at `path`: "file:7:5: path: message".
    Error ErrorAt(const std::string& path, const std::string& message) const;
};

/// Parses YAML text. Syntax errors carry file:line:column.
Result<YamlDocument> ParseYaml(const std::string& text, const std::string& file);
/// Reads and parses a file.
Result<YamlDocument> LoadYamlFile(const std::string& path);

}  // namespace squall::core
