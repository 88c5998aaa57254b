#pragma once

#include <chrono>
#include <thread>

namespace squall::test {

/// Polls `pred` every 2 ms until it returns true or `deadline` has passed; returns the last result. Use it
/// instead of sleeping in tests: it waits for a condition, not for luck.
template <class F>
bool WaitFor(F pred, std::chrono::milliseconds deadline) {
    auto until = std::chrono::steady_clock::now() + deadline;
    while (true) {
        if (pred()) {
            return true;
        }
        if (std::chrono::steady_clock::now() >= until) {
            return pred();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
}

}  // namespace squall::test
