#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>
#include <vector>

#include "squall/core/asio.hpp"
#include "wait.hpp"

namespace squall::test {

/// An io_context run by `threads` threads for one test. Drain() releases the work guard and joins the threads,
/// failing the test (and stopping the context) when it does not drain within `deadline`: something still holds
/// a connection or a timer. Objects that use the context must be released before Drain().
class IoRunner {
public:
    explicit IoRunner(int threads = 2) {
        work_.emplace(io_.get_executor());
        for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { io_.run(); });
    }
    ~IoRunner() { Drain(); }
    IoRunner(const IoRunner&) = delete;
    IoRunner& operator=(const IoRunner&) = delete;

    asio::io_context& io() { return io_; }

    void Drain(std::chrono::milliseconds deadline = std::chrono::seconds(15)) {
        if (threads_.empty()) return;
        work_.reset();
        std::atomic<bool> drained{false};
        std::thread watchdog([&] {
            if (!WaitFor([&] { return drained.load(); }, deadline)) {
                ADD_FAILURE() << "io_context did not drain: something still holds a connection or timer";
                io_.stop();
            }
        });
        for (auto& t : threads_) t.join();
        threads_.clear();
        drained = true;
        watchdog.join();
    }

private:
    asio::io_context io_;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
    std::vector<std::thread> threads_;
};

}  // namespace squall::test
