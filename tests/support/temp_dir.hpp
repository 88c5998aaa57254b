#pragma once

#include <filesystem>

namespace squall::test {

/// A fresh directory under $TMPDIR (or /tmp), removed recursively by the destructor. Paths stay short so
/// that unix sockets fit in sun_path.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

}  // namespace squall::test
