#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <string>

#include "squall/core/error.hpp"

namespace squall::packs {

/// How a pack's virtualenv is made (docs/decisions.md "Pack virtualenvs").
struct VirtualenvOptions {
    /// The interpreter that makes the virtualenv (`<python> -m venv`); its pip, seen through
    /// --system-site-packages, installs the requirements.
    std::string python = "python3";
    /// Deadline of the whole build (venv plus pip); past it pip is killed and the install fails.
    std::chrono::seconds timeout{600};
    /// Added to pip's environment (which is this process's: pip's own PIP_INDEX_URL, PIP_FIND_LINKS, PIP_NO_INDEX
    /// and pip.conf choose the index or a local wheel folder, as for any pip).
    std::map<std::string, std::string> pip_env;
    /// Set by another thread to abandon the build.
    const std::atomic<bool>* cancel = nullptr;
};

/// Makes the virtualenv of a pack with a requirements.txt, as StackStorm's `st2 pack install` does:
/// `python3 -m venv --system-site-packages` (so Squall's st2common stand-ins and Debian's packages stay
/// importable) at `venv_dir`, then `pip install -r requirements.txt` in it. `venv_dir` must not exist; on failure
/// it is removed again. A requirement pip cannot satisfy is an error naming `requirements.txt:<line>` and the
/// line, with the tail of pip's output. Blocking: run it on a worker thread.
Status BuildVirtualenvBlocking(
    const std::string& requirements_file,
    const std::string& shown_file,
    const std::string& venv_dir,
    const VirtualenvOptions& options,
    const std::function<void(const std::string&)>& progress
);

}  // namespace squall::packs
