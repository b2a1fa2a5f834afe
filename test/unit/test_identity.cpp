// Who the visitor is (identity.h, docs/design.md §5): opted out, anonymous, known
// from one of Mapp's cookie forms, or unknown.
#include <string>
#include <vector>

#include "mapptrack/cookies.h"
#include "mapptrack/identity.h"

#include <CppUTest/TestHarness.h>

using mapptrack::EverIdCookie;
using mapptrack::ever_id_cookie_name;
using mapptrack::format_set_cookie;
using mapptrack::Identity;
using mapptrack::IdentityRules;
using mapptrack::parse_cookie_header;
using mapptrack::resolve_identity;

static SimpleString StringFrom(Identity::Kind kind)
{
    switch (kind) {
    case Identity::Kind::OptedOut: return "OptedOut";
    case Identity::Kind::Anonymous: return "Anonymous";
    case Identity::Kind::Known: return "Known";
    case Identity::Kind::Unknown: return "Unknown";
    }
    return "?";
}

namespace {

// Distinct valid IDs, one per cookie form, so the winner is visible.
const char* const kStp = "2000000000000000001";     // wtstp_eid
const char* const kNamed = "4000000000000000002";   // configured cookie name
const char* const kEid111 = "4000000000000000111";  // wteid_111
const char* const kEid222 = "4000000000000000222";  // wteid_222
const char* const kWt3 = "2000000000000000003";     // wt3_eid entry for 222
const char* const kWt = "2000000000000000004";      // wt_eid

const std::vector<std::string> kIds = {"111", "222"};

Identity resolve(const std::string& header, std::string_view cookie_name = {})
{
    IdentityRules rules;
    rules.track_ids = &kIds;
    rules.cookie_name = cookie_name;
    return resolve_identity(parse_cookie_header(header), rules);
}

// A wt3_eid cookie as the v4 pixel writes it: the value `;<id>|<eid>#<last>…`
// escaped (its setCookie writes wtEscape(name) + "=" + wtEscape(value)); a raw
// `;` could not be part of a cookie value at all.
std::string wt3_for_222(const char* eid)
{
    return std::string("wt3_eid=%3B999%7C2999999999999999999%231%3B222%7C") + eid +
           "%232000000000000000000";
}

std::vector<std::string> attributes_of(const std::string& set_cookie)
{
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        std::size_t pos = set_cookie.find(';', start);
        std::string piece = set_cookie.substr(start, pos == std::string::npos ? pos : pos - start);
        while (!piece.empty() && piece.front() == ' ')
            piece.erase(0, 1);
        out.push_back(piece);
        if (pos == std::string::npos)
            return out;
        start = pos + 1;
    }
}

bool has_attribute(const std::string& set_cookie, const std::string& attribute)
{
    for (const std::string& a : attributes_of(set_cookie))
        if (a == attribute)
            return true;
    return false;
}

bool has_attribute_named(const std::string& set_cookie, const std::string& prefix)
{
    for (const std::string& a : attributes_of(set_cookie))
        if (a.compare(0, prefix.size(), prefix) == 0)
            return true;
    return false;
}

}  // namespace

TEST_GROUP(Identity){};

TEST(Identity, NoCookiesMeansUnknown)
{
    Identity id = resolve("");
    CHECK_EQUAL(Identity::Kind::Unknown, id.kind);
}

TEST(Identity, OnlySiteCookiesMeansUnknown)
{
    CHECK_EQUAL(Identity::Kind::Unknown, resolve("PHPSESSID=4000000000000000001; a=b").kind);
}

TEST(Identity, SmartPixelCookieIsRead)
{
    Identity id = resolve(std::string("wtstp_eid=") + kStp);
    CHECK_EQUAL(Identity::Kind::Known, id.kind);
    STRCMP_EQUAL(kStp, id.ever_id.c_str());
}

TEST(Identity, ServerCookieOfTheFirstTrackIdIsRead)
{
    Identity id = resolve(std::string("wteid_111=") + kEid111);
    CHECK_EQUAL(Identity::Kind::Known, id.kind);
    STRCMP_EQUAL(kEid111, id.ever_id.c_str());
}

TEST(Identity, ServerCookieOfAnyConfiguredTrackIdIsRead)
{
    Identity id = resolve(std::string("wteid_222=") + kEid222);
    CHECK_EQUAL(Identity::Kind::Known, id.kind);
    STRCMP_EQUAL(kEid222, id.ever_id.c_str());
}

TEST(Identity, ServerCookieOfAnotherAccountIsIgnored)
{
    CHECK_EQUAL(Identity::Kind::Unknown, resolve("wteid_333=4000000000000000333").kind);
}

TEST(Identity, ServerCookiesFollowTheConfiguredTrackIdOrder)
{
    Identity id = resolve(std::string("wteid_222=") + kEid222 + "; wteid_111=" + kEid111);
    STRCMP_EQUAL(kEid111, id.ever_id.c_str());
}

TEST(Identity, PixelListCookieEntryOfAConfiguredTrackIdIsRead)
{
    Identity id = resolve(wt3_for_222(kWt3));
    CHECK_EQUAL(Identity::Kind::Known, id.kind);
    STRCMP_EQUAL(kWt3, id.ever_id.c_str());
}

TEST(Identity, PixelListCookieOfOtherAccountsOnlyIsIgnored)
{
    CHECK_EQUAL(Identity::Kind::Unknown,
                resolve("wt3_eid=%3B999%7C2999999999999999999%232000000000000000000").kind);
}

TEST(Identity, PixelListCookieAsBrowsersStoreItPercentEncodedIsRead)
{
    // The v4 pixel stores wt3_eid escaped: ";" "|" "#" arrive as %3B %7C %23.
    // A single entry, as a first visit leaves it.
    Identity id = resolve(
        std::string("wt3_eid=%3B222%7C") + kWt3 + "%232000000000000000000");
    CHECK_EQUAL(Identity::Kind::Known, id.kind);
    STRCMP_EQUAL(kWt3, id.ever_id.c_str());
}

TEST(Identity, OldPixelCookieIsRead)
{
    Identity id = resolve(std::string("wt_eid=") + kWt);
    CHECK_EQUAL(Identity::Kind::Known, id.kind);
    STRCMP_EQUAL(kWt, id.ever_id.c_str());
}

TEST(Identity, ConfiguredCookieNameIsRead)
{
    Identity id = resolve(std::string("mysite_eid=") + kNamed, "mysite_eid");
    CHECK_EQUAL(Identity::Kind::Known, id.kind);
    STRCMP_EQUAL(kNamed, id.ever_id.c_str());
}

TEST(Identity, ReadOrderIsSmartPixelNamedServerListThenOld)
{
    const std::string stp = std::string("wtstp_eid=") + kStp;
    const std::string named = std::string("mysite_eid=") + kNamed;
    const std::string server = std::string("wteid_111=") + kEid111;
    const std::string list = wt3_for_222(kWt3);
    const std::string old = std::string("wt_eid=") + kWt;

    // Written in reverse order, so the header's order cannot decide.
    STRCMP_EQUAL(kStp,
                 resolve(old + "; " + list + "; " + server + "; " + named + "; " + stp,
                         "mysite_eid").ever_id.c_str());
    STRCMP_EQUAL(kNamed,
                 resolve(old + "; " + list + "; " + server + "; " + named, "mysite_eid")
                     .ever_id.c_str());
    STRCMP_EQUAL(kEid111,
                 resolve(old + "; " + list + "; " + server, "mysite_eid").ever_id.c_str());
    STRCMP_EQUAL(kWt3, resolve(old + "; " + list, "mysite_eid").ever_id.c_str());
    STRCMP_EQUAL(kWt, resolve(old, "mysite_eid").ever_id.c_str());
}

TEST(Identity, InvalidValuesFallThroughToTheNextForm)
{
    const std::string header = std::string("wtstp_eid=abc; mysite_eid=123; wteid_111=; ") +
                               "wteid_222=40000000000000002220; " +
                               "wt3_eid=%3B222%7Cx2000000000000000003%231; wt_eid=" + kWt;
    Identity id = resolve(header, "mysite_eid");
    CHECK_EQUAL(Identity::Kind::Known, id.kind);
    STRCMP_EQUAL(kWt, id.ever_id.c_str());
}

TEST(Identity, InvalidSmartPixelValueFallsThroughToServerCookie)
{
    Identity id = resolve(std::string("wtstp_eid=213821006490014632; wteid_111=") + kEid111);
    STRCMP_EQUAL(kEid111, id.ever_id.c_str());
}

TEST(Identity, OnlyInvalidValuesMeansUnknown)
{
    Identity id = resolve("wtstp_eid=1; wteid_111=x; wt3_eid=%3B111%7Cabc%231; wt_eid=2 3");
    CHECK_EQUAL(Identity::Kind::Unknown, id.kind);
}

TEST(Identity, TrackingOptOutWinsOverEverything)
{
    const std::string header = std::string("wtstp_eid=") + kStp + "; miCookieOptOut=1; " +
                               "wteid_111=" + kEid111 + "; webtrekkOptOut=1; wt_eid=" + kWt;
    CHECK_EQUAL(Identity::Kind::OptedOut, resolve(header, "mysite_eid").kind);
    CHECK_EQUAL(Identity::Kind::OptedOut, resolve("webtrekkOptOut=1").kind);
}

TEST(Identity, IdentificationOptOutMakesAKnownVisitorAnonymous)
{
    const std::string header = std::string("wtstp_eid=") + kStp + "; miCookieOptOut=1";
    CHECK_EQUAL(Identity::Kind::Anonymous, resolve(header).kind);
    CHECK_EQUAL(Identity::Kind::Anonymous, resolve("miCookieOptOut=1").kind);
}

TEST(Identity, DefaultCookieNameIsServerCookieOfTheFirstTrackId)
{
    IdentityRules rules;
    rules.track_ids = &kIds;
    STRCMP_EQUAL("wteid_111", ever_id_cookie_name(rules).c_str());
}

TEST(Identity, ConfiguredCookieNameIsTheOneSet)
{
    IdentityRules rules;
    rules.track_ids = &kIds;
    rules.cookie_name = "mysite_eid";
    STRCMP_EQUAL("mysite_eid", ever_id_cookie_name(rules).c_str());
}

TEST(Identity, CookieTheModuleSetsIsReadBack)
{
    // What the module sets on a first visit must identify the visitor on the next.
    IdentityRules rules;
    rules.track_ids = &kIds;
    std::string header = ever_id_cookie_name(rules) + "=" + kEid222;
    Identity id = resolve_identity(parse_cookie_header(header), rules);
    CHECK_EQUAL(Identity::Kind::Known, id.kind);
    STRCMP_EQUAL(kEid222, id.ever_id.c_str());
}

TEST_GROUP(AnonymousCookie){};

namespace {

Identity resolve_with(const std::string& header, std::string_view name, mapptrack::AnonymousCookieMode mode)
{
    IdentityRules rules;
    rules.track_ids = &kIds;
    rules.anonymous_cookie = name;
    rules.anonymous_mode = mode;
    return resolve_identity(parse_cookie_header(header), rules);
}

const std::string kKnown111 = std::string("wteid_111=") + kEid111;

}  // namespace

TEST(AnonymousCookie, DefaultIsMiCookieOptOutInOptOutMode)
{
    IdentityRules rules;
    STRCMP_EQUAL("miCookieOptOut", std::string(rules.anonymous_cookie).c_str());
    CHECK(rules.anonymous_mode == mapptrack::AnonymousCookieMode::OptOut);
    CHECK_EQUAL(Identity::Kind::Known, resolve(kKnown111).kind);
    CHECK_EQUAL(Identity::Kind::Anonymous, resolve(kKnown111 + "; miCookieOptOut=1").kind);
}

TEST(AnonymousCookie, OptOutModeWithAnEmptyValueIsStillAnonymous)
{
    // Unchanged behaviour, and the side of privacy (the pixel ignores an empty cookie).
    CHECK_EQUAL(Identity::Kind::Anonymous, resolve(kKnown111 + "; miCookieOptOut=").kind);
}

TEST(AnonymousCookie, ConfiguredNameReplacesMiCookieOptOut)
{
    using mapptrack::AnonymousCookieMode;
    CHECK_EQUAL(Identity::Kind::Anonymous,
                resolve_with(kKnown111 + "; anon=1", "anon", AnonymousCookieMode::OptOut).kind);
    // The default name means nothing once another is configured.
    const Identity id = resolve_with(kKnown111 + "; miCookieOptOut=1", "anon", AnonymousCookieMode::OptOut);
    CHECK_EQUAL(Identity::Kind::Known, id.kind);
    STRCMP_EQUAL(kEid111, id.ever_id.c_str());
}

TEST(AnonymousCookie, EmptyConfiguredNameMeansTheDefault)
{
    CHECK_EQUAL(Identity::Kind::Anonymous,
                resolve_with(kKnown111 + "; miCookieOptOut=1", "", mapptrack::AnonymousCookieMode::OptOut).kind);
}

TEST(AnonymousCookie, OptInModeIsAnonymousWithoutTheCookie)
{
    using mapptrack::AnonymousCookieMode;
    CHECK_EQUAL(Identity::Kind::Anonymous, resolve_with(kKnown111, "miCookieOptOut", AnonymousCookieMode::OptIn).kind);
    CHECK_EQUAL(Identity::Kind::Anonymous, resolve_with("", "miCookieOptOut", AnonymousCookieMode::OptIn).kind);
}

TEST(AnonymousCookie, OptInModeWithTheCookieIdentifiesTheVisitor)
{
    using mapptrack::AnonymousCookieMode;
    const Identity id = resolve_with(kKnown111 + "; consent_id=1", "consent_id", AnonymousCookieMode::OptIn);
    CHECK_EQUAL(Identity::Kind::Known, id.kind);
    STRCMP_EQUAL(kEid111, id.ever_id.c_str());
    CHECK_EQUAL(Identity::Kind::Unknown, resolve_with("consent_id=yes", "consent_id", AnonymousCookieMode::OptIn).kind);
}

TEST(AnonymousCookie, OptInModeWithAnEmptyCookieIsAnonymous)
{
    // As the Smart Pixel: an empty value is no opt-in.
    CHECK_EQUAL(Identity::Kind::Anonymous,
                resolve_with(kKnown111 + "; consent_id=", "consent_id", mapptrack::AnonymousCookieMode::OptIn).kind);
}

TEST(AnonymousCookie, OptInCookieNameIsMatchedExactly)
{
    using mapptrack::AnonymousCookieMode;
    CHECK_EQUAL(Identity::Kind::Anonymous,
                resolve_with(kKnown111 + "; Consent_ID=1; consent_id2=1", "consent_id", AnonymousCookieMode::OptIn).kind);
}

TEST(AnonymousCookie, TrackingOptOutStillWinsInOptInMode)
{
    CHECK_EQUAL(Identity::Kind::OptedOut,
                resolve_with(kKnown111 + "; consent_id=1; webtrekkOptOut=1", "consent_id",
                             mapptrack::AnonymousCookieMode::OptIn)
                    .kind);
}

TEST(AnonymousCookie, ModeWordsAreParsed)
{
    using mapptrack::AnonymousCookieMode;
    using mapptrack::parse_anonymous_cookie_mode;
    CHECK(parse_anonymous_cookie_mode("optout") == AnonymousCookieMode::OptOut);
    CHECK(parse_anonymous_cookie_mode("OptIn") == AnonymousCookieMode::OptIn);
    CHECK_FALSE(parse_anonymous_cookie_mode("").has_value());
    CHECK_FALSE(parse_anonymous_cookie_mode("opt-in").has_value());
    CHECK_FALSE(parse_anonymous_cookie_mode("optinx").has_value());
}

TEST_GROUP(SetCookie){};

TEST(SetCookie, HostOnlyCookieOverHttp)
{
    EverIdCookie c;
    c.name = "wteid_111";
    c.value = "4170000000012345678";
    std::string header = format_set_cookie(c);
    std::vector<std::string> attrs = attributes_of(header);
    STRCMP_EQUAL("wteid_111=4170000000012345678", attrs[0].c_str());
    CHECK(has_attribute(header, "Path=/"));
    CHECK(has_attribute(header, "Max-Age=15552000"));
    CHECK(has_attribute(header, "HttpOnly"));
    CHECK(has_attribute(header, "SameSite=Lax"));
    CHECK_FALSE(has_attribute_named(header, "Secure"));
    CHECK_FALSE(has_attribute_named(header, "Domain"));
    CHECK_FALSE(has_attribute_named(header, "Expires"));
    CHECK_EQUAL(static_cast<std::size_t>(5), attrs.size());
}

TEST(SetCookie, SecureOnlyWhenSecure)
{
    EverIdCookie c;
    c.name = "wteid_111";
    c.value = "4170000000012345678";
    c.secure = true;
    std::string header = format_set_cookie(c);
    CHECK(has_attribute(header, "Secure"));
    CHECK(has_attribute(header, "HttpOnly"));
    CHECK(has_attribute(header, "SameSite=Lax"));
}

TEST(SetCookie, DomainOnlyWhenSet)
{
    EverIdCookie c;
    c.name = "mysite_eid";
    c.value = "4170000000012345678";
    c.domain = "example.com";
    c.max_age = 3600;
    std::string header = format_set_cookie(c);
    STRCMP_EQUAL("mysite_eid=4170000000012345678", attributes_of(header)[0].c_str());
    CHECK(has_attribute(header, "Domain=example.com"));
    CHECK(has_attribute(header, "Max-Age=3600"));
    CHECK(has_attribute(header, "Path=/"));
    CHECK_FALSE(has_attribute_named(header, "Secure"));
}

TEST(SetCookie, OneLineWithoutLineBreaks)
{
    EverIdCookie c;
    c.name = "wteid_111";
    c.value = "4170000000012345678";
    c.domain = "example.com";
    c.secure = true;
    std::string header = format_set_cookie(c);
    CHECK(header.find('\r') == std::string::npos);
    CHECK(header.find('\n') == std::string::npos);
    CHECK(header.find(',') == std::string::npos);
}

// --- privacy: DNT/GPC and consent, decided in the core ------------------------

namespace {

using mapptrack::asks_not_to_be_tracked;
using mapptrack::DoNotTrackRule;
using mapptrack::PrivacySignals;

// A stand-in for httpd's regex: "consent values are yes or 1".
bool yes_or_one(const void* regex, std::string_view value)
{
    CHECK(regex == &kIds);  // the rules' pointer is handed back as given
    return value == "yes" || value == "1";
}

Identity with_privacy(const std::string& header, DoNotTrackRule rule, PrivacySignals signals,
                      std::string_view consent = {}, bool with_regex = false)
{
    IdentityRules rules;
    rules.track_ids = &kIds;
    rules.do_not_track = rule;
    rules.consent_cookie = consent;
    if (with_regex) {
        rules.consent_matches = &yes_or_one;
        rules.consent_regex = &kIds;
    }
    return resolve_identity(parse_cookie_header(header), rules, signals);
}

const std::string kKnown = std::string("wteid_111=") + kEid111;

}  // namespace

TEST_GROUP(Privacy){};

TEST(Privacy, OnlyAOneIsASignal)
{
    CHECK(asks_not_to_be_tracked({"1", ""}));
    CHECK(asks_not_to_be_tracked({"", "1"}));
    CHECK(asks_not_to_be_tracked({"0", "1"}));
    CHECK_FALSE(asks_not_to_be_tracked({"", ""}));
    CHECK_FALSE(asks_not_to_be_tracked({"0", "0"}));
    CHECK_FALSE(asks_not_to_be_tracked({"1 ", "yes"}));
}

TEST(Privacy, DoNotTrackAnonymousMakesTheVisitorAnonymous)
{
    for (const PrivacySignals s : {PrivacySignals{"1", ""}, PrivacySignals{"", "1"}}) {
        const Identity id = with_privacy(kKnown, DoNotTrackRule::Anonymous, s);
        CHECK_EQUAL(Identity::Kind::Anonymous, id.kind);
        CHECK(id.ever_id.empty());
    }
    CHECK_EQUAL(Identity::Kind::Known, with_privacy(kKnown, DoNotTrackRule::Anonymous, {"0", ""}).kind);
}

TEST(Privacy, DoNotTrackSkipSendsNothing)
{
    CHECK_EQUAL(Identity::Kind::OptedOut, with_privacy(kKnown, DoNotTrackRule::Skip, {"", "1"}).kind);
    CHECK_EQUAL(Identity::Kind::OptedOut, with_privacy("", DoNotTrackRule::Skip, {"1", ""}).kind);
    CHECK_EQUAL(Identity::Kind::Known, with_privacy(kKnown, DoNotTrackRule::Skip, {}).kind);
}

TEST(Privacy, DoNotTrackOffIgnoresTheSignals)
{
    CHECK_EQUAL(Identity::Kind::Known, with_privacy(kKnown, DoNotTrackRule::Off, {"1", "1"}).kind);
}

TEST(Privacy, TheOptOutCookiesComeBeforeTheSignals)
{
    // webtrekkOptOut: nothing at all; the anonymous cookie: anonymous, even under Skip.
    CHECK_EQUAL(Identity::Kind::OptedOut,
                with_privacy("webtrekkOptOut=1; " + kKnown, DoNotTrackRule::Anonymous, {"1", ""}).kind);
    CHECK_EQUAL(Identity::Kind::Anonymous,
                with_privacy("miCookieOptOut=1; " + kKnown, DoNotTrackRule::Skip, {"1", ""}).kind);
}

TEST(Privacy, ConsentRequiredAndAbsentMeansAnonymous)
{
    CHECK_EQUAL(Identity::Kind::Anonymous, with_privacy(kKnown, DoNotTrackRule::Off, {}, "consent").kind);
    const Identity id = with_privacy("consent=whatever; " + kKnown, DoNotTrackRule::Off, {}, "consent");
    CHECK_EQUAL(Identity::Kind::Known, id.kind);
    STRCMP_EQUAL(kEid111, id.ever_id.c_str());
}

TEST(Privacy, ConsentValuesAreJudgedByTheRegex)
{
    CHECK_EQUAL(Identity::Kind::Known,
                with_privacy("consent=yes; " + kKnown, DoNotTrackRule::Off, {}, "consent", true).kind);
    CHECK_EQUAL(Identity::Kind::Known,
                with_privacy("consent=1; " + kKnown, DoNotTrackRule::Off, {}, "consent", true).kind);
    CHECK_EQUAL(Identity::Kind::Anonymous,
                with_privacy("consent=no; " + kKnown, DoNotTrackRule::Off, {}, "consent", true).kind);
    CHECK_EQUAL(Identity::Kind::Anonymous,
                with_privacy("consent=; " + kKnown, DoNotTrackRule::Off, {}, "consent", true).kind);
    // A new visitor who consents is still new (the caller issues the ever-ID).
    CHECK_EQUAL(Identity::Kind::Unknown, with_privacy("consent=yes", DoNotTrackRule::Off, {}, "consent", true).kind);
}

TEST(Privacy, ConsentAndSignalsTogether)
{
    // Consent given, but the browser signals: anonymous; Skip wins over consent.
    CHECK_EQUAL(Identity::Kind::Anonymous,
                with_privacy("consent=yes; " + kKnown, DoNotTrackRule::Anonymous, {"1", ""}, "consent", true).kind);
    CHECK_EQUAL(Identity::Kind::OptedOut,
                with_privacy("consent=yes; " + kKnown, DoNotTrackRule::Skip, {"", "1"}, "consent", true).kind);
}
