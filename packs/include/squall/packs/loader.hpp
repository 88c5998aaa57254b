#pragma once

#include <string>
#include <vector>

#include "squall/core/error.hpp"
#include "squall/packs/content.hpp"

namespace squall::packs {

/// One pack read from disk: what loaded, and an error (with file:line:col) for every file that did not.
struct LoadedPack {
    PackMeta meta;
    std::vector<ActionMeta> actions;
    std::vector<RuleMeta> rules;
    std::vector<Error> errors;
};

/// Reads packs in StackStorm layout from folders. Pure file I/O and parsing: blocking, run it at start-up or on
/// a blocking pool. One bad file never stops the rest of the pack, or other packs, from loading.
class PackLoader {
public:
    /// Loads the pack in `dir` (which holds pack.yaml). A missing or broken pack.yaml is an error.
    Result<LoadedPack> LoadPackBlocking(const std::string& dir) const;
    /// Loads every sub-folder of `base` that holds a pack.yaml; sorted by folder name.
    std::vector<LoadedPack> LoadAllBlocking(const std::string& base) const;
};

}  // namespace squall::packs
