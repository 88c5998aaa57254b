#pragma once

#include "squall/actionrunners/runner.hpp"

namespace squall::actionrunners {

/// local-shell-cmd: `cmd` through /bin/bash -c (reference §4).
RunnerFactory LocalShellCmdFactory();
/// noop: static success.
RunnerFactory NoopFactory();
/// `orquesta` and `action-chain`: registered so workflow actions load; the `workflow` role runs them (a runner
/// container that gets one fails it, saying where workflows run).
RunnerFactory OrquestaFactory();
RunnerFactory ActionChainFactory();
/// pack-manager: installs, removes and registers packs (the bundled `packs` pack).
RunnerFactory PackManagerFactory();
/// inquirer: the execution waits in `pending` for a response.
RunnerFactory InquirerFactory();
/// local-shell-script: the action's entry_point with its parameters as arguments (reference §4).
RunnerFactory LocalShellScriptFactory();
/// python-script: a StackStorm python action through actionrunners/python/squall_python_wrapper.py.
RunnerFactory PythonScriptFactory();
/// http-request: one HTTP request on a bounded worker pool (core.http).
RunnerFactory HttpRequestFactory();
/// remote-shell-cmd / remote-shell-script: through the OpenSSH client, hosts in parallel.
RunnerFactory RemoteShellCmdFactory();
RunnerFactory RemoteShellScriptFactory();
/// announcement: publishes the parameters on the announcement stream (st2.announcement__<route>; chatops posts).
RunnerFactory AnnouncementFactory();

/// The argv local-shell-script builds for `script` (sudo handling included), for tests.
std::vector<std::string> LocalShellScriptArgvForTest(
    const std::string& script, const std::vector<std::string>& args, const Json& parameters
);

}  // namespace squall::actionrunners
