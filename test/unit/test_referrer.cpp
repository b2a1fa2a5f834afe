// The referrer field (referrer.h): `1` for the site's own domain, as Mapp's
// libraries and pixels send it, the URL otherwise, and no hostile referrer
// passes for an own one.
#include <string>
#include <vector>

#include "mapptrack/referrer.h"

#include <CppUTest/TestHarness.h>

using mapptrack::OwnDomainRules;
using mapptrack::referrer_field;

namespace {

std::string field(const std::string& referrer, const OwnDomainRules& rules = {})
{
    return referrer_field(referrer, "www.example.com", rules);
}

OwnDomainRules patterns(std::vector<std::string> p)
{
    OwnDomainRules rules;
    rules.patterns = std::move(p);
    return rules;
}

}  // namespace

TEST_GROUP(Referrer){};

TEST(Referrer, NoReferrerIsEmptyAndSoSentAsZero)
{
    STRCMP_EQUAL("", field("").c_str());
}

TEST(Referrer, TheRequestsOwnHostIsOne)
{
    STRCMP_EQUAL("1", field("https://www.example.com/shop/?q=1").c_str());
    STRCMP_EQUAL("1", field("http://www.example.com").c_str());
}

TEST(Referrer, OwnHostIgnoresCaseTrailingDotAndPort)
{
    STRCMP_EQUAL("1", field("HTTPS://WWW.Example.COM/x").c_str());
    STRCMP_EQUAL("1", field("https://www.example.com./x").c_str());
    STRCMP_EQUAL("1", field("https://www.example.com:8443/x").c_str());
    STRCMP_EQUAL("1", referrer_field("https://www.example.com/", "WWW.EXAMPLE.COM:443", {}).c_str());
    STRCMP_EQUAL("1", referrer_field("https://www.example.com/", "www.example.com.", {}).c_str());
}

TEST(Referrer, AnExternalReferrerIsSentInFull)
{
    const std::string ref = "https://www.google.com/search?q=shoes&hl=de";
    STRCMP_EQUAL(ref.c_str(), field(ref).c_str());
}

TEST(Referrer, ASiblingOrParentHostIsNotOwnWithoutAPattern)
{
    STRCMP_EQUAL("https://shop.example.com/", field("https://shop.example.com/").c_str());
    STRCMP_EQUAL("https://example.com/", field("https://example.com/").c_str());
    STRCMP_EQUAL("https://www.example.com.evil.test/", field("https://www.example.com.evil.test/").c_str());
    STRCMP_EQUAL("https://evilwww.example.com/", field("https://evilwww.example.com/").c_str());
}

TEST(Referrer, OwnDomainPatternsAddHosts)
{
    const OwnDomainRules rules = patterns({"*.example.com", "shop.example.org"});
    STRCMP_EQUAL("1", field("https://shop.example.com/a", rules).c_str());
    STRCMP_EQUAL("1", field("https://a.b.example.com/a", rules).c_str());
    STRCMP_EQUAL("1", field("https://SHOP.example.org/", rules).c_str());
    STRCMP_EQUAL("1", field("https://www.example.com/", rules).c_str());  // the request host still counts
    STRCMP_EQUAL("https://example.org/", field("https://example.org/", rules).c_str());
}

TEST(Referrer, PatternsFollowTheAllowDomainPortRules)
{
    // As MappTrackAllowDomain: without a port only 80/443, `:*` any port.
    STRCMP_EQUAL("https://shop.example.org:8443/", field("https://shop.example.org:8443/", patterns({"shop.example.org"})).c_str());
    STRCMP_EQUAL("1", field("https://shop.example.org:8443/", patterns({"shop.example.org:*"})).c_str());
    STRCMP_EQUAL("1", field("https://shop.example.org:8443/", patterns({"shop.example.org:8443"})).c_str());
}

TEST(Referrer, NoneSendsEveryReferrerInFull)
{
    OwnDomainRules rules;
    rules.none = true;
    rules.patterns = {"*"};
    STRCMP_EQUAL("https://www.example.com/a", field("https://www.example.com/a", rules).c_str());
    STRCMP_EQUAL("", field("", rules).c_str());
}

TEST(Referrer, UserInformationCannotDisguiseAForeignHost)
{
    const char* const hostile[] = {
        "http://www.example.com@evil.test/",
        "https://www.example.com:443@evil.test/",
        "https://user:www.example.com@evil.test/x",
        "https://www.example.com%40@evil.test/",
        "https://a@www.example.com@evil.test/",
    };
    for (const char* ref : hostile)
        STRCMP_EQUAL(ref, field(ref).c_str());
}

TEST(Referrer, UserInformationBeforeTheOwnHostIsSkipped)
{
    STRCMP_EQUAL("1", field("https://evil.test@www.example.com/").c_str());
}

TEST(Referrer, BackslashEndsTheAuthorityAsInBrowsers)
{
    // WHATWG: `\` is a path separator in http(s) URLs, so the host is evil.test.
    STRCMP_EQUAL("https://evil.test\\@www.example.com/", field("https://evil.test\\@www.example.com/").c_str());
}

TEST(Referrer, HostFollowedByQueryOrFragmentIsRead)
{
    STRCMP_EQUAL("1", field("https://www.example.com?x=1").c_str());
    STRCMP_EQUAL("1", field("https://www.example.com#top").c_str());
    STRCMP_EQUAL("https://evil.test?www.example.com", field("https://evil.test?www.example.com").c_str());
}

TEST(Referrer, Ipv6HostsAreCompared)
{
    STRCMP_EQUAL("1", referrer_field("http://[2001:db8::1]:8080/", "[2001:DB8::1]", {}).c_str());
    STRCMP_EQUAL("1", referrer_field("http://[2001:db8::1]/", "x.test", patterns({"[2001:db8::1]"})).c_str());
    STRCMP_EQUAL("http://[2001:db8::2]/", referrer_field("http://[2001:db8::2]/", "[2001:db8::1]", {}).c_str());
}

TEST(Referrer, GarbageIsSentAsItCameAndNeverAsOne)
{
    const char* const garbage[] = {
        "www.example.com",          // no scheme
        "//www.example.com/",       // scheme-relative
        "ftp://www.example.com/",   // not http(s)
        "android-app://com.example/",
        "https://",
        "https:///path",
        "https://[www.example.com]/",
        "https://[2001:db8::1/",
        "https://www.example.com:99999/",
        "https://www.example.com:80a/",
        "https://www.exa mple.com/",
        "https://www.example.com%2F/",
        "\r\n",
    };
    for (const char* ref : garbage)
        STRCMP_EQUAL(ref, field(ref).c_str());
}

TEST(Referrer, AnEmptyRequestHostMatchesNothing)
{
    STRCMP_EQUAL("https://www.example.com/", referrer_field("https://www.example.com/", "", {}).c_str());
}

TEST(Referrer, AWildcardPatternMakesEveryHttpReferrerOwn)
{
    STRCMP_EQUAL("1", field("https://anything.test/", patterns({"*:*"})).c_str());
    STRCMP_EQUAL("ftp://x.test/", field("ftp://x.test/", patterns({"*:*"})).c_str());
}
