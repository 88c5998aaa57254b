#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "squall/core/model/model.hpp"
#include "squall_process.hpp"

namespace squall::test {

// Shared helpers of the workflow and action-chain integration tests: they drive a real `squall server` through its
// CLI (`squall run`, `squall execution get`) and read the files the tasks append to.

/// Lines that are not empty in `path` (0 when it does not exist): tasks append one line each.
size_t CountLines(const std::string& path);

/// `squall execution get ID -j`; {} when it cannot be read.
core::Json GetExecution(const SquallProcess& server, const std::string& id);

/// `squall run ARGS -j` (waits for the end); the execution, {} when the output is not JSON (the test fails then).
core::Json RunSync(const SquallProcess& server, const std::vector<std::string>& args);

/// `squall run ARGS -a -j`: the new execution's id ("" and a test failure when refused).
std::string StartAsync(const SquallProcess& server, const std::vector<std::string>& args);

/// Polls the execution until its status is one of `statuses` (a test failure after `deadline`); the last read.
core::Json WaitStatus(
    const SquallProcess& server,
    const std::string& id,
    const std::vector<std::string>& statuses,
    std::chrono::seconds deadline = std::chrono::seconds(60)
);

/// How many kill -9 rounds a crash test makes: SQUALL_KILL_RUNS when set to a positive number (e.g. 50 for a long
/// local run), else `default_runs` (small, for CI).
int KillRuns(int default_runs);

}  // namespace squall::test
