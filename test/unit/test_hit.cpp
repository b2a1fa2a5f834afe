// A hit's `wt?` line (hit.h, docs/design.md §4): the parameters, their order, and
// that nothing a visitor sends can add, end or reorder a parameter.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mapptrack/encode.h"
#include "mapptrack/hit.h"

#include <CppUTest/TestHarness.h>

using mapptrack::encode_hit_line;
using mapptrack::Hit;
using mapptrack::is_valid_param_name;
using mapptrack::kMaxLineBytes;
using mapptrack::kMaxTextChars;
using mapptrack::percent_decode;

namespace {

struct Param {
    std::string name;
    std::string value;
};

std::vector<std::string> split(std::string_view s, char sep)
{
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        std::size_t pos = s.find(sep, start);
        out.emplace_back(s.substr(start, pos == std::string_view::npos ? pos : pos - start));
        if (pos == std::string_view::npos)
            return out;
        start = pos + 1;
    }
}

// The line's parameters, split exactly as a track server splits a query.
std::vector<Param> params_of(const std::string& line)
{
    std::vector<Param> out;
    if (line.compare(0, 3, "wt?") != 0)
        return out;
    for (const std::string& piece : split(std::string_view(line).substr(3), '&')) {
        std::size_t eq = piece.find('=');
        if (eq == std::string::npos)
            out.push_back({piece, ""});
        else
            out.push_back({piece.substr(0, eq), piece.substr(eq + 1)});
    }
    return out;
}

std::string names_of(const std::string& line)
{
    std::string joined;
    for (const Param& p : params_of(line)) {
        if (!joined.empty())
            joined += '|';
        joined += p.name;
    }
    return joined;
}

std::string value_of(const std::string& line, std::string_view name)
{
    for (const Param& p : params_of(line))
        if (p.name == name)
            return p.value;
    return "<absent>";
}

bool is_unreserved(unsigned char c)
{
    return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

bool is_well_formed(std::string_view s)
{
    for (std::size_t i = 0; i < s.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c == '%') {
            if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
                !std::isxdigit(static_cast<unsigned char>(s[i + 2])))
                return false;
            i += 2;
        } else if (!is_unreserved(c)) {
            return false;
        }
    }
    return true;
}

std::size_t utf8_chars(std::string_view s)
{
    std::size_t n = 0;
    for (unsigned char c : s)
        if ((c & 0xC0) != 0x80)
            ++n;
    return n;
}

bool starts_with(std::string_view s, std::string_view prefix)
{
    return s.substr(0, prefix.size()) == prefix;
}

bool ends_with(std::string_view s, std::string_view suffix)
{
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string repeat(std::string_view piece, std::size_t min_bytes)
{
    std::string s;
    while (s.size() < min_bytes)
        s += piece;
    return s;
}

Hit base_hit()
{
    Hit h;
    h.pixel_version = 300;
    h.time_ms = 1700000000123;
    h.user_agent = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";
    h.ip = "203.0.113.7";
    h.url = "https://www.example.com/shop/index.html?a=1&b=2";
    return h;
}

const char* const kEverId = "4170000000012345678";

// Every value of the line is encoded; the p value is encoded fields joined by commas.
void check_every_value_is_encoded(const std::string& line)
{
    for (const Param& p : params_of(line)) {
        if (p.name == "p") {
            for (const std::string& field : split(p.value, ','))
                CHECK_TEXT(is_well_formed(field), ("p field " + field).c_str());
        } else {
            CHECK_TEXT(is_well_formed(p.value), (p.name + "=" + p.value).c_str());
        }
    }
}

}  // namespace

TEST_GROUP(Hit){};

TEST(Hit, MinimalHitHasTheFixedParametersInOrder)
{
    std::string line = encode_hit_line(base_hit());
    CHECK(starts_with(line, "wt?p="));
    STRCMP_EQUAL("p|X-WT-UA|X-WT-IP|X-WT-RQ|eor", names_of(line).c_str());
    STRCMP_EQUAL("1", value_of(line, "eor").c_str());
    CHECK(ends_with(line, "&eor=1"));
}

TEST(Hit, EmptyContentIdAndReferrerAreSentAsZero)
{
    std::string line = encode_hit_line(base_hit());
    STRCMP_EQUAL("300,0,0,0,0,0,1700000000123,0", value_of(line, "p").c_str());
}

TEST(Hit, ContentIdIsTheSecondFieldOfPAndReferrerTheLast)
{
    Hit h = base_hit();
    h.content_id = "shop.index";
    h.referrer = "https://www.google.com/search?q=shoes&hl=de";
    std::vector<std::string> fields = split(value_of(encode_hit_line(h), "p"), ',');
    CHECK_EQUAL(static_cast<std::size_t>(8), fields.size());
    STRCMP_EQUAL("300", fields[0].c_str());
    STRCMP_EQUAL("shop.index", percent_decode(fields[1]).c_str());
    for (int i = 2; i <= 5; ++i)
        STRCMP_EQUAL("0", fields[i].c_str());
    STRCMP_EQUAL("1700000000123", fields[6].c_str());
    STRCMP_EQUAL(h.referrer.c_str(), percent_decode(fields[7]).c_str());
}

TEST(Hit, CommasInContentIdAndReferrerCannotAddFieldsToP)
{
    Hit h = base_hit();
    h.content_id = "a,b,c,,,";
    h.referrer = "https://x.example/?q=1,2,3,4,5,6,7,8";
    std::string line = encode_hit_line(h);
    std::vector<std::string> fields = split(value_of(line, "p"), ',');
    CHECK_EQUAL(static_cast<std::size_t>(8), fields.size());
    STRCMP_EQUAL("a,b,c,,,", percent_decode(fields[1]).c_str());
    STRCMP_EQUAL(h.referrer.c_str(), percent_decode(fields[7]).c_str());
    CHECK(fields[1].find("%2C") != std::string::npos || fields[1].find("%2c") != std::string::npos);
}

TEST(Hit, PixelVersionAndTimestampAreWrittenAsDecimalNumbers)
{
    Hit h = base_hit();
    h.pixel_version = 400;
    h.time_ms = 1699999999999;
    std::vector<std::string> fields = split(value_of(encode_hit_line(h), "p"), ',');
    CHECK_EQUAL(static_cast<std::size_t>(8), fields.size());
    STRCMP_EQUAL("400", fields[0].c_str());
    STRCMP_EQUAL("1699999999999", fields[6].c_str());
}

TEST(Hit, UserAgentIpAndUrlAreSentAsEncodedValues)
{
    Hit h = base_hit();
    h.ip = "2001:db8::1";
    std::string line = encode_hit_line(h);
    STRCMP_EQUAL(h.user_agent.c_str(), percent_decode(value_of(line, "X-WT-UA")).c_str());
    STRCMP_EQUAL("2001:db8::1", percent_decode(value_of(line, "X-WT-IP")).c_str());
    STRCMP_EQUAL(h.url.c_str(), percent_decode(value_of(line, "X-WT-RQ")).c_str());
    check_every_value_is_encoded(line);
}

TEST(Hit, KnownVisitorCarriesEidBeforeEor)
{
    Hit h = base_hit();
    h.ever_id = kEverId;
    std::string line = encode_hit_line(h);
    STRCMP_EQUAL("p|X-WT-UA|X-WT-IP|X-WT-RQ|eid|eor", names_of(line).c_str());
    STRCMP_EQUAL(kEverId, value_of(line, "eid").c_str());
}

TEST(Hit, OptionalParametersComeInTheDocumentedOrder)
{
    Hit h = base_hit();
    h.ever_id = kEverId;
    h.custom_ever_id = "crm-42";
    h.new_visitor = true;
    h.params = {{"cp1", "red"}, {"cg1", "shoes"}, {"cs2", "gold"}};
    std::string line = encode_hit_line(h);
    STRCMP_EQUAL("p|X-WT-UA|X-WT-IP|X-WT-RQ|eid|ceid|one|cp1|cg1|cs2|eor", names_of(line).c_str());
    STRCMP_EQUAL(kEverId, value_of(line, "eid").c_str());
    STRCMP_EQUAL("crm-42", percent_decode(value_of(line, "ceid")).c_str());
    STRCMP_EQUAL("1", value_of(line, "one").c_str());
    STRCMP_EQUAL("red", value_of(line, "cp1").c_str());
    STRCMP_EQUAL("shoes", value_of(line, "cg1").c_str());
    STRCMP_EQUAL("gold", value_of(line, "cs2").c_str());
}

TEST(Hit, CustomEverIdWithoutEverIdIsSentAlone)
{
    Hit h = base_hit();
    h.custom_ever_id = "crm-42";
    STRCMP_EQUAL("p|X-WT-UA|X-WT-IP|X-WT-RQ|ceid|eor", names_of(encode_hit_line(h)).c_str());
}

TEST(Hit, ReturningVisitorDoesNotSendOne)
{
    Hit h = base_hit();
    h.ever_id = kEverId;
    h.new_visitor = false;
    CHECK(names_of(encode_hit_line(h)).find("one") == std::string::npos);
}

TEST(Hit, AnonymousHitNeverCarriesEidCeidOrOneEvenIfSet)
{
    Hit h = base_hit();
    h.ever_id = kEverId;
    h.custom_ever_id = "crm-42";
    h.new_visitor = true;
    h.anonymous = true;
    h.params = {{"cp1", "red"}};
    std::string line = encode_hit_line(h);
    STRCMP_EQUAL("p|X-WT-UA|X-WT-IP|X-WT-RQ|nc|cp1|eor", names_of(line).c_str());
    STRCMP_EQUAL("1", value_of(line, "nc").c_str());
    CHECK(line.find(kEverId) == std::string::npos);
    CHECK(line.find("crm-42") == std::string::npos);
}

TEST(Hit, CustomParameterValuesAreCutTo255Characters)
{
    Hit h = base_hit();
    h.params = {{"cp1", std::string(1000, 'x')}, {"cp2", repeat("\xC3\xA9", 2000)}};
    std::string line = encode_hit_line(h);
    STRCMP_EQUAL(std::string(kMaxTextChars, 'x').c_str(),
                 percent_decode(value_of(line, "cp1")).c_str());
    std::string cp2 = percent_decode(value_of(line, "cp2"));
    CHECK_EQUAL(kMaxTextChars, utf8_chars(cp2));
    STRCMP_EQUAL(repeat("\xC3\xA9", 2 * kMaxTextChars).c_str(), cp2.c_str());
}

TEST(Hit, ContentIdIsCutTo255Characters)
{
    Hit h = base_hit();
    h.content_id = std::string(1000, 'c');
    std::vector<std::string> fields = split(value_of(encode_hit_line(h), "p"), ',');
    CHECK_EQUAL(static_cast<std::size_t>(8), fields.size());
    STRCMP_EQUAL(std::string(kMaxTextChars, 'c').c_str(), percent_decode(fields[1]).c_str());
}

TEST(Hit, ShortValuesAreNotCut)
{
    Hit h = base_hit();
    h.params = {{"cp1", std::string(kMaxTextChars, 'y')}};
    STRCMP_EQUAL(std::string(kMaxTextChars, 'y').c_str(),
                 percent_decode(value_of(encode_hit_line(h), "cp1")).c_str());
}

TEST(Hit, TenKilobyteUrlAndReferrerStayUnderTheLineLimitAndEndWithEor)
{
    Hit h = base_hit();
    h.ever_id = kEverId;
    h.url = "https://www.example.com/" + repeat("seg\xC3\xA9&x=1,2/", 10240);
    h.referrer = "https://ref.example.org/" + repeat("r,\xE2\x82\xAC?q#", 10240);
    std::string line = encode_hit_line(h);
    CHECK_TEXT(line.size() < kMaxLineBytes, std::to_string(line.size()).c_str());
    CHECK(ends_with(line, "&eor=1"));
    STRCMP_EQUAL("p|X-WT-UA|X-WT-IP|X-WT-RQ|eid|eor", names_of(line).c_str());
    check_every_value_is_encoded(line);

    std::string url = percent_decode(value_of(line, "X-WT-RQ"));
    CHECK(starts_with(h.url, url));
    CHECK(starts_with(url, "https://www.example.com/"));

    std::vector<std::string> fields = split(value_of(line, "p"), ',');
    CHECK_EQUAL(static_cast<std::size_t>(8), fields.size());
    std::string ref = percent_decode(fields[7]);
    CHECK(starts_with(h.referrer, ref));
    CHECK(!ref.empty());
    // The other fields are untouched by the cut.
    STRCMP_EQUAL(h.user_agent.c_str(), percent_decode(value_of(line, "X-WT-UA")).c_str());
    STRCMP_EQUAL(kEverId, value_of(line, "eid").c_str());
}

TEST(Hit, LongUrlIsCutBeforeAShortReferrer)
{
    Hit h = base_hit();
    h.url = "https://www.example.com/?" + std::string(10240, 'q');
    h.referrer = "https://www.google.com/search?q=shoes";
    std::string line = encode_hit_line(h);
    CHECK(line.size() < kMaxLineBytes);
    std::vector<std::string> fields = split(value_of(line, "p"), ',');
    CHECK_EQUAL(static_cast<std::size_t>(8), fields.size());
    STRCMP_EQUAL(h.referrer.c_str(), percent_decode(fields[7]).c_str());
}

TEST(Hit, EveryTextFieldTenKilobytesOfAmpersandsStaysUnderTheLineLimit)
{
    const std::string big(10240, '&');
    Hit h = base_hit();
    h.user_agent = big;
    h.url = big;
    h.referrer = big;
    h.content_id = big;
    h.custom_ever_id = big;
    h.ever_id = kEverId;
    h.new_visitor = true;
    h.params = {{"cp1", big}, {"cp2", big}, {"cg1", big}};
    std::string line = encode_hit_line(h);
    CHECK_TEXT(line.size() < kMaxLineBytes, std::to_string(line.size()).c_str());
    CHECK(ends_with(line, "&eor=1"));
    STRCMP_EQUAL("p|X-WT-UA|X-WT-IP|X-WT-RQ|eid|ceid|one|cp1|cp2|cg1|eor", names_of(line).c_str());
    CHECK_EQUAL(static_cast<std::size_t>(8), split(value_of(line, "p"), ',').size());
    check_every_value_is_encoded(line);
}

TEST(Hit, WorstCaseMultiByteTextInEveryFieldStillStaysUnderTheLineLimit)
{
    // Design §5: "a hit line stays under 7 KB". A 4-byte character is 12
    // encoded bytes, so 255 of them are 3060 bytes per field.
    const std::string big = repeat("\xF0\x9F\x98\x80", 10240);
    Hit h = base_hit();
    h.user_agent = big;
    h.url = big;
    h.referrer = big;
    h.content_id = big;
    h.custom_ever_id = big;
    h.ever_id = kEverId;
    h.params = {{"cp1", big}, {"cp2", big}, {"cg1", big}};
    std::string line = encode_hit_line(h);
    CHECK_TEXT(line.size() < kMaxLineBytes, std::to_string(line.size()).c_str());
    CHECK(ends_with(line, "&eor=1"));
    CHECK_EQUAL(static_cast<std::size_t>(8), split(value_of(line, "p"), ',').size());
    check_every_value_is_encoded(line);
}

TEST(Hit, HostileValuesInEveryFieldCannotAddAParameter)
{
    const char raw[] = "x&eid=1&nc=1,=#frag%26+ \r\nX-WT-IP=1.2.3.4\0&eor=1;,,,,?p=1";
    const std::string hostile(raw, sizeof raw - 1);
    Hit h = base_hit();
    h.content_id = hostile;
    h.referrer = hostile;
    h.user_agent = hostile;
    h.ip = hostile;
    h.url = hostile;
    h.ever_id = kEverId;
    h.custom_ever_id = hostile;
    h.new_visitor = true;
    h.params = {{"cp1", hostile}, {"cg2", hostile}};
    std::string line = encode_hit_line(h);
    STRCMP_EQUAL("p|X-WT-UA|X-WT-IP|X-WT-RQ|eid|ceid|one|cp1|cg2|eor", names_of(line).c_str());
    CHECK_EQUAL(static_cast<std::size_t>(8), split(value_of(line, "p"), ',').size());
    check_every_value_is_encoded(line);
    CHECK(ends_with(line, "&eor=1"));
}

TEST(Hit, HostileAnonymousHitCannotSmuggleAnEverId)
{
    const std::string hostile = "a&eid=4170000000012345678&one=1&ceid=x";
    Hit h = base_hit();
    h.anonymous = true;
    h.user_agent = hostile;
    h.url = hostile;
    h.referrer = hostile;
    h.content_id = hostile;
    h.params = {{"cp1", hostile}};
    std::string line = encode_hit_line(h);
    STRCMP_EQUAL("p|X-WT-UA|X-WT-IP|X-WT-RQ|nc|cp1|eor", names_of(line).c_str());
}

TEST(Hit, MalformedEverIdCannotAddAParameter)
{
    Hit h = base_hit();
    h.ever_id = "1&nc=1&x=";
    std::string names = names_of(encode_hit_line(h));
    // Sent encoded or dropped, but never as parameters of its own.
    CHECK_TEXT(names == "p|X-WT-UA|X-WT-IP|X-WT-RQ|eid|eor" ||
                   names == "p|X-WT-UA|X-WT-IP|X-WT-RQ|eor",
               names.c_str());
}

TEST(Hit, LineHasNoRawSpaceHashPlusOrControlByte)
{
    std::string all;
    for (int c = 0; c < 256; ++c)
        all += static_cast<char>(c);
    Hit h = base_hit();
    h.content_id = all;
    h.referrer = all;
    h.user_agent = all;
    h.url = all;
    h.custom_ever_id = all;
    h.params = {{"cp1", all}};
    std::string line = encode_hit_line(h);
    for (unsigned char c : line) {
        CHECK_TEXT(c > 0x20 && c < 0x7F, std::to_string(c).c_str());
        CHECK(c != '#' && c != '+' && c != '"' && c != '<' && c != '>' && c != '\\');
    }
    STRCMP_EQUAL("p|X-WT-UA|X-WT-IP|X-WT-RQ|ceid|cp1|eor", names_of(line).c_str());
}

TEST_GROUP(ParamName){};

TEST(ParamName, CustomParameterNamesAreAccepted)
{
    CHECK(is_valid_param_name("cp1"));
    CHECK(is_valid_param_name("cg12"));
    CHECK(is_valid_param_name("cs2"));
    CHECK(is_valid_param_name("cb10"));
    CHECK(is_valid_param_name("uc1"));
    CHECK(is_valid_param_name("my_param"));
    CHECK(is_valid_param_name(std::string(32, 'a')));
}

TEST(ParamName, NamesTheModuleSetsItselfAreRejected)
{
    CHECK_FALSE(is_valid_param_name("p"));
    CHECK_FALSE(is_valid_param_name("eid"));
    CHECK_FALSE(is_valid_param_name("ceid"));
    CHECK_FALSE(is_valid_param_name("one"));
    CHECK_FALSE(is_valid_param_name("nc"));
    CHECK_FALSE(is_valid_param_name("eor"));
    CHECK_FALSE(is_valid_param_name("X-WT-IP"));
    CHECK_FALSE(is_valid_param_name("X-WT-UA"));
    CHECK_FALSE(is_valid_param_name("X-WT-RQ"));
}

TEST(ParamName, NamesThatCouldBreakTheLineAreRejected)
{
    CHECK_FALSE(is_valid_param_name("cp&1"));
    CHECK_FALSE(is_valid_param_name("cp=1"));
    CHECK_FALSE(is_valid_param_name("cp 1"));
    CHECK_FALSE(is_valid_param_name("cp1 "));
    CHECK_FALSE(is_valid_param_name("cp#1"));
    CHECK_FALSE(is_valid_param_name("cp%31"));
    CHECK_FALSE(is_valid_param_name("cp\n1"));
    CHECK_FALSE(is_valid_param_name(std::string_view("cp\0" "1", 4)));
    CHECK_FALSE(is_valid_param_name("cp-1"));
    CHECK_FALSE(is_valid_param_name("c\xC3\xA9"));
}

TEST(ParamName, EmptyTooLongAndLeadingDigitAreRejected)
{
    CHECK_FALSE(is_valid_param_name(""));
    CHECK_FALSE(is_valid_param_name(std::string(33, 'a')));
    CHECK_FALSE(is_valid_param_name("1cp"));
    CHECK_FALSE(is_valid_param_name("_cp1"));
}

// --- language, campaign, client hints, per-value limits, the line limit

namespace {

Hit full_hit()
{
    Hit h = base_hit();
    h.ever_id = kEverId;
    h.custom_ever_id = "crm-42";
    h.new_visitor = true;
    h.language = "de";
    h.media_code = "wt_mc%3Dnewsletter";
    h.client_hints = {{"X-WT-SEC-CH-UA", "\"Chromium\";v=\"128\""}, {"X-WT-SEC-CH-UA-MOBILE", "?0"}};
    h.params = {{"cp1", "red"}};
    return h;
}

bool has_raw_separator(const std::string& value)
{
    return value.find_first_of("&=#? \r\n") != std::string::npos;
}

}  // namespace

TEST_GROUP(HitIssue9){};

TEST(HitIssue9, NewParametersComeInTheDocumentedOrder)
{
    std::string line = encode_hit_line(full_hit());
    STRCMP_EQUAL("p|X-WT-UA|X-WT-IP|X-WT-RQ|eid|ceid|one|la|mc|mca|X-WT-SEC-CH-UA|X-WT-SEC-CH-UA-MOBILE|cp1|eor",
                 names_of(line).c_str());
    STRCMP_EQUAL("de", value_of(line, "la").c_str());
    STRCMP_EQUAL("wt_mc%3Dnewsletter", percent_decode(value_of(line, "mc")).c_str());
    STRCMP_EQUAL("c", value_of(line, "mca").c_str());
    STRCMP_EQUAL("\"Chromium\";v=\"128\"", percent_decode(value_of(line, "X-WT-SEC-CH-UA")).c_str());
    STRCMP_EQUAL("?0", percent_decode(value_of(line, "X-WT-SEC-CH-UA-MOBILE")).c_str());
    check_every_value_is_encoded(line);
}

TEST(HitIssue9, AnonymousHitKeepsLanguageCampaignAndHintsButNoIds)
{
    Hit h = full_hit();
    h.anonymous = true;
    STRCMP_EQUAL("p|X-WT-UA|X-WT-IP|X-WT-RQ|nc|la|mc|mca|X-WT-SEC-CH-UA|X-WT-SEC-CH-UA-MOBILE|cp1|eor",
                 names_of(encode_hit_line(h)).c_str());
}

TEST(HitIssue9, EmptyUserAgentSendsNoUserAgentParameter)
{
    Hit h = base_hit();
    h.user_agent.clear();
    STRCMP_EQUAL("p|X-WT-IP|X-WT-RQ|eor", names_of(encode_hit_line(h)).c_str());
}

TEST(HitIssue9, UserAgentIsNotCutTo255Characters)
{
    Hit h = base_hit();
    h.user_agent = "Mozilla/5.0 " + std::string(1500, 'u');
    std::string line = encode_hit_line(h);
    STRCMP_EQUAL(h.user_agent.c_str(), percent_decode(value_of(line, "X-WT-UA")).c_str());
}

TEST(HitIssue9, HugeUserAgentIsCutOnlyAsTheLineLimitRequires)
{
    Hit h = base_hit();
    h.user_agent = std::string(20000, 'u');
    mapptrack::HitLineStats stats;
    std::string line = encode_hit_line(h, &stats);
    CHECK(line.size() < kMaxLineBytes);
    std::string ua = percent_decode(value_of(line, "X-WT-UA"));
    CHECK(ua.size() > 6000);  // everything the line has room for
    CHECK(starts_with(h.user_agent, ua));
    CHECK(stats.cut);
    CHECK_EQUAL(static_cast<std::size_t>(0), stats.dropped_params);
}

TEST(HitIssue9, HugeUserAgentDoesNotPushOutTheAdminsParameters)
{
    Hit h = base_hit();
    h.user_agent = std::string(20000, '&');
    h.params = {{"cp1", std::string(255, 'a')}, {"cp2", std::string(255, 'b')}};
    mapptrack::HitLineStats stats;
    std::string line = encode_hit_line(h, &stats);
    CHECK(line.size() < kMaxLineBytes);
    STRCMP_EQUAL("p|X-WT-UA|X-WT-IP|X-WT-RQ|cp1|cp2|eor", names_of(line).c_str());
    CHECK_EQUAL(static_cast<std::size_t>(0), stats.dropped_params);
}

TEST(HitIssue9, EachSemicolonSeparatedValueIsCutTo255)
{
    Hit h = base_hit();
    const std::string a(300, 'a'), b = "short", c(256, 'c');
    h.params = {{"ba", a + ";" + b + ";" + c}};
    std::string value = percent_decode(value_of(encode_hit_line(h), "ba"));
    STRCMP_EQUAL((std::string(255, 'a') + ";short;" + std::string(255, 'c')).c_str(), value.c_str());
}

TEST(HitIssue9, ALongSemicolonListIsNotCutAsAWhole)
{
    Hit h = base_hit();
    std::string list;
    for (int i = 0; i < 20; ++i)
        list += (i ? ";" : "") + std::string("product-") + std::to_string(i) + std::string(20, 'x');
    h.params = {{"ba", list}};
    STRCMP_EQUAL(list.c_str(), percent_decode(value_of(encode_hit_line(h), "ba")).c_str());
}

TEST(HitIssue9, EmptyListValuesStayInTheirPlace)
{
    Hit h = base_hit();
    h.params = {{"qn", "1;;3;"}};
    STRCMP_EQUAL("1%3B%3B3%3B", value_of(encode_hit_line(h), "qn").c_str());
}

TEST(HitIssue9, MediaCodeValuesAreCutTo255Each)
{
    Hit h = base_hit();
    h.media_code = "wt_mc%3D" + std::string(400, 'm') + ";mc%3Dx";
    std::string mc = percent_decode(value_of(encode_hit_line(h), "mc"));
    STRCMP_EQUAL(("wt_mc%3D" + std::string(255 - 8, 'm') + ";mc%3Dx").c_str(), mc.c_str());
}

TEST(HitIssue9, OnlyAWellFormedLanguageIsSent)
{
    const char* const bad[] = {"", "d", "DE", "de-DE", "de&nc=1", "abcdefghi", "d1", "de "};
    for (const char* la : bad) {
        Hit h = base_hit();
        h.language = la;
        STRCMP_EQUAL_TEXT("p|X-WT-UA|X-WT-IP|X-WT-RQ|eor", names_of(encode_hit_line(h)).c_str(), la);
    }
    Hit h = base_hit();
    h.language = "fil";
    STRCMP_EQUAL("fil", value_of(encode_hit_line(h), "la").c_str());
}

TEST(HitIssue9, AdminParametersNamedLaOrMcReplaceTheModulesOwn)
{
    Hit h = full_hit();
    h.params = {{"la", "fr"}, {"mc", "wt_mc%3Dfixed"}, {"mca", "v"}};
    std::string line = encode_hit_line(h);
    STRCMP_EQUAL("p|X-WT-UA|X-WT-IP|X-WT-RQ|eid|ceid|one|X-WT-SEC-CH-UA|X-WT-SEC-CH-UA-MOBILE|la|mc|mca|eor",
                 names_of(line).c_str());
    STRCMP_EQUAL("fr", value_of(line, "la").c_str());
    STRCMP_EQUAL("v", value_of(line, "mca").c_str());
}

TEST(HitIssue9, ClientHintsWithForeignNamesAreNotSent)
{
    Hit h = base_hit();
    h.client_hints = {{"eid", "4170000000012345678"}, {"X-WT-IP", "1.2.3.4"}, {"X-WT-SEC-CH-UA-A&B", "1"},
                      {"X-WT-SEC-CH-UA", "ok"}};
    STRCMP_EQUAL("p|X-WT-UA|X-WT-IP|X-WT-RQ|X-WT-SEC-CH-UA|eor", names_of(encode_hit_line(h)).c_str());
}

TEST(HitIssue9, EmptyOrOverlongClientHintsAreNotSent)
{
    Hit h = base_hit();
    h.client_hints = {{"X-WT-SEC-CH-UA", ""}, {"X-WT-SEC-CH-UA-MODEL", std::string(600, 'm')},
                      {"X-WT-SEC-CH-UA-MOBILE", "\r\n"}};
    STRCMP_EQUAL("p|X-WT-UA|X-WT-IP|X-WT-RQ|eor", names_of(encode_hit_line(h)).c_str());
}

TEST(HitIssue9, HostileHintsLanguageAndMediaCodeCannotAddOrEndAParameter)
{
    const char raw[] = "x&eid=1&nc=1,=#frag%26+%zz% \r\nX-WT-IP=1.2.3.4\0&eor=1;?p=1";
    const std::string hostile(raw, sizeof raw - 1);
    Hit h = base_hit();
    h.language = hostile;
    h.media_code = "wt_mc%3D" + hostile;
    h.client_hints = {{"X-WT-SEC-CH-UA", hostile}, {"X-WT-SEC-CH-UA-PLATFORM", hostile}};
    std::string line = encode_hit_line(h);
    STRCMP_EQUAL("p|X-WT-UA|X-WT-IP|X-WT-RQ|mc|mca|X-WT-SEC-CH-UA|X-WT-SEC-CH-UA-PLATFORM|eor", names_of(line).c_str());
    check_every_value_is_encoded(line);
    for (const char* name : {"mc", "X-WT-SEC-CH-UA", "X-WT-SEC-CH-UA-PLATFORM"})
        CHECK_TEXT(!has_raw_separator(value_of(line, name)), name);
    CHECK(ends_with(line, "&eor=1"));
}

TEST(HitIssue9, OwnDomainReferrerIsSentAsOne)
{
    Hit h = base_hit();
    h.referrer = "1";
    std::vector<std::string> fields = split(value_of(encode_hit_line(h), "p"), ',');
    STRCMP_EQUAL("1", fields[7].c_str());
}

TEST(HitIssue9, AHitThatFitsReportsNothing)
{
    mapptrack::HitLineStats stats;
    stats.dropped_params = 7;
    stats.cut = true;
    encode_hit_line(full_hit(), &stats);
    CHECK_EQUAL(static_cast<std::size_t>(0), stats.dropped_params);
    CHECK_FALSE(stats.cut);
}

TEST(HitIssue9, ALongUrlIsCutAndReported)
{
    Hit h = base_hit();
    h.url = "https://www.example.com/?" + std::string(10000, 'q');
    mapptrack::HitLineStats stats;
    std::string line = encode_hit_line(h, &stats);
    CHECK(line.size() < kMaxLineBytes);
    CHECK(stats.cut);
    CHECK_EQUAL(static_cast<std::size_t>(0), stats.dropped_params);
}

TEST(HitIssue9, TooManyParametersDropTheLongestFirstAndCountThem)
{
    // Multi-byte values: 255 characters of a 3-byte letter are 2295 encoded bytes.
    Hit h = base_hit();
    const std::string euro = repeat("\xE2\x82\xAC", 3 * 255);
    h.params = {{"cp1", "short"}, {"cp2", euro}, {"cp3", euro}, {"cp4", euro}, {"cp5", "kept"}};
    h.language = "de";
    mapptrack::HitLineStats stats;
    std::string line = encode_hit_line(h, &stats);
    CHECK(line.size() < kMaxLineBytes);
    CHECK(ends_with(line, "&eor=1"));
    CHECK_EQUAL(static_cast<std::size_t>(1), stats.dropped_params);
    // The short ones stay; one long one gave way (the first of the equally long).
    STRCMP_EQUAL("p|X-WT-UA|X-WT-IP|X-WT-RQ|la|cp1|cp3|cp4|cp5|eor", names_of(line).c_str());
}

TEST(HitIssue9, UrlAndUserAgentGiveWayBeforeParametersAreDropped)
{
    Hit h = base_hit();
    h.url = "https://www.example.com/?" + std::string(8000, 'q');
    h.referrer = "https://ref.example/?" + std::string(8000, 'r');
    h.user_agent = std::string(8000, 'u');
    h.params = {{"cp1", std::string(255, 'a')}, {"cp2", std::string(255, 'b')}};
    h.client_hints = {{"X-WT-SEC-CH-UA", std::string(500, 'h')}};
    mapptrack::HitLineStats stats;
    std::string line = encode_hit_line(h, &stats);
    CHECK(line.size() < kMaxLineBytes);
    CHECK_EQUAL(static_cast<std::size_t>(0), stats.dropped_params);
    STRCMP_EQUAL("p|X-WT-UA|X-WT-IP|X-WT-RQ|X-WT-SEC-CH-UA|cp1|cp2|eor", names_of(line).c_str());
}

TEST(HitIssue9, WorstCaseEverythingStillFitsAndEndsWithEor)
{
    const std::string big = repeat("\xF0\x9F\x98\x80", 10240);
    Hit h = base_hit();
    h.user_agent = big;
    h.url = big;
    h.referrer = big;
    h.content_id = big;
    h.custom_ever_id = big;
    h.ever_id = kEverId;
    h.language = "de";
    h.media_code = big;
    h.client_hints = {{"X-WT-SEC-CH-UA", std::string(512, '"')}, {"X-WT-SEC-CH-UA-MODEL", std::string(512, '&')}};
    for (int i = 1; i <= 30; ++i)
        h.params.emplace_back("cp" + std::to_string(i), big);
    mapptrack::HitLineStats stats;
    std::string line = encode_hit_line(h, &stats);
    CHECK_TEXT(line.size() < kMaxLineBytes, std::to_string(line.size()).c_str());
    CHECK(ends_with(line, "&eor=1"));
    CHECK(stats.dropped_params > 0);
    CHECK(stats.cut);
    CHECK_EQUAL(static_cast<std::size_t>(8), split(value_of(line, "p"), ',').size());
    check_every_value_is_encoded(line);
    STRCMP_EQUAL(kEverId, value_of(line, "eid").c_str());
}

TEST(Hit, ALineOfExactlyTheLimitIsSentWholeAndOneByteMoreIsCut)
{
    // The boundary between a line sent as built and one that must give way.
    Hit h;
    h.time_ms = 1700000000123;
    h.user_agent = "Mozilla/5.0 (X11; Linux x86_64)";
    h.ip = "203.0.113.9";
    h.ever_id = kEverId;
    h.language = "de";
    h.params = {{"cp1", "a b;c"}};
    h.url = "";
    const std::size_t fixed = encode_hit_line(h).size();
    const std::size_t limit = kMaxLineBytes - 1;
    h.url = std::string(limit - fixed, 'u');
    mapptrack::HitLineStats stats;
    std::string line = encode_hit_line(h, &stats);
    CHECK_EQUAL(limit, line.size());
    CHECK(!stats.cut);
    CHECK_EQUAL(static_cast<std::size_t>(0), stats.dropped_params);
    STRCMP_EQUAL(h.url.c_str(), value_of(line, "X-WT-RQ").c_str());
    STRCMP_EQUAL("a%20b%3Bc", value_of(line, "cp1").c_str());

    h.url += "u";
    line = encode_hit_line(h, &stats);
    CHECK(line.size() <= limit);
    CHECK(stats.cut || stats.dropped_params > 0);
    CHECK(ends_with(line, "&eor=1"));
    check_every_value_is_encoded(line);
}

TEST(Hit, NumbersInPAreWrittenAsDecimalWhateverTheirValue)
{
    for (const std::int64_t t : {std::int64_t{0}, std::int64_t{7}, std::int64_t{1700000000123}, std::int64_t{-5},
                                 std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::min()}) {
        Hit h;
        h.pixel_version = static_cast<int>(t % 1000);
        h.time_ms = t;
        const std::vector<std::string> fields = split(value_of(encode_hit_line(h), "p"), ',');
        STRCMP_EQUAL(std::to_string(h.pixel_version).c_str(), fields[0].c_str());
        STRCMP_EQUAL(std::to_string(t).c_str(), fields[6].c_str());
    }
}
