#pragma once

#include <set>
#include <string>
#include <vector>

#include "squall/packs/loader.hpp"

namespace squall::packs {

/// What is defined where a pack's rules look for their trigger types and actions: what is registered already
/// plus the packs loaded with it (a pack's own content always counts).
struct KnownContent {
    std::set<std::string> actions;
    std::set<std::string> trigger_types;
    /// Adds what `pack` defines: its actions, its trigger types (sensors' declared ones included).
    void Add(const LoadedPack& pack);
};

/// Checks what each rule of `pack` names (issue 12 items 13, 14; docs/decisions.md "Packs"), with the rule file's
/// line and column and a did-you-mean over `known`:
///   - a trigger type nothing declares is an error: the rule can never fire, so it is left out of the pack;
///   - an action nothing defines is a warning: the rule is kept, as StackStorm registers it, and its
///     enforcements fail until the action exists.
/// Returns how many errors it added.
size_t CheckRuleReferences(LoadedPack& pack, const KnownContent& known);

}  // namespace squall::packs
