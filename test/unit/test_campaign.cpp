// The campaign media code (campaign.h): `mc` as the Smart Pixel builds it
// from the page URL's query.
#include <string>
#include <vector>

#include "mapptrack/campaign.h"

#include <CppUTest/TestHarness.h>

using mapptrack::default_campaign_params;
using mapptrack::media_code;

TEST_GROUP(Campaign){};

TEST(Campaign, DefaultParametersAreWtMcAndMc)
{
    const std::vector<std::string> expected = {"wt_mc", "mc"};
    CHECK(default_campaign_params() == expected);
}

TEST(Campaign, MediaCodeIsNameEqualsValueAsThePixelSendsIt)
{
    STRCMP_EQUAL("wt_mc%3Dnewsletter.2024", media_code("a=1&wt_mc=newsletter.2024", default_campaign_params()).c_str());
    STRCMP_EQUAL("mc%3Dspring", media_code("mc=spring", default_campaign_params()).c_str());
}

TEST(Campaign, NoMediaCodeIsEmpty)
{
    STRCMP_EQUAL("", media_code("", default_campaign_params()).c_str());
    STRCMP_EQUAL("", media_code("a=1&wt_mcx=2&xmc=3", default_campaign_params()).c_str());
    STRCMP_EQUAL("", media_code("wt_mc=&mc", default_campaign_params()).c_str());
}

TEST(Campaign, SeveralParametersAreJoinedBySemicolonsInListOrder)
{
    STRCMP_EQUAL("wt_mc%3Da;mc%3Db", media_code("mc=b&wt_mc=a", default_campaign_params()).c_str());
}

TEST(Campaign, TheValueIsDecodedOnce)
{
    // encode_hit_line encodes the whole value, `%` included, as the pixel's
    // second encodeURIComponent does.
    STRCMP_EQUAL("wt_mc%3Dspring sale&x", media_code("wt_mc=spring+sale%26x", default_campaign_params()).c_str());
}

TEST(Campaign, OnlyTheFirstValueOfARepeatedParameterCounts)
{
    STRCMP_EQUAL("wt_mc%3Da", media_code("wt_mc=a&wt_mc=b", default_campaign_params()).c_str());
}

TEST(Campaign, ConfiguredParametersReplaceTheDefault)
{
    const std::vector<std::string> params = {"utm_campaign"};
    STRCMP_EQUAL("utm_campaign%3Dx", media_code("wt_mc=a&utm_campaign=x", params).c_str());
    STRCMP_EQUAL("", media_code("wt_mc=a", {}).c_str());
}

TEST(Campaign, ARepeatedNameInTheListCountsOnce)
{
    const std::vector<std::string> params = {"mc", "mc"};
    STRCMP_EQUAL("mc%3Da", media_code("mc=a", params).c_str());
}

TEST(Campaign, TheFragmentIsNotPartOfTheQuery)
{
    STRCMP_EQUAL("wt_mc%3Da", media_code("wt_mc=a#mc=b", default_campaign_params()).c_str());
}
