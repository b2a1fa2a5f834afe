// Where hits go (target.h): the track domain URL, the track IDs, the
// endpoint, and the admin's allow-list of track hosts for .htaccess.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mapptrack/target.h"

#include <CppUTest/TestHarness.h>

using mapptrack::host_allowed;
using mapptrack::is_valid_host_pattern;
using mapptrack::make_endpoint;
using mapptrack::parse_track_domain;
using mapptrack::parse_track_ids;
using mapptrack::TrackDomain;

namespace {

TrackDomain must_parse(std::string_view text)
{
    std::string error;
    std::optional<TrackDomain> d = parse_track_domain(text, &error);
    CHECK_TEXT(d.has_value(), (std::string(text) + ": " + error).c_str());
    return d.value_or(TrackDomain{});
}

void check_rejected(std::string_view text)
{
    std::string error;
    std::optional<TrackDomain> d = parse_track_domain(text, &error);
    CHECK_FALSE_TEXT(d.has_value(), ("accepted: " + std::string(text)).c_str());
    CHECK_FALSE_TEXT(error.empty(), ("no reason given for: " + std::string(text)).c_str());
}

TrackDomain domain(const char* scheme, const char* host, int port, const char* path)
{
    TrackDomain d;
    d.scheme = scheme;
    d.host = host;
    d.port = port;
    d.path = path;
    return d;
}

std::string joined(const std::vector<std::string>& ids)
{
    std::string out;
    for (const std::string& id : ids)
        out += (out.empty() ? "" : "|") + id;
    return out;
}

std::string ids_of(std::string_view text)
{
    std::string error;
    auto ids = parse_track_ids(text, &error);
    return ids ? joined(*ids) : "<rejected: " + error + ">";
}

void check_ids_rejected(std::string_view text)
{
    std::string error;
    auto ids = parse_track_ids(text, &error);
    CHECK_FALSE_TEXT(ids.has_value(), ("accepted: '" + std::string(text) + "'").c_str());
    CHECK_FALSE_TEXT(error.empty(), ("no reason given for: '" + std::string(text) + "'").c_str());
}

bool allowed(std::vector<std::string> patterns, const char* url)
{
    return host_allowed(patterns, must_parse(url));
}

}  // namespace

TEST_GROUP(TrackDomain){};

TEST(TrackDomain, HttpsHostGetsTheDefaultPortAndNoPath)
{
    TrackDomain d = must_parse("https://x.webtrekk.net");
    STRCMP_EQUAL("https", d.scheme.c_str());
    STRCMP_EQUAL("x.webtrekk.net", d.host.c_str());
    LONGS_EQUAL(443, d.port);
    STRCMP_EQUAL("", d.path.c_str());
}

TEST(TrackDomain, HttpHostGetsPort80)
{
    TrackDomain d = must_parse("http://collector.example.com");
    STRCMP_EQUAL("http", d.scheme.c_str());
    LONGS_EQUAL(80, d.port);
}

TEST(TrackDomain, ExplicitPortAndPathAreKeptWithoutTrailingSlash)
{
    TrackDomain d = must_parse("http://127.0.0.1:8080/path/");
    STRCMP_EQUAL("http", d.scheme.c_str());
    STRCMP_EQUAL("127.0.0.1", d.host.c_str());
    LONGS_EQUAL(8080, d.port);
    STRCMP_EQUAL("/path", d.path.c_str());
}

TEST(TrackDomain, DeeperPathIsKept)
{
    TrackDomain d = must_parse("https://h.example:8443/a/b/");
    STRCMP_EQUAL("/a/b", d.path.c_str());
    LONGS_EQUAL(8443, d.port);
}

TEST(TrackDomain, RootPathIsDropped)
{
    STRCMP_EQUAL("", must_parse("https://x.webtrekk.net/").path.c_str());
}

TEST(TrackDomain, HostAndSchemeAreLowerCased)
{
    TrackDomain d = must_parse("HTTPS://Q3.WebTrekk.NET/");
    STRCMP_EQUAL("https", d.scheme.c_str());
    STRCMP_EQUAL("q3.webtrekk.net", d.host.c_str());
    LONGS_EQUAL(443, d.port);
}

TEST(TrackDomain, IPv6HostIsStoredWithoutBrackets)
{
    TrackDomain d = must_parse("http://[::1]:9000");
    STRCMP_EQUAL("::1", d.host.c_str());
    LONGS_EQUAL(9000, d.port);
    STRCMP_EQUAL("http://[::1]:9000", d.url().c_str());
}

TEST(TrackDomain, DefaultPortWrittenOutIsTheDefaultPort)
{
    TrackDomain d = must_parse("https://x.webtrekk.net:443");
    LONGS_EQUAL(443, d.port);
    STRCMP_EQUAL("https://x.webtrekk.net", d.url().c_str());
}

TEST(TrackDomain, OtherSchemesAreRejected)
{
    check_rejected("ftp://x");
    check_rejected("file:///etc/passwd");
    check_rejected("//x.webtrekk.net");
    check_rejected("x.webtrekk.net");
}

TEST(TrackDomain, NonUrlsAreRejected)
{
    check_rejected("notaurl");
    check_rejected("");
    check_rejected("https:");
}

TEST(TrackDomain, MissingHostIsRejected)
{
    check_rejected("https://");
    check_rejected("https:///path");
    check_rejected("https://:443");
}

TEST(TrackDomain, UserInfoIsRejected)
{
    check_rejected("https://u@h");
    check_rejected("https://u:p@h/");
}

TEST(TrackDomain, QueryAndFragmentAreRejected)
{
    check_rejected("https://h?q");
    check_rejected("https://h/p?q=1");
    check_rejected("https://h#f");
    check_rejected("https://h/p#f");
}

TEST(TrackDomain, OutOfRangePortsAreRejected)
{
    check_rejected("https://h:0");
    check_rejected("https://h:99999");
    check_rejected("https://h:65536");
    check_rejected("https://h:-1");
    check_rejected("https://h:abc");
    check_rejected("https://h:");
}

TEST(TrackDomain, HighestPortIsAccepted)
{
    LONGS_EQUAL(65535, must_parse("https://h:65535").port);
}

TEST(TrackDomain, BlanksAndLineBreaksAreRejected)
{
    check_rejected("https://ho st");
    check_rejected("https://host/pa th");
    check_rejected("https://host\r\nX-Injected: 1");
    check_rejected("https://host\n");
    check_rejected("https://host\t");
    check_rejected(std::string_view("https://host\0.evil", 18));
}

TEST(TrackDomain, BrokenIPv6IsRejected)
{
    check_rejected("http://[::1");
    check_rejected("http://[::1]x");
}

TEST(TrackDomain, UrlLeavesOutTheDefaultPort)
{
    STRCMP_EQUAL("https://q3.webtrekk.net", domain("https", "q3.webtrekk.net", 443, "").url().c_str());
    STRCMP_EQUAL("http://h", domain("http", "h", 80, "").url().c_str());
    STRCMP_EQUAL("http://h:443", domain("http", "h", 443, "").url().c_str());
    STRCMP_EQUAL("https://h:80/x", domain("https", "h", 80, "/x").url().c_str());
    STRCMP_EQUAL("http://127.0.0.1:8080/path",
                 domain("http", "127.0.0.1", 8080, "/path").url().c_str());
}

TEST(TrackDomain, UrlRoundTrips)
{
    const char* urls[] = {"https://x.webtrekk.net", "http://127.0.0.1:8080/path",
                          "http://[::1]:9000", "https://h.example:8443/a/b", "http://h:443"};
    for (const char* url : urls) {
        TrackDomain d = must_parse(url);
        STRCMP_EQUAL(url, d.url().c_str());
        TrackDomain again = must_parse(d.url());
        STRCMP_EQUAL(d.scheme.c_str(), again.scheme.c_str());
        STRCMP_EQUAL(d.host.c_str(), again.host.c_str());
        LONGS_EQUAL(d.port, again.port);
        STRCMP_EQUAL(d.path.c_str(), again.path.c_str());
    }
}

TEST_GROUP(TrackIds){};

TEST(TrackIds, SingleIdIsAccepted)
{
    STRCMP_EQUAL("123", ids_of("123").c_str());
}

TEST(TrackIds, SeveralIdsKeepTheirOrder)
{
    STRCMP_EQUAL("111|222", ids_of("111,222").c_str());
    STRCMP_EQUAL("222|111|333", ids_of("222,111,333").c_str());
}

TEST(TrackIds, BlanksAroundCommasAreAllowed)
{
    STRCMP_EQUAL("111|222", ids_of("111 , 222").c_str());
    STRCMP_EQUAL("111|222", ids_of("111, 222").c_str());
}

TEST(TrackIds, TwentyDigitsAreTheMost)
{
    STRCMP_EQUAL("12345678901234567890", ids_of("12345678901234567890").c_str());
    check_ids_rejected("123456789012345678901");
}

TEST(TrackIds, NonDigitsAreRejected)
{
    check_ids_rejected("abc");
    check_ids_rejected("12a");
    check_ids_rejected("-1");
    check_ids_rejected("1;2");
    check_ids_rejected("1 2");
    check_ids_rejected("111,2x2");
    check_ids_rejected("111/../222");
}

TEST(TrackIds, EmptyIdsAreRejected)
{
    check_ids_rejected("");
    check_ids_rejected(",");
    check_ids_rejected("1,,2");
    check_ids_rejected(",1");
    check_ids_rejected("1,");
}

TEST_GROUP(Endpoint){};

TEST(Endpoint, IdsAreJoinedByCommasAfterTheDomain)
{
    STRCMP_EQUAL("https://q3.webtrekk.net/111,222",
                 make_endpoint(domain("https", "q3.webtrekk.net", 443, ""), {"111", "222"}).c_str());
}

TEST(Endpoint, TheStoredFormsMakeTheSameEndpoint)
{
    STRCMP_EQUAL(make_endpoint(domain("http", "127.0.0.1", 8080, "/track"), {"1", "2"}).c_str(),
                 make_endpoint("http://127.0.0.1:8080/track", "1,2").c_str());
    STRCMP_EQUAL("https://t.example/1,2/wt?p=1", mapptrack::endpoint_url("https://t.example/1,2", "wt?p=1").c_str());
    STRCMP_EQUAL("https://t.example/1/batch", mapptrack::endpoint_url(make_endpoint("https://t.example", "1"), "batch").c_str());
}

TEST(Endpoint, PortAndPathComeBeforeTheIds)
{
    STRCMP_EQUAL("http://127.0.0.1:8080/track/123",
                 make_endpoint(domain("http", "127.0.0.1", 8080, "/track"), {"123"}).c_str());
}

TEST(Endpoint, ParsedDomainAndIdsMakeTheEndpoint)
{
    std::string error;
    auto ids = parse_track_ids("111, 222", &error);
    CHECK(ids.has_value());
    STRCMP_EQUAL("http://[::1]:9000/111,222",
                 make_endpoint(must_parse("http://[::1]:9000/"), *ids).c_str());
}

TEST_GROUP(HostPattern){};

TEST(HostPattern, DocumentedFormsAreValid)
{
    CHECK(is_valid_host_pattern("*.webtrekk.net"));
    CHECK(is_valid_host_pattern("127.0.0.1:*"));
    CHECK(is_valid_host_pattern("127.0.0.1:8080"));
    CHECK(is_valid_host_pattern("track.example.com"));
    CHECK(is_valid_host_pattern("*"));
    CHECK(is_valid_host_pattern("*.wt-eu02.net:443"));
    CHECK(is_valid_host_pattern("*:8443"));
}

TEST(HostPattern, MalformedPatternsAreInvalid)
{
    CHECK_FALSE(is_valid_host_pattern(""));
    CHECK_FALSE(is_valid_host_pattern("*foo.net"));
    CHECK_FALSE(is_valid_host_pattern("a.*.net"));
    CHECK_FALSE(is_valid_host_pattern("*."));
    CHECK_FALSE(is_valid_host_pattern("host:"));
    CHECK_FALSE(is_valid_host_pattern("host:abc"));
    CHECK_FALSE(is_valid_host_pattern("host:0"));
    CHECK_FALSE(is_valid_host_pattern("host:99999"));
    CHECK_FALSE(is_valid_host_pattern("https://host"));
    CHECK_FALSE(is_valid_host_pattern("host/path"));
    CHECK_FALSE(is_valid_host_pattern("ho st"));
    CHECK_FALSE(is_valid_host_pattern("u@host"));
}

TEST_GROUP(HostAllowed){};

TEST(HostAllowed, WildcardSuffixMatchesASubdomainOnTheDefaultPort)
{
    CHECK(allowed({"*.webtrekk.net"}, "https://q3.webtrekk.net"));
    CHECK(allowed({"*.webtrekk.net"}, "https://q3.webtrekk.net:443/"));
}

TEST(HostAllowed, WildcardSuffixDoesNotMatchLookAlikes)
{
    CHECK_FALSE(allowed({"*.webtrekk.net"}, "https://webtrekk.net.evil.com"));
    CHECK_FALSE(allowed({"*.webtrekk.net"}, "https://evilwebtrekk.net"));
    CHECK_FALSE(allowed({"*.webtrekk.net"}, "https://q3.webtrekk.network"));
}

TEST(HostAllowed, PatternWithoutPortMatchesOnlyDefaultPorts)
{
    CHECK_FALSE(allowed({"*.webtrekk.net"}, "https://q3.webtrekk.net:8443"));
    CHECK(allowed({"track.example.com"}, "https://track.example.com"));
    CHECK(allowed({"track.example.com"}, "http://track.example.com"));
    CHECK_FALSE(allowed({"track.example.com"}, "https://track.example.com:8443"));
    CHECK_FALSE(allowed({"track.example.com"}, "http://track.example.com:8080"));
}

TEST(HostAllowed, BareHostMatchesOnlyThatHost)
{
    CHECK_FALSE(allowed({"track.example.com"}, "https://x.track.example.com"));
    CHECK_FALSE(allowed({"track.example.com"}, "https://track.example.com.evil.net"));
    CHECK_FALSE(allowed({"track.example.com"}, "https://rack.example.com"));
}

TEST(HostAllowed, AnyPortPatternMatchesEveryPortOfThatHost)
{
    CHECK(allowed({"127.0.0.1:*"}, "http://127.0.0.1:8080"));
    CHECK(allowed({"127.0.0.1:*"}, "http://127.0.0.1:9"));
    CHECK(allowed({"127.0.0.1:*"}, "https://127.0.0.1"));
    CHECK_FALSE(allowed({"127.0.0.1:*"}, "http://127.0.0.2:8080"));
}

TEST(HostAllowed, ExplicitPortMatchesOnlyThatPort)
{
    CHECK(allowed({"127.0.0.1:8080"}, "http://127.0.0.1:8080/path"));
    CHECK_FALSE(allowed({"127.0.0.1:8080"}, "http://127.0.0.1:8081"));
    CHECK_FALSE(allowed({"127.0.0.1:8080"}, "https://127.0.0.1"));
    CHECK_FALSE(allowed({"127.0.0.1:8080"}, "http://127.0.0.1"));
}

TEST(HostAllowed, StarMatchesAnyHostOnDefaultPorts)
{
    CHECK(allowed({"*"}, "https://anything.example"));
    CHECK(allowed({"*"}, "http://10.1.2.3"));
    CHECK_FALSE(allowed({"*"}, "https://anything.example:8443"));
}

TEST(HostAllowed, AnyOfSeveralPatternsMayMatch)
{
    std::vector<std::string> patterns = {"*.webtrekk.net", "127.0.0.1:*", "track.example.com"};
    CHECK(host_allowed(patterns, must_parse("https://q3.webtrekk.net")));
    CHECK(host_allowed(patterns, must_parse("http://127.0.0.1:9000")));
    CHECK(host_allowed(patterns, must_parse("https://track.example.com")));
    CHECK_FALSE(host_allowed(patterns, must_parse("https://evil.example")));
}

TEST(HostAllowed, NoPatternsAllowNothing)
{
    CHECK_FALSE(allowed({}, "https://q3.webtrekk.net"));
}

TEST(TrackDomain, NumericHostsLibcurlReadsAsOtherAddressesAreRefused)
{
    for (const char* url : {"http://127.1", "http://0x7f.1", "http://2130706433", "http://121",
                            "http://063.0.0.1", "http://127.0.0.01", "http://1.2.3.0x4"}) {
        std::string error;
        CHECK_TEXT(!parse_track_domain(url, &error), url);
        CHECK_TEXT(!error.empty(), url);
    }
    STRCMP_EQUAL("127.0.0.1", must_parse("http://127.0.0.1:8080").host.c_str());
    STRCMP_EQUAL("track.wt-eu02.net", must_parse("https://track.wt-eu02.net").host.c_str());
}

TEST(TrackDomain, InvalidIpv6LiteralsAreRefused)
{
    for (const char* url : {"https://[:]", "https://[::1:]", "https://[2001:db8:::]", "https://[1.2.3.4]"}) {
        std::string error;
        CHECK_TEXT(!parse_track_domain(url, &error), url);
    }
    STRCMP_EQUAL("::1", must_parse("http://[::1]:9000").host.c_str());
}

TEST_GROUP(Port){};

TEST(Port, OneTo65535OfAtMostFiveDigits)
{
    CHECK(mapptrack::parse_port("1") == 1);
    CHECK(mapptrack::parse_port("65535") == 65535);
    CHECK(mapptrack::parse_port("08080") == 8080);
    CHECK_FALSE(mapptrack::parse_port("").has_value());
    CHECK_FALSE(mapptrack::parse_port("0").has_value());
    CHECK_FALSE(mapptrack::parse_port("65536").has_value());
    CHECK_FALSE(mapptrack::parse_port("000080").has_value());
    CHECK_FALSE(mapptrack::parse_port("8o").has_value());
    CHECK_FALSE(mapptrack::parse_port("-1").has_value());
}
