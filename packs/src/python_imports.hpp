#pragma once
// Which of StackStorm's internal `st2common` modules a python action imports that Squall's st2common shim (the
// python runner's actionrunners/python/st2common) does not provide: such an action can never load, so the loader
// registers it unavailable with the reason, as it does for a runner this server lacks (issue 12 item 11).
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>

namespace squall::packs {

struct MissingImport {
    size_t line = 0;     // 1-based
    size_t column = 0;   // 1-based, where the module name starts
    std::string module;  // "st2common.services.packs", or "st2common.util.jinja" for `from st2common.util import jinja`
};

/// The first module-level `import st2common...` / `from st2common... import ...` of `file` that the shim in
/// `shim_dir` does not provide; nullopt when all are there, the file cannot be read, or `shim_dir` holds no shim.
/// Imports inside functions or `try:` blocks are not looked at (they may be optional).
std::optional<MissingImport> FindMissingSt2commonImport(
    const std::filesystem::path& file, const std::filesystem::path& shim_dir
);

/// The shim's folder: $SQUALL_PYTHON_WRAPPER_DIR, else the source tree's actionrunners/python.
std::filesystem::path St2commonShimDir();

}  // namespace squall::packs
