#include "squall/core/error.hpp"

namespace squall {

std::string Location::ToString() const {
    std::string out = file;
    if (line > 0) {
        out += ":" + std::to_string(line);
        if (column > 0) out += ":" + std::to_string(column);
    }
    return out;
}

std::string Error::What() const {
    if (location && !location->file.empty()) return location->ToString() + ": " + message;
    return message;
}

const char* ErrorCodeName(ErrorCode code) {
    switch (code) {
        case ErrorCode::kInvalidArgument:
            return "INVALID_ARGUMENT";
        case ErrorCode::kUnauthenticated:
            return "UNAUTHENTICATED";
        case ErrorCode::kPermissionDenied:
            return "PERMISSION_DENIED";
        case ErrorCode::kNotFound:
            return "NOT_FOUND";
        case ErrorCode::kAlreadyExists:
            return "ALREADY_EXISTS";
        case ErrorCode::kFailedPrecondition:
            return "FAILED_PRECONDITION";
        case ErrorCode::kResourceExhausted:
            return "RESOURCE_EXHAUSTED";
        case ErrorCode::kTimeout:
            return "TIMEOUT";
        case ErrorCode::kUnavailable:
            return "UNAVAILABLE";
        case ErrorCode::kInternal:
            return "INTERNAL";
    }
    return "INTERNAL";
}

int HttpStatus(ErrorCode code) {
    switch (code) {
        case ErrorCode::kInvalidArgument:
            return 400;
        case ErrorCode::kUnauthenticated:
            return 401;
        case ErrorCode::kPermissionDenied:
            return 403;
        case ErrorCode::kNotFound:
            return 404;
        case ErrorCode::kAlreadyExists:
            return 409;
        case ErrorCode::kFailedPrecondition:
            return 409;
        case ErrorCode::kResourceExhausted:
            return 429;
        case ErrorCode::kTimeout:
            return 504;
        case ErrorCode::kUnavailable:
            return 503;
        case ErrorCode::kInternal:
            return 500;
    }
    return 500;
}

int ExitCode(ErrorCode code) {
    switch (code) {
        case ErrorCode::kInvalidArgument:
            return 2;
        case ErrorCode::kUnauthenticated:
        case ErrorCode::kPermissionDenied:
            return 3;
        case ErrorCode::kNotFound:
            return 4;
        case ErrorCode::kAlreadyExists:
        case ErrorCode::kFailedPrecondition:
            return 5;
        case ErrorCode::kTimeout:
            return 6;
        case ErrorCode::kUnavailable:
            return 7;
        case ErrorCode::kResourceExhausted:
        case ErrorCode::kInternal:
            return 10;
    }
    return 10;
}

}  // namespace squall
