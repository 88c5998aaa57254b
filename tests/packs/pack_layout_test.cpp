// The whole StackStorm pack layout: a complete pack loads without errors, and a broken copy reports every
// problem with file:line:col and the field.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "squall/packs/loader.hpp"
#include "temp_dir.hpp"

namespace squall::packs {
namespace {

namespace fs = std::filesystem;

const std::string kFull = std::string(SQUALL_SOURCE_DIR) + "/tests/cases/packs/full";

void Write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::trunc) << text;
}

std::string AllErrors(const LoadedPack& p) {
    std::string out;
    for (const auto& e : p.errors) out += e.What() + "\n";
    return out;
}

template <typename T>
const T* Find(const std::vector<T>& items, const std::string& ref) {
    for (const auto& i : items) {
        if (i.Ref() == ref) return &i;
    }
    return nullptr;
}

TEST(PackLayoutTest, FullPackLoadsEveryFolderWithoutErrors) {
    PackLoader loader;
    Result<LoadedPack> p = loader.LoadPackBlocking(kFull);
    ASSERT_TRUE(p) << p.error().What();
    EXPECT_TRUE(p->errors.empty()) << AllErrors(*p);

    const PackMeta& m = p->meta;
    EXPECT_EQ(m.ref, "full");
    EXPECT_EQ(m.name, "Full example");
    EXPECT_EQ(m.version, "1.2.3");
    EXPECT_EQ(m.email, "squall@example.com");
    EXPECT_EQ(m.python_versions, std::vector<std::string>{"3"});
    EXPECT_EQ(m.dependencies, std::vector<std::string>{"core"});
    EXPECT_EQ(m.keywords.size(), 2u);
    EXPECT_EQ(m.stackstorm_version, ">=3.0.0");
    EXPECT_EQ(m.system["apt"][0], "curl");
    EXPECT_NE(std::find(m.files.begin(), m.files.end(), "actions/workflows/deploy.yaml"), m.files.end());
    EXPECT_NE(std::find(m.files.begin(), m.files.end(), "sensors/watcher.py"), m.files.end());

    EXPECT_EQ(p->actions.size(), 4u);
    const ActionMeta* deploy = Find(p->actions, "full.deploy");
    ASSERT_NE(deploy, nullptr);
    EXPECT_EQ(deploy->runner_type, "orquesta");
    EXPECT_EQ(deploy->entry_point, "workflows/deploy.yaml");
    const ActionMeta* hello = Find(p->actions, "full.hello");
    ASSERT_NE(hello, nullptr);
    EXPECT_EQ(hello->notify["on-complete"]["routes"][0], "chat");
    EXPECT_EQ(hello->metadata_file, "actions/hello.yaml");
    EXPECT_FALSE(Find(p->actions, "full.py_action")->output_schema.is_null());

    EXPECT_EQ(p->rules.size(), 2u);

    // triggers/deployed.yaml plus the two the sensors declare inline.
    ASSERT_EQ(p->trigger_types.size(), 3u);
    const TriggerTypeMeta* deployed = Find(p->trigger_types, "full.deployed");
    ASSERT_NE(deployed, nullptr);
    EXPECT_EQ(deployed->payload_schema["required"][0], "version");
    EXPECT_EQ(deployed->ToJson()["uid"], "trigger_type:full:deployed");
    EXPECT_NE(Find(p->trigger_types, "full.changed"), nullptr);
    EXPECT_NE(Find(p->trigger_types, "full.tick"), nullptr);

    ASSERT_EQ(p->sensors.size(), 2u);
    const SensorMeta* watcher = Find(p->sensors, "full.WatcherSensor");
    ASSERT_NE(watcher, nullptr);
    EXPECT_EQ(watcher->poll_interval, 30);
    EXPECT_FALSE(watcher->enabled);
    EXPECT_EQ(watcher->trigger_types, (std::vector<std::string>{"full.changed", "full.deployed"}));
    Json wj = watcher->ToJson("/packs/full");
    EXPECT_EQ(wj["artifact_uri"], "file:///packs/full/sensors/watcher.py");
    EXPECT_EQ(wj["uid"], "sensor_type:full:WatcherSensor");
    const SensorMeta* ticker = Find(p->sensors, "full.ticker");  // external: named after its file
    ASSERT_NE(ticker, nullptr);
    EXPECT_EQ(ticker->entry_point, "ticker.sh");
    EXPECT_EQ(ticker->trigger_types, std::vector<std::string>{"full.tick"});

    ASSERT_EQ(p->aliases.size(), 1u);
    const AliasMeta& alias = p->aliases[0];
    EXPECT_EQ(alias.action_ref, "full.hello");
    ASSERT_EQ(alias.formats.size(), 2u);
    EXPECT_EQ(alias.formats[0], "greet {{who}}");
    EXPECT_EQ(alias.formats[1]["display"], "hello [who]");
    EXPECT_EQ(alias.ack["append_url"], false);
    EXPECT_EQ(alias.immutable_parameters["cmd"], "echo fixed");

    ASSERT_EQ(p->policies.size(), 3u);
    const PolicyMeta* retry = Find(p->policies, "full.deploy.retry");
    ASSERT_NE(retry, nullptr);
    EXPECT_EQ(retry->policy_type, "action.retry");
    EXPECT_EQ(retry->parameters["max_retry_count"], 3);
    EXPECT_EQ(retry->parameters["delay"], 0);  // default filled in
    const PolicyMeta* conc = Find(p->policies, "full.hello.concurrency");
    ASSERT_NE(conc, nullptr);
    EXPECT_EQ(conc->parameters["action"], "cancel");
    EXPECT_EQ(Find(p->policies, "full.greet.concurrency_by_name")->parameters["action"], "delay");

    ASSERT_TRUE(p->config_schema.is_object());
    EXPECT_EQ(p->config_schema["port"]["default"], 8443);
    EXPECT_FALSE(p->config);  // no configs dir given
}

TEST(PackLayoutTest, TheBundledPacksStillLoadCleanly) {
    PackLoader loader;
    for (const auto& p : loader.LoadAllBlocking(std::string(SQUALL_SOURCE_DIR) + "/packs/bundled")) {
        EXPECT_TRUE(p.errors.empty()) << p.meta.ref << ":\n" << AllErrors(p);
    }
}

TEST(PackLayoutTest, NoBundledRulePutsTriggerDataIntoAShellCommand) {
    PackLoader loader;
    const auto all = loader.LoadAllBlocking(std::string(SQUALL_SOURCE_DIR) + "/packs/bundled");
    std::map<std::string, Json> actions;
    for (const auto& p : all) {
        for (const auto& a : p.actions) actions[a.Ref()] = a.ToJson();
    }
    size_t rules = 0;
    for (const auto& p : all) {
        for (const auto& r : p.rules) {
            ++rules;
            auto it = actions.find(r.action_ref);
            ASSERT_NE(it, actions.end()) << r.action_ref;
            const auto warnings = TriggerDataInShellWarnings(r, it->second);
            EXPECT_TRUE(warnings.empty()) << r.Ref() << ": " << warnings.front();
        }
    }
    EXPECT_GT(rules, 0u);
    // The examples rule as it was (a webhook name rendered into `echo "Hello, {{name}}!"`) is what is warned about.
    RuleMeta old;
    old.name = "sample_webhook";
    old.pack = "examples";
    old.action_ref = "examples.greet";
    old.action_parameters = {{"name", "{{ trigger.body.name }}"}};
    const Json old_greet = {
        {"runner_type", "local-shell-cmd"},
        {"parameters", {{"cmd", {{"default", "for i in $(seq {{times}}); do echo \"Hello, {{name}}!\"; done"}}}}}};
    const auto warnings = TriggerDataInShellWarnings(old, old_greet);
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("renders trigger data into parameter \"name\""), std::string::npos) << warnings[0];
}

/// A copy of the full pack with one broken file per kind, each with several problems.
class BrokenPackTest : public ::testing::Test {
protected:
    void SetUp() override {
        root_ = dir_.path() / "full";
        fs::copy(kFull, root_, fs::copy_options::recursive);
        Write(
            root_ / "pack.yaml",
            "---\nref: full\nname: Full example\nversion: 1.2.x\nkeywrds: [a]\npython_versions: [\"4\"]\n"
        );
        // action: misspelled key, wrong type of enabled, unknown parameter type, misspelled parameter attribute
        Write(
            root_ / "actions" / "bad_action.yaml",
            "---\n"                           // 1
            "name: bad_action\n"              // 2
            "runner_type: local-shell-cmd\n"  // 3
            "enabeld: true\n"                 // 4
            "enabled: maybe\n"                // 5
            "parameters:\n"                   // 6
            "  count:\n"                      // 7
            "    type: integr\n"              // 8
            "  name:\n"                       // 9
            "    type: string\n"              // 10
            "    defualt: x\n"                // 11
            "  when:\n"                       // 12
            "    type: integer\n"             // 13
            "    default: [1]\n"              // 14
            "  retries:\n"                    // 15
            "    type: integer\n"             // 16
            "    minimum: five\n"             // 17
            "    required: true\n"            // 18
        );
        // script action whose entry_point file is missing
        Write(
            root_ / "actions" / "missing_script.yaml",
            "---\nname: missing_script\nrunner_type: local-shell-script\nentry_point: nope.sh\n"
        );
        // an entry_point out of the pack (found by a tester: it ran a binary of the host)
        Write(
            root_ / "actions" / "escape_script.yaml",
            "---\nname: escape_script\nrunner_type: local-shell-script\nentry_point: ../../../../../../../usr/bin/id\n"
        );
        // entry_points with a typo: a script and a workflow definition (issue 12 item 16), with a did-you-mean
        Write(
            root_ / "actions" / "typo_script.yaml",
            "---\nname: typo_script\nrunner_type: local-shell-script\nentry_point: gret.sh\n"
        );
        Write(
            root_ / "actions" / "typo_workflow.yaml",
            "---\nname: typo_workflow\nrunner_type: orquesta\nentry_point: workflows/deplyo.yaml\n"
        );
        // rule: misspelled key in action, criteria without type
        Write(
            root_ / "rules" / "bad_rule.yaml",
            "---\n"
            "name: bad_rule\n"
            "trigger:\n"
            "  type: full.deployed\n"
            "criteria:\n"
            "  trigger.version:\n"
            "    pattern: 1\n"
            "action:\n"
            "  ref: full.hello\n"
            "  parmeters: {}\n"
        );
        // trigger type: a bad schema (unknown type, then a pattern that does not compile)
        Write(
            root_ / "triggers" / "bad_trigger.yaml",
            "---\n"                       // 1
            "name: bad_trigger\n"         // 2
            "payload_schema:\n"           // 3
            "  type: object\n"            // 4
            "  properties:\n"             // 5
            "    a:\n"                    // 6
            "      type: strng\n"         // 7
            "parameters_schema:\n"        // 8
            "  type: object\n"            // 9
            "  properties:\n"             // 10
            "    b:\n"                    // 11
            "      type: string\n"        // 12
            "      pattern: \"([a-z\"\n"  // 13
            "descripton: typo\n"          // 14
        );
        // sensor: entry_point missing on disk, poll_interval of the wrong type, trigger type without a name
        Write(
            root_ / "sensors" / "bad_sensor.yaml",
            "---\n"
            "class_name: BadSensor\n"
            "entry_point: bad_sensor.py\n"
            "poll_interval: soon\n"
            "trigger_types:\n"
            "  - description: no name\n"
        );
        // alias: bad format placeholder, unclosed placeholder, wrong ack type
        Write(
            root_ / "aliases" / "bad_alias.yaml",
            "---\n"
            "name: bad_alias\n"
            "action_ref: full.hello\n"
            "formats:\n"
            "  - \"run {{ two words }}\"\n"
            "  - display: \"x\"\n"
            "    representation:\n"
            "      - \"deploy {{version\"\n"
            "ack: yes\n"
        );
        // policy: unknown policy type
        Write(
            root_ / "policies" / "bad_type.yaml",
            "---\nname: bad_type\nresource_ref: full.hello\npolicy_type: action.concurency\n"
        );
        // policy: parameters wrong for the type
        Write(
            root_ / "policies" / "bad_params.yaml",
            "---\n"
            "name: bad_params\n"
            "resource_ref: full.deploy\n"
            "policy_type: action.retry\n"
            "parameters:\n"
            "  retry_on: crash\n"
            "  max_retry_count: 9\n"
            "  dealy: 5\n"
        );
    }

    /// The error for `file` (relative) and `field`, with its line:col, must be among the errors.
    void ExpectError(const std::string& file, int line, int col, const std::string& field_and_what) {
        const std::string want =
            (root_ / file).string() + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " + field_and_what;
        for (const auto& e : pack_.errors) {
            if (e.What().find(want) == 0) {
                ++matched_;
                return;
            }
        }
        ADD_FAILURE() << "missing error:\n  " << want << "\ngot:\n" << AllErrors(pack_);
    }

    test::TempDir dir_;
    fs::path root_;
    LoadedPack pack_;
    size_t matched_ = 0;
};

TEST_F(BrokenPackTest, ReportsEveryErrorWithFileLineColumnAndField) {
    PackLoader loader;
    Result<LoadedPack> p = loader.LoadPackBlocking(root_.string());
    ASSERT_TRUE(p) << p.error().What();
    pack_ = std::move(*p);

    ExpectError("pack.yaml", 4, 1, "version: \"1.2.x\" is not a semantic version");
    ExpectError("pack.yaml", 5, 1, "keywrds: unknown field (did you mean \"keywords\"?)");
    ExpectError("pack.yaml", 6, 19, "python_versions[0]: must be \"2\" or \"3\"");

    ExpectError("actions/bad_action.yaml", 4, 1, "enabeld: unknown field (did you mean \"enabled\"?)");
    ExpectError("actions/bad_action.yaml", 5, 1, "enabled: must be true or false");
    ExpectError(
        "actions/bad_action.yaml", 8, 5, "parameters.count.type: unknown type \"integr\" (did you mean \"integer\"?)"
    );
    ExpectError(
        "actions/bad_action.yaml", 11, 5, "parameters.name.defualt: unknown attribute (did you mean \"default\"?)"
    );
    ExpectError("actions/bad_action.yaml", 14, 5, "parameters.when.default: default of \"when\": [1] is not of type");
    // The draft-4 meta-schema: a keyword of the wrong type (StackStorm's `required: true` is not one).
    ExpectError(
        "actions/bad_action.yaml", 15, 3, "parameters.retries: invalid schema: the \"schema.minimum\": \"five\""
    );
    ExpectError(
        "actions/missing_script.yaml", 4, 14, "entry_point: file \"actions/nope.sh\" does not exist in the pack"
    );
    ExpectError(
        "actions/typo_script.yaml",
        4,
        14,
        "entry_point: file \"actions/gret.sh\" does not exist in the pack (did you mean \"greet.sh\"?)"
    );
    ExpectError(
        "actions/escape_script.yaml",
        4,
        14,
        "entry_point: \"../../../../../../../usr/bin/id\" leaves the pack (a path inside its actions folder)"
    );
    ExpectError(
        "actions/typo_workflow.yaml",
        4,
        14,
        "entry_point: file \"actions/workflows/deplyo.yaml\" does not exist in the pack (did you mean "
        "\"workflows/deploy.yaml\"?)"
    );

    ExpectError("rules/bad_rule.yaml", 6, 3, "criteria.trigger.version.type: is required (the operator)");
    ExpectError("rules/bad_rule.yaml", 10, 3, "action.parmeters: unknown field (did you mean \"parameters\"?)");

    ExpectError(
        "triggers/bad_trigger.yaml",
        7,
        7,
        "payload_schema.properties.a.type: unknown type \"strng\" (did you mean \"string\"?)"
    );
    ExpectError("triggers/bad_trigger.yaml", 8, 1, "parameters_schema: invalid schema:");
    ExpectError("triggers/bad_trigger.yaml", 14, 1, "descripton: unknown field (did you mean \"description\"?)");

    ExpectError("sensors/bad_sensor.yaml", 4, 1, "poll_interval: must be a positive number of seconds");
    ExpectError("sensors/bad_sensor.yaml", 6, 5, "trigger_types[0].name: is required");

    ExpectError("aliases/bad_alias.yaml", 5, 5, "formats[0]: \"{{ two words }}\" is not a parameter placeholder");
    ExpectError("aliases/bad_alias.yaml", 8, 9, "formats[1].representation[0]: \"{{\" at column 8 is not closed");
    ExpectError("aliases/bad_alias.yaml", 9, 1, "ack: must be a mapping");

    ExpectError(
        "policies/bad_type.yaml",
        4,
        1,
        "policy_type: unknown policy type \"action.concurency\" (did you mean \"action.concurrency\"?)"
    );
    ExpectError(
        "policies/bad_params.yaml", 6, 3, "parameters.retry_on: parameter \"retry_on\": \"crash\" is not one of"
    );
    ExpectError(
        "policies/bad_params.yaml",
        7,
        3,
        "parameters.max_retry_count: parameter \"max_retry_count\": 9 is greater than the maximum 5"
    );
    ExpectError("policies/bad_params.yaml", 8, 3, "parameters.dealy: unknown field (did you mean \"delay\"?)");

    // Nothing else is wrong, so nothing else is reported (the sensor's entry_point is not checked once its
    // metadata is invalid).
    EXPECT_EQ(pack_.errors.size(), matched_) << AllErrors(pack_);

    // The good files of the pack still loaded.
    EXPECT_EQ(pack_.actions.size(), 4u);
    EXPECT_EQ(pack_.rules.size(), 2u);
    EXPECT_EQ(pack_.trigger_types.size(), 3u);
    EXPECT_EQ(pack_.sensors.size(), 2u);
    EXPECT_EQ(pack_.aliases.size(), 1u);
    EXPECT_EQ(pack_.policies.size(), 3u);
}

TEST_F(BrokenPackTest, MissingSensorEntryPointAndBadConfigSchema) {
    Write(root_ / "sensors" / "bad_sensor.yaml", "---\nclass_name: BadSensor\nentry_point: bad_sensor.py\n");
    Write(
        root_ / "config.schema.yaml",
        "---\n"
        "token:\n"
        "  type: string\n"
        "  secrte: true\n"
        "port:\n"
        "  type: integer\n"
        "  default: \"x\"\n"
        "  required: yes please\n"
    );
    for (const char* f :
         {"actions/bad_action.yaml",
          "actions/missing_script.yaml",
          "actions/escape_script.yaml",
          "actions/typo_script.yaml",
          "actions/typo_workflow.yaml",
          "rules/bad_rule.yaml",
          "triggers/bad_trigger.yaml",
          "aliases/bad_alias.yaml",
          "policies/bad_type.yaml",
          "policies/bad_params.yaml"}) {
        fs::remove(root_ / f);
    }
    Write(root_ / "pack.yaml", "---\nref: full\nname: Full example\nversion: 1.2.3\n");
    PackLoader loader(PackLoaderOptions{(dir_.path() / "configs").string()});
    Result<LoadedPack> p = loader.LoadPackBlocking(root_.string());
    ASSERT_TRUE(p) << p.error().What();
    pack_ = std::move(*p);
    ExpectError(
        "sensors/bad_sensor.yaml", 3, 14, "entry_point: file \"sensors/bad_sensor.py\" does not exist in the pack"
    );
    ExpectError("config.schema.yaml", 4, 3, "token.secrte: unknown attribute (did you mean \"secret\"?)");
    ExpectError("config.schema.yaml", 8, 3, "port.required: must be true or false");
    EXPECT_EQ(pack_.errors.size(), matched_) << AllErrors(pack_);
    EXPECT_TRUE(pack_.config_schema.is_null());
    EXPECT_TRUE(pack_.drop_config);  // a config cannot be checked against a broken schema
    EXPECT_FALSE(pack_.config);
}

TEST(PackLayoutTest, BrokenPackYamlWithoutRefStopsThePack) {
    test::TempDir dir;
    Write(dir.path() / "p" / "pack.yaml", "---\nname: Not A Ref\n");
    PackLoader loader;
    Result<LoadedPack> p = loader.LoadPackBlocking((dir.path() / "p").string());
    ASSERT_FALSE(p);
    EXPECT_NE(p.error().What().find("pack.yaml:2:1: name: \"Not A Ref\" is not a valid pack ref"), std::string::npos)
        << p.error().What();
}

}  // namespace
}  // namespace squall::packs
