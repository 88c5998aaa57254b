#include "squall/packs/installer.hpp"

#include <fcntl.h>
#include <git2.h>
#include <stdio.h>  // renameat2 (glibc, _GNU_SOURCE)
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <thread>

#include "squall/core/input.hpp"
#include "squall/core/yaml_json.hpp"

#if defined(__SANITIZE_ADDRESS__)
/// LeakSanitizer: libgit2 1.5 (Debian 12) leaks the PCRE2 match data of git_regexp_search when nothing matches
/// (fixed upstream by libgit2 PR #6382, in 1.6). ASan's fast unwinder stops inside libpcre2 (built without frame
/// pointers), so the stack never shows libgit2 and the suppression has to name libpcre2's module. Defined here,
/// with the only libgit2 user, so that every binary that links the installer (tests, `squall`) carries it.
extern "C" const char* __lsan_default_suppressions() {  // NOLINT(readability-identifier-naming): LSan's hook
    return "leak:libpcre2-8.so\n";
}
#endif

namespace squall::packs {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

/// The install was abandoned on request (the execution was canceled).
Error Canceled(std::string msg) {
    return Error(ErrorCode::kFailedPrecondition, std::move(msg));
}

/// The last libgit2 error, prefixed with what we were doing.
Error GitError(const std::string& what) {
    const git_error* e = git_error_last();
    return Error(ErrorCode::kUnavailable, what + ": " + (e && e->message ? e->message : "unknown libgit2 error"));
}

/// A URL as it may be shown: without `user:token@`.
std::string RedactUrl(const std::string& url) {
    const auto scheme = url.find("://");
    if (scheme == std::string::npos) return url;
    const auto at = url.find('@', scheme + 3);
    const auto slash = url.find('/', scheme + 3);
    if (at == std::string::npos || (slash != std::string::npos && at > slash)) return url;
    return url.substr(0, scheme + 3) + url.substr(at + 1);
}

bool IsValidRef(const std::string& ref) {
    return core::CheckPackName("pack", ref).has_value();
}

std::string RandomName() {
    std::random_device rd;
    std::uniform_int_distribution<int> hex(0, 15);
    std::string out;
    for (int i = 0; i < 16; ++i) out += "0123456789abcdef"[hex(rd)];
    return out;
}

/// Removes a directory tree when it goes out of scope, unless released.
class DirGuard {
public:
    explicit DirGuard(fs::path p) : path_(std::move(p)) {}
    ~DirGuard() {
        if (path_.empty()) return;
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    DirGuard(const DirGuard&) = delete;
    DirGuard& operator=(const DirGuard&) = delete;
    void Release() { path_.clear(); }

private:
    fs::path path_;
};

/// An exclusive flock on DATA/packs/.lock: one installer per data dir at a time, across processes.
class InstallLock {
public:
    ~InstallLock() {
        if (fd_ >= 0) close(fd_);  // releases the flock
    }
    InstallLock() = default;
    InstallLock(const InstallLock&) = delete;
    InstallLock& operator=(const InstallLock&) = delete;

    Status Acquire(const fs::path& file, Clock::time_point deadline, const std::atomic<bool>* cancel) {
        fd_ = open(file.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
        if (fd_ < 0) return Unavailable("cannot open " + file.string() + ": " + std::strerror(errno));
        // Non-blocking attempts so that the deadline and cancellation are honoured; this runs on a worker
        // thread, never on an event loop.
        while (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            if (errno != EWOULDBLOCK && errno != EINTR) {
                return Unavailable("cannot lock " + file.string() + ": " + std::strerror(errno));
            }
            if (cancel && cancel->load()) return Canceled("canceled");
            if (Clock::now() > deadline) {
                return Error(ErrorCode::kTimeout, "another pack install or removal is still running");
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        return {};
    }

private:
    int fd_ = -1;
};

/// State shared with libgit2's callbacks during one clone.
struct CloneState {
    Clock::time_point deadline;
    const std::atomic<bool>* cancel = nullptr;
    int credential_attempts = 0;
    bool timed_out = false;
    bool canceled = false;

    /// Non-zero aborts the transfer. libgit2 1.5 has no server timeouts, so the deadline is enforced here,
    /// each time data arrives.
    int Check() {
        if (cancel && cancel->load()) {
            canceled = true;
            return -1;
        }
        if (Clock::now() > deadline) {
            timed_out = true;
            return -1;
        }
        return 0;
    }
};

int OnTransfer(const git_indexer_progress*, void* payload) {
    return static_cast<CloneState*>(payload)->Check();
}

int OnSideband(const char*, int, void* payload) {
    return static_cast<CloneState*>(payload)->Check();
}

/// Never prompts: an ssh key from the agent (once) for ssh URLs, else a clean authentication failure.
/// Credentials inside an https URL (`user:token@`) are used by libgit2 before it asks here.
int OnCredentials(
    git_credential** out, const char* url, const char* username_from_url, unsigned int allowed, void* payload
) {
    auto* st = static_cast<CloneState*>(payload);
    if (st->Check() != 0) return -1;
    ++st->credential_attempts;
    const char* user = username_from_url && *username_from_url ? username_from_url : "git";
    if (st->credential_attempts <= 2 && (allowed & GIT_CREDENTIAL_USERNAME)) {
        return git_credential_username_new(out, user);
    }
    if (st->credential_attempts <= 2 && (allowed & GIT_CREDENTIAL_SSH_KEY)) {
        return git_credential_ssh_key_from_agent(out, user);
    }
    git_error_set_str(
        GIT_ERROR_NET,
        ("authentication required for " + RedactUrl(url ? url : "") +
         " (give a token in the URL for https, or load a key into ssh-agent for ssh)")
            .c_str()
    );
    return GIT_EAUTH;
}

/// X.Y.Z with decimal numbers.
bool IsSemver(const std::string& s) {
    int parts = 0;
    size_t i = 0;
    while (i < s.size()) {
        const size_t start = i;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
        if (i == start) return false;
        ++parts;
        if (i == s.size()) break;
        if (s[i] != '.') return false;
        ++i;
        if (i == s.size()) return false;
    }
    return parts == 3;
}

using RepoPtr = std::unique_ptr<git_repository, decltype(&git_repository_free)>;
using ObjectPtr = std::unique_ptr<git_object, decltype(&git_object_free)>;

/// The commit `ref` names: for X.Y.Z the tag vX.Y.Z (else X.Y.Z); otherwise a branch of the origin, a tag,
/// or anything git rev-parse takes (a sha); empty: the default branch's HEAD. `label` says what was found.
Result<ObjectPtr> ResolveRef(git_repository* repo, const std::string& ref, const std::string& url, std::string* label) {
    std::vector<std::pair<std::string, std::string>> candidates;  // revspec, label
    if (ref.empty()) {
        git_reference* head = nullptr;
        std::string branch = "HEAD";
        if (git_repository_head(&head, repo) == 0) {
            branch = git_reference_shorthand(head);
            git_reference_free(head);
        }
        candidates.emplace_back("HEAD", branch);
    } else if (IsSemver(ref)) {
        candidates.emplace_back("refs/tags/v" + ref, "v" + ref);
        candidates.emplace_back("refs/tags/" + ref, ref);
    } else {
        candidates.emplace_back("refs/remotes/origin/" + ref, ref);
        candidates.emplace_back("refs/tags/" + ref, ref);
        candidates.emplace_back(ref, ref);
    }
    for (const auto& [spec, what] : candidates) {
        git_object* obj = nullptr;
        if (git_revparse_single(&obj, repo, (spec + "^{commit}").c_str()) == 0) {
            *label = what;
            return ObjectPtr(obj, &git_object_free);
        }
    }
    if (ref.empty()) return NotFound(RedactUrl(url) + ": the repository has no commits");
    if (IsSemver(ref)) {
        return NotFound(RedactUrl(url) + ": version " + ref + " not found (no tag v" + ref + " or " + ref + ")");
    }
    return NotFound(RedactUrl(url) + ": ref \"" + ref + "\" not found (not a branch, tag or commit)");
}

/// Replaces every occurrence of `from` in `s`.
std::string ReplaceAll(std::string s, const std::string& from, const std::string& to) {
    if (from.empty()) return s;
    for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
        s.replace(pos, from.size(), to);
    }
    return s;
}

/// A dependency spec that is a bare pack name (`name` or `name=version`, the Exchange form).
bool IsBareName(const std::string& url) {
    return IsValidRef(url) && !fs::exists(url);
}

}  // namespace

Result<PackSource> PackSource::Parse(const std::string& raw) {
    std::string spec = raw;
    while (!spec.empty() && std::isspace(static_cast<unsigned char>(spec.back()))) spec.pop_back();
    while (!spec.empty() && std::isspace(static_cast<unsigned char>(spec.front()))) spec.erase(0, 1);
    if (spec.empty()) return InvalidArgument("pack source: is empty");
    const auto scheme = spec.find("://");
    const size_t search_from = scheme == std::string::npos ? 0 : scheme + 3;
    PackSource out;
    const auto eq = spec.rfind('=');
    if (eq != std::string::npos && eq >= search_from) {
        out.url = spec.substr(0, eq);
        out.ref = spec.substr(eq + 1);
        if (out.ref.empty()) return InvalidArgument("pack source \"" + raw + "\": empty ref after \"=\"");
    } else {
        out.url = spec;
    }
    if (out.url.empty()) return InvalidArgument("pack source \"" + raw + "\": no URL or path before \"=\"");
    if (scheme != std::string::npos) {
        const std::string s = out.url.substr(0, scheme);
        if (s != "https" && s != "http" && s != "ssh" && s != "file" && s != "git") {
            return InvalidArgument(
                "pack source \"" + raw + "\": unsupported scheme \"" + s + "\" (https, ssh, file or a local path)"
            );
        }
        return out;
    }
    // scp-like ssh (git@host:org/repo): a user@host before the first ':' and no '/' before it.
    const auto colon = out.url.find(':');
    const auto slash = out.url.find('/');
    if (colon != std::string::npos && (slash == std::string::npos || colon < slash) && out.url.find('@') < colon) {
        return out;
    }
    if (IsBareName(out.url)) return out;  // an Exchange-style name; the installer decides what it means
    std::error_code ec;
    fs::path abs = fs::absolute(out.url, ec);
    if (!ec) out.url = abs.lexically_normal().string();
    while (out.url.size() > 1 && out.url.back() == '/') out.url.pop_back();
    return out;
}

struct PackInstaller::Run {
    Clock::time_point lock_deadline;
    std::map<std::string, InstalledPack> done;  ///< ref → installed (or skipped) during this run
    std::vector<InstalledPack> order;
};

PackInstaller::PackInstaller(std::string data_dir, Progress progress)
    : data_dir_(std::move(data_dir)), progress_(std::move(progress)) {
    if (!progress_) progress_ = [](const std::string&) {};
}

std::string PackInstaller::PacksDir() const {
    return (fs::path(data_dir_) / "packs").string();
}

std::string PackInstaller::VirtualenvsDir() const {
    return (fs::path(data_dir_) / "virtualenvs").string();
}

Result<std::vector<InstalledPack>> PackInstaller::InstallBlocking(
    const std::vector<std::string>& specs, const InstallOptions& options
) {
    if (specs.empty()) return InvalidArgument("packs: give at least one pack source");
    std::vector<PackSource> sources;
    for (const auto& s : specs) {
        Result<PackSource> src = PackSource::Parse(s);
        if (!src) return src.error();
        sources.push_back(std::move(*src));
    }
    git_libgit2_init();
    struct Shutdown {
        ~Shutdown() { git_libgit2_shutdown(); }
    } shutdown;
#if LIBGIT2_VER_MAJOR > 1 || (LIBGIT2_VER_MAJOR == 1 && LIBGIT2_VER_MINOR >= 7)
    const int timeout_ms = static_cast<int>(std::chrono::milliseconds(options.git_timeout).count());
    git_libgit2_opts(GIT_OPT_SET_SERVER_CONNECT_TIMEOUT, timeout_ms);
    git_libgit2_opts(GIT_OPT_SET_SERVER_TIMEOUT, timeout_ms);
#endif

    std::error_code ec;
    fs::create_directories(fs::path(PacksDir()) / ".staging", ec);
    if (ec) return Unavailable("cannot create " + PacksDir() + "/.staging: " + ec.message());
    InstallLock lock;
    if (Status st = lock.Acquire(fs::path(PacksDir()) / ".lock", Clock::now() + options.git_timeout, options.cancel);
        !st) {
        return st.error();
    }
    Run run;
    for (const auto& src : sources) {
        std::vector<std::string> stack;
        Result<InstalledPack> one = InstallOne(src, options, run, stack);
        if (!one) return one.error();
    }
    return run.order;
}

Result<InstalledPack> PackInstaller::InstallOne(
    const PackSource& source, const InstallOptions& options, Run& run, std::vector<std::string>& stack
) {
    if (options.cancel && options.cancel->load()) return Canceled("canceled");
    const fs::path packs_dir(PacksDir());
    const bool known_name = IsValidRef(source.url) &&
                            (options.registered.count(source.url) || fs::exists(packs_dir / source.url / "pack.yaml"));
    if (IsBareName(source.url) || known_name) {
        // No pack index: a bare name is only satisfied by a pack that is already installed.
        InstalledPack existing;
        existing.ref = source.url;
        existing.path = (packs_dir / source.url).string();
        Result<LoadedPack> loaded = PackLoader().LoadPackBlocking(existing.path);
        if (!fs::exists(fs::path(existing.path) / "pack.yaml") || !loaded) {
            if (auto it = options.registered.find(source.url); it != options.registered.end()) {
                // Bundled with the server (not in DATA/packs): already there, nothing to install or register.
                existing.version = it->second;
                existing.path.clear();
                existing.skipped = true;
                progress_("dependency " + existing.ref + " " + existing.version + " is bundled with the server");
                return existing;
            }
            return NotFound(
                "pack \"" + source.ToString() +
                "\": not a git URL or local path, and no pack of that name is installed (Squall has no pack index)"
            );
        }
        existing.version = loaded->meta.version;
        existing.skipped = true;
        existing.loaded = std::move(*loaded);
        progress_("dependency " + existing.ref + " " + existing.version + " already installed");
        return existing;
    }

    const fs::path staging = packs_dir / ".staging" / RandomName();
    DirGuard staging_guard(staging);
    const std::string shown_url = RedactUrl(source.url);
    progress_("cloning " + source.ToString().replace(0, source.url.size(), shown_url));

    CloneState state;
    state.deadline = Clock::now() + options.git_timeout;
    state.cancel = options.cancel;
    git_clone_options clone_opts = GIT_CLONE_OPTIONS_INIT;
    clone_opts.checkout_opts.checkout_strategy = GIT_CHECKOUT_NONE;
    clone_opts.fetch_opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_ALL;
    clone_opts.fetch_opts.callbacks.transfer_progress = &OnTransfer;
    clone_opts.fetch_opts.callbacks.sideband_progress = &OnSideband;
    clone_opts.fetch_opts.callbacks.credentials = &OnCredentials;
    clone_opts.fetch_opts.callbacks.payload = &state;
    git_repository* raw_repo = nullptr;
    if (git_clone(&raw_repo, source.url.c_str(), staging.c_str(), &clone_opts) != 0) {
        if (state.canceled) return Canceled("canceled while cloning " + shown_url);
        if (state.timed_out) {
            return Error(
                ErrorCode::kTimeout,
                "cloning " + shown_url + ": timed out after " + std::to_string(options.git_timeout.count()) + "s"
            );
        }
        Error e = GitError("cloning " + shown_url);
        // A local folder that is not a git repository: say what install expects instead of libgit2's wording.
        const std::string local = source.url.rfind("file://", 0) == 0 ? source.url.substr(7) : source.url;
        std::error_code ec;
        if (fs::is_directory(local, ec) && !fs::exists(fs::path(local) / ".git", ec) &&
            e.message.find("could not find repository") != std::string::npos) {
            e.message = "cloning " + shown_url +
                        ": not a git repository (a local pack is installed from its latest commit: git init, add and "
                        "commit it first)";
        }
        return e;
    }
    RepoPtr repo(raw_repo, &git_repository_free);
    std::string label;
    Result<ObjectPtr> commit = ResolveRef(repo.get(), source.ref, source.url, &label);
    if (!commit) return commit.error();
    git_checkout_options checkout = GIT_CHECKOUT_OPTIONS_INIT;
    checkout.checkout_strategy = GIT_CHECKOUT_FORCE;
    if (git_checkout_tree(repo.get(), commit->get(), &checkout) != 0) {
        return GitError("checking out " + label + " of " + shown_url);
    }
    if (git_repository_set_head_detached(repo.get(), git_object_id(commit->get())) != 0) {
        return GitError("checking out " + label + " of " + shown_url);
    }
    const std::string sha = git_oid_tostr_s(git_object_id(commit->get()));
    repo.reset();
    progress_("checked out " + label + " (" + sha.substr(0, 12) + ")");

    // Validate what was checked out. Locations point into the staging folder: show them relative to the pack.
    Result<LoadedPack> loaded =
        PackLoader(PackLoaderOptions{
                       "", options.runner_types, options.check_rule, options.check_workflow, options.runner_parameters})
            .LoadPackBlocking(staging.string());
    if (!loaded) {
        Error e = loaded.error();
        const std::string shown = shown_url + "=" + label + "/";
        if (e.location) e.location->file = ReplaceAll(e.location->file, staging.string() + "/", shown);
        e.message = ReplaceAll(e.message, staging.string() + "/", shown);
        return e;
    }
    const std::string ref = loaded->meta.ref;
    if (std::find(stack.begin(), stack.end(), ref) != stack.end()) {
        std::string cycle;
        for (auto it = std::find(stack.begin(), stack.end(), ref); it != stack.end(); ++it) cycle += *it + " -> ";
        return InvalidArgument("dependency cycle: " + cycle + ref);
    }
    if (auto it = run.done.find(ref); it != run.done.end()) {
        InstalledPack again = it->second;
        again.skipped = true;
        return again;
    }
    if (!loaded->errors.empty() && !options.force) {
        std::string msg = "pack \"" + ref + "\" (" + shown_url + "=" + label + ") has " +
                          std::to_string(loaded->errors.size()) + " load error" +
                          (loaded->errors.size() == 1 ? "" : "s") + " (use --force to install anyway):";
        for (const auto& e : loaded->errors) msg += "\n  " + ReplaceAll(e.What(), staging.string() + "/", ref + "/");
        return InvalidArgument(msg);
    }
    progress_(
        "validated: " + std::to_string(loaded->actions.size()) + " actions, " + std::to_string(loaded->rules.size()) +
        " rules" +
        (loaded->errors.empty() ? "" : " (" + std::to_string(loaded->errors.size()) + " load errors, forced)") +
        (loaded->warnings.empty()
             ? ""
             : ", " + std::to_string(loaded->warnings.size()) + " warning" + (loaded->warnings.size() == 1 ? "" : "s"))
    );
    for (const auto& w : loaded->warnings)
        progress_("warning: " + ReplaceAll(w.What(), staging.string() + "/", ref + "/"));

    const fs::path target = packs_dir / ref;
    // A dependency that is already installed at the same version is left alone.
    if (!stack.empty() && !loaded->meta.version.empty()) {
        Result<LoadedPack> current = PackLoader().LoadPackBlocking(target.string());
        if (current && current->meta.ref == ref && current->meta.version == loaded->meta.version) {
            progress_("dependency " + ref + " " + loaded->meta.version + " already installed");
            InstalledPack skipped{ref, loaded->meta.version, target.string(), sha, true, std::move(*current)};
            run.done[ref] = skipped;
            return skipped;
        }
    }

    // Dependencies first (same source syntax), with this pack on the stack for cycle detection.
    Result<core::YamlDocument> meta = core::LoadYamlFile((staging / "pack.yaml").string());
    if (meta && meta->value.is_object() && meta->value.contains("dependencies")) {
        const Json& deps = meta->value["dependencies"];
        if (!deps.is_array()) {
            return InvalidArgument(ref + "/pack.yaml: dependencies: must be a list of pack sources");
        }
        stack.push_back(ref);
        for (const auto& d : deps) {
            if (!d.is_string()) return InvalidArgument(ref + "/pack.yaml: dependencies: must be a list of strings");
            Result<PackSource> dep = PackSource::Parse(d.get<std::string>());
            if (!dep) return Error(dep.error().code, ref + "/pack.yaml: dependencies: " + dep.error().message);
            // A pack name that is installed or bundled means that pack, even where the server's working
            // directory happens to hold a folder of that name (`core` in a source tree).
            const std::string& name = d.get_ref<const std::string&>();
            if (IsValidRef(name) && (options.registered.count(name) || fs::exists(packs_dir / name / "pack.yaml")))
                dep->url = name;
            progress_("dependency of " + ref + ": " + RedactUrl(dep->ToString()));
            Result<InstalledPack> installed = InstallOne(*dep, options, run, stack);
            if (!installed) {
                if (installed.error().message.rfind("dependency cycle:", 0) == 0) return installed.error();
                return Error(
                    installed.error().code,
                    "dependency " + dep->ToString() + " of " + ref + ": " + installed.error().message
                );
            }
        }
        stack.pop_back();
    }
    if (options.cancel && options.cancel->load()) return Canceled("canceled");

    // The pack's virtualenv, built before anything is swapped in: a requirement that cannot be installed fails the
    // install with the pack and its virtualenv as they were. Built beside the live one and renamed over it.
    const fs::path venvs(VirtualenvsDir());
    const fs::path venv_target = venvs / ref;
    std::optional<DirGuard> venv_guard;
    fs::path venv_new;
    if (fs::is_regular_file(staging / "requirements.txt")) {
        venv_new = venvs / ".staging" / RandomName();
        venv_guard.emplace(venv_new);
        VirtualenvOptions vo = options.virtualenv;
        vo.cancel = options.cancel;
        if (Status st = BuildVirtualenvBlocking(
                (staging / "requirements.txt").string(), ref + "/requirements.txt", venv_new.string(), vo, progress_
            );
            !st) {
            if (!options.force) return Error(st.error().code, st.error().message + "\n(use --force to install anyway)");
            // Forced: the pack goes in without a new virtualenv (its python actions report the missing modules).
            progress_("warning: " + st.error().message);
            venv_guard.reset();
            venv_new.clear();
        }
    }

    // Swap in. RENAME_EXCHANGE swaps both names in one step, so DATA/packs/<ref> always holds a whole
    // version; the old one ends up in the staging folder and is deleted with it.
    std::error_code ec;
    if (fs::exists(target, ec)) {
        if (renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) != 0) {
            // Filesystems without RENAME_EXCHANGE: move the old aside, the new in, and the old back on failure.
            const fs::path aside = packs_dir / ".staging" / (RandomName() + "-old");
            DirGuard aside_guard(aside);
            fs::rename(target, aside, ec);
            if (ec) return Unavailable("cannot move " + target.string() + " aside: " + ec.message());
            fs::rename(staging, target, ec);
            if (ec) {
                std::error_code back;
                fs::rename(aside, target, back);
                return Unavailable("cannot move the new version into " + target.string() + ": " + ec.message());
            }
        }
    } else {
        fs::rename(staging, target, ec);
        if (ec) return Unavailable("cannot move the new version into " + target.string() + ": " + ec.message());
        staging_guard.Release();
    }

    {
        // The virtualenv follows the pack: the new one in place, or none when the new version has no requirements.
        const fs::path old_venv = venvs / ".staging" / (RandomName() + "-old");
        std::error_code venv_ec;
        if (fs::exists(venv_target, venv_ec)) fs::rename(venv_target, old_venv, venv_ec);
        if (!venv_new.empty()) {
            fs::rename(venv_new, venv_target, venv_ec);
            if (venv_ec) {
                return Unavailable(
                    "installed " + ref + " but cannot move its virtualenv into " + venv_target.string() + ": " +
                    venv_ec.message()
                );
            }
            venv_guard->Release();
            progress_("virtualenv " + venv_target.string() + " ready");
        }
        fs::remove_all(old_venv, venv_ec);
    }

    // Loaded again from its final place, now with DATA/configs/<ref>.yaml validated against its schema.
    const PackLoader with_config(PackLoaderOptions{
        (fs::path(data_dir_) / "configs").string(),
        options.runner_types,
        options.check_rule,
        options.check_workflow,
        options.runner_parameters});
    Result<LoadedPack> final_pack = with_config.LoadPackBlocking(target.string());
    if (!final_pack) return final_pack.error();
    // What its rules name, now that its dependencies are in place (a rule may use a dependency's trigger type). A
    // rule naming a trigger type nothing declares is left out and reported with the pack's load errors; it does not
    // refuse the install, since it depends on what else is installed, as StackStorm registers the rest of a pack
    // (StackStorm's `examples` has a rule on the `linux` pack's file_watch trigger). `squall pack register` after
    // installing the missing pack brings the rule in.
    KnownContent known = options.known;
    for (const auto& [done_ref, done] : run.done) known.Add(done.loaded);
    const bool told = !options.known.actions.empty() || !options.known.trigger_types.empty();
    // Every problem is shown, with the path inside the pack as the other messages give it (`ops/rules/x.yaml:14:8`).
    const size_t warnings_before = final_pack->warnings.size();
    const std::string installed_prefix = packs_dir.string() + "/";
    if (const size_t n = told ? CheckRuleReferences(*final_pack, known) : 0; n > 0) {
        const auto& errors = final_pack->errors;
        progress_(std::to_string(n) + " rule" + (n == 1 ? "" : "s") + " left out:");
        for (size_t i = errors.size() - n; i < errors.size(); ++i)
            progress_("  " + ReplaceAll(errors[i].What(), installed_prefix, ""));
    }
    for (size_t i = warnings_before; i < final_pack->warnings.size(); ++i)
        progress_("warning: " + ReplaceAll(final_pack->warnings[i].What(), installed_prefix, ""));
    InstalledPack out{ref, final_pack->meta.version, target.string(), sha, false, std::move(*final_pack)};
    progress_("installed " + ref + " " + (out.version.empty() ? "(no version)" : out.version));
    run.done[ref] = out;
    run.order.push_back(out);
    return out;
}

Status PackInstaller::RemoveBlocking(const std::string& ref) {
    if (!IsValidRef(ref)) return InvalidArgument("pack \"" + ref + "\": not a valid pack ref");
    const fs::path packs_dir(PacksDir());
    const fs::path target = packs_dir / ref;
    std::error_code ec;
    if (!fs::exists(target / "pack.yaml", ec)) {
        return NotFound(
            "pack \"" + ref + "\" is not installed in " + PacksDir() + " (bundled packs cannot be removed)"
        );
    }
    fs::create_directories(packs_dir / ".staging", ec);
    InstallLock lock;
    if (Status st = lock.Acquire(packs_dir / ".lock", Clock::now() + std::chrono::seconds(60), nullptr); !st) return st;
    // Rename first so that the pack disappears at once, then delete at leisure.
    const fs::path trash = packs_dir / ".staging" / (RandomName() + "-removed");
    fs::rename(target, trash, ec);
    if (ec) return Unavailable("cannot remove " + target.string() + ": " + ec.message());
    fs::remove_all(trash, ec);
    fs::remove_all(fs::path(VirtualenvsDir()) / ref, ec);
    progress_("removed " + ref);
    return {};
}

}  // namespace squall::packs
