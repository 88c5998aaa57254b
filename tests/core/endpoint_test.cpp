#include <gtest/gtest.h>

#include "squall/core/redis/endpoint.hpp"

namespace squall::core {
namespace {

TEST(RedisEndpointTest, ParsesTcpWithDb) {
    auto ep = RedisEndpoint::Parse("redis://example.org:6380/3");
    ASSERT_TRUE(ep) << ep.error().message;
    EXPECT_TRUE(ep->unix_path.empty());
    EXPECT_EQ(ep->host, "example.org");
    EXPECT_EQ(ep->port, 6380);
    EXPECT_EQ(ep->db, 3);
    EXPECT_EQ(ep->key_prefix, "squall:");
}

TEST(RedisEndpointTest, ParsesTcpWithoutDbAndPort) {
    auto ep = RedisEndpoint::Parse("redis://10.0.0.1:7000");
    ASSERT_TRUE(ep);
    EXPECT_EQ(ep->host, "10.0.0.1");
    EXPECT_EQ(ep->port, 7000);
    EXPECT_EQ(ep->db, 0);

    auto no_port = RedisEndpoint::Parse("redis://cache");
    ASSERT_TRUE(no_port);
    EXPECT_EQ(no_port->host, "cache");
    EXPECT_EQ(no_port->port, 6379);
}

TEST(RedisEndpointTest, ParsesIpv6) {
    auto ep = RedisEndpoint::Parse("redis://[::1]:6390/1");
    ASSERT_TRUE(ep);
    EXPECT_EQ(ep->host, "::1");
    EXPECT_EQ(ep->port, 6390);
    EXPECT_EQ(ep->db, 1);
    EXPECT_EQ(ep->ToString(), "redis://[::1]:6390/1");
}

TEST(RedisEndpointTest, ParsesUnixSocket) {
    auto ep = RedisEndpoint::Parse("unix:///var/run/redis/redis.sock");
    ASSERT_TRUE(ep);
    EXPECT_EQ(ep->unix_path, "/var/run/redis/redis.sock");
    EXPECT_EQ(ep->db, 0);

    auto with_db = RedisEndpoint::Parse("unix:///tmp/r.sock?db=5");
    ASSERT_TRUE(with_db);
    EXPECT_EQ(with_db->unix_path, "/tmp/r.sock");
    EXPECT_EQ(with_db->db, 5);
}

TEST(RedisEndpointTest, ParsesSentinel) {
    auto ep = RedisEndpoint::Parse("sentinel://10.0.0.1:26380,sentinel-b,[::1]:5000/mymaster?db=2");
    ASSERT_TRUE(ep) << ep.error().message;
    EXPECT_TRUE(ep->IsSentinel());
    ASSERT_EQ(ep->sentinels.size(), 3u);
    EXPECT_EQ(ep->sentinels[0], (std::pair<std::string, int>{"10.0.0.1", 26380}));
    EXPECT_EQ(ep->sentinels[1], (std::pair<std::string, int>{"sentinel-b", 26379}));  // a sentinel's own port
    EXPECT_EQ(ep->sentinels[2], (std::pair<std::string, int>{"::1", 5000}));
    EXPECT_EQ(ep->master_name, "mymaster");
    EXPECT_EQ(ep->db, 2);
    EXPECT_TRUE(ep->host.empty());  // asked of the sentinels on every connection
    EXPECT_EQ(ep->ToString(), "sentinel://10.0.0.1:26380,sentinel-b:26379,[::1]:5000/mymaster?db=2");
    auto plain = RedisEndpoint::Parse("redis://h:1");
    ASSERT_TRUE(plain);
    EXPECT_FALSE(plain->IsSentinel());
}

TEST(RedisEndpointTest, RoundTrips) {
    for (const char* url :
         {"redis://h:1",
          "redis://h:6379/2",
          "unix:///a/b.sock",
          "unix:///a/b.sock?db=7",
          "sentinel://a:1,b:2/m",
          "sentinel://a:26379/m?db=3"}) {
        auto ep = RedisEndpoint::Parse(url);
        ASSERT_TRUE(ep) << url;
        EXPECT_EQ(ep->ToString(), url);
    }
}

TEST(RedisEndpointTest, RejectsBadUrls) {
    for (const char* url :
         {"",
          "http://h:1",
          "redis://",
          "redis://:6379",
          "redis://h:",
          "redis://h:0",
          "redis://h:70000",
          "redis://h:12x",
          "redis://h:1/",
          "redis://h:1/-1",
          "redis://h:1/x",
          "unix://relative.sock",
          "unix://",
          "unix:///a.sock?db=",
          "unix:///a.sock?foo=1",
          "redis://[::1",
          "sentinel://",
          "sentinel://h:1",
          "sentinel://h:1/",
          "sentinel:///m",
          "sentinel://h:1,,h:2/m",
          "sentinel://h:0/m",
          "sentinel://h:1/m/x",
          "sentinel://h:1/m?db=x",
          "sentinel://h:1/m?foo=1"}) {
        auto ep = RedisEndpoint::Parse(url);
        ASSERT_FALSE(ep) << url;
        EXPECT_EQ(ep.error().code, ErrorCode::kInvalidArgument) << url;
        EXPECT_NE(ep.error().message.find("redis url"), std::string::npos) << ep.error().message;
    }
}

}  // namespace
}  // namespace squall::core
