#pragma once

// Private to core: drives a hiredis redisAsyncContext from a Boost.Asio strand. hiredis 0.14 ships adapters
// for libevent/libev/ae but not for Asio, so this implements the `ac->ev` hooks itself.

#include <memory>

#include <hiredis/async.h>

#include "squall/core/asio.hpp"

namespace squall::core::detail {

/// The socket watcher of one redisAsyncContext.
///
/// hiredis asks for read/write interest through the ev hooks (addRead, delRead, addWrite, delWrite) and
/// expects level-triggered, persistent notifications. Each interest is an `async_wait` on a
/// stream_descriptor wrapping the context's fd; when it fires the adapter calls redisAsyncHandleRead/Write,
/// which re-arm through the hooks as needed.
///
/// Lifetime: the adapter keeps itself alive (self_) until hiredis calls cleanup, i.e. until the context is
/// freed, and every outstanding wait holds a shared_ptr too, so a wait that completes after the context is
/// gone finds `ac_ == nullptr` and does nothing. On cleanup the descriptor is released, not closed: the fd
/// belongs to hiredis, which closes it in redisFree.
///
/// Threading: everything (hooks, wait handlers, hiredis calls) runs on `strand`.
class RedisAsioAdapter : public std::enable_shared_from_this<RedisAsioAdapter> {
public:
    using Strand = asio::strand<asio::io_context::executor_type>;

    /// Installs the hooks on `ac` (must have no error and no hooks yet). Call on `strand`, before setting the
    /// connect callback (which already asks for write interest).
    static void Attach(redisAsyncContext* ac, const Strand& strand) {
        auto adapter = std::shared_ptr<RedisAsioAdapter>(new RedisAsioAdapter(ac, strand));
        adapter->self_ = adapter;
        ac->ev.data = adapter.get();
        ac->ev.addRead = &AddRead;
        ac->ev.delRead = &DelRead;
        ac->ev.addWrite = &AddWrite;
        ac->ev.delWrite = &DelWrite;
        ac->ev.cleanup = &Cleanup;
    }

    RedisAsioAdapter(const RedisAsioAdapter&) = delete;
    RedisAsioAdapter& operator=(const RedisAsioAdapter&) = delete;

private:
    RedisAsioAdapter(redisAsyncContext* ac, const Strand& strand) : ac_(ac), descriptor_(strand, ac->c.fd) {}

    static RedisAsioAdapter* From(void* privdata) { return static_cast<RedisAsioAdapter*>(privdata); }
    static void AddRead(void* privdata) {
        auto* self = From(privdata);
        self->want_read_ = true;
        self->Arm(asio::posix::descriptor_base::wait_read);
    }
    static void DelRead(void* privdata) { From(privdata)->want_read_ = false; }
    static void AddWrite(void* privdata) {
        auto* self = From(privdata);
        self->want_write_ = true;
        self->Arm(asio::posix::descriptor_base::wait_write);
    }
    static void DelWrite(void* privdata) { From(privdata)->want_write_ = false; }
    static void Cleanup(void* privdata) {
        auto* self = From(privdata);
        self->ac_ = nullptr;
        self->want_read_ = false;
        self->want_write_ = false;
        // release() cancels the outstanding waits (they complete with operation_aborted) without closing the
        // fd, which hiredis closes right after this hook returns.
        self->descriptor_.release();
        self->self_.reset();  // outstanding waits still hold the adapter
    }

    void Arm(asio::posix::descriptor_base::wait_type type) {
        const bool read = type == asio::posix::descriptor_base::wait_read;
        bool& armed = read ? read_armed_ : write_armed_;
        if (armed || ac_ == nullptr) {
            return;
        }
        armed = true;
        descriptor_.async_wait(type, [self = shared_from_this(), read](const boost::system::error_code& ec) {
            self->OnReady(read, ec);
        });
    }

    void OnReady(bool read, const boost::system::error_code& ec) {
        (read ? read_armed_ : write_armed_) = false;
        if (ac_ == nullptr || ec == asio::error::operation_aborted) {
            return;
        }
        if (read) {
            if (want_read_) {
                // May free the context (EOF, protocol error), which calls Cleanup; `this` stays alive through the
                // shared_ptr held by this handler.
                redisAsyncHandleRead(ac_);
            }
        } else if (want_write_) {
            redisAsyncHandleWrite(ac_);
        }
        // hiredis asks for reads once and expects them to persist; re-arm whatever is still wanted.
        if (ac_ != nullptr && want_read_) {
            Arm(asio::posix::descriptor_base::wait_read);
        }
        if (ac_ != nullptr && want_write_) {
            Arm(asio::posix::descriptor_base::wait_write);
        }
    }

    redisAsyncContext* ac_;
    asio::posix::stream_descriptor descriptor_;
    bool want_read_ = false;
    bool want_write_ = false;
    bool read_armed_ = false;
    bool write_armed_ = false;
    std::shared_ptr<RedisAsioAdapter> self_;
};

}  // namespace squall::core::detail
