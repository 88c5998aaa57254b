#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "squall/core/clock.hpp"
#include "squall/core/error.hpp"

namespace squall::api {

/// One user of `POST /auth/v1/tokens` (HTTP Basic), as stored in DATA/users.json.
struct UserRecord {
    std::string name;
    std::string password_hash;  ///< core::HashPasswordBlocking form; never the password
    bool admin = false;
    std::string created_at;
};

/// Users who are admins whatever the file says: `admin` (the owner of the admin API key created on first start,
/// StackStorm's system_admin) and `squall` (the system user rules run actions as, StackStorm's `stanley`).
bool IsBuiltinAdmin(const std::string& user);
/// kInvalidArgument unless `name` is 1-64 of [A-Za-z0-9_.@-].
Status ValidateUserName(const std::string& name);

/// DATA/users.json (mode 0600): `{"users": {NAME: {password_hash, admin, created_at}}}`. Written by the CLI
/// (`squall user add|delete`, no server needed, as StackStorm's flat-file htpasswd backend) under an flock of
/// DATA/users.json.lock, replaced atomically (temporary file + rename), so that readers never see half a file.
class UserFile {
public:
    explicit UserFile(std::string data_dir);
    const std::string& path() const { return path_; }
    /// Every user, sorted by name; an empty list when the file does not exist. kInvalidArgument naming the file
    /// when it is not what this class writes.
    Result<std::vector<UserRecord>> LoadBlocking() const;
    /// Adds `name` with the hash of `password` (CPU-heavy: PBKDF2). kAlreadyExists when present, unless `replace`.
    Status AddBlocking(
        const std::string& name, const std::string& password, bool admin, bool replace, const core::Clock& clock
    );
    /// kNotFound when absent.
    Status DeleteBlocking(const std::string& name);

private:
    std::string path_;
};

/// The users the API authenticates against: DATA/users.json, re-read when its modification time or size changes
/// (a stat per check). Thread-safe.
class UserDirectory {
public:
    explicit UserDirectory(std::string data_dir);
    /// The user, nullopt when unknown; looks at the file first (one stat), so a user just added can log in at
    /// once. An unreadable file counts as no users (and is logged once per change).
    std::optional<UserRecord> Find(const std::string& name);
    /// Built-in admins and users stored with admin: true (the file looked at no more than once a second).
    bool IsAdmin(const std::string& name);

private:
    void RefreshLocked(bool force);
    UserFile file_;
    std::mutex mu_;
    std::vector<UserRecord> users_;
    std::chrono::steady_clock::time_point next_check_{};
    int64_t mtime_ns_ = -1;
    int64_t size_ = -1;
};

}  // namespace squall::api
