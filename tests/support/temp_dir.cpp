#include "temp_dir.hpp"

#include <cerrno>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <system_error>

namespace squall::test {

TempDir::TempDir() {
    // Unix socket paths are limited to 107 bytes; fall back to /tmp when $TMPDIR is too deep.
    const char* env = std::getenv("TMPDIR");  // NOLINT(concurrency-mt-unsafe): tests set no env vars
    std::string base = env != nullptr && *env != '\0' && std::string(env).size() < 60 ? env : "/tmp";
    std::string tmpl = base + "/squall-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) {
        throw std::system_error(errno, std::generic_category(), "mkdtemp " + tmpl);
    }
    path_ = tmpl;
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

}  // namespace squall::test
