// The web UI as the server serves it (docs/web.md): the files of web/ from the binary at `/`, with their content
// types, a strict Content-Security-Policy, nosniff and ETag revalidation; index.html for client-side paths; and the
// API's own paths untouched (JSON 404s, 401s, the routes). The real binary with its embedded Redis. The browser
// side is tests/web/ui_test.py.
#include <gtest/gtest.h>
#include <httplib.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "squall/core/model/model.hpp"
#include "squall_process.hpp"
#include "temp_dir.hpp"

namespace squall::test {
namespace {

namespace fs = std::filesystem;
using core::Json;

std::string SourceFile(const std::string& relative) {
    std::ifstream in(std::string(SQUALL_SOURCE_DIR) + "/" + relative, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

class WebUiTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        std::signal(SIGPIPE, SIG_IGN);
        dir_ = new TempDir();
        SquallProcess::Options o;
        o.data_dir = (dir_->path() / "d").string();
        server_ = new SquallProcess(o);
    }
    static void TearDownTestSuite() {
        delete server_;
        delete dir_;
    }
    static httplib::Client Client() {
        httplib::Client c(server_->host(), server_->port());
        c.set_read_timeout(30, 0);
        return c;
    }
    static void ExpectUiHeaders(const httplib::Response& r) {
        const std::string csp = r.get_header_value("Content-Security-Policy");
        EXPECT_NE(csp.find("default-src 'self'"), std::string::npos) << csp;
        EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
        EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
        EXPECT_EQ(csp.find("unsafe"), std::string::npos) << "no unsafe-inline or unsafe-eval: " << csp;
        EXPECT_EQ(r.get_header_value("X-Content-Type-Options"), "nosniff");
        EXPECT_EQ(r.get_header_value("X-Frame-Options"), "DENY");
    }
    static TempDir* dir_;
    static SquallProcess* server_;
};
TempDir* WebUiTest::dir_ = nullptr;
SquallProcess* WebUiTest::server_ = nullptr;

TEST_F(WebUiTest, ServesTheFilesOfWebFromTheBinary) {
    httplib::Client c = Client();
    struct File {
        const char* url;
        const char* source;
        const char* type;
    };
    for (const File& f :
         {File{"/", "web/index.html", "text/html; charset=utf-8"},
          File{"/index.html", "web/index.html", "text/html; charset=utf-8"},
          File{"/style.css", "web/style.css", "text/css; charset=utf-8"},
          File{"/js/app.js", "web/js/app.js", "text/javascript; charset=utf-8"},
          File{"/js/form.js", "web/js/form.js", "text/javascript; charset=utf-8"},
          File{"/favicon.svg", "web/favicon.svg", "image/svg+xml"}}) {
        httplib::Result r = c.Get(f.url);
        ASSERT_TRUE(r) << f.url;
        EXPECT_EQ(r->status, 200) << f.url;
        EXPECT_EQ(r->get_header_value("Content-Type"), f.type) << f.url;
        EXPECT_EQ(r->body, SourceFile(f.source)) << f.url << ": the bytes of " << f.source;
        EXPECT_EQ(r->get_header_value("Cache-Control"), "no-cache") << f.url;
        ExpectUiHeaders(*r);
    }
    // The page loads nothing from elsewhere and runs no inline script (the CSP would refuse it).
    const std::string index = SourceFile("web/index.html");
    EXPECT_EQ(index.find("http"), std::string::npos);
    EXPECT_EQ(index.find("<script>"), std::string::npos);
    EXPECT_EQ(index.find("style="), std::string::npos);
}

TEST_F(WebUiTest, RevalidatesWithTheETag) {
    httplib::Client c = Client();
    httplib::Result first = c.Get("/js/api.js");
    ASSERT_TRUE(first);
    const std::string etag = first->get_header_value("ETag");
    ASSERT_EQ(etag.size(), 22u) << etag;  // a quoted 20-hex prefix of the SHA-256
    httplib::Result again = c.Get("/js/api.js", {{"If-None-Match", etag}});
    ASSERT_TRUE(again);
    EXPECT_EQ(again->status, 304);
    EXPECT_TRUE(again->body.empty());
    httplib::Result weak = c.Get("/js/api.js", {{"If-None-Match", "\"other\", W/" + etag}});
    EXPECT_EQ(weak->status, 304);
    httplib::Result changed = c.Get("/js/api.js", {{"If-None-Match", "\"other\""}});
    EXPECT_EQ(changed->status, 200);
    EXPECT_EQ(changed->body, first->body);
    // Another file has another tag.
    EXPECT_NE(c.Get("/js/dom.js")->get_header_value("ETag"), etag);
    // HEAD answers the headers alone.
    httplib::Result head = c.Head("/style.css");
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, 200);
    EXPECT_TRUE(head->body.empty());
    EXPECT_EQ(head->get_header_value("Content-Type"), "text/css; charset=utf-8");
}

TEST_F(WebUiTest, TextFilesGoOutGzipCompressedAtBuildTime) {
    httplib::Client c = Client();
    c.set_decompress(false);
    const std::string source = SourceFile("web/js/traces.js");
    httplib::Result gz = c.Get("/js/traces.js", {{"Accept-Encoding", "br;q=0.5, gzip"}});
    ASSERT_TRUE(gz);
    EXPECT_EQ(gz->status, 200);
    EXPECT_EQ(gz->get_header_value("Content-Encoding"), "gzip");
    EXPECT_EQ(gz->get_header_value("Vary"), "Accept-Encoding");
    EXPECT_EQ(gz->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
    ExpectUiHeaders(*gz);
    ASSERT_GE(gz->body.size(), 10u);
    EXPECT_EQ(gz->body.substr(0, 3), std::string("\x1f\x8b\x08", 3)) << "a gzip stream (deflate)";
    EXPECT_EQ(gz->body.substr(4, 4), std::string(4, '\0')) << "no time stamp: the bytes depend on the file alone";
    EXPECT_LT(gz->body.size(), source.size() / 2);
    EXPECT_EQ(gz->get_header_value("Content-Length"), std::to_string(gz->body.size()));
    // The same bytes each time (compressed once, when the binary was built).
    EXPECT_EQ(c.Get("/js/traces.js", {{"Accept-Encoding", "gzip"}})->body, gz->body);
    // Decompressed by a client that accepts it, the file itself.
    httplib::Client plain = Client();
    httplib::Result decoded = plain.Get("/js/traces.js", {{"Accept-Encoding", "gzip"}});
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->body, source);
    // Without gzip in Accept-Encoding (or with q=0), the file as it is.
    for (const char* accept : {"identity", "gzip;q=0", "gzip; q=0.000"}) {
        httplib::Result r = c.Get("/js/traces.js", {{"Accept-Encoding", accept}});
        ASSERT_TRUE(r) << accept;
        EXPECT_EQ(r->get_header_value("Content-Encoding"), "") << accept;
        EXPECT_EQ(r->body, source) << accept;
    }
    // HEAD: the headers of the compressed answer, no body.
    httplib::Result head = c.Head("/js/traces.js", {{"Accept-Encoding", "gzip"}});
    ASSERT_TRUE(head);
    EXPECT_EQ(head->get_header_value("Content-Encoding"), "gzip");
    EXPECT_TRUE(head->body.empty());
}

TEST_F(WebUiTest, ClientSidePathsServeIndexAndMissingFilesAre404) {
    httplib::Client c = Client();
    const std::string index = SourceFile("web/index.html");
    for (const char* path : {"/executions", "/executions/6b13e39fa59975b5e7f7ff72", "/actions/core.local/x/"}) {
        httplib::Result r = c.Get(path);
        ASSERT_TRUE(r) << path;
        EXPECT_EQ(r->status, 200) << path;
        EXPECT_EQ(r->body, index) << path;
        ExpectUiHeaders(*r);
    }
    httplib::Result missing = c.Get("/js/no-such-module.js");
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 404);
    EXPECT_EQ(missing->get_header_value("Content-Type"), "text/plain; charset=utf-8");
    // Other methods outside the API are the API's JSON 404.
    httplib::Result post = c.Post("/", "{}", "application/json");
    ASSERT_TRUE(post);
    EXPECT_EQ(post->status, 404);
    EXPECT_TRUE(Json::parse(post->body, nullptr, false).contains("faultstring"));
}

TEST_F(WebUiTest, ApiPathsAreLeftToTheApi) {
    httplib::Client c = Client();
    const httplib::Headers key = {{"St2-Api-Key", server_->api_key()}};
    // Unknown API paths are JSON 404s, as before; routes answer as before, with and without credentials.
    for (const char* path :
         {"/api/v1/no-such-thing", "/v1/no-such-thing", "/auth/v1/nothing", "/stream/v1/x", "/api", "/metrics/x"}) {
        httplib::Result r = c.Get(path, key);
        ASSERT_TRUE(r) << path;
        EXPECT_EQ(r->status, 404) << path;
        EXPECT_EQ(r->get_header_value("Content-Type"), "application/json") << path;
        EXPECT_TRUE(r->get_header_value("Content-Security-Policy").empty()) << path;
    }
    EXPECT_EQ(c.Get("/api/v1/executions")->status, 401);
    httplib::Result list = c.Get("/api/v1/executions", key);
    ASSERT_TRUE(list);
    EXPECT_EQ(list->status, 200);
    EXPECT_TRUE(Json::parse(list->body, nullptr, false).is_array());
    httplib::Result root = c.Get("/api/v1/", key);
    ASSERT_TRUE(root);
    EXPECT_EQ(Json::parse(root->body, nullptr, false).value("name", ""), "squall");
}

}  // namespace
}  // namespace squall::test
