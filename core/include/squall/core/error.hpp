#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace squall {

/// The small, closed set of failure kinds. Each maps to one HTTP status and one CLI exit code
/// (HttpStatus / ExitCode below) so that the mapping lives in exactly one place.
enum class ErrorCode {
    kInvalidArgument,     ///< bad user input: YAML, parameters, templates (400)
    kUnauthenticated,     ///< missing or bad credentials (401)
    kPermissionDenied,    ///< authenticated but not allowed (403)
    kNotFound,            ///< no such object (404)
    kAlreadyExists,       ///< conflict with an existing object (409)
    kFailedPrecondition,  ///< object in the wrong state for the operation (409)
    kResourceExhausted,   ///< a bounded queue or limit is full (429)
    kTimeout,             ///< a deadline passed (504)
    kUnavailable,         ///< a dependency (Redis, a child process) is down (503)
    kInternal,            ///< a bug or an unexpected environment failure (500)
};

/// Where in a user-supplied text an error is: file, line and column (1-based; 0 = unknown).
struct Location {
    std::string file;
    int line = 0;
    int column = 0;
    /// "file:line:col" with the parts that are known.
    std::string ToString() const;
};

/// The one error type (STYLE.md convention 3). `message` is for users and names the file/line/field, the
/// parameter or the template position; `detail` is logged but never returned by the API.
struct Error {
    ErrorCode code = ErrorCode::kInternal;
    std::string message;
    std::string detail;
    std::optional<Location> location;

    Error() = default;
    Error(ErrorCode c, std::string msg, std::string det = {})
        : code(c), message(std::move(msg)), detail(std::move(det)) {}

    /// Message prefixed with the location when there is one: "file:7:5: message".
    std::string What() const;
};

const char* ErrorCodeName(ErrorCode code);  ///< "NOT_FOUND", ...
int HttpStatus(ErrorCode code);             ///< 404, ...
int ExitCode(ErrorCode code);               ///< CLI exit code, never 0

/// Thrown only to abandon a unit of work; caught at the HTTP handler wrapper, the per-message boundary of
/// each consumer loop, and main (convention 4).
class Exception : public std::runtime_error {
public:
    explicit Exception(Error error) : std::runtime_error(error.What()), error_(std::move(error)) {}
    const Error& error() const { return error_; }

private:
    Error error_;
};

/// A value or an Error, with std::expected's member names so that switching later is mechanical (hence the
/// snake_case methods, exempt from the naming check).
// NOLINTBEGIN(readability-identifier-naming)
template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}      // NOLINT(google-explicit-constructor)
    Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT(google-explicit-constructor)

    bool has_value() const { return v_.index() == 0; }
    explicit operator bool() const { return has_value(); }

    T& value() & {
        if (!has_value()) throw Exception(std::get<1>(v_));
        return std::get<0>(v_);
    }
    const T& value() const& {
        if (!has_value()) throw Exception(std::get<1>(v_));
        return std::get<0>(v_);
    }
    T&& value() && {
        if (!has_value()) throw Exception(std::get<1>(v_));
        return std::get<0>(std::move(v_));
    }
    T& operator*() & { return std::get<0>(v_); }
    const T& operator*() const& { return std::get<0>(v_); }
    T* operator->() { return &std::get<0>(v_); }
    const T* operator->() const { return &std::get<0>(v_); }
    const Error& error() const& { return std::get<1>(v_); }
    Error&& error() && { return std::get<1>(std::move(v_)); }
    template <typename U>
    T value_or(U&& other) const& {
        return has_value() ? std::get<0>(v_) : static_cast<T>(std::forward<U>(other));
    }

private:
    std::variant<T, Error> v_;
};

/// Result for operations without a value.
template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : error_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
    bool has_value() const { return !error_.has_value(); }
    explicit operator bool() const { return has_value(); }
    void value() const {
        if (error_) throw Exception(*error_);
    }
    const Error& error() const { return *error_; }

private:
    std::optional<Error> error_;
};

// NOLINTEND(readability-identifier-naming)

using Status = Result<void>;

/// Shorthands for building errors.
inline Error InvalidArgument(std::string msg) {
    return Error(ErrorCode::kInvalidArgument, std::move(msg));
}
inline Error NotFound(std::string msg) {
    return Error(ErrorCode::kNotFound, std::move(msg));
}
inline Error Internal(std::string msg, std::string detail = {}) {
    return Error(ErrorCode::kInternal, std::move(msg), std::move(detail));
}
inline Error Unavailable(std::string msg, std::string detail = {}) {
    return Error(ErrorCode::kUnavailable, std::move(msg), std::move(detail));
}

}  // namespace squall
