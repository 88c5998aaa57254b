// Redis Cluster safety of the key layout (docs/delivery.md "Key layout and Redis Cluster"): the keys one script
// touches share a hash tag, so they are on one hash slot whatever the cluster.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "squall/core/store/store.hpp"
#include "squall/executions/store.hpp"
#include "squall/rules/enforcements.hpp"

namespace squall::rules {
namespace {

/// What Redis Cluster hashes of a key: the text between the first `{` and the next `}` when it is not empty,
/// else the whole key.
std::string HashedPart(const std::string& key) {
    const size_t open = key.find('{');
    if (open == std::string::npos) return key;
    const size_t close = key.find('}', open + 1);
    if (close == std::string::npos || close == open + 1) return key;
    return key.substr(open + 1, close - open - 1);
}

void ExpectOneSlot(const std::vector<std::string>& keys, const std::string& tag) {
    for (const auto& k : keys) EXPECT_EQ(HashedPart(k), tag) << k;
}

TEST(KeySlotsTest, TheTriggerFamilyIsOnOneSlot) {
    const core::Keys k("squall:");
    // The emit script (instance, index, stream) and the purge script (names derived from the tagged prefix).
    ExpectOneSlot(
        {k.TriggerInstance("6b1"), k.TriggerInstances(), k.TriggerStream(), k.TriggerTaggedPrefix() + "ti:6b1"}, "ti"
    );
}

TEST(KeySlotsTest, EnforcementsAreOnOneSlot) {
    const EnforcementKeys k("squall:");
    ExpectOneSlot({k.Enforcement("e1"), k.All(), k.ByTriggerInstance("6b1"), k.prefix() + "enf:e1"}, "en");
}

TEST(KeySlotsTest, ExecutionsAreOnOneSlot) {
    const executions::Keys k("squall:");
    ExpectOneSlot(
        {k.Execution("x1"),
         k.All(),
         k.ByStatus("running"),
         k.ByAction("core.local"),
         k.ByActionStatus("core.local", "failed"),
         k.ByRule("p.r"),
         k.ByTrigger("core.st2.webhook"),
         k.Facet("p.r", "core.st2.webhook", "alice"),
         k.FacetSet(),
         k.ByUser("alice"),
         k.Output("x1"),
         k.RequestStream("default"),
         k.Events(),
         k.EventListeners(),
         k.Notify(),
         k.WorkflowEvents(),
         k.Announcements(),
         k.Dedupe("enf:t/r"),
         k.Children("x1")},
        "x"
    );
}

TEST(KeySlotsTest, TheHashedPartFollowsRedisRules) {
    EXPECT_EQ(HashedPart("a{b}c"), "b");
    EXPECT_EQ(HashedPart("a{}c{d}"), "a{}c{d}");  // an empty first tag: the whole key
    EXPECT_EQ(HashedPart("a{b{c}d}"), "b{c");
    EXPECT_EQ(HashedPart("plain"), "plain");
}

}  // namespace
}  // namespace squall::rules
