// The core's Logger: call sites reach the sink (httpd logs them as the
// message's own file and line), and the rate limit lets one through per interval.
#include "mapptrack/log.h"

#include <CppUTest/TestHarness.h>

#include <cstring>
#include <string>

using namespace mapptrack;

namespace {

struct Seen {
    LogLevel level = LogLevel::Error;
    std::string message;
    std::string file;
    int line = 0;
    int calls = 0;
};

void remember(void* baton, LogLevel level, const std::string& message, const char* file, int line) noexcept {
    Seen* seen = static_cast<Seen*>(baton);
    seen->level = level;
    seen->message = message;
    seen->file = file ? file : "";
    seen->line = line;
    ++seen->calls;
}

}  // namespace

TEST_GROUP(Logger){};

TEST(Logger, TheSinkGetsTheCallersFileAndLine)
{
    Seen seen;
    const Logger log{&remember, &seen};
    const int line = __LINE__ + 1;
    log(LogLevel::Warn, "MT9999: hello");
    CHECK_EQUAL(1, seen.calls);
    CHECK(seen.level == LogLevel::Warn);
    STRCMP_EQUAL("MT9999: hello", seen.message.c_str());
    STRCMP_EQUAL(__FILE__, seen.file.c_str());
    CHECK_EQUAL(line, seen.line);
}

TEST(Logger, NoSinkIsQuiet)
{
    const Logger log{};
    log(LogLevel::Error, "MT9999: nobody listens");  // must not crash
}

TEST(Logger, RateLimitLetsOneThroughPerInterval)
{
    RateLimit limit(60000);
    CHECK(limit.allow(1000));
    CHECK_FALSE(limit.allow(1001));
    CHECK_FALSE(limit.allow(60999));
    CHECK(limit.allow(61000));
}
