// The built-in rule for which responses are pages (page_rule.h, docs/design.md §7).
#include <string>
#include <string_view>

#include "mapptrack/page_rule.h"

#include <CppUTest/TestHarness.h>

using mapptrack::is_page;
using mapptrack::is_page_content_type;
using mapptrack::ResponseFacts;

namespace {

ResponseFacts html_page()
{
    ResponseFacts f;
    f.main_request = true;
    f.is_get = true;
    f.status = 200;
    f.content_type = "text/html; charset=utf-8";
    f.handler = "";
    return f;
}

}  // namespace

TEST_GROUP(PageContentType){};

TEST(PageContentType, HtmlIsAPage)
{
    CHECK(is_page_content_type("text/html"));
}

TEST(PageContentType, ParametersAndCaseAreIgnored)
{
    CHECK(is_page_content_type("TEXT/HTML; charset=utf-8"));
    CHECK(is_page_content_type("text/html;charset=ISO-8859-1"));
    CHECK(is_page_content_type("Text/Html ; charset=utf-8"));
}

TEST(PageContentType, XhtmlIsAPage)
{
    CHECK(is_page_content_type("application/xhtml+xml"));
    CHECK(is_page_content_type("application/xhtml+xml; charset=utf-8"));
}

TEST(PageContentType, AssetsAreNotPages)
{
    CHECK_FALSE(is_page_content_type("text/css"));
    CHECK_FALSE(is_page_content_type("image/png"));
    CHECK_FALSE(is_page_content_type("application/javascript"));
    CHECK_FALSE(is_page_content_type("application/json"));
    CHECK_FALSE(is_page_content_type("text/plain"));
    CHECK_FALSE(is_page_content_type("application/xml"));
}

TEST(PageContentType, EmptyIsNotAPage)
{
    CHECK_FALSE(is_page_content_type(""));
    CHECK_FALSE(is_page_content_type(" "));
}

TEST(PageContentType, LookAlikesAreNotPages)
{
    CHECK_FALSE(is_page_content_type("text/htmlx"));
    CHECK_FALSE(is_page_content_type("text/html-fragment"));
    CHECK_FALSE(is_page_content_type("text/ht"));
    CHECK_FALSE(is_page_content_type("xtext/html"));
    CHECK_FALSE(is_page_content_type("application/xhtml+xmlx"));
    CHECK_FALSE(is_page_content_type("text"));
}

TEST_GROUP(PageRule){};

TEST(PageRule, SuccessfulGetOfHtmlIsAPage)
{
    CHECK(is_page(html_page()));
}

TEST(PageRule, NoContentAndNotModifiedArePages)
{
    ResponseFacts f = html_page();
    f.status = 204;
    CHECK(is_page(f));
    f.status = 304;
    CHECK(is_page(f));
    f.status = 203;
    CHECK(is_page(f));
}

TEST(PageRule, RedirectsAndErrorsAreNotPages)
{
    const int statuses[] = {100, 199, 300, 301, 302, 303, 305, 307, 400, 404, 410, 500, 503};
    for (int status : statuses) {
        ResponseFacts f = html_page();
        f.status = status;
        CHECK_FALSE_TEXT(is_page(f), std::to_string(status).c_str());
    }
}

TEST(PageRule, SubRequestIsNotAPage)
{
    ResponseFacts f = html_page();
    f.main_request = false;
    CHECK_FALSE(is_page(f));
}

TEST(PageRule, NonGetIsNotAPage)
{
    ResponseFacts f = html_page();
    f.is_get = false;
    CHECK_FALSE(is_page(f));
}

TEST(PageRule, AssetIsNotAPage)
{
    ResponseFacts f = html_page();
    f.content_type = "image/png";
    CHECK_FALSE(is_page(f));
    f.content_type = "";
    CHECK_FALSE(is_page(f));
}

TEST(PageRule, XhtmlPageIsAPage)
{
    ResponseFacts f = html_page();
    f.content_type = "application/xhtml+xml";
    CHECK(is_page(f));
}

TEST(PageRule, ResponsesOfTheModulesOwnHandlersAreNotPages)
{
    ResponseFacts f = html_page();
    f.handler = "mapptrack-proxy";
    CHECK_FALSE(is_page(f));
    f.handler = "mapptrack-status";
    CHECK_FALSE(is_page(f));
    f.handler = "mapptrack-inspect";
    CHECK_FALSE(is_page(f));
}

TEST(PageRule, OtherHandlersServePages)
{
    ResponseFacts f = html_page();
    f.handler = "default-handler";
    CHECK(is_page(f));
    f.handler = "proxy:fcgi://127.0.0.1:9000";
    CHECK(is_page(f));
    f.handler = "application/x-httpd-php";
    CHECK(is_page(f));
}
