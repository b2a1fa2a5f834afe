// Hit lines from outside: relayed lines and spool records (hit_line.h). Only
// `wt…?query` and `?query` pass, and the sender's claims about the visitor
// are replaced by what the module knows.
#include <string>

#include "mapptrack/hit_line.h"

#include <CppUTest/TestHarness.h>

using namespace mapptrack;

namespace {

bool parses(std::string_view line) { return parse_hit_line(line).has_value(); }

ClientFacts client(bool anonymous = false) {
    ClientFacts facts;
    facts.user_agent = "Mozilla/5.0 (X11)";
    facts.ip = "192.0.2.1";
    facts.anonymous = anonymous;
    return facts;
}

}  // namespace

TEST_GROUP(HitLine){};

TEST(HitLine, PixelEndpointsAndTheBareQueryFormParse)
{
    const auto wt = parse_hit_line("wt?p=600,home,0,0,0,0,1732838400123,0&eor=1");
    CHECK_TRUE(wt.has_value());
    STRCMP_EQUAL("wt", wt->rest.c_str());
    STRCMP_EQUAL("p=600,home,0,0,0,0,1732838400123,0&eor=1", wt->query.c_str());
    const auto random = parse_hit_line("wt7xq2k9?p=1");
    STRCMP_EQUAL("wt7xq2k9", random->rest.c_str());
    STRCMP_EQUAL("wt.pl", parse_hit_line("wt.pl?p=1")->rest.c_str());
    const auto bare = parse_hit_line("?p=1&eor=1");
    STRCMP_EQUAL("wt", bare->rest.c_str());
    STRCMP_EQUAL("p=1&eor=1", bare->query.c_str());
}

TEST(HitLine, AllQueryCharactersOfRfc3986AndEscapesAreAccepted)
{
    CHECK_TRUE(parses("wt?p=a-._~!$&'()*+,;=:@/?%20%C3%BC"));
}

TEST(HitLine, OtherPathsAreRefused)
{
    CHECK_FALSE(parses("../../../private/admin?cmd=1"));
    CHECK_FALSE(parses("http://evil/x?p=1"));
    CHECK_FALSE(parses("/wt?p=1"));
    CHECK_FALSE(parses("batch?p=1"));
    CHECK_FALSE(parses("wt/../admin?p=1"));
    CHECK_FALSE(parses("wt..x?p=1"));
    CHECK_FALSE(parses("xwt?p=1"));
    CHECK_FALSE(parses("wt@evil?p=1"));
    CHECK_FALSE(parses(("wt" + std::string(39, 'a') + "?p=1").c_str()));
    CHECK_TRUE(parses(("wt" + std::string(38, 'a') + "?p=1").c_str()));
}

TEST(HitLine, SpaceInQueryIsRefused)
{
    CHECK_FALSE(parses("wt?p=300,a b&eor=1"));
    CHECK_FALSE(is_clean_query("p=a b"));
}

TEST(HitLine, ControlNonAsciiHashAndBadEscapesAreRefused)
{
    CHECK_FALSE(parses("wt?p=1\r\nX: y"));
    CHECK_FALSE(parses(std::string_view("wt?p=1\0", 7)));
    CHECK_FALSE(parses("wt?p=\xc3\xa4"));
    CHECK_FALSE(parses("wt?p=1#x"));
    CHECK_FALSE(parses("wt?p=%"));
    CHECK_FALSE(parses("wt?p=%4"));
    CHECK_FALSE(parses("wt?p=%zz"));
    CHECK_FALSE(parses("wt?p=\"<>"));
    CHECK_FALSE(parses("wt?p=a\\b"));
}

TEST(HitLine, NoQueryOrAnEmptyOneIsRefused)
{
    CHECK_FALSE(parses("wt"));
    CHECK_FALSE(parses("wt?"));
    CHECK_FALSE(parses("?"));
    CHECK_FALSE(parses(""));
    CHECK_FALSE(is_clean_query(""));
}

TEST(HitLine, OverlongLineIsRefused)
{
    const std::string fits = "wt?p=" + std::string(kMaxForeignLineBytes - 5, 'a');
    CHECK_TRUE(parses(fits));
    CHECK_FALSE(parses(fits + "a"));
}

TEST_GROUP(HitQuery){};

TEST(HitQuery, RealClientGoesBeforeTheFinalEor)
{
    STRCMP_EQUAL("p=1&X-WT-UA=Mozilla%2F5.0%20%28X11%29&X-WT-IP=192.0.2.1&eor=1",
                 rewrite_hit_query("p=1&eor=1", client()).c_str());
    STRCMP_EQUAL("p=1&X-WT-UA=Mozilla%2F5.0%20%28X11%29&X-WT-IP=192.0.2.1",
                 rewrite_hit_query("p=1", client()).c_str());
    STRCMP_EQUAL("X-WT-UA=Mozilla%2F5.0%20%28X11%29&X-WT-IP=192.0.2.1&eor=1",
                 rewrite_hit_query("eor=1", client()).c_str());
}

TEST(HitQuery, AnEorInTheMiddleIsNotTheEnd)
{
    STRCMP_EQUAL("eor=1&p=1&X-WT-UA=a&X-WT-IP=b",
                 rewrite_hit_query("eor=1&p=1", ClientFacts{"a", "b", false}).c_str());
    STRCMP_EQUAL("p=1&xeor=1&X-WT-UA=a&X-WT-IP=b",
                 rewrite_hit_query("p=1&xeor=1", ClientFacts{"a", "b", false}).c_str());
}

TEST(HitQuery, ClaimedIpAndAgentAreReplacedInEverySpelling)
{
    const std::string out = rewrite_hit_query(
        "X-WT-IP=6.6.6.6&x-wt-ua=evil&X%2DWT%2DIP=6.6.6.7&X-WT-IP%20=6.6.6.8&+X-WT-IP=6.6.6.9"
        "&x_wt_ua=evil2&X-WT-%49P=6.6.6.10&XWTIP=6.6.6.11&X-WT-IP&p=1&eor=1",
        ClientFacts{"UA", "192.0.2.1", false});
    STRCMP_EQUAL("p=1&X-WT-UA=UA&X-WT-IP=192.0.2.1&eor=1", out.c_str());
}

TEST(HitQuery, LongSpellingsAreReadWholeAndLongerNamesAreNoClaim)
{
    // However many separators and escapes a claim hides behind, its letters decide;
    // a name with more letters is another name, however it starts.
    STRCMP_EQUAL("X-WT-IPXXXXXXXXXXXX=1&xwtuaxwtuaxwtua=2&X-WT-UA=a&X-WT-IP=b",
                 rewrite_hit_query("X---W___T%2D%2D%2DI+++P=6&%58%2D%57%2D%54%2D%55%2D%41=7&X-WT-IPXXXXXXXXXXXX=1"
                                   "&xwtuaxwtuaxwtua=2",
                                   ClientFacts{"a", "b", false})
                     .c_str());
}

TEST(HitQuery, SimilarButDifferentNamesStay)
{
    STRCMP_EQUAL("X-WT-IPX=1&wtip2=2&X-WT-RQ=u&X-WT-UA=a&X-WT-IP=b",
                 rewrite_hit_query("X-WT-IPX=1&wtip2=2&X-WT-RQ=u", ClientFacts{"a", "b", false}).c_str());
}

TEST(HitQuery, EmptyPiecesAreDropped)
{
    STRCMP_EQUAL("p=1&cp1=2&X-WT-UA=a&X-WT-IP=b&eor=1",
                 rewrite_hit_query("&&p=1&&cp1=2&&eor=1", ClientFacts{"a", "b", false}).c_str());
}

TEST(HitQuery, AnonymousVisitorLosesEveryIdAndGetsNc)
{
    STRCMP_EQUAL("p=1&la=de&X-WT-UA=a&X-WT-IP=b&nc=1&eor=1",
                 rewrite_hit_query("p=1&eid=2170000000000000001&one=1&CEID=x&nc=0&e-id=1&la=de&eor=1",
                                   ClientFacts{"a", "b", true})
                     .c_str());
}

TEST(HitQuery, KnownVisitorKeepsIds)
{
    STRCMP_EQUAL("p=1&eid=2&one=1&X-WT-UA=a&X-WT-IP=b&eor=1",
                 rewrite_hit_query("p=1&eid=2&one=1&eor=1", ClientFacts{"a", "b", false}).c_str());
}

TEST(HitQuery, AgentIsEncodedAndNotCutAt255Characters)
{
    const std::string agent = "a&b=c#d " + std::string(300, 'x');
    const std::string out = rewrite_hit_query("p=1", ClientFacts{agent, "::1", false});
    const std::string expected = "p=1&X-WT-UA=a%26b%3Dc%23d%20" + std::string(300, 'x') + "&X-WT-IP=%3A%3A1";
    STRCMP_EQUAL(expected.c_str(), out.c_str());
    CHECK_TRUE(is_clean_query(out));
}

TEST(HitQuery, ResultOfACleanQueryIsClean)
{
    const std::string out = rewrite_hit_query("p=1&cp=%C3%BC&eor=1", ClientFacts{"\r\n\xff<x>", "1.2.3.4", true});
    CHECK_TRUE(is_clean_query(out));
}

TEST(HitQuery, RemovingClaimsAloneAddsNothing)
{
    STRCMP_EQUAL("redirect=x&y=2", remove_client_claims("redirect=x&X-WT-IP=1&&y=2&x_wt_ua=u", false).c_str());
    STRCMP_EQUAL("a=1&eid=2", remove_client_claims("a=1&eid=2", false).c_str());
    STRCMP_EQUAL("a=1", remove_client_claims("a=1&eid=2&nc=0", true).c_str());
    STRCMP_EQUAL("", remove_client_claims("", true).c_str());
}

TEST(HitQuery, WholeLineKeepsItsEndpoint)
{
    const HitLine line{"wt7x", "p=1&X-WT-IP=6.6.6.6&eor=1"};
    STRCMP_EQUAL("wt7x?p=1&X-WT-UA=a&X-WT-IP=b&eor=1", rewrite_hit_line(line, ClientFacts{"a", "b", false}).c_str());
}

TEST_GROUP(QueuedEverId){};

namespace {
constexpr char kEid[] = "2170000000000000001";
std::string with_eid(std::string_view query, std::string_view eid = kEid, bool anonymous = false) {
    return add_ever_id(query, eid, anonymous);
}
}  // namespace

TEST(QueuedEverId, AHitWithoutEidGetsTheCookiesBeforeTheFinalEor)
{
    STRCMP_EQUAL("p=600,home&X-WT-UA=a&X-WT-IP=1&eid=2170000000000000001&eor=1",
                 with_eid("p=600,home&X-WT-UA=a&X-WT-IP=1&eor=1").c_str());
    STRCMP_EQUAL("p=600,home&eid=2170000000000000001", with_eid("p=600,home").c_str());
    STRCMP_EQUAL("eid=2170000000000000001&eor=1", with_eid("eor=1").c_str());
    STRCMP_EQUAL("p=1&eor=1&x=2&eid=2170000000000000001", with_eid("p=1&eor=1&x=2").c_str());
}

TEST(QueuedEverId, ThePixelsOwnEidWins)
{
    STRCMP_EQUAL("p=1&eid=4173283840012345678&eor=1", with_eid("p=1&eid=4173283840012345678&eor=1").c_str());
    // any spelling a lenient parser reads as eid counts as the pixel's own
    STRCMP_EQUAL("p=1&EID=5&eor=1", with_eid("p=1&EID=5&eor=1").c_str());
    STRCMP_EQUAL("p=1&e%69d=5", with_eid("p=1&e%69d=5").c_str());
}

TEST(QueuedEverId, AnEmptyEidIsNoIdentityAndIsReplaced)
{
    STRCMP_EQUAL("p=1&eid=2170000000000000001&eor=1", with_eid("p=1&eid=&eor=1").c_str());
    STRCMP_EQUAL("p=1&eid=2170000000000000001&eor=1", with_eid("p=1&eid&&eor=1").c_str());
}

TEST(QueuedEverId, AnAnonymousVisitorGetsNone)
{
    STRCMP_EQUAL("p=1&nc=1&eor=1", with_eid("p=1&nc=1&eor=1", kEid, true).c_str());
}

TEST(QueuedEverId, OnlyNineteenDigitsGoIn)
{
    // a cookie value cannot add or end a parameter
    STRCMP_EQUAL("p=1&eor=1", with_eid("p=1&eor=1", "1&X-WT-IP=6.6.6.6").c_str());
    STRCMP_EQUAL("p=1&eor=1", with_eid("p=1&eor=1", "217000000000000000%26").c_str());
    STRCMP_EQUAL("p=1&eor=1", with_eid("p=1&eor=1", "217000000000000000").c_str());
    STRCMP_EQUAL("p=1&eor=1", with_eid("p=1&eor=1", "21700000000000000012").c_str());
    STRCMP_EQUAL("p=1&eor=1", with_eid("p=1&eor=1", "").c_str());
    STRCMP_EQUAL("p=1&eor=1", with_eid("p=1&eor=1", "217000000000000000a").c_str());
}

TEST(QueuedEverId, TheResultOfACleanRewrittenQueryIsClean)
{
    const std::string out = with_eid(rewrite_hit_query("p=600,x&cp1=a%26b&&eor=1", client()));
    CHECK_TRUE(is_clean_query(out));
    STRCMP_EQUAL("p=600,x&cp1=a%26b&X-WT-UA=Mozilla%2F5.0%20%28X11%29&X-WT-IP=192.0.2.1"
                 "&eid=2170000000000000001&eor=1", out.c_str());
}

TEST(QueuedEverId, ABeaconLineIsReplayedToWtWithTheEid)
{
    // the Smart Pixel's sendBeacon posts `?p=…` lines
    const auto line = parse_hit_line("?p=600,home,0,0,0,0,1732838400123,0&eor=1");
    CHECK_TRUE(line.has_value());
    const std::string rewritten = rewrite_hit_line(*line, client());
    STRCMP_EQUAL("wt?p=600,home,0,0,0,0,1732838400123,0&X-WT-UA=Mozilla%2F5.0%20%28X11%29&X-WT-IP=192.0.2.1&eor=1",
                 rewritten.c_str());
    STRCMP_EQUAL("p=600,home,0,0,0,0,1732838400123,0&X-WT-UA=Mozilla%2F5.0%20%28X11%29&X-WT-IP=192.0.2.1"
                 "&eid=2170000000000000001&eor=1",
                 with_eid(std::string_view(rewritten).substr(3)).c_str());
}

TEST(HitLine, TheClientsUserAgentGoesWholeAndNotAtAllWhenItSentNone)
{
    ClientFacts facts = client();
    const std::string agent(1000, 'a');
    facts.user_agent = agent;
    STRCMP_EQUAL(("p=1&X-WT-UA=" + agent + "&X-WT-IP=192.0.2.1&eor=1").c_str(),
                 rewrite_hit_query("p=1&eor=1", facts).c_str());
    facts.user_agent = "";
    STRCMP_EQUAL("p=1&X-WT-IP=192.0.2.1&eor=1", rewrite_hit_query("p=1&X-WT-UA=forged&eor=1", facts).c_str());
    // Bounded by Mapp's line limit, never below 512 bytes of it.
    const std::string huge(20000, 'b');
    facts.user_agent = huge;
    const std::string out = rewrite_hit_query("p=1&eor=1", facts);
    CHECK(out.size() < 7100);
    CHECK(out.find("X-WT-UA=" + std::string(512, 'b')) != std::string::npos);
}
