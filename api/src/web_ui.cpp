#include "web_ui.hpp"

#include <algorithm>

namespace squall::api::web {

namespace {

const Asset* Find(std::string_view path) {
    for (const Asset& a : Assets()) {
        if (a.path == path) return &a;
    }
    return nullptr;
}

/// Whether If-None-Match names `etag` (a list of quoted tags, or `*`).
bool NotModified(const httplib::Request& req, std::string_view etag) {
    const std::string inm = req.get_header_value("If-None-Match");
    if (inm.empty()) return false;
    if (inm == "*") return true;
    size_t start = 0;
    while (start < inm.size()) {
        size_t comma = inm.find(',', start);
        if (comma == std::string::npos) comma = inm.size();
        std::string_view tag(inm.data() + start, comma - start);
        while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
        while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
        if (tag.starts_with("W/")) tag.remove_prefix(2);
        if (tag == etag) return true;
        start = comma + 1;
    }
    return false;
}

/// Whether Accept-Encoding takes gzip: a `gzip`, `x-gzip` or `*` coding without `q=0`.
bool AcceptsGzip(const httplib::Request& req) {
    const std::string accept = req.get_header_value("Accept-Encoding");
    size_t start = 0;
    while (start < accept.size()) {
        size_t comma = accept.find(',', start);
        if (comma == std::string::npos) comma = accept.size();
        std::string_view item(accept.data() + start, comma - start);
        start = comma + 1;
        const size_t semi = item.find(';');
        std::string_view coding = item.substr(0, semi);
        while (!coding.empty() && coding.front() == ' ') coding.remove_prefix(1);
        while (!coding.empty() && coding.back() == ' ') coding.remove_suffix(1);
        if (coding != "gzip" && coding != "x-gzip" && coding != "*") continue;
        if (semi == std::string_view::npos) return true;
        std::string params(item.substr(semi + 1));
        std::erase(params, ' ');
        const bool zero =
            params == "q=0" || (params.starts_with("q=0.") && params.find_first_not_of('0', 4) == std::string::npos);
        return !zero;
    }
    return false;
}

}  // namespace

void SetSecurityHeaders(httplib::Response& res) {
    res.set_header(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("X-Frame-Options", "DENY");
    res.set_header("Referrer-Policy", "no-referrer");
}

std::string FirstSegment(std::string_view pattern) {
    if (pattern.starts_with('/')) pattern.remove_prefix(1);
    const size_t end = pattern.find_first_of("/?(");
    return std::string(pattern.substr(0, end));
}

bool Serve(const httplib::Request& req, httplib::Response& res, const std::set<std::string, std::less<>>& api_roots) {
    if (req.method != "GET" && req.method != "HEAD") return false;
    const std::string first = FirstSegment(req.path);
    if (api_roots.contains(first)) return false;

    const Asset* asset = Find(req.path == "/" ? "/index.html" : std::string_view(req.path));
    if (!asset) {
        const size_t slash = req.path.rfind('/');
        const bool looks_like_file = req.path.find('.', slash == std::string::npos ? 0 : slash) != std::string::npos;
        SetSecurityHeaders(res);
        if (looks_like_file) {
            res.status = 404;
            res.set_content("Not Found: " + req.path + "\n", "text/plain; charset=utf-8");
            return true;
        }
        asset = Find("/index.html");
        if (!asset) return false;  // a build without the UI
    }
    SetSecurityHeaders(res);
    // Files keep their names from release to release, so the browser revalidates each time (a 304 without a
    // body when the ETag, a hash of the content, still matches).
    res.set_header("Cache-Control", "no-cache");
    res.set_header("ETag", std::string(asset->etag));
    if (NotModified(req, asset->etag)) {
        res.status = 304;
        return true;
    }
    res.status = 200;
    res.set_header("Vary", "Accept-Encoding");
    // Compressed at build time when the client takes gzip, else as it is; either way through a content provider of
    // known length, which httplib sends as it is (it compresses a body set with set_content itself, on every
    // request, and reads "gzip;q=0" as a yes).
    if (asset->size == 0) {
        res.set_content("", std::string(asset->content_type));
        return true;
    }
    const bool gzip = asset->gzip && AcceptsGzip(req);
    if (gzip) res.set_header("Content-Encoding", "gzip");
    const char* bytes = reinterpret_cast<const char*>(gzip ? asset->gzip : asset->data);
    res.set_content_provider(
        gzip ? asset->gzip_size : asset->size,
        std::string(asset->content_type),
        [bytes](size_t offset, size_t length, httplib::DataSink& sink) { return sink.write(bytes + offset, length); }
    );
    return true;
}

}  // namespace squall::api::web
