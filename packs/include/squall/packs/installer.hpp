#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "squall/core/error.hpp"
#include "squall/packs/loader.hpp"
#include "squall/packs/references.hpp"
#include "squall/packs/virtualenv.hpp"

namespace squall::packs {

/// One `st2 pack install` argument: `<source>[=<ref>]` (SPEC §2, reference §3.8). `source` is an https://,
/// ssh://, git@host:path or file:// URL, or a local path to a git repository (bare or not); `ref` is a branch,
/// a tag, a commit sha or `X.Y.Z` (tag `vX.Y.Z`, else `X.Y.Z`); empty means the default branch's HEAD.
struct PackSource {
    std::string url;
    std::string ref;
    /// Splits on the last `=` after the URL's scheme and host; a local relative path becomes absolute.
    static Result<PackSource> Parse(const std::string& spec);
    std::string ToString() const { return ref.empty() ? url : url + "=" + ref; }
};

struct InstallOptions {
    /// Install even when the pack has load errors (they are registered with it).
    bool force = false;
    /// Deadline of each clone (checked in libgit2's progress callbacks; see installer.cpp).
    std::chrono::seconds git_timeout{300};
    /// Runner types that exist; when non-empty, an action naming another one is a load error.
    std::set<std::string> runner_types;
    /// When set, a rule it rejects (unknown operator, bad pattern) is a load error (PackLoaderOptions).
    RuleCheck check_rule;
    /// When set, workflow definitions are checked with it (PackLoaderOptions).
    WorkflowCheck check_workflow;
    /// Runner type → its parameters' schemas, for the runner parameter overrides (PackLoaderOptions).
    std::map<std::string, Json> runner_parameters;
    /// Set by another thread to abandon the install (checked between steps and during clones).
    const std::atomic<bool>* cancel = nullptr;
    /// Packs registered from elsewhere than DATA/packs (the bundled `core`, ...): ref → version. A dependency
    /// given by bare name is satisfied by one of them as by an installed pack.
    std::map<std::string, std::string> registered;
    /// A pack with a requirements.txt gets DATA/virtualenvs/<ref> (packs/virtualenv.hpp); its python actions and
    /// sensors run in it. The build's deadline and cancel flag are set from this struct's.
    VirtualenvOptions virtualenv;
    /// What is registered already, for the references of the pack's rules (CheckRuleReferences): a rule on an
    /// unknown trigger type is left out with a load error (the install goes on), an unknown action is a warning.
    /// The packs installed in the same run count too. Empty: the references are not checked.
    KnownContent known;
};

/// A pack the installer put in place (or found already in place, `skipped`).
struct InstalledPack {
    std::string ref;
    std::string version;
    std::string path;      ///< DATA/packs/<ref>
    std::string commit;    ///< checked-out sha
    bool skipped = false;  ///< a dependency already installed at the same version
    LoadedPack loaded;     ///< the pack as loaded from `path` (with its load errors when forced)
};

/// Installs packs from git into DATA/packs (SPEC §2). Blocking (libgit2 and file I/O): run it on a worker
/// thread, never on an event loop. Each pack is cloned into DATA/packs/.staging/<random>, checked out
/// (detached) at its ref, validated with PackLoader, its `dependencies:` installed first, and then swapped in
/// atomically (renameat2 RENAME_EXCHANGE): on any failure the previous version stays in place. Pack configs
/// live in DATA/configs and are never touched. An flock on DATA/packs/.lock serialises installers of one data
/// dir, also across processes. Thread-compatible: one instance per thread.
class PackInstaller {
public:
    using Progress = std::function<void(const std::string& line)>;

    /// `progress` gets human-readable lines (`cloning …`, `checked out v1.2.0 (sha)`, `validated: N actions,
    /// M rules`, `installed <ref> 1.2.0`) on the calling thread.
    PackInstaller(std::string data_dir, Progress progress);

    /// Installs every spec (dependencies first). Returns the packs in install order, dependencies included.
    /// A failure lists every error (load errors with file:line:col; `dependency cycle: a -> b -> a`).
    Result<std::vector<InstalledPack>> InstallBlocking(
        const std::vector<std::string>& specs, const InstallOptions& options
    );
    /// Deletes DATA/packs/<ref> and its virtualenv (kNotFound when it is not installed there).
    /// DATA/configs/<ref>.yaml is kept.
    Status RemoveBlocking(const std::string& ref);

    /// DATA/packs.
    std::string PacksDir() const;
    /// DATA/virtualenvs.
    std::string VirtualenvsDir() const;

private:
    struct Run;
    Result<InstalledPack> InstallOne(
        const PackSource& source, const InstallOptions& options, Run& run, std::vector<std::string>& stack
    );

    std::string data_dir_;
    Progress progress_;
};

}  // namespace squall::packs
