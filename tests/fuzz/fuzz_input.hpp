#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

namespace squall::fuzz {

/// Splits a fuzzer input at its first NUL byte: (before, after). Inputs without one are all "before", so a seed
/// corpus of plain text files works.
inline std::pair<std::string_view, std::string_view> SplitAtNul(const uint8_t* data, size_t size) {
    std::string_view all(reinterpret_cast<const char*>(data), size);
    const size_t nul = all.find('\0');
    if (nul == std::string_view::npos) return {all, {}};
    return {all.substr(0, nul), all.substr(nul + 1)};
}

}  // namespace squall::fuzz
