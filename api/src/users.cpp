#include "squall/api/users.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "squall/core/crypto.hpp"
#include "squall/core/id.hpp"
#include "squall/core/log.hpp"
#include "squall/core/model/model.hpp"

namespace squall::api {

using core::Json;

bool IsBuiltinAdmin(const std::string& user) {
    return user == "admin" || user == "squall" || user == "chatops";
}

Status ValidateUserName(const std::string& name) {
    const bool ok = !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '@' || c == '-';
    });
    if (ok) return {};
    return InvalidArgument("user name \"" + name + "\": use 1 to 64 letters, digits, '_', '.', '@' or '-'");
}

UserFile::UserFile(std::string data_dir) : path_(data_dir.empty() ? std::string() : data_dir + "/users.json") {}

namespace {

Result<std::vector<UserRecord>> Parse(const std::string& path, const std::string& text) {
    std::vector<UserRecord> out;
    Json doc = Json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("users") || !doc["users"].is_object()) {
        return InvalidArgument(path + ": not a users file (want a JSON object with \"users\")");
    }
    for (const auto& [name, u] : doc["users"].items()) {
        if (!u.is_object() || !u.contains("password_hash") || !u["password_hash"].is_string()) {
            return InvalidArgument(path + ": users." + name + ".password_hash: missing or not a string");
        }
        out.push_back(
            {name, u["password_hash"].get<std::string>(), u.value("admin", false), u.value("created_at", std::string())}
        );
    }
    std::sort(out.begin(), out.end(), [](const UserRecord& a, const UserRecord& b) { return a.name < b.name; });
    return out;
}

Result<std::vector<UserRecord>> Read(const std::string& path) {
    if (path.empty()) return std::vector<UserRecord>{};  // no data dir: no users
    std::ifstream in(path);
    if (!in) {
        if (errno == ENOENT) return std::vector<UserRecord>{};
        return Unavailable("cannot read " + path + ": " + std::strerror(errno));  // NOLINT(concurrency-mt-unsafe)
    }
    std::stringstream ss;
    ss << in.rdbuf();
    return Parse(path, ss.str());
}

Status Write(const std::string& path, const std::vector<UserRecord>& users) {
    Json doc = {{"users", Json::object()}};
    for (const auto& u : users) {
        doc["users"][u.name] = {{"password_hash", u.password_hash}, {"admin", u.admin}, {"created_at", u.created_at}};
    }
    const std::string text = doc.dump(2) + "\n";
    const std::string tmp = path + ".tmp." + std::to_string(getpid());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return Unavailable("cannot write " + tmp + ": " + std::strerror(errno));  // NOLINT
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
        ::unlink(tmp.c_str());
        return Unavailable("cannot write " + path + ": " + std::strerror(errno));  // NOLINT
    }
    return {};
}

/// Holds an exclusive flock of `<path>.lock` while alive.
class FileLock {
public:
    explicit FileLock(const std::string& path)
        : fd_(::open((path + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
        if (fd_ >= 0) ::flock(fd_, LOCK_EX);
    }
    ~FileLock() {
        if (fd_ >= 0) ::close(fd_);
    }
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;
    bool ok() const { return fd_ >= 0; }

private:
    int fd_;
};

}  // namespace

Result<std::vector<UserRecord>> UserFile::LoadBlocking() const {
    return Read(path_);
}

Status UserFile::AddBlocking(
    const std::string& name, const std::string& password, bool admin, bool replace, const core::Clock& clock
) {
    if (Status st = ValidateUserName(name); !st) return st;
    if (path_.empty()) return InvalidArgument("no data dir to store users in");
    if (password.empty()) return InvalidArgument("password: must not be empty");
    // A data dir made here is private, as the server makes it.
    const std::filesystem::path dir = std::filesystem::path(path_).parent_path();
    std::error_code ec;
    if (!std::filesystem::exists(dir, ec)) {
        std::filesystem::create_directories(dir, ec);
        if (ec) return Unavailable("cannot create the data dir " + dir.string() + ": " + ec.message());
        ::chmod(dir.c_str(), 0700);
    }
    // Hashed before the lock is taken: PBKDF2 is the slow part.
    const std::string hash = core::HashPasswordBlocking(password);
    FileLock lock(path_);
    if (!lock.ok()) return Unavailable("cannot lock " + path_ + ".lock: " + std::strerror(errno));  // NOLINT
    Result<std::vector<UserRecord>> users = Read(path_);
    if (!users) return users.error();
    auto it = std::find_if(users->begin(), users->end(), [&](const UserRecord& u) { return u.name == name; });
    if (it != users->end() && !replace) {
        return Error(ErrorCode::kAlreadyExists, "user \"" + name + "\" already exists (--update replaces it)");
    }
    UserRecord rec{name, hash, admin, core::FormatIsoTimestamp(clock.Now())};
    if (it != users->end()) {
        *it = rec;
    } else {
        users->push_back(rec);
    }
    return Write(path_, *users);
}

Status UserFile::DeleteBlocking(const std::string& name) {
    if (path_.empty()) return NotFound("user \"" + name + "\" not found (no data dir)");
    FileLock lock(path_);
    if (!lock.ok()) return Unavailable("cannot lock " + path_ + ".lock: " + std::strerror(errno));  // NOLINT
    Result<std::vector<UserRecord>> users = Read(path_);
    if (!users) return users.error();
    auto it = std::find_if(users->begin(), users->end(), [&](const UserRecord& u) { return u.name == name; });
    if (it == users->end()) return NotFound("user \"" + name + "\" not found in " + path_);
    users->erase(it);
    return Write(path_, *users);
}

UserDirectory::UserDirectory(std::string data_dir) : file_(std::move(data_dir)) {}

void UserDirectory::RefreshLocked(bool force) {
    const auto now = std::chrono::steady_clock::now();
    if (!force && now < next_check_) return;
    next_check_ = now + std::chrono::seconds(1);
    struct stat st {};
    int64_t mtime = -2;
    int64_t size = -2;
    if (::stat(file_.path().c_str(), &st) == 0) {
        mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
        size = static_cast<int64_t>(st.st_size);
    }
    if (mtime == mtime_ns_ && size == size_) return;
    mtime_ns_ = mtime;
    size_ = size;
    Result<std::vector<UserRecord>> users = file_.LoadBlocking();
    if (!users) {
        core::Log(
            *core::Logger("api"), spdlog::level::err, "users file not loaded", {{"error", users.error().message}}
        );
        users_.clear();
        return;
    }
    users_ = std::move(*users);
}

std::optional<UserRecord> UserDirectory::Find(const std::string& name) {
    std::lock_guard lock(mu_);
    RefreshLocked(/*force=*/true);
    for (const auto& u : users_) {
        if (u.name == name) return u;
    }
    return std::nullopt;
}

bool UserDirectory::IsAdmin(const std::string& name) {
    if (IsBuiltinAdmin(name)) return true;
    std::lock_guard lock(mu_);
    RefreshLocked(/*force=*/false);
    for (const auto& u : users_) {
        if (u.name == name) return u.admin;
    }
    return false;
}

}  // namespace squall::api
