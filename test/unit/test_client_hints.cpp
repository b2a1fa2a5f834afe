// Client hints (client_hints.h): every Sec-CH-UA* header under the names
// Mapp's libraries use, bounded, in a fixed order.
#include <string>
#include <utility>
#include <vector>

#include "mapptrack/client_hints.h"

#include <CppUTest/TestHarness.h>

using mapptrack::client_hint_params;
using mapptrack::HeaderPairs;
using mapptrack::is_client_hint_param_name;
using mapptrack::kMaxClientHintBytes;
using mapptrack::kMaxClientHints;

namespace {

std::string names_of(const HeaderPairs& params)
{
    std::string out;
    for (const auto& p : params) {
        if (!out.empty())
            out += '|';
        out += p.first;
    }
    return out;
}

const char* const kBrands = "\"Chromium\";v=\"128\", \"Not;A=Brand\";v=\"24\", \"Google Chrome\";v=\"128\"";

}  // namespace

TEST_GROUP(ClientHints){};

TEST(ClientHints, LowEntropyHintsBecomeTheLibrariesParameters)
{
    const HeaderPairs headers = {{"Host", "www.example.com"},
                                 {"sec-ch-ua", kBrands},
                                 {"sec-ch-ua-mobile", "?0"},
                                 {"sec-ch-ua-platform", "\"Linux\""},
                                 {"User-Agent", "Mozilla/5.0"}};
    const HeaderPairs params = client_hint_params(headers);
    STRCMP_EQUAL("X-WT-SEC-CH-UA|X-WT-SEC-CH-UA-MOBILE|X-WT-SEC-CH-UA-PLATFORM", names_of(params).c_str());
    STRCMP_EQUAL(kBrands, params[0].second.c_str());
    STRCMP_EQUAL("?0", params[1].second.c_str());
    STRCMP_EQUAL("\"Linux\"", params[2].second.c_str());
}

TEST(ClientHints, OrderIsTheLibrariesOrderWhateverTheHeaderOrder)
{
    const HeaderPairs headers = {{"Sec-CH-UA-Platform-Version", "\"6.5.0\""},
                                 {"Sec-CH-UA-Bitness", "\"64\""},
                                 {"Sec-CH-UA-Arch", "\"x86\""},
                                 {"Sec-CH-UA-Platform", "\"Linux\""},
                                 {"Sec-CH-UA-Mobile", "?0"},
                                 {"Sec-CH-UA-Model", "\"\""},
                                 {"Sec-CH-UA-Full-Version-List", kBrands},
                                 {"Sec-CH-UA", kBrands}};
    STRCMP_EQUAL("X-WT-SEC-CH-UA|X-WT-SEC-CH-UA-FULL-VERSION-LIST|X-WT-SEC-CH-UA-MODEL|X-WT-SEC-CH-UA-MOBILE|"
                 "X-WT-SEC-CH-UA-PLATFORM|X-WT-SEC-CH-UA-PLATFORM-VERSION|X-WT-SEC-CH-UA-ARCH|X-WT-SEC-CH-UA-BITNESS",
                 names_of(client_hint_params(headers)).c_str());
}

TEST(ClientHints, HeaderNamesAreCaseInsensitive)
{
    const HeaderPairs headers = {{"SEC-CH-UA-MOBILE", "?1"}, {"sEc-Ch-Ua", kBrands}};
    STRCMP_EQUAL("X-WT-SEC-CH-UA|X-WT-SEC-CH-UA-MOBILE", names_of(client_hint_params(headers)).c_str());
}

TEST(ClientHints, UnknownHintsFollowUnderTheSameScheme)
{
    const HeaderPairs headers = {{"Sec-CH-UA-Foo-Bar", "\"x\""}, {"Sec-CH-UA", kBrands}, {"Sec-CH-UA-Zz9", "?1"}};
    STRCMP_EQUAL("X-WT-SEC-CH-UA|X-WT-SEC-CH-UA-FOO-BAR|X-WT-SEC-CH-UA-ZZ9",
                 names_of(client_hint_params(headers)).c_str());
}

TEST(ClientHints, OtherHeadersAreIgnored)
{
    const HeaderPairs headers = {{"Sec-CH-Prefers-Color-Scheme", "dark"},
                                 {"Sec-CH-UAX", "1"},
                                 {"Sec-CH-U", "1"},
                                 {"X-Sec-CH-UA", "1"},
                                 {"Sec-CH-UA-", "1"},
                                 {"Sec-CH-UA--", "1"},
                                 {"Sec-CH-UA-a_b", "1"},
                                 {"Sec-CH-UA-a=b", "1"},
                                 {"Sec-CH-UA-a&b", "1"},
                                 {"Sec-CH-UA-a b", "1"},
                                 {"Sec-CH-UA-" + std::string(60, 'x'), "1"},
                                 {"Sec-Fetch-Dest", "document"}};
    STRCMP_EQUAL("", names_of(client_hint_params(headers)).c_str());
}

TEST(ClientHints, EmptyAndOverlongValuesAreLeftOutNotCut)
{
    const HeaderPairs headers = {{"Sec-CH-UA", ""},
                                 {"Sec-CH-UA-Full-Version-List", std::string(kMaxClientHintBytes + 1, 'a')},
                                 {"Sec-CH-UA-Model", std::string(kMaxClientHintBytes, 'm')}};
    const HeaderPairs params = client_hint_params(headers);
    STRCMP_EQUAL("X-WT-SEC-CH-UA-MODEL", names_of(params).c_str());
    CHECK_EQUAL(kMaxClientHintBytes, params[0].second.size());
}

TEST(ClientHints, ARepeatedHeaderCountsOnceTheFirstWins)
{
    const HeaderPairs headers = {{"Sec-CH-UA-Mobile", "?0"}, {"sec-ch-ua-mobile", "?1"}};
    const HeaderPairs params = client_hint_params(headers);
    CHECK_EQUAL(static_cast<std::size_t>(1), params.size());
    STRCMP_EQUAL("?0", params[0].second.c_str());
}

TEST(ClientHints, AtMostTheLimitKnownOnesFirst)
{
    HeaderPairs headers;
    for (int i = 0; i < 40; ++i)
        headers.emplace_back("Sec-CH-UA-X" + std::to_string(i), "1");
    headers.emplace_back("Sec-CH-UA", kBrands);
    headers.emplace_back("Sec-CH-UA-Mobile", "?0");
    const HeaderPairs params = client_hint_params(headers);
    CHECK_EQUAL(kMaxClientHints, params.size());
    STRCMP_EQUAL("X-WT-SEC-CH-UA", params[0].first.c_str());
    STRCMP_EQUAL("X-WT-SEC-CH-UA-MOBILE", params[1].first.c_str());
    STRCMP_EQUAL("X-WT-SEC-CH-UA-X0", params[2].first.c_str());
}

TEST(ClientHints, HostileValuesArePassedRawForTheEncoderToEscape)
{
    // client_hint_params does not encode: encode_hit_line does (test_hit.cpp).
    const HeaderPairs headers = {{"Sec-CH-UA", "a&eid=1&nc=1#x y%zz"}};
    STRCMP_EQUAL("a&eid=1&nc=1#x y%zz", client_hint_params(headers)[0].second.c_str());
}

TEST(ClientHints, ParameterNamesAreRecognised)
{
    CHECK(is_client_hint_param_name("X-WT-SEC-CH-UA"));
    CHECK(is_client_hint_param_name("X-WT-SEC-CH-UA-PLATFORM-VERSION"));
    CHECK(is_client_hint_param_name("X-WT-SEC-CH-UA-FOO9"));
    CHECK_FALSE(is_client_hint_param_name("X-WT-SEC-CH-UA-"));
    CHECK_FALSE(is_client_hint_param_name("X-WT-SEC-CH-UAX"));
    CHECK_FALSE(is_client_hint_param_name("X-WT-SEC-CH-UA-mobile"));
    CHECK_FALSE(is_client_hint_param_name("X-WT-SEC-CH-UA-A&B"));
    CHECK_FALSE(is_client_hint_param_name("X-WT-SEC-CH-UA-A=B"));
    CHECK_FALSE(is_client_hint_param_name("X-WT-IP"));
    CHECK_FALSE(is_client_hint_param_name("eid"));
    CHECK_FALSE(is_client_hint_param_name("X-WT-SEC-CH-UA-" + std::string(60, 'X')));
}
