// The inspector's reading of one hit (inspect.h): a good hit decoded with
// every field and parameter named and no rule broken; then each of Mapp's
// rules broken alone, flagged with its own rule and nothing else.
#include "mapptrack/inspect.h"

#include <CppUTest/TestHarness.h>

#include <string>

using namespace mapptrack;

namespace {

const std::int64_t kNow = 1796250000000;  // when the hits "arrive"
const std::string kEid = "2170000000000000001";

// A Smart-Pixel-like hit, its client time `kNow`; `extra` goes before eor.
std::string line(const std::string& extra = "", const std::string& p = "")
{
    const std::string page = p.empty() ? "600,shop.home,1,1920x1080,24,1," + std::to_string(kNow) + ",0,1280x900,0" : p;
    return "wt?p=" + page + "&eid=" + kEid + "&mc=newsletter&X-WT-UA=Mozilla%2F5.0&X-WT-IP=192.0.2.1" + extra +
           "&eor=1";
}

std::string joined(const std::vector<std::string>& v)
{
    std::string out;
    for (const std::string& s : v) out += s + "\n";
    return out;
}

bool flagged(const InspectedHit& hit, const std::string& part)
{
    for (const std::string& v : hit.violations) {
        if (v.find(part) != std::string::npos) return true;
    }
    return false;
}

const InspectedParam* param(const InspectedHit& hit, const std::string& key)
{
    for (const InspectedParam& p : hit.params) {
        if (p.key == key) return &p;
    }
    return nullptr;
}

// Exactly one violation, and it names `part`.
void only(const InspectedHit& hit, const std::string& part)
{
    CHECK_EQUAL_TEXT(1u, hit.violations.size(), joined(hit.violations).c_str());
    CHECK_TEXT(flagged(hit, part), joined(hit.violations).c_str());
}

}  // namespace

TEST_GROUP(Inspect){};

TEST(Inspect, AGoodHitIsDecodedWithEveryNameAndBreaksNoRule)
{
    const InspectedHit hit =
        inspect_hit("111111111111111", line("&cg1=Shoes%20%26%20Boots&X-WT-SEC-CH-UA-PLATFORM=%22Linux%22"), "", kNow);
    CHECK_EQUAL_TEXT(0u, hit.violations.size(), joined(hit.violations).c_str());
    STRCMP_EQUAL("111111111111111", hit.track_ids.c_str());
    CHECK_EQUAL(kNow, hit.received_ms);
    // Every field of p, named, in order.
    CHECK_EQUAL(10u, hit.page.size());
    STRCMP_EQUAL("version", hit.page[0].label.c_str());
    STRCMP_EQUAL("600", hit.page[0].value.c_str());
    STRCMP_EQUAL("page name", hit.page[1].label.c_str());
    STRCMP_EQUAL("shop.home", hit.page[1].value.c_str());
    STRCMP_EQUAL("screen resolution", hit.page[3].label.c_str());
    STRCMP_EQUAL("1920x1080", hit.page[3].value.c_str());
    STRCMP_EQUAL("client time (ms)", hit.page[6].label.c_str());
    STRCMP_EQUAL("referrer", hit.page[7].label.c_str());
    STRCMP_EQUAL("0 (none)", hit.page[7].value.c_str());
    // Every parameter named and decoded.
    STRCMP_EQUAL("ever-ID", param(hit, "eid")->label.c_str());
    STRCMP_EQUAL("campaign ID", param(hit, "mc")->label.c_str());
    STRCMP_EQUAL("page category 1", param(hit, "cg1")->label.c_str());
    STRCMP_EQUAL("Shoes & Boots", param(hit, "cg1")->value.c_str());
    STRCMP_EQUAL("client hint: platform", param(hit, "X-WT-SEC-CH-UA-PLATFORM")->label.c_str());
    STRCMP_EQUAL("\"Linux\"", param(hit, "X-WT-SEC-CH-UA-PLATFORM")->value.c_str());
    STRCMP_EQUAL("end of request", hit.params.back().label.c_str());
    // The visitor as the track server sees it.
    STRCMP_EQUAL(kEid.c_str(), hit.ever_id.c_str());
    STRCMP_EQUAL("192.0.2.1", hit.ip.c_str());
    STRCMP_EQUAL("Mozilla/5.0", hit.user_agent.c_str());
    CHECK_FALSE(hit.anonymous);
}

TEST(Inspect, TheEverIdComesFromTheCookieOfTheFirstTrackIdWhenTheLineHasNone)
{
    const std::string l = "wt?p=600,home,1,1920x1080,24,1," + std::to_string(kNow) + ",0,1280x900,0&eor=1";
    const InspectedHit hit = inspect_hit("111111111111111,222222222222222", l,
                                         "other=1; wteid_222222222222222=9999999999999999999; wteid_111111111111111=" +
                                             kEid,
                                         kNow);
    STRCMP_EQUAL(kEid.c_str(), hit.ever_id.c_str());
    CHECK_EQUAL(0u, hit.violations.size());
}

TEST(Inspect, AnAnonymousHitHasNoEverIdFromTheCookie)
{
    const std::string l = "wt?p=600,home,1,1920x1080,24,1," + std::to_string(kNow) + ",0,1280x900,0&nc=1&eor=1";
    const InspectedHit hit = inspect_hit("111111111111111", l, "wteid_111111111111111=" + kEid, kNow);
    CHECK(hit.anonymous);
    CHECK(hit.ever_id.empty());
}

TEST(Inspect, AnEverIdThatIsNot19DigitsIsFlagged)
{
    std::string l = line();
    l.replace(l.find(kEid), kEid.size(), "12345");
    only(inspect_hit("1", l, "", kNow), "not 19 digits");
    l = line();
    l.replace(l.find(kEid), kEid.size(), "217000000000000000x");
    only(inspect_hit("1", l, "", kNow), "not 19 digits");
}

TEST(Inspect, AnUnencodedSeparatorIsFlagged)
{
    // A raw '=' inside a value, a raw space, and a raw ',' inside a p field.
    CHECK(flagged(inspect_hit("1", line("&cg1=a=b"), "", kNow), "unencoded separator"));
    CHECK(flagged(inspect_hit("1", line("&cg1=a b"), "", kNow), "unencoded separator"));
    const std::string p = "600,shoes,boots,1,1920x1080,24,1," + std::to_string(kNow) + ",0,1280x900,0";
    CHECK(flagged(inspect_hit("1", line("", p), "", kNow), "unencoded separator"));
    // Encoded, the same values are fine.
    CHECK_EQUAL(0u, inspect_hit("1", line("&cg1=a%3Db%20c%2Cd"), "", kNow).violations.size());
}

TEST(Inspect, AValueOver255CharactersIsFlagged)
{
    only(inspect_hit("1", line("&cg1=" + std::string(256, 'a')), "", kNow), "cg1: the value is 256 characters");
    CHECK_EQUAL(0u, inspect_hit("1", line("&cg1=" + std::string(255, 'a')), "", kNow).violations.size());
    // Characters, not bytes: 255 two-byte characters are within the rule.
    std::string umlauts;
    for (int i = 0; i < 255; ++i) umlauts += "%C3%A4";
    CHECK_EQUAL(0u, inspect_hit("1", line("&cg1=" + umlauts), "", kNow).violations.size());
    // A p field too.
    const std::string p = "600," + std::string(256, 'n') + ",1,1920x1080,24,1," + std::to_string(kNow) + ",0,1280x900,0";
    only(inspect_hit("1", line("", p), "", kNow), "(page name) is over 255 characters");
}

TEST(Inspect, ALineOver7KBIsFlagged)
{
    std::string extra;
    for (int i = 0; i < 40; ++i) extra += "&cp" + std::to_string(i + 1) + "=" + std::string(200, 'x');
    const InspectedHit hit = inspect_hit("1", line(extra), "", kNow);
    only(hit, "over Mapp's 7 KB");
    CHECK_EQUAL(0u, inspect_hit("1", line(extra.substr(0, 4000)), "", kNow).violations.size());
}

TEST(Inspect, EorMissingNotLastOrNotOneIsFlagged)
{
    std::string l = line();
    only(inspect_hit("1", l.substr(0, l.size() - 6), "", kNow), "eor: missing");
    only(inspect_hit("1", l + "&cg2=late", "", kNow), "eor: not the last");
    l.back() = '2';
    only(inspect_hit("1", l, "", kNow), "not 1");
}

TEST(Inspect, AMalformedPIsFlagged)
{
    only(inspect_hit("1", "wt?eid=" + kEid + "&eor=1", "", kNow), "no p parameter");
    CHECK(flagged(inspect_hit("1", line("", "600,home,1"), "", kNow), "p: malformed: 3 field(s)"));
    only(inspect_hit("1", line("", "v6,home,1,1920x1080,24,1," + std::to_string(kNow) + ",0"), "", kNow),
         "the version \"v6\" is not a number");
}

TEST(Inspect, AnImplausibleTimestampIsFlagged)
{
    const std::string day_late = std::to_string(kNow + 25LL * 3600 * 1000);
    only(inspect_hit("1", line("", "600,home,1,1920x1080,24,1," + day_late + ",0"), "", kNow),
         "more than a day from when the hit arrived");
    only(inspect_hit("1", line("", "600,home,1,1920x1080,24,1,1796250000,0"), "", kNow), "not 13 digits");
    // An hour off is a client clock, not a rule broken.
    const std::string hour = std::to_string(kNow - 3600 * 1000);
    CHECK_EQUAL(0u, inspect_hit("1", line("", "600,home,1,1920x1080,24,1," + hour + ",0"), "", kNow).violations.size());
}

TEST(Inspect, ABadPercentEscapeIsFlagged)
{
    only(inspect_hit("1", line("&cg1=100%"), "", kNow), "cg1: invalid percent-encoding");
    only(inspect_hit("1", line("&cg1=%zz"), "", kNow), "invalid percent-encoding");
}

TEST(Inspect, HostileBytesAreKeptAsDataNotTrusted)
{
    // Control bytes and a huge key: the reading survives and flags them.
    const InspectedHit hit = inspect_hit("1", line("&%00%0a=%3Cscript%3E&" + std::string(300, 'k') + "=1"), "", kNow);
    CHECK(flagged(hit, "unencoded separator"));
    const InspectedParam* script = nullptr;
    for (const InspectedParam& p : hit.params) {
        if (p.value == "<script>") script = &p;
    }
    CHECK(script != nullptr);
    // Nothing at all, and only separators.
    CHECK(flagged(inspect_hit("1", "", "", kNow), "no p parameter"));
    CHECK(flagged(inspect_hit("1", "wt?&&&=&", "", kNow), "eor: missing"));
}
