#pragma once

/// The one header that includes Boost.Asio. <utility> first: with GCC 12, Boost 1.74's awaitable.hpp uses
/// std::exchange without including it (STYLE.md §4).
#include <utility>

#include <boost/asio.hpp>

namespace squall {
namespace asio = boost::asio;
}  // namespace squall
