// The default page name (page_name.h) and the query reader under it
// (query_string.h): the form Mapp's libraries and the Smart Pixel use.
#include <string>
#include <vector>

#include "mapptrack/page_name.h"
#include "mapptrack/query_string.h"

#include <CppUTest/TestHarness.h>

using mapptrack::default_page_name;
using mapptrack::query_param;

namespace {
const std::vector<std::string> kNone;
}

TEST_GROUP(PageName){};

TEST(PageName, IsHostPlusPathWithoutTheQuery)
{
    STRCMP_EQUAL("www.example.com/shop/cart.html",
                 default_page_name("www.example.com", "/shop/cart.html", "a=1&b=2", kNone).c_str());
}

TEST(PageName, IsLowerCased)
{
    STRCMP_EQUAL("www.example.com/shop/cart.html",
                 default_page_name("WWW.Example.COM", "/Shop/Cart.HTML", "", kNone).c_str());
}

TEST(PageName, RootPageIsHostAndSlash)
{
    STRCMP_EQUAL("www.example.com/", default_page_name("www.example.com", "/", "", kNone).c_str());
}

TEST(PageName, NonDefaultPortStaysAsTheLibrariesKeepIt)
{
    STRCMP_EQUAL("www.example.com:8080/a", default_page_name("www.example.com:8080", "/a", "", kNone).c_str());
}

TEST(PageName, PercentEscapesInThePathAreKeptAsThePixelSeesThem)
{
    // location.pathname is escaped; the libraries lower-case the escapes too.
    STRCMP_EQUAL("www.example.com/caf%c3%a9/a%20b",
                 default_page_name("www.example.com", "/Caf%C3%A9/a%20b", "", kNone).c_str());
}

TEST(PageName, AQueryLeftInThePathIsNotPartOfTheName)
{
    STRCMP_EQUAL("www.example.com/a", default_page_name("www.example.com", "/a?x=1#f", "", kNone).c_str());
}

TEST(PageName, ListedParametersAreAddedInTheConfiguredOrder)
{
    const std::vector<std::string> params = {"id", "cat"};
    STRCMP_EQUAL("www.example.com/p.html?id=42&cat=shoes",
                 default_page_name("www.example.com", "/p.html", "cat=shoes&x=1&id=42", params).c_str());
}

TEST(PageName, TheUrlsParameterOrderDoesNotChangeTheName)
{
    const std::vector<std::string> params = {"cat", "id"};
    const std::string a = default_page_name("h", "/p", "id=1&cat=2", params);
    const std::string b = default_page_name("h", "/p", "cat=2&id=1", params);
    STRCMP_EQUAL(a.c_str(), b.c_str());
    STRCMP_EQUAL("h/p?cat=2&id=1", a.c_str());
}

TEST(PageName, MissingAndEmptyParametersAreLeftOut)
{
    const std::vector<std::string> params = {"a", "b", "c"};
    STRCMP_EQUAL("h/p?b=2", default_page_name("h", "/p", "a=&b=2", params).c_str());
    STRCMP_EQUAL("h/p", default_page_name("h", "/p", "x=1", params).c_str());
    STRCMP_EQUAL("h/p", default_page_name("h", "/p", "", params).c_str());
}

TEST(PageName, ParameterValuesAreDecodedAndLowerCased)
{
    const std::vector<std::string> params = {"q"};
    STRCMP_EQUAL("h/p?q=red shoes&x", default_page_name("h", "/p", "q=Red+Shoes%26X", params).c_str());
}

TEST(PageName, AParameterListedTwiceIsAddedOnce)
{
    const std::vector<std::string> params = {"id", "id"};
    STRCMP_EQUAL("h/p?id=1", default_page_name("h", "/p", "id=1&id=2", params).c_str());
}

TEST(PageName, ParameterNamesAreMatchedExactly)
{
    const std::vector<std::string> params = {"id"};
    STRCMP_EQUAL("h/p", default_page_name("h", "/p", "ID=1&xid=2&id2=3", params).c_str());
}

TEST(PageName, EmptyHostAndPathGiveAnEmptyName)
{
    // encode_hit_line sends an empty content ID as 0, as the libraries do.
    STRCMP_EQUAL("", default_page_name("", "", "", kNone).c_str());
}

TEST_GROUP(QueryParam){};

TEST(QueryParam, FirstOccurrenceWins)
{
    CHECK(query_param("a=1&a=2", "a") == std::string("1"));
}

TEST(QueryParam, PlusIsASpaceAndEscapesAreDecoded)
{
    CHECK(query_param("q=a+b%2Bc%20d", "q") == std::string("a b+c d"));
}

TEST(QueryParam, AbsentIsNulloptAndBareNameIsEmpty)
{
    CHECK_FALSE(query_param("a=1", "b").has_value());
    CHECK(query_param("a&b=2", "a") == std::string());
    CHECK_FALSE(query_param("", "a").has_value());
    CHECK_FALSE(query_param("a=1", "").has_value());
}

TEST(QueryParam, FragmentEndsTheQuery)
{
    CHECK(query_param("a=1#b=2", "a") == std::string("1"));
    CHECK_FALSE(query_param("a=1#b=2", "b").has_value());
}

TEST(QueryParam, EmptyPairsAreSkipped)
{
    CHECK(query_param("&&a=1&", "a") == std::string("1"));
}
