// The inspector's pages (inspect_page.h) and the escaping they rest on
// (escape.h): a good and a flagged hit shown with names, values and rules;
// hostile text (markup, quotes, control bytes, invalid UTF-8) escaped in HTML
// and JSON; no script anywhere; an empty store still a useful page.
#include "mapptrack/escape.h"
#include "mapptrack/inspect_page.h"

#include <string>
#include <vector>

#include <CppUTest/TestHarness.h>

using namespace mapptrack;

namespace {

const std::int64_t kNow = 1796250000000;
const std::string kGood = "wt?p=600,shop.home,1,1920x1080,24,1,1796250000000,0,1280x900,0&eid=2170000000000000001"
                          "&X-WT-IP=192.0.2.1&X-WT-UA=Mozilla%2F5.0&cg1=shoes&eor=1";

StoredHit stored(std::uint64_t number, const std::string& line, const std::string& method = "GET")
{
    StoredHit s;
    s.number = number;
    s.received_ms = kNow;
    s.track_ids = "111111111111111";
    s.line = line;
    s.method = method;
    return s;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_GROUP(Escape){};

TEST(Escape, JsonQuotesControlsMarkupAndInvalidUtf8)
{
    STRCMP_EQUAL("\"plain\"", json_quote("plain").c_str());
    STRCMP_EQUAL("\"a\\\"b\\\\c\\u000a\\u0000\\u007f\"", json_quote(std::string("a\"b\\c\n\0\x7f", 8)).c_str());
    STRCMP_EQUAL("\"\\u003c/script>\"", json_quote("</script>").c_str());
    STRCMP_EQUAL("\"\xc3\xa4\xe2\x82\xac\xf0\x9f\x98\x80\"", json_quote("\xc3\xa4\xe2\x82\xac\xf0\x9f\x98\x80").c_str());
    // A lone continuation byte, an overlong '/', a surrogate, beyond U+10FFFF, a cut sequence.
    STRCMP_EQUAL("\"\\ufffd\\ufffd\\ufffd\"", json_quote("\x80\xc0\xaf").c_str());
    STRCMP_EQUAL("\"\\ufffd\\ufffd\\ufffd\"", json_quote("\xed\xa0\x80").c_str());
    STRCMP_EQUAL("\"\\ufffd\\ufffd\\ufffd\\ufffd\"", json_quote("\xf4\x90\x80\x80").c_str());
    STRCMP_EQUAL("\"x\\ufffd\"", json_quote("x\xe2").c_str());
}

TEST(Escape, HtmlEscapesMarkupQuotesControlsAndInvalidUtf8)
{
    STRCMP_EQUAL("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;",
                 html_escape("<script>alert('x')</script> & \"").c_str());
    STRCMP_EQUAL("a&#xfffd;b&#xfffd;", html_escape(std::string("a\nb\0", 4)).c_str());
    STRCMP_EQUAL("\xc3\xa4&#xfffd;", html_escape("\xc3\xa4\xff").c_str());
}

TEST(Escape, Iso8601WithAndWithoutMilliseconds)
{
    STRCMP_EQUAL("2026-12-03T06:20:00Z", iso8601_utc(1796278800000, false).c_str());
    STRCMP_EQUAL("2026-12-03T06:20:00.042Z", iso8601_utc(1796278800042, true).c_str());
    STRCMP_EQUAL("1970-01-01T00:00:00.000Z", iso8601_utc(0, true).c_str());
}

TEST(Escape, Utf8SequenceLengths)
{
    CHECK_EQUAL(0u, utf8_sequence_length("a", 0));
    CHECK_EQUAL(2u, utf8_sequence_length("\xc3\xa4", 0));
    CHECK_EQUAL(3u, utf8_sequence_length("\xe2\x82\xac", 0));
    CHECK_EQUAL(4u, utf8_sequence_length("\xf0\x9f\x98\x80", 0));
    CHECK_EQUAL(0u, utf8_sequence_length("\xf0\x9f\x98", 0));
    CHECK_EQUAL(0u, utf8_sequence_length("", 0));
    CHECK_EQUAL(0u, utf8_sequence_length("\xc3", 5));  // out of range
}

TEST_GROUP(InspectPage){};

TEST(InspectPage, AGoodAndAFlaggedHitAreShownDecodedWithTheirRules)
{
    const std::vector<InspectedEntry> entries =
        inspect_entries({stored(2, "wt?p=600,home,1&eid=12345&eor=1&cg1=late"), stored(1, kGood)});
    CHECK_EQUAL(2u, entries.size());
    const std::string html = inspect_html(entries, kNow + 5000);
    CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
    CHECK(contains(html, "2 hit(s)."));
    // Newest first, as stored.
    CHECK(html.find("<h2>#2 GET") < html.find("<h2>#1 GET"));
    CHECK(contains(html, "received 2026-11-30T02:20:00.000Z (5 s ago)") ||
          contains(html, "(5 s ago)"));
    // The good hit: fields and parameters named, identity, no rule broken.
    CHECK(contains(html, "<tr><td>page name</td><td>shop.home</td></tr>"));
    CHECK(contains(html, "<tr><td>eid</td><td>ever-ID</td><td>2170000000000000001</td></tr>"));
    CHECK(contains(html, "<tr><td>cg1</td><td>page category 1</td><td>shoes</td></tr>"));
    CHECK(contains(html, "ever-ID <b>2170000000000000001</b>, IP 192.0.2.1, user agent Mozilla/5.0"));
    CHECK(contains(html, "No rule broken."));
    // The flagged one: each rule it breaks.
    CHECK(contains(html, "is not 19 digits"));
    CHECK(contains(html, "eor: not the last parameter"));
    CHECK(contains(html, "p: malformed: 3 field(s)"));
    CHECK_FALSE(contains(html, "<script"));

    const std::string json = inspect_json(entries);
    CHECK(json.rfind("{\"hits\":[{\"number\":2,", 0) == 0);
    CHECK(contains(json, "{\"label\":\"page name\",\"value\":\"shop.home\"}"));
    CHECK(contains(json, "{\"key\":\"eid\",\"label\":\"ever-ID\",\"value\":\"2170000000000000001\"}"));
    CHECK(contains(json, "\"identity\":{\"ever_id\":\"2170000000000000001\",\"ip\":\"192.0.2.1\","
                         "\"user_agent\":\"Mozilla/5.0\",\"anonymous\":false}"));
    CHECK(contains(json, "\"violations\":[]"));
    CHECK(contains(json, "is not 19 digits"));
    CHECK(contains(json, "\"received_unix_ms\":1796250000000"));
}

TEST(InspectPage, HostileTextIsEscapedEverywhere)
{
    const std::string evil = "wt?p=600,%3Cscript%3Ealert(1)%3C%2Fscript%3E,1,1920x1080,24,1,1796250000000,0"
                             "&cg1=%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E&cg2=%00%0A%FF&eor=1";
    StoredHit s = stored(1, evil, "<b>");
    s.track_ids = "111\"><script>";
    const std::vector<InspectedEntry> entries = inspect_entries({s});
    const std::string html = inspect_html(entries, kNow);
    CHECK_FALSE(contains(html, "<script"));
    CHECK_FALSE(contains(html, "<img"));
    CHECK_FALSE(contains(html, "<b>\"") || contains(html, "#1 <b>"));
    CHECK(contains(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    CHECK(contains(html, "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
    CHECK(contains(html, "&#xfffd;&#xfffd;&#xfffd;"));  // NUL, newline, invalid byte
    const std::string json = inspect_json(entries);
    CHECK_FALSE(contains(json, "<"));
    CHECK(contains(json, "\"value\":\"\\u0000\\u000a\\ufffd\""));
    CHECK(contains(json, "\"track_ids\":\"111\\\">\\u003cscript>\""));
}

TEST(InspectPage, ACutLineIsFlaggedAsCut)
{
    StoredHit s = stored(1, kGood);
    s.truncated = true;
    const std::vector<InspectedEntry> entries = inspect_entries({s});
    CHECK(contains(inspect_html(entries, kNow), "longer than the inspector keeps"));
    CHECK(contains(inspect_json(entries), "\"truncated\":true"));
}

TEST(InspectPage, AnEmptyStoreSaysHowToUseIt)
{
    const std::string html = inspect_html({}, kNow);
    CHECK(contains(html, "No hits yet."));
    CHECK(contains(html, "MappTrackDomain"));
    CHECK(contains(html, "</html>"));
    STRCMP_EQUAL("{\"hits\":[]}\n", inspect_json({}).c_str());
}
