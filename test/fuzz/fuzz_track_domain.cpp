// Track-domain parsing (target.h) against libcurl's URL parser: whenever
// parse_track_domain accepts, libcurl parses TrackDomain::url() to the same
// scheme, host and port, the endpoint keeps its IDs as the last path segment,
// parsing url() again gives the same TrackDomain; and if libcurl reads the
// original text as another host (or port) than ours, ours must have refused.
#include <arpa/inet.h>
#include <curl/curl.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <string>

#include "fuzz_common.h"
#include "fuzz_curl.h"
#include "mapptrack/target.h"

using namespace mapptrack;
using fuzz::check;

namespace {

using fuzz::CurlView;
using fuzz::curl_parse;

// The same host: equal text, or the same IPv6 address written differently.
bool same_host(const std::string& a, const std::string& b) {
    if (a == b) return true;
    unsigned char x[16], y[16];
    return a.find(':') != std::string::npos && inet_pton(AF_INET6, a.c_str(), x) == 1 &&
           inet_pton(AF_INET6, b.c_str(), y) == 1 && std::memcmp(x, y, 16) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    std::string error;
    const auto d = parse_track_domain(text, &error);
    if (!d) {
        check(!error.empty(), "a refusal without a reason", text);
        return 0;
    }
    check(d->scheme == "http" || d->scheme == "https", "a scheme other than http(s)", d->scheme);
    check(d->port >= 1 && d->port <= 65535, "a port out of range", text);
    check(!d->host.empty(), "an empty host", text);
    for (char c : d->host) check(!(c >= 'A' && c <= 'Z'), "a host not in lower case", d->host);
    check(d->path.empty() || (d->path.front() == '/' && d->path.back() != '/'), "a path not \"\" or /…", d->path);
    check(text.find('\0') == std::string::npos, "accepted text with a NUL", text);

    // libcurl parses our URL to the same scheme, host and port.
    const std::string url = d->url();
    const CurlView ours = curl_parse(url);
    check(ours.ok, "libcurl cannot parse TrackDomain::url()", fuzz::show(url, text));
    check(ours.scheme == d->scheme, "libcurl sees another scheme in url()", fuzz::show(ours.scheme, url));
    check(same_host(ours.host, d->host), "libcurl sees another host in url()", fuzz::show(ours.host, d->host));
    check(ours.port == d->port, "libcurl sees another port in url()", fuzz::show(std::to_string(ours.port), url));

    // The endpoint keeps the IDs as its last segment, on the same host.
    const std::string endpoint = make_endpoint(*d, {"111", "222"});
    const CurlView ep = curl_parse(endpoint + "/wt?p=1");
    check(ep.ok, "libcurl cannot parse the endpoint", endpoint);
    check(same_host(ep.host, d->host) && ep.port == d->port, "the endpoint is on another host", endpoint);
    check(ep.path.size() >= 11 && ep.path.compare(ep.path.size() - 11, 11, "/111,222/wt") == 0,
          "the endpoint's path does not end in /{ids}/wt", ep.path);

    // url() is a fixed point.
    std::string error2;
    const auto again = parse_track_domain(url, &error2);
    check(again.has_value(), "parse_track_domain refuses its own url()", fuzz::show(url, error2));
    check(again->scheme == d->scheme && again->host == d->host && again->port == d->port && again->path == d->path,
          "parse_track_domain(url()) differs", url);

    // Where libcurl reads the original text differently, ours must refuse.
    const CurlView theirs = curl_parse(text);
    if (theirs.ok) {
        check(same_host(theirs.host, d->host), "libcurl reads another host in the text than parse_track_domain",
              fuzz::show(text, theirs.host + " vs " + d->host));
        check(theirs.port == d->port, "libcurl reads another port in the text than parse_track_domain",
              fuzz::show(text, std::to_string(theirs.port) + " vs " + std::to_string(d->port)));
        check(theirs.scheme == d->scheme, "libcurl reads another scheme in the text", text);
    }
    return 0;
}
