#include "squall/packs/virtualenv.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <vector>

#include "squall/core/process/spawn.hpp"

namespace squall::packs {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

struct Finished {
    int exit_code = -1;      ///< -1: killed (timeout or cancel)
    std::string output;      ///< stdout and stderr interleaved, the last 64 KiB
    std::string why_killed;  ///< "timed out after N s" or "canceled"
};

/// Runs `argv` to its end (or its deadline), collecting what it writes.
Result<Finished> RunToEnd(
    const std::vector<std::string>& argv,
    const std::map<std::string, std::string>& extra_env,
    Clock::time_point deadline,
    const std::atomic<bool>* cancel
) {
    core::SpawnSpec spec;
    spec.argv = argv;
    if (!extra_env.empty()) {
        std::map<std::string, std::string> env;
        for (char** e = environ; *e != nullptr; ++e) {
            const std::string kv(*e);
            const size_t eq = kv.find('=');
            if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
        }
        for (const auto& [k, v] : extra_env) env[k] = v;
        spec.env = std::move(env);
    }
    Result<core::SpawnedChild> child = core::Spawn(spec);
    if (!child) return child.error();
    Finished out;
    constexpr size_t kKeep = 64 * 1024;
    int open = 2;
    pollfd fds[2] = {{child->stdout_fd.Get(), POLLIN, 0}, {child->stderr_fd.Get(), POLLIN, 0}};
    char buf[8192];
    while (open > 0) {
        if (cancel && cancel->load()) {
            out.why_killed = "canceled";
            break;
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) {
            out.why_killed = "timed out";
            break;
        }
        if (::poll(fds, 2, static_cast<int>(std::min<long long>(left, 200))) < 0 && errno != EINTR) break;
        for (auto& p : fds) {
            if (p.fd < 0 || (p.revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
            const ssize_t n = ::read(p.fd, buf, sizeof(buf));
            if (n > 0) {
                out.output.append(buf, static_cast<size_t>(n));
                if (out.output.size() > 2 * kKeep) out.output.erase(0, out.output.size() - kKeep);
            } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                p.fd = -1;
                --open;
            }
        }
    }
    if (!out.why_killed.empty()) ::kill(-child->pid, SIGKILL);  // its own process group: pip's children too
    int status = 0;
    while (::waitpid(child->pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (out.why_killed.empty() && WIFEXITED(status)) out.exit_code = WEXITSTATUS(status);
    if (out.output.size() > kKeep) out.output.erase(0, out.output.size() - kKeep);
    return out;
}

/// The last `n` non-empty lines of `text`.
std::string Tail(const std::string& text, size_t n) {
    std::vector<std::string> lines;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(start, end - start);
        // pip's "WARNING: Retrying (...)" lines say only that the index is unreachable, which its error says too.
        if (!line.empty() && line.find_first_not_of(" \t\r") != std::string::npos &&
            line.rfind("WARNING: Retrying", 0) != 0)
            lines.push_back(std::move(line));
        start = end + 1;
    }
    std::string out;
    for (size_t i = lines.size() > n ? lines.size() - n : 0; i < lines.size(); ++i) out += "\n    " + lines[i];
    return out;
}

/// A requirement's project name as pip normalises it (PEP 503: lower case, runs of -_. as one -).
std::string Normalized(const std::string& name) {
    std::string out;
    for (char c : name) {
        if (c == '-' || c == '_' || c == '.') {
            if (out.empty() || out.back() != '-') out += '-';
        } else {
            out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
    }
    return out;
}

/// The project name at the start of a requirement line ("requests[socks]>=2; python_version>'3'" → requests).
std::string ProjectName(const std::string& line) {
    size_t i = line.find_first_not_of(" \t");
    if (i == std::string::npos) return "";
    const size_t start = i;
    while (i < line.size() &&
           (std::isalnum(static_cast<unsigned char>(line[i])) || line[i] == '-' || line[i] == '_' || line[i] == '.'))
        ++i;
    return line.substr(start, i - start);
}

/// The requirements.txt line (1-based) whose project pip names in its error, and that line; 0 when none does.
std::pair<size_t, std::string> FailingLine(const std::string& requirements_file, const std::string& pip_output) {
    // pip says "No matching distribution found for NAME==1.0" or "... satisfies the requirement NAME==1.0".
    std::string named;
    for (const char* marker : {"No matching distribution found for ", "satisfies the requirement "}) {
        const size_t at = pip_output.rfind(marker);
        if (at != std::string::npos) {
            named = Normalized(ProjectName(pip_output.substr(at + std::char_traits<char>::length(marker))));
            break;
        }
    }
    std::ifstream in(requirements_file);
    std::string line;
    for (size_t n = 1; std::getline(in, line); ++n) {
        const std::string project = ProjectName(line);
        if (project.empty() || line.find_first_not_of(" \t") == line.find('#')) continue;
        if (!named.empty() && Normalized(project) == named) return {n, line};
    }
    return {0, ""};
}

}  // namespace

Status BuildVirtualenvBlocking(
    const std::string& requirements_file,
    const std::string& shown_file,
    const std::string& venv_dir,
    const VirtualenvOptions& options,
    const std::function<void(const std::string&)>& progress
) {
    const auto deadline = Clock::now() + options.timeout;
    std::error_code ec;
    fs::create_directories(fs::path(venv_dir).parent_path(), ec);
    if (ec) return Unavailable("cannot create " + fs::path(venv_dir).parent_path().string() + ": " + ec.message());
    auto fail = [&](Error e) {
        std::error_code ignored;
        fs::remove_all(venv_dir, ignored);
        return e;
    };
    progress("creating a virtualenv (" + options.python + " -m venv --system-site-packages)");
    // --without-pip: no bundled pip to copy in; the system's pip, visible through --system-site-packages, installs
    // into the virtualenv (its sys.prefix) as well.
    Result<Finished> venv = RunToEnd(
        {options.python, "-m", "venv", "--system-site-packages", "--without-pip", venv_dir},
        {},
        deadline,
        options.cancel
    );
    if (!venv) return fail(venv.error());
    if (venv->exit_code != 0) {
        return fail(Unavailable(
            "cannot create the virtualenv: " + options.python + " -m venv " +
            (venv->why_killed.empty() ? "exited " + std::to_string(venv->exit_code) : venv->why_killed) +
            Tail(venv->output, 10)
        ));
    }
    progress("installing " + shown_file + " with pip");
    Result<Finished> pip = RunToEnd(
        {venv_dir + "/bin/python",
         "-m",
         "pip",
         "install",
         "--disable-pip-version-check",
         "--no-input",
         "--no-color",
         "--progress-bar",
         "off",
         "-r",
         requirements_file},
        options.pip_env,
        deadline,
        options.cancel
    );
    if (!pip) return fail(pip.error());
    if (pip->why_killed == "canceled")
        return fail(Error(ErrorCode::kFailedPrecondition, "canceled while pip was installing"));
    if (pip->exit_code != 0) {
        const auto [line_no, line] = FailingLine(requirements_file, pip->output);
        std::string what = pip->why_killed.empty()
                               ? "pip exited " + std::to_string(pip->exit_code)
                               : "pip timed out after " + std::to_string(options.timeout.count()) + " s";
        return fail(InvalidArgument(
            (line_no > 0 ? shown_file + ":" + std::to_string(line_no) + ": requirement \"" + line +
                               "\" cannot be "
                               "installed ("
                         : shown_file + ": the requirements cannot be installed (") +
            what + "):" + Tail(pip->output, 6)
        ));
    }
    return {};
}

}  // namespace squall::packs
