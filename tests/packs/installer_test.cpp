// PackInstaller against real git repositories made in temp dirs with the git CLI (file://, bare, plain path).
#include "squall/packs/installer.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>
#include <cstdio>
#include <cstdlib>

#include <filesystem>
#include <fstream>
#include <map>

#include "files.hpp"
#include "git_repo.hpp"
#include "temp_dir.hpp"

namespace squall::packs {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

using test::Git;
constexpr auto Write = test::WriteFile;

std::string PackYaml(const std::string& ref, const std::string& version, const std::vector<std::string>& deps = {}) {
    std::string y = "---\nref: " + ref + "\nname: " + ref + "\nversion: " + version + "\nauthor: t\n";
    if (!deps.empty()) {
        y += "dependencies:\n";
        for (const auto& d : deps) y += "  - \"" + d + "\"\n";
    }
    return y;
}

std::string ActionYaml(const std::string& name) {
    return "---\nname: " + name +
           "\nrunner_type: local-shell-cmd\nparameters:\n  cmd:\n    type: string\n    default: echo " + name + "\n";
}

/// A git work tree holding a pack; Commit() returns the new commit's sha.
class PackRepo {
public:
    PackRepo(const fs::path& dir, const std::string& ref) : dir_(dir), ref_(ref) {
        fs::create_directories(dir_);
        Git(dir_, {"init", "-q"});
    }
    void SetVersion(const std::string& version, const std::vector<std::string>& deps = {}) {
        Write(dir_ / "pack.yaml", PackYaml(ref_, version, deps));
    }
    void AddAction(const std::string& name) { Write(dir_ / "actions" / (name + ".yaml"), ActionYaml(name)); }
    void RemoveAction(const std::string& name) { fs::remove(dir_ / "actions" / (name + ".yaml")); }
    void WriteFile(const std::string& rel, const std::string& text) { Write(dir_ / rel, text); }
    std::string Commit(const std::string& msg) {
        Git(dir_, {"add", "-A"});
        Git(dir_, {"commit", "-q", "-m", msg});
        return Git(dir_, {"rev-parse", "HEAD"});
    }
    void Tag(const std::string& tag) { Git(dir_, {"tag", tag}); }
    void Branch(const std::string& name) { Git(dir_, {"checkout", "-q", "-b", name}); }
    void Checkout(const std::string& name) { Git(dir_, {"checkout", "-q", name}); }
    std::string Url() const { return "file://" + dir_.string(); }
    const fs::path& dir() const { return dir_; }

private:
    fs::path dir_;
    std::string ref_;
};

class InstallerTest : public ::testing::Test {
protected:
    InstallerTest() : installer_(data_.path().string(), [this](const std::string& l) { lines_.push_back(l); }) {}

    Result<std::vector<InstalledPack>> Install(
        std::vector<std::string> specs, bool force = false, std::map<std::string, std::string> registered = {}
    ) {
        lines_.clear();
        InstallOptions opts;
        opts.force = force;
        opts.registered = std::move(registered);
        opts.git_timeout = std::chrono::seconds(60);
        return installer_.InstallBlocking(specs, opts);
    }
    fs::path Installed(const std::string& ref) const { return data_.path() / "packs" / ref; }
    std::string InstalledVersion(const std::string& ref) const {
        Result<LoadedPack> p = PackLoader().LoadPackBlocking(Installed(ref).string());
        return p ? p->meta.version : "<not installed>";
    }
    bool HasLine(const std::string& prefix) const {
        for (const auto& l : lines_) {
            if (l.rfind(prefix, 0) == 0) return true;
        }
        return false;
    }
    std::string Lines() const {
        std::string s;
        for (const auto& l : lines_) s += l + "\n";
        return s;
    }

    TempDir repos_;
    TempDir data_;
    std::vector<std::string> lines_;
    PackInstaller installer_;
};

TEST(PackSourceTest, ParsesUrlsPathsAndRefs) {
    Result<PackSource> a = PackSource::Parse("https://github.com/org/repo.git=v1.2.0");
    ASSERT_TRUE(a) << a.error().What();
    EXPECT_EQ(a->url, "https://github.com/org/repo.git");
    EXPECT_EQ(a->ref, "v1.2.0");
    Result<PackSource> b = PackSource::Parse("git@github.com:org/repo.git=main");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->url, "git@github.com:org/repo.git");
    EXPECT_EQ(b->ref, "main");
    Result<PackSource> c = PackSource::Parse("file:///tmp/x");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->url, "file:///tmp/x");
    EXPECT_EQ(c->ref, "");
    Result<PackSource> d = PackSource::Parse("/srv/packs/mine/=1.0.0");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->url, "/srv/packs/mine");
    EXPECT_EQ(d->ref, "1.0.0");
    Result<PackSource> e = PackSource::Parse("ftp://host/x");
    ASSERT_FALSE(e);
    EXPECT_NE(e.error().message.find("unsupported scheme \"ftp\""), std::string::npos);
    EXPECT_FALSE(PackSource::Parse("file:///x="));
    EXPECT_FALSE(PackSource::Parse("  "));
}

TEST_F(InstallerTest, InstallsDefaultBranchFromFileUrl) {
    PackRepo repo(repos_.path() / "alpha", "alpha");
    repo.SetVersion("1.0.0");
    repo.AddAction("hello");
    const std::string sha = repo.Commit("v1");
    Result<std::vector<InstalledPack>> r = Install({repo.Url()});
    ASSERT_TRUE(r) << r.error().What();
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ((*r)[0].ref, "alpha");
    EXPECT_EQ((*r)[0].version, "1.0.0");
    EXPECT_EQ((*r)[0].commit, sha);
    EXPECT_EQ((*r)[0].path, Installed("alpha").string());
    ASSERT_EQ((*r)[0].loaded.actions.size(), 1u);
    EXPECT_EQ((*r)[0].loaded.actions[0].Ref(), "alpha.hello");
    EXPECT_TRUE(fs::exists(Installed("alpha") / "actions" / "hello.yaml"));
    EXPECT_TRUE(HasLine("cloning " + repo.Url())) << Lines();
    EXPECT_TRUE(HasLine("checked out main (" + sha.substr(0, 12) + ")")) << Lines();
    EXPECT_TRUE(HasLine("validated: 1 actions, 0 rules")) << Lines();
    EXPECT_TRUE(HasLine("installed alpha 1.0.0")) << Lines();
    // Nothing is left in staging.
    EXPECT_TRUE(fs::is_empty(data_.path() / "packs" / ".staging"));
}

TEST_F(InstallerTest, InstallsFromBareRepoAndPlainPath) {
    PackRepo repo(repos_.path() / "work", "beta");
    repo.SetVersion("0.3.0");
    repo.AddAction("one");
    repo.Commit("c1");
    Git(repos_.path(), {"clone", "-q", "--bare", repo.dir().string(), (repos_.path() / "beta.git").string()});

    Result<std::vector<InstalledPack>> bare = Install({(repos_.path() / "beta.git").string()});
    ASSERT_TRUE(bare) << bare.error().What();
    EXPECT_EQ(InstalledVersion("beta"), "0.3.0");

    fs::remove_all(Installed("beta"));
    Result<std::vector<InstalledPack>> plain = Install({repo.dir().string()});
    ASSERT_TRUE(plain) << plain.error().What();
    EXPECT_EQ(InstalledVersion("beta"), "0.3.0");

    Result<std::vector<InstalledPack>> not_git = Install({data_.path().string()});
    ASSERT_FALSE(not_git);
    EXPECT_NE(
        not_git.error().message.find("cloning " + data_.path().string() + ": not a git repository"), std::string::npos
    ) << not_git.error().message;
    EXPECT_NE(not_git.error().message.find("git init, add and commit it first"), std::string::npos)
        << not_git.error().message;
}

TEST_F(InstallerTest, ChecksOutBranchTagVersionAndCommit) {
    PackRepo repo(repos_.path() / "gamma", "gamma");
    repo.SetVersion("1.0.0");
    repo.AddAction("a");
    const std::string sha1 = repo.Commit("1.0.0");
    repo.Tag("v1.0.0");
    repo.SetVersion("1.5.0");
    repo.Commit("1.5.0");
    repo.Tag("1.5.0");  // no "v": X.Y.Z falls back to the bare tag
    repo.Branch("dev");
    repo.SetVersion("2.0.0-dev");
    repo.Commit("dev");
    repo.Checkout("main");
    repo.SetVersion("1.9.0");
    repo.Commit("main head");

    struct Case {
        std::string ref;
        std::string version;
        std::string label;
    };
    for (const Case& c : std::vector<Case>{
             {"1.0.0", "1.0.0", "v1.0.0"},
             {"v1.0.0", "1.0.0", "v1.0.0"},
             {"1.5.0", "1.5.0", "1.5.0"},
             {"dev", "2.0.0-dev", "dev"},
             {sha1, "1.0.0", sha1},
             {sha1.substr(0, 10), "1.0.0", sha1.substr(0, 10)},
             {"", "1.9.0", "main"}}) {
        SCOPED_TRACE("ref=" + c.ref);
        Result<std::vector<InstalledPack>> r = Install({c.ref.empty() ? repo.Url() : repo.Url() + "=" + c.ref});
        ASSERT_TRUE(r) << r.error().What();
        EXPECT_EQ(InstalledVersion("gamma"), c.version);
        EXPECT_TRUE(HasLine("checked out " + c.label + " (")) << Lines();
    }
    // The checkout is detached at the commit.
    EXPECT_EQ(Git(Installed("gamma"), {"rev-parse", "--abbrev-ref", "HEAD"}), "HEAD");

    Result<std::vector<InstalledPack>> missing = Install({repo.Url() + "=nope"});
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message.find("ref \"nope\" not found"), std::string::npos) << missing.error().message;
    Result<std::vector<InstalledPack>> no_version = Install({repo.Url() + "=3.0.0"});
    ASSERT_FALSE(no_version);
    EXPECT_NE(no_version.error().message.find("no tag v3.0.0 or 3.0.0"), std::string::npos);
    EXPECT_EQ(InstalledVersion("gamma"), "1.9.0");  // failures leave the installed version alone
}

TEST_F(InstallerTest, InstallsDependenciesFirstAndSkipsInstalledOnes) {
    PackRepo c(repos_.path() / "c", "pc");
    c.SetVersion("1.0.0");
    c.AddAction("c1");
    c.Commit("c");
    PackRepo b(repos_.path() / "b", "pb");
    b.SetVersion("1.0.0", {c.Url()});
    b.AddAction("b1");
    b.Commit("b");
    PackRepo a(repos_.path() / "a", "pa");
    a.SetVersion("1.0.0", {b.Url(), c.Url()});
    a.AddAction("a1");
    a.Commit("a");

    Result<std::vector<InstalledPack>> r = Install({a.Url()});
    ASSERT_TRUE(r) << r.error().What();
    ASSERT_EQ(r->size(), 3u);
    EXPECT_EQ((*r)[0].ref, "pc");
    EXPECT_EQ((*r)[1].ref, "pb");
    EXPECT_EQ((*r)[2].ref, "pa");
    for (const char* ref : {"pa", "pb", "pc"}) EXPECT_EQ(InstalledVersion(ref), "1.0.0") << ref;

    // Reinstalling the top pack: its dependencies are already there at the same version.
    Result<std::vector<InstalledPack>> again = Install({a.Url()});
    ASSERT_TRUE(again) << again.error().What();
    ASSERT_EQ(again->size(), 1u);
    EXPECT_EQ((*again)[0].ref, "pa");
    EXPECT_TRUE(HasLine("dependency pb 1.0.0 already installed")) << Lines();
    EXPECT_TRUE(HasLine("dependency pc 1.0.0 already installed")) << Lines();

    // A new version of a dependency is installed.
    c.SetVersion("1.1.0");
    c.Commit("c 1.1.0");
    Result<std::vector<InstalledPack>> upgraded = Install({a.Url()});
    ASSERT_TRUE(upgraded) << upgraded.error().What();
    EXPECT_EQ(InstalledVersion("pc"), "1.1.0");

    // A bare name is satisfied only by an installed pack (there is no index).
    PackRepo d(repos_.path() / "d", "pd");
    d.SetVersion("1.0.0", {"pc", "nosuchpack"});
    d.Commit("d");
    Result<std::vector<InstalledPack>> bare = Install({d.Url()});
    ASSERT_FALSE(bare);
    EXPECT_NE(bare.error().message.find("\"nosuchpack\": not a git URL or local path"), std::string::npos)
        << bare.error().message;
    EXPECT_FALSE(fs::exists(Installed("pd")));
}

TEST_F(InstallerTest, ABundledPackSatisfiesADependencyByName) {
    // `dependencies: [core]`: core ships with the server, registered from its packs folder, not DATA/packs.
    PackRepo a(repos_.path() / "a", "usescore");
    a.SetVersion("1.0.0", {"core"});
    a.AddAction("a1");
    a.Commit("a");
    Result<std::vector<InstalledPack>> r = Install({a.Url()}, false, {{"core", "1.0.0"}});
    ASSERT_TRUE(r) << r.error().What();
    ASSERT_EQ(r->size(), 1u);  // as an installed dependency: left alone, not in the list
    EXPECT_EQ((*r)[0].ref, "usescore");
    EXPECT_TRUE(HasLine("dependency core 1.0.0 is bundled with the server")) << Lines();
    EXPECT_FALSE(fs::exists(Installed("core")));
}

TEST_F(InstallerTest, TwoPartVersionsReadAsStackStormReadsThem) {
    // Older Exchange packs say `version: 1.0` (a YAML float) or "0.2": StackStorm makes them 1.0.0 and 0.2.0.
    PackRepo a(repos_.path() / "a", "oldpack");
    a.WriteFile("pack.yaml", "---\nref: oldpack\nname: oldpack\nversion: 1.0\nauthor: t\n");
    a.AddAction("a1");
    a.Commit("a");
    Result<std::vector<InstalledPack>> r = Install({a.Url()});
    ASSERT_TRUE(r) << r.error().What();
    EXPECT_EQ((*r)[0].version, "1.0.0");
    a.WriteFile("pack.yaml", "---\nref: oldpack\nname: oldpack\nversion: \"0.2\"\nauthor: t\n");
    a.Commit("0.2");
    Result<std::vector<InstalledPack>> again = Install({a.Url()});
    ASSERT_TRUE(again) << again.error().What();
    EXPECT_EQ((*again)[0].version, "0.2.0");
}

TEST_F(InstallerTest, ReportsDependencyCycles) {
    const fs::path a_dir = repos_.path() / "a";
    const fs::path b_dir = repos_.path() / "b";
    PackRepo a(a_dir, "ca");
    PackRepo b(b_dir, "cb");
    a.SetVersion("1.0.0", {"file://" + b_dir.string()});
    a.Commit("a");
    b.SetVersion("1.0.0", {"file://" + a_dir.string()});
    b.Commit("b");
    Result<std::vector<InstalledPack>> r = Install({a.Url()});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "dependency cycle: ca -> cb -> ca");
    EXPECT_FALSE(fs::exists(Installed("ca")));
    EXPECT_FALSE(fs::exists(Installed("cb")));
}

TEST_F(InstallerTest, ReinstallUpgradesAndKeepsTheConfig) {
    PackRepo repo(repos_.path() / "up", "up");
    repo.SetVersion("1.0.0");
    repo.AddAction("old");
    repo.Commit("v1");
    repo.Tag("v1.0.0");
    ASSERT_TRUE(Install({repo.Url() + "=1.0.0"}));
    const fs::path config = data_.path() / "configs" / "up.yaml";
    Write(config, "---\ntoken: abc\n");

    repo.RemoveAction("old");
    repo.AddAction("new");
    repo.SetVersion("2.0.0");
    repo.Commit("v2");
    repo.Tag("v2.0.0");
    Result<std::vector<InstalledPack>> r = Install({repo.Url() + "=2.0.0"});
    ASSERT_TRUE(r) << r.error().What();
    EXPECT_EQ(InstalledVersion("up"), "2.0.0");
    EXPECT_TRUE(fs::exists(Installed("up") / "actions" / "new.yaml"));
    EXPECT_FALSE(fs::exists(Installed("up") / "actions" / "old.yaml"));
    ASSERT_EQ((*r)[0].loaded.actions.size(), 1u);
    EXPECT_EQ((*r)[0].loaded.actions[0].Ref(), "up.new");
    EXPECT_EQ(test::ReadFile(config.string()), "---\ntoken: abc\n");
    // The old version went away with the staging folder.
    EXPECT_TRUE(fs::is_empty(data_.path() / "packs" / ".staging"));
}

TEST_F(InstallerTest, BrokenVersionFailsAndLeavesTheOldOneInPlace) {
    PackRepo repo(repos_.path() / "br", "br");
    repo.SetVersion("1.0.0");
    repo.AddAction("works");
    repo.Commit("v1");
    ASSERT_TRUE(Install({repo.Url()}));

    repo.SetVersion("2.0.0");
    repo.WriteFile("actions/bad.yaml", "---\nname: bad\nparameters:\n  x:\n    type: string\n");  // no runner_type
    repo.WriteFile("actions/worse.yaml", "---\nname: [unclosed\n");
    repo.Commit("v2 broken");
    Result<std::vector<InstalledPack>> r = Install({repo.Url()});
    ASSERT_FALSE(r);
    const std::string& msg = r.error().message;
    EXPECT_NE(msg.find("pack \"br\""), std::string::npos) << msg;
    EXPECT_NE(msg.find("2 load errors"), std::string::npos) << msg;
    EXPECT_NE(msg.find("br/actions/bad.yaml:"), std::string::npos) << msg;
    EXPECT_NE(msg.find("br/actions/worse.yaml:3:"), std::string::npos) << msg;
    EXPECT_EQ(msg.find(".staging"), std::string::npos) << msg;
    EXPECT_EQ(InstalledVersion("br"), "1.0.0");
    EXPECT_TRUE(fs::exists(Installed("br") / "actions" / "works.yaml"));
    EXPECT_TRUE(fs::is_empty(data_.path() / "packs" / ".staging"));

    // --force installs it anyway, with its load errors.
    Result<std::vector<InstalledPack>> forced = Install({repo.Url()}, true);
    ASSERT_TRUE(forced) << forced.error().What();
    EXPECT_EQ(InstalledVersion("br"), "2.0.0");
    EXPECT_EQ((*forced)[0].loaded.errors.size(), 2u);
    EXPECT_EQ((*forced)[0].loaded.actions.size(), 1u);
}

TEST_F(InstallerTest, ActionsOfARunnerThisServerLacksAreWarningsAndUnavailable) {
    // As StackStorm's own core pack (winrm_cmd.yaml): the pack installs, the action is there but cannot run.
    PackRepo repo(repos_.path() / "rt", "rt");
    repo.SetVersion("1.0.0");
    repo.WriteFile("actions/x.yaml", "---\nname: x\nrunner_type: winrm-cmd\n");
    repo.WriteFile("actions/y.yaml", "---\nname: y\nrunner_type: no-such-runner\n");
    repo.WriteFile("actions/z.yaml", "---\nname: z\nrunner_type: noop\n");
    repo.Commit("c");
    InstallOptions opts;
    opts.runner_types = {"local-shell-cmd", "noop"};
    Result<std::vector<InstalledPack>> r = installer_.InstallBlocking({repo.Url()}, opts);
    ASSERT_TRUE(r) << r.error().What();
    const LoadedPack& p = (*r)[0].loaded;
    EXPECT_TRUE(p.errors.empty());
    ASSERT_EQ(p.actions.size(), 3u);
    EXPECT_EQ(p.actions[0].unavailable, "runner \"winrm-cmd\" is not available on this server");
    EXPECT_EQ(p.actions[1].unavailable, "runner \"no-such-runner\" is not available on this server");
    EXPECT_EQ(p.actions[2].unavailable, "");
    ASSERT_EQ(p.warnings.size(), 2u);
    EXPECT_NE(
        p.warnings[0].What().find(
            "actions/x.yaml:3:1: runner_type: runner \"winrm-cmd\" is not available on this server: action \"rt.x\" "
            "is registered but cannot run"
        ),
        std::string::npos
    ) << p.warnings[0].What();
    EXPECT_EQ(p.actions[0].ToJson()["unavailable"], "runner \"winrm-cmd\" is not available on this server");
    EXPECT_FALSE(p.actions[2].ToJson().contains("unavailable"));
}

TEST_F(InstallerTest, AMistypedRunnerIsALoadError) {
    PackRepo repo(repos_.path() / "rt", "rt");
    repo.SetVersion("1.0.0");
    repo.WriteFile("actions/x.yaml", "---\nname: x\nrunner_type: local-shell-cdm\n");
    repo.Commit("c");
    InstallOptions opts;
    opts.runner_types = {"local-shell-cmd", "noop"};
    Result<std::vector<InstalledPack>> r = installer_.InstallBlocking({repo.Url()}, opts);
    ASSERT_FALSE(r);
    EXPECT_NE(
        r.error().message.find(
            "rt/actions/x.yaml:3:1: runner_type: unknown runner \"local-shell-cdm\" (did you mean \"local-shell-cmd\"?)"
        ),
        std::string::npos
    ) << r.error().message;
}

/// A wheel made in the test, since no package index is reachable here: squall-probe 1.0, whose module
/// squall_probe holds VALUE = "from the wheel".
void MakeProbeWheel(const fs::path& dir) {
    const std::string script =
        "import sys, zipfile\n"
        "d = sys.argv[1]\n"
        "with zipfile.ZipFile(d + '/squall_probe-1.0-py3-none-any.whl', 'w') as z:\n"
        "    z.writestr('squall_probe/__init__.py', 'VALUE = \"from the wheel\"\\n')\n"
        "    z.writestr('squall_probe-1.0.dist-info/METADATA', 'Metadata-Version: 2.1\\nName: squall-probe\\n"
        "Version: 1.0\\n')\n"
        "    z.writestr('squall_probe-1.0.dist-info/WHEEL', 'Wheel-Version: 1.0\\nGenerator: test\\n"
        "Root-Is-Purelib: true\\nTag: py3-none-any\\n')\n"
        "    z.writestr('squall_probe-1.0.dist-info/RECORD', '')\n";
    Write(dir / "make_wheel.py", script);
    ASSERT_EQ(std::system(("/usr/bin/python3 " + (dir / "make_wheel.py").string() + " " + dir.string()).c_str()), 0);
}

/// What `python -c code` prints (stdout and stderr).
std::string PythonSays(const fs::path& python, const std::string& code) {
    std::string out;
    FILE* f = ::popen((python.string() + " -c '" + code + "' 2>&1").c_str(), "r");
    if (f == nullptr) return "<popen failed>";
    char buf[4096];
    while (size_t n = std::fread(buf, 1, sizeof(buf), f)) out.append(buf, n);
    ::pclose(f);
    return out;
}

TEST_F(InstallerTest, APackWithRequirementsGetsItsOwnVirtualenvAndABadLineIsNamed) {
    TempDir wheels;
    MakeProbeWheel(wheels.path());
    PackRepo repo(repos_.path() / "venvpack", "venvpack");
    repo.SetVersion("1.0.0");
    repo.AddAction("a");
    repo.WriteFile("requirements.txt", "# what the actions import\nsquall-probe==1.0\n");
    repo.Commit("v1");
    InstallOptions opts;
    opts.git_timeout = std::chrono::seconds(60);
    opts.virtualenv.python = "/usr/bin/python3";
    // pip's own settings choose where packages come from: here only the local wheel folder.
    opts.virtualenv.pip_env = {{"PIP_NO_INDEX", "1"}, {"PIP_FIND_LINKS", wheels.path().string()}};
    lines_.clear();
    Result<std::vector<InstalledPack>> r = installer_.InstallBlocking({repo.Url()}, opts);
    ASSERT_TRUE(r) << r.error().What() << "\n" << Lines();
    const fs::path venv = data_.path() / "virtualenvs" / "venvpack";
    const fs::path python = venv / "bin" / "python";
    EXPECT_EQ(PythonSays(python, "import squall_probe; print(squall_probe.VALUE)"), "from the wheel\n");
    // --system-site-packages: Debian's packages stay importable in it, as StackStorm's virtualenvs see st2's.
    EXPECT_EQ(PythonSays(python, "import yaml, sys; print(sys.prefix != sys.base_prefix)"), "True\n");
    EXPECT_TRUE(HasLine("virtualenv ")) << Lines();

    // A new version with a requirement pip cannot satisfy: the install fails naming the file, line and text,
    // and the installed pack and its virtualenv stay as they were.
    repo.SetVersion("2.0.0");
    repo.WriteFile("requirements.txt", "squall-probe==1.0\n\nno-such-project-xyz>=3  # needed by b\n");
    repo.Commit("v2");
    Result<std::vector<InstalledPack>> bad = installer_.InstallBlocking({repo.Url()}, opts);
    ASSERT_FALSE(bad);
    const std::string& msg = bad.error().message;
    EXPECT_NE(
        msg.find("venvpack/requirements.txt:3: requirement \"no-such-project-xyz>=3  # needed by b\" cannot be "
                 "installed (pip exited 1)"),
        std::string::npos
    ) << msg;
    EXPECT_NE(msg.find("No matching distribution found for no-such-project-xyz"), std::string::npos) << msg;
    EXPECT_EQ(InstalledVersion("venvpack"), "1.0.0");
    EXPECT_EQ(PythonSays(python, "import squall_probe; print(squall_probe.VALUE)"), "from the wheel\n");
    EXPECT_TRUE(fs::is_empty(data_.path() / "virtualenvs" / ".staging"));
    EXPECT_NE(msg.find("(use --force to install anyway)"), std::string::npos) << msg;

    // --force installs it anyway, with a warning and without a virtualenv its requirements could not fill.
    opts.force = true;
    lines_.clear();
    Result<std::vector<InstalledPack>> forced = installer_.InstallBlocking({repo.Url()}, opts);
    ASSERT_TRUE(forced) << forced.error().What();
    EXPECT_EQ(InstalledVersion("venvpack"), "2.0.0");
    EXPECT_TRUE(HasLine("warning: venvpack/requirements.txt:3:")) << Lines();
    EXPECT_FALSE(fs::exists(venv));
    opts.force = false;

    // Removing the pack removes its virtualenv.
    repo.SetVersion("3.0.0");
    repo.WriteFile("requirements.txt", "squall-probe==1.0\n");
    repo.Commit("v3");
    ASSERT_TRUE(installer_.InstallBlocking({repo.Url()}, opts));
    EXPECT_TRUE(fs::exists(python));
    ASSERT_TRUE(installer_.RemoveBlocking("venvpack"));
    EXPECT_FALSE(fs::exists(venv));
}

TEST_F(InstallerTest, RemovesInstalledPacksOnly) {
    PackRepo repo(repos_.path() / "rm", "rm");
    repo.SetVersion("1.0.0");
    repo.Commit("c");
    ASSERT_TRUE(Install({repo.Url()}));
    Write(data_.path() / "configs" / "rm.yaml", "---\na: 1\n");
    ASSERT_TRUE(installer_.RemoveBlocking("rm"));
    EXPECT_FALSE(fs::exists(Installed("rm")));
    EXPECT_TRUE(fs::exists(data_.path() / "configs" / "rm.yaml"));
    Status again = installer_.RemoveBlocking("rm");
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, ErrorCode::kNotFound);
    Status traversal = installer_.RemoveBlocking("../configs");
    ASSERT_FALSE(traversal);
    EXPECT_EQ(traversal.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace squall::packs
