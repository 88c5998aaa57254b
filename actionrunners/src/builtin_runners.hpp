#pragma once

#include "squall/actionrunners/runner.hpp"

namespace squall::actionrunners {

/// local-shell-cmd: `cmd` through /bin/bash -c (reference §4).
RunnerFactory LocalShellCmdFactory();
/// noop: static success.
RunnerFactory NoopFactory();

}  // namespace squall::actionrunners
