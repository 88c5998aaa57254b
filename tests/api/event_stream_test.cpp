// The event stream's per-client logic without a server: StackStorm's filters and end event, the bound on what a
// client may fall behind by, and the include/exclude_attributes filter of every JSON answer.
#include "event_stream.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "http.hpp"

namespace squall::api {
namespace {

using namespace std::chrono_literals;

StreamMessagePtr Msg(const std::string& name, const std::string& id, const std::string& status, size_t size = 10) {
    auto m = std::make_shared<StreamMessage>();
    m->name = name;
    m->execution_id = id;
    m->action_ref = "core.local";
    m->status = status;
    m->text = std::string(size, 'x');
    return m;
}

std::vector<std::string> Names(StreamSubscriber& s, bool* end = nullptr) {
    std::vector<StreamMessagePtr> got;
    bool ended = false;
    s.Take(got, &ended, 0ms);
    if (end) *end = ended;
    std::vector<std::string> names;
    for (const auto& m : got) names.push_back(m->name);
    return names;
}

TEST(StreamFilterTest, EventsAreNamesOrGlobs) {
    StreamFilter f = StreamFilter::FromQuery("st2.execution__*, st2.liveaction__update", "", "", "", "");
    EXPECT_TRUE(f.WantsEvent("st2.execution__create"));
    EXPECT_TRUE(f.WantsEvent("st2.execution__update"));
    EXPECT_TRUE(f.WantsEvent("st2.liveaction__update"));
    EXPECT_FALSE(f.WantsEvent("st2.liveaction__create"));
    EXPECT_FALSE(f.WantsEvent("st2.execution.output__create"));
    EXPECT_TRUE(StreamFilter::FromQuery("", "", "", "", "").WantsEvent("anything"));
}

TEST(StreamSubscriberTest, FiltersOnActionAndExecution) {
    EventHubOptions limits;
    StreamSubscriber s(StreamFilter::FromQuery("", "core.local", "e1,e2", "", ""));
    s.Offer(Msg("st2.execution__update", "e1", "running"), limits);
    s.Offer(Msg("st2.execution__update", "e3", "running"), limits);
    auto other = Msg("st2.execution__update", "e2", "running");
    std::const_pointer_cast<StreamMessage>(other)->action_ref = "core.noop";
    s.Offer(other, limits);
    std::vector<StreamMessagePtr> got;
    bool end = false;
    ASSERT_TRUE(s.Take(got, &end, 0ms));
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0]->execution_id, "e1");
    EXPECT_FALSE(end);
}

TEST(StreamSubscriberTest, EndsAfterTheEndEventOfTheExecutionInACompletedStatus) {
    EventHubOptions limits;
    StreamSubscriber s(StreamFilter::FromQuery(
        "st2.execution__update,st2.execution.output__create", "", "", "st2.execution__update", "e1"
    ));
    s.Offer(Msg("st2.execution__update", "e1", "running"), limits);    // not completed: goes on
    s.Offer(Msg("st2.execution__update", "e2", "succeeded"), limits);  // another execution: goes on
    s.Offer(Msg("st2.execution.output__create", "e1", ""), limits);
    bool end = true;
    EXPECT_EQ(Names(s, &end).size(), 3u);
    EXPECT_FALSE(end);
    s.Offer(Msg("st2.execution__update", "e1", "failed"), limits);
    s.Offer(Msg("st2.execution.output__create", "e1", ""), limits);  // after the end: not sent
    EXPECT_EQ(Names(s, &end), std::vector<std::string>{"st2.execution__update"});
    EXPECT_TRUE(end);
}

TEST(StreamSubscriberTest, AnEndEventTheFiltersDoNotWantStillEndsTheStream) {
    EventHubOptions limits;
    StreamSubscriber s(StreamFilter::FromQuery("st2.execution.output__create", "", "", "st2.execution__update", "e1"));
    s.Offer(Msg("st2.execution__update", "e1", "succeeded"), limits);
    bool end = false;
    EXPECT_TRUE(Names(s, &end).empty());
    EXPECT_TRUE(end);
}

// Execution events are written only while a subscriber wants them (docs/executions.md): one that wants nothing but
// an execution's end still needs its events, one that wants only announcements does not.
TEST(StreamFilterTest, AnEndOnAnExecutionEventWantsExecutionEvents) {
    EXPECT_TRUE(
        StreamFilter::FromQuery("st2.announcement__chat", "", "", "st2.execution__update", "e1").WantsExecutionEvents()
    );
    EXPECT_TRUE(
        StreamFilter::FromQuery("st2.announcement__chat", "", "", "st2.liveaction__update", "e1").WantsExecutionEvents()
    );
    EXPECT_FALSE(StreamFilter::FromQuery("st2.announcement__chat", "", "", "", "").WantsExecutionEvents());
    EXPECT_FALSE(
        StreamFilter::FromQuery("st2.announcement__chat", "", "", "st2.execution__update", "").WantsExecutionEvents()
    );
    EXPECT_TRUE(StreamFilter::FromQuery("", "", "", "", "").WantsExecutionEvents());
}

TEST(StreamSubscriberTest, OneReadOfOutputEntriesFitsTheDefaultLimits) {
    // An action that prints thousands of lines at once: the hub reads up to `batch` output entries of up to 1,000
    // lines each and hands their lines over together, before the client's connection writes any.
    EventHubOptions limits;
    StreamSubscriber sub(StreamFilter{});
    const size_t lines = limits.batch * 1000;
    for (size_t i = 0; i < lines; ++i) sub.Offer(Msg("st2.execution.output__create", "e", "", 120), limits);
    EXPECT_FALSE(sub.dropped());
    std::vector<StreamMessagePtr> got;
    bool end = false;
    EXPECT_TRUE(sub.Take(got, &end, 0ms));
    EXPECT_EQ(got.size(), lines);
}

TEST(StreamSubscriberTest, ASubscriberThatFallsBehindIsDroppedNotBufferedWithoutBound) {
    EventHubOptions limits;
    limits.max_queued_messages = 3;
    limits.max_queued_bytes = 1000;
    StreamSubscriber by_count(StreamFilter{});
    for (int i = 0; i < 3; ++i) by_count.Offer(Msg("st2.execution__update", "e", "running"), limits);
    EXPECT_FALSE(by_count.dropped());
    by_count.Offer(Msg("st2.execution__update", "e", "running"), limits);
    EXPECT_TRUE(by_count.dropped());
    std::vector<StreamMessagePtr> got;
    bool end = false;
    EXPECT_FALSE(by_count.Take(got, &end, 0ms));  // nothing left to send: the connection ends
    EXPECT_TRUE(got.empty());

    StreamSubscriber by_bytes(StreamFilter{});
    by_bytes.Offer(Msg("st2.execution__update", "e", "running", 600), limits);
    by_bytes.Offer(Msg("st2.execution__update", "e", "running", 600), limits);
    EXPECT_TRUE(by_bytes.dropped());

    // One message larger than the byte budget is still delivered to a client that is not behind.
    StreamSubscriber big(StreamFilter{});
    big.Offer(Msg("st2.execution__update", "e", "succeeded", 5000), limits);
    EXPECT_FALSE(big.dropped());
    EXPECT_EQ(Names(big).size(), 1u);

    // A subscriber that keeps up is never dropped, however many messages pass.
    StreamSubscriber reader(StreamFilter{});
    for (int i = 0; i < 100; ++i) {
        reader.Offer(Msg("st2.execution__update", "e", "running"), limits);
        EXPECT_EQ(Names(reader).size(), 1u);
    }
    EXPECT_FALSE(reader.dropped());
}

TEST(StreamSubscriberTest, TakeWaitsAndCloseEndsIt) {
    StreamSubscriber s(StreamFilter{});
    std::vector<StreamMessagePtr> got;
    bool end = false;
    EXPECT_TRUE(s.Take(got, &end, 1ms));  // nothing yet: a heartbeat is due, the stream goes on
    EXPECT_TRUE(got.empty());
    s.Close();
    EXPECT_FALSE(s.Take(got, &end, 1s));
}

TEST(StreamFilterTest, WantsAgreesWithWhatASubscriberQueues) {
    // The hub formats only the messages some filter Wants: Wants must say yes to all a subscriber would queue.
    StreamFilter f =
        StreamFilter::FromQuery("st2.execution.output__*", "core.local", "", "st2.execution__update", "e1");
    EXPECT_TRUE(f.Wants("st2.execution.output__create", "e9", "core.local", ""));
    EXPECT_FALSE(f.Wants("st2.execution.output__create", "e9", "core.noop", ""));
    EXPECT_FALSE(f.Wants("st2.execution__update", "e1", "core.local", "running"));
    EXPECT_TRUE(f.Wants("st2.execution__update", "e1", "core.noop", "succeeded"));  // the end event
    EXPECT_FALSE(f.Wants("st2.execution__update", "e2", "core.local", "succeeded"));
}

TEST(StreamSubscriberTest, ABatchIsQueuedAtOnceAndNothingAfterTheEndEvent) {
    EventHubOptions limits;
    StreamSubscriber s(StreamFilter::FromQuery("", "", "e1", "st2.execution__update", "e1"));
    s.Offer(
        std::vector<StreamMessagePtr>{
            Msg("st2.execution__update", "e1", "running"),
            Msg("st2.execution__update", "e2", "running"),
            Msg("st2.execution__update", "e1", "succeeded"),
            Msg("st2.liveaction__update", "e1", "succeeded")},
        limits
    );
    bool end = false;
    EXPECT_EQ(Names(s, &end), (std::vector<std::string>{"st2.execution__update", "st2.execution__update"}));
    EXPECT_TRUE(end);

    EventHubOptions small;
    small.max_queued_messages = 2;
    StreamSubscriber behind(StreamFilter{});
    behind.Offer(std::vector<StreamMessagePtr>(3, Msg("st2.execution__update", "e", "running")), small);
    EXPECT_TRUE(behind.dropped());
}

TEST(StreamSubscriberTest, TakeGathersWhatIsOfferedWhileItPauses) {
    EventHubOptions limits;
    StreamSubscriber s(StreamFilter{});
    std::vector<StreamMessagePtr> got;
    bool end = false;
    std::thread taker([&] { s.Take(got, &end, 10s, 500ms); });
    // The first wakes the taker; the second comes during its pause and is written with the first.
    s.Offer(Msg("st2.execution__create", "e", "requested"), limits);
    s.Offer(Msg("st2.execution__update", "e", "running"), limits);
    taker.join();
    EXPECT_EQ(got.size(), 2u);
}

TEST(FilterAttributesTest, DottedIncludeKeepsIdAndExcludeRemoves) {
    const Json action = {
        {"id", "a1"},
        {"ref", "core.local"},
        {"description", "d"},
        {"parameters", {{"cmd", {{"type", "string"}}}, {"sudo", {{"type", "boolean"}}}}}};
    EXPECT_EQ(
        FilterAttributes(action, {"ref", "parameters.cmd.type"}, {}),
        (Json{{"id", "a1"}, {"ref", "core.local"}, {"parameters", {{"cmd", {{"type", "string"}}}}}})
    );
    EXPECT_EQ(
        FilterAttributes(Json::array({action}), {}, {"parameters.sudo", "description"}),
        Json::array({{{"id", "a1"}, {"ref", "core.local"}, {"parameters", {{"cmd", {{"type", "string"}}}}}}})
    );
    // Unknown paths are ignored; a path through a non-object stops there.
    EXPECT_EQ(FilterAttributes(action, {"nope.deeper", "ref.x"}, {"ref.x"}), (Json{{"id", "a1"}}));
}

}  // namespace
}  // namespace squall::api
