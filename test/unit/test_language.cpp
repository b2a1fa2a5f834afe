// `la` from Accept-Language (language.h): the primary language, as the
// Smart Pixel sends it, and nothing a visitor sends can add a parameter.
#include <string>

#include "mapptrack/language.h"

#include <CppUTest/TestHarness.h>

using mapptrack::primary_language;

namespace {

bool is_language_or_empty(const std::string& s)
{
    if (s.empty())
        return true;
    if (s.size() < 2 || s.size() > 8)
        return false;
    for (char c : s)
        if (c < 'a' || c > 'z')
            return false;
    return true;
}

}  // namespace

TEST_GROUP(Language){};

TEST(Language, PrimarySubtagOfTheFirstLanguage)
{
    STRCMP_EQUAL("de", primary_language("de-DE,de;q=0.9,en;q=0.8").c_str());
    STRCMP_EQUAL("en", primary_language("en-US,en;q=0.5").c_str());
    STRCMP_EQUAL("fr", primary_language("fr").c_str());
}

TEST(Language, IsLowerCase)
{
    STRCMP_EQUAL("de", primary_language("DE-de").c_str());
}

TEST(Language, HighestQualityWinsTiesGoToTheFirst)
{
    STRCMP_EQUAL("en", primary_language("de;q=0.5, en;q=0.9").c_str());
    STRCMP_EQUAL("de", primary_language("de;q=0.8, en;q=0.8").c_str());
    STRCMP_EQUAL("fr", primary_language("de;q=0.8, fr").c_str());
    STRCMP_EQUAL("it", primary_language("de;q=0.999, it;q=1.000").c_str());
}

TEST(Language, WildcardAndZeroQualityAreSkipped)
{
    STRCMP_EQUAL("en", primary_language("*, en;q=0.5").c_str());
    STRCMP_EQUAL("en", primary_language("de;q=0, en;q=0.1").c_str());
    STRCMP_EQUAL("", primary_language("*").c_str());
    STRCMP_EQUAL("", primary_language("de;q=0.000").c_str());
}

TEST(Language, BlanksAndEmptyEntriesAreTolerated)
{
    STRCMP_EQUAL("pt", primary_language(" , pt-BR ; q=0.9 ,").c_str());
    STRCMP_EQUAL("pt", primary_language("\tpt-BR;q=0.9").c_str());
}

TEST(Language, LongerPrimarySubtagsAreSentWhole)
{
    STRCMP_EQUAL("fil", primary_language("fil-PH").c_str());
    STRCMP_EQUAL("zh", primary_language("zh-Hant-TW").c_str());
}

TEST(Language, NoHeaderOrNothingValidSendsNothing)
{
    STRCMP_EQUAL("", primary_language("").c_str());
    STRCMP_EQUAL("", primary_language("x").c_str());
    STRCMP_EQUAL("", primary_language("123").c_str());
    STRCMP_EQUAL("", primary_language("abcdefghi").c_str());
    STRCMP_EQUAL("", primary_language("de_DE").c_str());
    STRCMP_EQUAL("", primary_language("de-").c_str());
    STRCMP_EQUAL("", primary_language("de;q=2").c_str());
    STRCMP_EQUAL("", primary_language("de;q=abc").c_str());
    STRCMP_EQUAL("", primary_language("de;x=1").c_str());
}

TEST(Language, AMalformedEntryDoesNotHideAGoodOne)
{
    STRCMP_EQUAL("en", primary_language("d&e, en").c_str());
    STRCMP_EQUAL("en", primary_language("de;q=1.5, en;q=0.2").c_str());
}

TEST(Language, HostileValuesCannotAddOrEndAParameter)
{
    const char* const hostile[] = {
        "de&eid=4170000000012345678",
        "de=1",
        "de#x",
        "de%26x",
        "de x",
        "de\r\nX-WT-IP: 1.2.3.4",
        "&nc=1, de",
        "\xC3\xA9n",
        "de\0x",
        "en-US;q=0.9&la=xx",
    };
    for (const char* value : hostile) {
        const std::string la = primary_language(value);
        CHECK_TEXT(is_language_or_empty(la), la.c_str());
    }
    // The good entry of a hostile list can still be read.
    STRCMP_EQUAL("de", primary_language("&nc=1, de").c_str());
    STRCMP_EQUAL("", primary_language("de&eid=4170000000012345678").c_str());
}

TEST(Language, OverlongHeaderStillGivesAnAnswer)
{
    std::string big;
    for (int i = 0; i < 5000; ++i)
        big += "xx-YY;q=0.1,";
    big += "de;q=0.9";
    STRCMP_EQUAL("de", primary_language(big).c_str());
    STRCMP_EQUAL("", primary_language(std::string(100000, 'a')).c_str());
}
