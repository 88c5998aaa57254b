#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace squall::core {

/// An owned copy of a hiredis reply.
struct RedisReply {
    enum class Type { kNil, kString, kStatus, kError, kInteger, kArray };
    Type type = Type::kNil;
    std::string str;                   ///< kString, kStatus, kError
    int64_t integer = 0;               ///< kInteger
    std::vector<RedisReply> elements;  ///< kArray

    bool IsNil() const { return type == Type::kNil; }
    bool IsError() const { return type == Type::kError; }
    bool IsArray() const { return type == Type::kArray; }
};

}  // namespace squall::core
