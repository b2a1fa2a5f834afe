// Reading the visitor's Cookie header (cookies.h): Mapp cookies only.
#include <optional>
#include <string>
#include <string_view>

#include "mapptrack/cookies.h"

#include <CppUTest/TestHarness.h>

using mapptrack::CookieList;
using mapptrack::find_cookie;
using mapptrack::is_mapp_cookie_name;
using mapptrack::mapp_cookie_header;
using mapptrack::parse_cookie_header;
using mapptrack::parse_wt3_eid;

namespace {

// "name=value|name=value" for compact comparisons.
std::string dump(const CookieList& cookies)
{
    std::string out;
    for (const auto& [name, value] : cookies) {
        if (!out.empty())
            out += '|';
        out.append(name.data(), name.size());
        out += '=';
        out.append(value.data(), value.size());
    }
    return out;
}

std::string str(std::optional<std::string_view> v)
{
    return v ? std::string(*v) : std::string("<none>");
}

const char* const kWt3 =
    ";111|2138210064900146323#2138210027300810268;222|2999999999999999999#2000000000000000000";

}  // namespace

TEST_GROUP(Cookies){};

TEST(Cookies, PlainHeaderGivesNamesAndValuesInOrder)
{
    std::string header = "a=1; b=2; c=3";
    STRCMP_EQUAL("a=1|b=2|c=3", dump(parse_cookie_header(header)).c_str());
}

TEST(Cookies, BlanksAroundNamesAndValuesAreTrimmed)
{
    std::string header = "  a = 1 ;b=2;\tc =3  ";
    STRCMP_EQUAL("a=1|b=2|c=3", dump(parse_cookie_header(header)).c_str());
}

TEST(Cookies, SurroundingQuotesOfValuesAreRemoved)
{
    std::string header = "a=\"x y\"; b=\"\"; c=\"4170000000012345678\"";
    STRCMP_EQUAL("a=x y|b=|c=4170000000012345678", dump(parse_cookie_header(header)).c_str());
}

TEST(Cookies, EmptyPiecesAreSkipped)
{
    std::string header = ";a=1;; ;  ;b=2;";
    STRCMP_EQUAL("a=1|b=2", dump(parse_cookie_header(header)).c_str());
}

TEST(Cookies, PiecesWithoutEqualsAreSkipped)
{
    std::string header = "a=1; flag; b=2; wt3_eid";
    STRCMP_EQUAL("a=1|b=2", dump(parse_cookie_header(header)).c_str());
}

TEST(Cookies, PieceWithoutNameIsSkipped)
{
    std::string header = "=orphan; a=1";
    STRCMP_EQUAL("a=1", dump(parse_cookie_header(header)).c_str());
}

TEST(Cookies, EqualsInsideAValueBelongsToTheValue)
{
    std::string header = "a=b=c; d=e";
    STRCMP_EQUAL("a=b=c|d=e", dump(parse_cookie_header(header)).c_str());
}

TEST(Cookies, EmptyHeaderGivesNoCookies)
{
    CHECK(parse_cookie_header("").empty());
    CHECK(parse_cookie_header("   ").empty());
    CHECK(parse_cookie_header(";;;").empty());
}

TEST(Cookies, FindCookieReturnsTheFirstExactMatch)
{
    std::string header = "wteid_1=first; wteid_111=x; wteid_1=second";
    CookieList cookies = parse_cookie_header(header);
    STRCMP_EQUAL("first", str(find_cookie(cookies, "wteid_1")).c_str());
    STRCMP_EQUAL("x", str(find_cookie(cookies, "wteid_111")).c_str());
}

TEST(Cookies, FindCookieIsExactAndCaseSensitive)
{
    std::string header = "WT3_EID=upper; wt3_eid_x=longer; wt3=short";
    CookieList cookies = parse_cookie_header(header);
    CHECK_FALSE(find_cookie(cookies, "wt3_eid").has_value());
    CHECK_FALSE(find_cookie(cookies, "").has_value());
}

TEST(Cookies, FindCookieReturnsAnEmptyValueAsPresent)
{
    std::string header = "webtrekkOptOut=; a=1";
    CookieList cookies = parse_cookie_header(header);
    auto v = find_cookie(cookies, "webtrekkOptOut");
    CHECK(v.has_value());
    CHECK(v->empty());
}

TEST(Cookies, MappCookieNamesAreRecognised)
{
    CHECK(is_mapp_cookie_name("wt3_eid"));
    CHECK(is_mapp_cookie_name("wt3_sid"));
    CHECK(is_mapp_cookie_name("wtstp_eid"));
    CHECK(is_mapp_cookie_name("wteid_123"));
    CHECK(is_mapp_cookie_name("wt_eid"));
    CHECK(is_mapp_cookie_name("webtrekkOptOut"));
    CHECK(is_mapp_cookie_name("miCookieOptOut"));
}

TEST(Cookies, SiteCookieNamesAreNotMappCookies)
{
    CHECK_FALSE(is_mapp_cookie_name("PHPSESSID"));
    CHECK_FALSE(is_mapp_cookie_name("session"));
    CHECK_FALSE(is_mapp_cookie_name("xwt"));
    CHECK_FALSE(is_mapp_cookie_name("WT3_EID"));
    CHECK_FALSE(is_mapp_cookie_name("webtrekkOptOutX"));
    CHECK_FALSE(is_mapp_cookie_name("miCookieOptOut2"));
    CHECK_FALSE(is_mapp_cookie_name(""));
}

TEST(Cookies, MappCookieHeaderDropsSiteCookies)
{
    std::string header =
        "PHPSESSID=secret1; wt3_eid=a; session=secret2; wteid_111=4170000000012345678; "
        "csrftoken=secret3; webtrekkOptOut=1; miCookieOptOut=1; wtstp_eid=b";
    CookieList cookies = parse_cookie_header(header);
    std::string mapp = mapp_cookie_header(cookies);
    CHECK(mapp.find("secret") == std::string::npos);
    CHECK(mapp.find("PHPSESSID") == std::string::npos);
    CHECK(mapp.find("session") == std::string::npos);
    // A valid Cookie header holding exactly the Mapp cookies, in order.
    STRCMP_EQUAL("wt3_eid=a|wteid_111=4170000000012345678|webtrekkOptOut=1|miCookieOptOut=1|"
                 "wtstp_eid=b",
                 dump(parse_cookie_header(mapp)).c_str());
    CHECK(mapp.find('\r') == std::string::npos && mapp.find('\n') == std::string::npos);
}

TEST(Cookies, MappCookieHeaderUsesTheStandardSeparator)
{
    std::string header = "a=1; wt3_eid=x; b=2; wteid_1=y";
    STRCMP_EQUAL("wt3_eid=x; wteid_1=y", mapp_cookie_header(parse_cookie_header(header)).c_str());
}

TEST(Cookies, MappCookieHeaderIsEmptyWithoutMappCookies)
{
    std::string header = "PHPSESSID=abc; session=x";
    STRCMP_EQUAL("", mapp_cookie_header(parse_cookie_header(header)).c_str());
    STRCMP_EQUAL("", mapp_cookie_header(CookieList{}).c_str());
}

TEST_GROUP(Wt3Eid){};

TEST(Wt3Eid, EachTrackIdGetsItsOwnEverId)
{
    STRCMP_EQUAL("2138210064900146323", str(parse_wt3_eid(kWt3, "111")).c_str());
    STRCMP_EQUAL("2999999999999999999", str(parse_wt3_eid(kWt3, "222")).c_str());
}

TEST(Wt3Eid, MissingTrackIdGivesNothing)
{
    CHECK_FALSE(parse_wt3_eid(kWt3, "333").has_value());
}

TEST(Wt3Eid, TrackIdMustMatchWholly)
{
    // "11" is a prefix of "111", "1111" extends it, "22" is a suffix of "222".
    CHECK_FALSE(parse_wt3_eid(kWt3, "11").has_value());
    CHECK_FALSE(parse_wt3_eid(kWt3, "1111").has_value());
    CHECK_FALSE(parse_wt3_eid(kWt3, "22").has_value());
    CHECK_FALSE(parse_wt3_eid(kWt3, "").has_value());
}

TEST(Wt3Eid, TrackIdInsideAnEverIdIsNotAnEntry)
{
    // "146323" occurs inside the first ever-ID, followed by '#'.
    CHECK_FALSE(parse_wt3_eid(kWt3, "146323").has_value());
    CHECK_FALSE(parse_wt3_eid(kWt3, "2138210064900146323").has_value());
}

TEST(Wt3Eid, SingleEntryIsRead)
{
    STRCMP_EQUAL("2138210064900146323",
                 str(parse_wt3_eid(";111|2138210064900146323#2138210027300810268", "111")).c_str());
}

TEST(Wt3Eid, GarbageGivesNothing)
{
    CHECK_FALSE(parse_wt3_eid("garbage", "111").has_value());
    CHECK_FALSE(parse_wt3_eid(";;;|||###", "111").has_value());
    CHECK_FALSE(parse_wt3_eid("111", "111").has_value());
}

TEST(Wt3Eid, EmptyValueGivesNothing)
{
    CHECK_FALSE(parse_wt3_eid("", "111").has_value());
}

TEST(Cookies, TwoCookieLinesJoinedWithACommaAreTwoCookies)
{
    // httpd joins `Cookie: wt3_eid=a` and `Cookie: session=secret` as "wt3_eid=a, session=secret".
    CookieList cookies = parse_cookie_header("wt3_eid=a, session=secret; wteid_111=4170000000012345678");
    STRCMP_EQUAL("wt3_eid=a|session=secret|wteid_111=4170000000012345678", dump(cookies).c_str());
    std::string mapp = mapp_cookie_header(cookies);
    CHECK(mapp.find("secret") == std::string::npos);
    STRCMP_EQUAL("wt3_eid=a; wteid_111=4170000000012345678", mapp.c_str());
}

TEST(Cookies, ASiteCookieCannotHideInAMappCookiesValueBehindAComma)
{
    std::string mapp = mapp_cookie_header(parse_cookie_header("wtx=1,PHPSESSID=secret"));
    CHECK(mapp.find("secret") == std::string::npos);
    STRCMP_EQUAL("wtx=1", mapp.c_str());
}

TEST(Cookies, OnlyCookieOctetsAndTokenNamesArePassedOn)
{
    const std::string nul("wt=a\0b; wtok=1", 14);
    STRCMP_EQUAL("wtok=1", mapp_cookie_header(parse_cookie_header(nul)).c_str());
    STRCMP_EQUAL("wtok=1", mapp_cookie_header(parse_cookie_header("wt\rX=1; wtok=1")).c_str());
    // Quotes inside after unquoting would be read back as another value.
    STRCMP_EQUAL("wtok=1", mapp_cookie_header(parse_cookie_header("wt=\"\"x\"\"; wtok=1")).c_str());
}
