#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "squall/packs/loader.hpp"
#include "squall/packs/references.hpp"
#include "temp_dir.hpp"

namespace squall::packs {
namespace {

namespace fs = std::filesystem;

void Write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
}

TEST(PackLoaderTest, LoadsTheBundledPacks) {
    PackLoader loader;
    std::vector<LoadedPack> packs = loader.LoadAllBlocking(std::string(SQUALL_SOURCE_DIR) + "/packs/bundled");
    ASSERT_GE(packs.size(), 2u);
    const LoadedPack* core = nullptr;
    for (const auto& p : packs) {
        EXPECT_TRUE(p.errors.empty()) << p.meta.ref << ": " << p.errors[0].What();
        if (p.meta.ref == "core") core = &p;
    }
    ASSERT_NE(core, nullptr);
    std::vector<std::string> refs;
    for (const auto& a : core->actions) refs.push_back(a.Ref());
    for (const char* want : {"core.local", "core.noop", "core.echo"}) {
        EXPECT_NE(std::find(refs.begin(), refs.end(), want), refs.end()) << want;
    }
}

TEST(PackLoaderTest, OneBadFileDoesNotStopTheRest) {
    test::TempDir dir;
    const fs::path pack = dir.path() / "deploy";
    Write(pack / "pack.yaml", "name: deploy\nversion: 1.0.0\n");
    Write(
        pack / "actions" / "good.yaml",
        "name: good\nrunner_type: local-shell-cmd\nparameters:\n  cmd:\n    default: true\n"
    );
    Write(
        pack / "actions" / "bad.yaml", "name: bad\nrunner_type: local-shell-cmd\nparameters:\n  x:\n    type: strin\n"
    );
    Write(pack / "actions" / "broken.yaml", "name: [unclosed\n");
    Write(
        pack / "rules" / "on_push.yaml",
        "name: on_push\npack: deploy\ntrigger:\n  type: core.st2.webhook\n  parameters:\n    url: push\n"
        "action:\n  ref: deploy.good\n  parmeters: {}\n"
    );
    Write(
        pack / "rules" / "ok.yaml",
        "name: ok\npack: deploy\ntrigger:\n  type: core.st2.webhook\n  parameters:\n    url: push\naction:\n  ref: "
        "deploy.good\n"
    );
    PackLoader loader;
    Result<LoadedPack> p = loader.LoadPackBlocking(pack.string());
    ASSERT_TRUE(p) << p.error().What();
    EXPECT_EQ(p->actions.size(), 1u);
    EXPECT_EQ(p->rules.size(), 1u);
    ASSERT_EQ(p->errors.size(), 3u);
    std::vector<std::string> msgs;
    for (const auto& e : p->errors) msgs.push_back(e.What());
    EXPECT_NE(
        msgs[0].find("actions/bad.yaml:5:5: parameters.x.type: unknown type \"strin\" (did you mean \"string\"?)"),
        std::string::npos
    ) << msgs[0];
    EXPECT_NE(msgs[1].find("actions/broken.yaml:"), std::string::npos) << msgs[1];
    EXPECT_NE(
        msgs[2].find("rules/on_push.yaml:9:3: action.parmeters: unknown field (did you mean \"parameters\"?)"),
        std::string::npos
    ) << msgs[2];
}

TEST(PackLoaderTest, MissingPackYamlIsAnError) {
    test::TempDir dir;
    PackLoader loader;
    Result<LoadedPack> p = loader.LoadPackBlocking(dir.path().string());
    ASSERT_FALSE(p);
    EXPECT_NE(p.error().What().find("pack.yaml"), std::string::npos);
}

TEST(PackLoaderTest, AnInvalidRefStillReportsEveryOtherError) {
    test::TempDir dir;
    const fs::path root = dir.path() / "bad";
    Write(root / "pack.yaml", "name: Bad Pack\nversion: one\ndependancies: [core]\n");
    Write(root / "actions" / "a.yaml", "name: a\nrunner_typ: local-shell-cmd\n");
    Write(
        root / "rules" / "r.yaml",
        "name: r\ntrigger: {type: core.st2.webhook, parameters: {url: x}}\n"
        "action: {ref: core.noop}\ncriteria: {trigger.a: {type: equal, pattern: 1}}\n"
    );
    Result<LoadedPack> p = PackLoader().LoadPackBlocking(root.string());
    ASSERT_FALSE(p);
    const std::string all = p.error().What();
    EXPECT_NE(all.find("pack.yaml:1:1: name: \"Bad Pack\" is not a valid pack ref"), std::string::npos) << all;
    EXPECT_NE(all.find("version: \"one\" is not a semantic version"), std::string::npos) << all;
    EXPECT_NE(all.find("dependancies"), std::string::npos) << all;
    EXPECT_NE(all.find("actions/a.yaml:2:1: runner_typ"), std::string::npos) << all;
    EXPECT_EQ(all.find("is in pack"), std::string::npos) << all;  // no noise from the stand-in ref
}

// Found by the yaml_content fuzz target: a flag that is not a boolean next to a literal default made the default
// check read it with Json::value, which threw and terminated the process loading the pack.
TEST(PackLoaderTest, AFlagThatIsNotABooleanIsAnErrorNotACrash) {
    test::TempDir dir;
    const fs::path root = dir.path() / "flags";
    Write(root / "pack.yaml", "name: flags\nversion: 1.0.0\n");
    Write(
        root / "actions" / "a.yaml",
        "name: a\nrunner_type: local-shell-cmd\nparameters:\n"
        "  retries:\n    type: integer\n    default: 3\n    secret: truetring\n    required: yes please\n"
    );
    Result<LoadedPack> p = PackLoader().LoadPackBlocking(root.string());
    ASSERT_TRUE(p) << p.error().What();  // one bad file does not stop the pack: it is reported and left out
    EXPECT_TRUE(p->actions.empty());
    std::string all;
    for (const auto& e : p->errors) all += e.What() + "\n";
    EXPECT_NE(all.find("parameters.retries.secret: must be true or false"), std::string::npos) << all;
    EXPECT_NE(all.find("parameters.retries.required: must be true or false"), std::string::npos) << all;
}

TEST(PackLoaderTest, ATemplatedDefaultThatDoesNotParseIsALoadErrorAtItsLine) {
    test::TempDir dir;
    const fs::path root = dir.path() / "ops";
    Write(root / "pack.yaml", "name: ops\nversion: 1.0.0\n");
    Write(
        root / "actions" / "greet.yaml",
        "name: greet\nrunner_type: local-shell-cmd\nparameters:\n"
        "  cmd:\n    default: \"echo {{ name | upper }\"\n"
        "  env:\n    type: object\n    default: {A: ok, B: [x, \"{% if %}\"]}\n"
        "  name:\n    type: string\n    default: \"{{ st2kv.system.who }}\"\n"
    );
    Write(
        root / "actions" / "fine.yaml",
        "name: fine\nrunner_type: local-shell-cmd\nparameters:\n  cmd:\n    default: \"echo {{ name }}\"\n"
    );
    Result<LoadedPack> p = PackLoader().LoadPackBlocking(root.string());
    ASSERT_TRUE(p) << p.error().What();
    ASSERT_EQ(p->actions.size(), 1u);  // the broken action is left out, the other loads
    EXPECT_EQ(p->actions[0].name, "fine");
    std::string all;
    for (const auto& e : p->errors) all += e.What() + "\n";
    EXPECT_NE(all.find("greet.yaml:5:5: parameters.cmd.default: template error at column"), std::string::npos) << all;
    EXPECT_NE(all.find("parameters.env.default.B[1]: template error at column"), std::string::npos) << all;
    EXPECT_EQ(p->errors.size(), 2u) << all;
}

TEST(PackLoaderTest, ARunnerParametersTypeCannotBeOverriddenButItsDefaultCan) {
    // StackStorm refuses such an action at registration; it was accepted and then failed at run time (`env` given
    // "prod": not of type object).
    test::TempDir dir;
    const fs::path root = dir.path() / "ops";
    Write(root / "pack.yaml", "name: ops\nversion: 1.0.0\n");
    Write(
        root / "actions" / "deployer.yaml",
        "name: deployer\nrunner_type: local-shell-cmd\nparameters:\n  cmd:\n    default: \"echo {{ env }}\"\n"
        "  env:\n    type: string\n    default: dev\n"
    );
    Write(
        root / "actions" / "fine.yaml",
        "name: fine\nrunner_type: local-shell-cmd\nparameters:\n  cmd:\n    type: string\n    default: echo\n"
        "    description: mine\n    required: false\n  sudo:\n    immutable: true\n"
    );
    PackLoaderOptions options;
    options.runner_parameters["local-shell-cmd"] = Json::parse(R"({
      "cmd": {"type": "string", "description": "the command"}, "env": {"type": "object"},
      "sudo": {"type": "boolean", "default": false}})");
    Result<LoadedPack> p = PackLoader(options).LoadPackBlocking(root.string());
    ASSERT_TRUE(p) << p.error().What();
    ASSERT_EQ(p->actions.size(), 1u);
    EXPECT_EQ(p->actions[0].name, "fine");
    ASSERT_EQ(p->errors.size(), 1u);
    EXPECT_EQ(
        p->errors[0].What(),
        root.string() +
            "/actions/deployer.yaml:7:5: parameters.env.type: the attribute \"type\" of the runner "
            "parameter \"env\" (runner local-shell-cmd) cannot be overridden in action \"ops.deployer\"; "
            "only default, description, enum, immutable and required can"
    );
}

TEST(PackLoaderTest, ARuleOnAnUnknownTriggerTypeIsLeftOutAndAMissingActionIsAWarning) {
    test::TempDir dir;
    const fs::path root = dir.path() / "ops";
    Write(root / "pack.yaml", "name: ops\nversion: 1.0.0\n");
    Write(root / "actions" / "greet.yaml", "name: greet\nrunner_type: local-shell-cmd\n");
    Write(
        root / "rules" / "on_deploy.yaml",
        "name: on_deploy\npack: ops\ntrigger:\n  type: core.st2.webhok\naction:\n  ref: ops.greet\n"
    );
    Write(
        root / "rules" / "typo.yaml",
        "name: typo\npack: ops\ntrigger:\n  type: core.st2.IntervalTimer\naction:\n  ref: ops.gret\n"
    );
    Write(
        root / "rules" / "fine.yaml",
        "name: fine\npack: ops\ntrigger:\n  type: core.st2.IntervalTimer\naction:\n  ref: core.local\n"
    );
    Result<LoadedPack> p = PackLoader().LoadPackBlocking(root.string());
    ASSERT_TRUE(p) << p.error().What();
    std::string loaded_errors;
    for (const auto& e : p->errors) loaded_errors += e.What() + "\n";
    ASSERT_EQ(p->rules.size(), 3u) << loaded_errors;
    KnownContent known;  // what is registered: the core pack's
    known.actions = {"core.local", "core.noop"};
    known.trigger_types = {"core.st2.webhook", "core.st2.IntervalTimer"};
    EXPECT_EQ(CheckRuleReferences(*p, known), 1u);
    std::vector<std::string> kept;
    for (const auto& r : p->rules) kept.push_back(r.name);
    std::sort(kept.begin(), kept.end());
    EXPECT_EQ(kept, (std::vector<std::string>{"fine", "typo"}));  // the rule that can never fire is left out
    ASSERT_EQ(p->errors.size(), 1u);
    EXPECT_NE(
        p->errors[0].What().find(
            "rules/on_deploy.yaml:4:9: trigger.type: unknown trigger type \"core.st2.webhok\" (did you mean "
            "\"core.st2.webhook\"?)"
        ),
        std::string::npos
    ) << p->errors[0].What();
    ASSERT_EQ(p->warnings.size(), 1u);
    EXPECT_NE(
        p->warnings[0].What().find(
            "rules/typo.yaml:6:8: action.ref: action \"ops.gret\" does not exist (did you mean \"ops.greet\"?)"
        ),
        std::string::npos
    ) << p->warnings[0].What();
}

// A python action that imports a StackStorm-internal module Squall's st2common shim does not have can never load:
// registered, unavailable, and a warning at the import's line and column (StackStorm's `packs` pack has several).
TEST(PackLoaderTest, APythonActionImportingAnSt2commonModuleTheShimLacksIsUnavailable) {
    test::TempDir dir;
    const fs::path root = dir.path() / "ops";
    Write(root / "pack.yaml", "name: ops\nversion: 1.0.0\n");
    const std::pair<const char*, const char*> actions[] = {
        {"fine", "from st2common.runners.base_action import Action\nfrom st2common.util.shell import quote_unix\n"},
        {"search", "import os\n\nfrom st2common.services.packs import search_pack_index\n"},
        {"jinja", "from st2common.runners.base_action import Action\nfrom st2common.util import jinja as ju\n"},
        {"plain", "import st2common.content.utils\n"},
        {"lazy", "def run():\n    from st2common.services.packs import x\n"},
        {"optional", "try:\n    from st2common.util.pack import get_pack_metadata\nexcept ImportError:\n    pass\n"},
    };
    for (const auto& [name, source] : actions) {
        Write(root / "actions" / (std::string(name) + ".py"), source);
        Write(
            root / "actions" / (std::string(name) + ".yaml"),
            std::string("name: ") + name + "\nrunner_type: python-script\nentry_point: " + name + ".py\n"
        );
    }
    Result<LoadedPack> p = PackLoader().LoadPackBlocking(root.string());
    ASSERT_TRUE(p) << p.error().What();
    EXPECT_TRUE(p->errors.empty()) << p->errors[0].What();
    ASSERT_EQ(p->actions.size(), 6u);  // every action is registered
    std::map<std::string, std::string> unavailable;
    for (const auto& a : p->actions) unavailable[a.name] = a.unavailable;
    for (const char* ok : {"fine", "lazy", "optional"}) EXPECT_EQ(unavailable[ok], "") << ok;
    EXPECT_EQ(
        unavailable["search"],
        "it imports \"st2common.services.packs\", a StackStorm-internal module that Squall does not provide"
    );
    EXPECT_NE(unavailable["jinja"].find("\"st2common.util.jinja\""), std::string::npos) << unavailable["jinja"];
    EXPECT_NE(unavailable["plain"].find("\"st2common.content.utils\""), std::string::npos) << unavailable["plain"];
    std::string all;
    for (const auto& w : p->warnings) all += w.What() + "\n";
    EXPECT_EQ(p->warnings.size(), 3u) << all;
    EXPECT_NE(all.find("actions/search.py:3:6: it imports \"st2common.services.packs\""), std::string::npos) << all;
    EXPECT_NE(all.find("actions/jinja.py:2:28: it imports \"st2common.util.jinja\""), std::string::npos) << all;
    EXPECT_NE(all.find("action \"ops.search\" is registered but cannot run"), std::string::npos) << all;
}

}  // namespace
}  // namespace squall::packs
