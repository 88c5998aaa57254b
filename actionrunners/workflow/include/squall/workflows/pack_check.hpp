#pragma once

#include "squall/packs/loader.hpp"

namespace squall::workflows {

/// The pack loader's workflow check (packs::PackLoaderOptions::check_workflow): an Orquesta definition is parsed and
/// inspected, an action-chain parsed, when its pack loads (install, register, server start), so that what would fail
/// every run is said at once with file:line. StackStorm inspects only when a workflow runs, and its own `examples`
/// pack ships workflows that fail inspection on purpose (`orquesta-fail-inspection`), so every finding is a warning:
/// the action is registered, the pack installs without --force, and a run fails with the same problems, as in
/// StackStorm. (A file that is not YAML, or not a mapping, stays a load error of the loader.) docs/decisions.md.
packs::WorkflowCheck MakeWorkflowCheck();

}  // namespace squall::workflows
