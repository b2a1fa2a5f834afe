// Ever-IDs (ever_id.h): `4` + 10-digit Unix seconds + 8 random digits,
// never repeated within a process, from any number of threads.
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "mapptrack/ever_id.h"

#include <CppUTest/TestHarness.h>

using mapptrack::generate_ever_id;
using mapptrack::is_valid_ever_id;

namespace {

bool all_digits(const std::string& s)
{
    for (char c : s)
        if (c < '0' || c > '9')
            return false;
    return true;
}

}  // namespace

// The generator remembers the IDs it issued (to never repeat one), which the
// leak detector would count as a leak of the test that first called it.
TEST_GROUP(EverIdGeneration)
{
    void setup() override { MemoryLeakWarningPlugin::saveAndDisableNewDeleteOverloads(); }
    void teardown() override { MemoryLeakWarningPlugin::restoreNewDeleteOverloads(); }
};

TEST(EverIdGeneration, IdIsFourThenTheSecondsThenEightDigits)
{
    std::optional<std::string> id = generate_ever_id(1700000000);
    CHECK(id.has_value());
    CHECK_EQUAL(static_cast<std::size_t>(19), id->size());
    CHECK(all_digits(*id));
    CHECK_EQUAL('4', (*id)[0]);
    STRCMP_EQUAL("1700000000", id->substr(1, 10).c_str());
    CHECK(is_valid_ever_id(*id));
}

TEST(EverIdGeneration, SecondsArePaddedToTenDigits)
{
    std::optional<std::string> id = generate_ever_id(999999999);  // 2001-09-09, 9 digits
    CHECK(id.has_value());
    CHECK_EQUAL(static_cast<std::size_t>(19), id->size());
    STRCMP_EQUAL("0999999999", id->substr(1, 10).c_str());
}

TEST(EverIdGeneration, RandomPartVaries)
{
    // 8 random digits: 50 draws all alike would mean no randomness at all.
    std::unordered_set<std::string> tails;
    for (int i = 0; i < 50; ++i)
        tails.insert(generate_ever_id(1700000001)->substr(11));
    CHECK(tails.size() > 1);
}

TEST(EverIdGeneration, NoRepeatOverAHundredThousandDrawsInOneSecond)
{
    // 10^5 draws from 10^8 values collide ~50 times unless repeats are redrawn.
    const std::int64_t seconds = 1700000100;
    std::unordered_set<std::string> seen;
    seen.reserve(200000);
    for (int i = 0; i < 100000; ++i) {
        std::optional<std::string> id = generate_ever_id(seconds);
        CHECK(id.has_value());
        if (id->size() != 19 || id->compare(0, 11, "41700000100") != 0)
            FAIL(("malformed id " + *id).c_str());
        if (!seen.insert(*id).second)
            FAIL(("repeated id after " + std::to_string(i) + " draws: " + *id).c_str());
    }
    CHECK_EQUAL(static_cast<std::size_t>(100000), seen.size());
}

TEST(EverIdGeneration, NoRepeatAcrossFourThreadsInOneSecond)
{
    const std::int64_t seconds = 1700000200;
    const int per_thread = 25000;
    std::vector<std::vector<std::string>> ids(4);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&ids, t, seconds, per_thread] {
            ids[t].reserve(per_thread);
            for (int i = 0; i < per_thread; ++i) {
                std::optional<std::string> id = generate_ever_id(seconds);
                ids[t].push_back(id ? *id : std::string("<none>"));
            }
        });
    }
    for (std::thread& th : threads)
        th.join();

    std::unordered_set<std::string> seen;
    seen.reserve(200000);
    for (const auto& list : ids) {
        for (const std::string& id : list) {
            if (!is_valid_ever_id(id) || id.compare(0, 11, "41700000200") != 0)
                FAIL(("malformed id " + id).c_str());
            if (!seen.insert(id).second)
                FAIL(("repeated id across threads: " + id).c_str());
        }
    }
    CHECK_EQUAL(static_cast<std::size_t>(4 * per_thread), seen.size());
}

TEST(EverIdGeneration, ALateDrawForThePreviousSecondRepeatsNoneOfItsIds)
{
    // A thread whose clock is a second behind still gets an ID no other
    // thread got for that second, however many the second has had.
    const std::int64_t seconds = 1700000300;
    std::unordered_set<std::string> seen;
    seen.reserve(120000);
    for (int i = 0; i < 60000; ++i)
        CHECK(seen.insert(*generate_ever_id(seconds)).second);
    CHECK(seen.insert(*generate_ever_id(seconds + 1)).second);
    for (int i = 0; i < 60000; ++i) {
        std::string id = *generate_ever_id(seconds);
        if (!seen.insert(id).second)
            FAIL(("repeated id for the previous second: " + id).c_str());
    }
}

TEST_GROUP(EverIdValidation){};

TEST(EverIdValidation, NineteenDigitsAreValid)
{
    CHECK(is_valid_ever_id("2138210064900146323"));
    CHECK(is_valid_ever_id("4170000000012345678"));
    CHECK(is_valid_ever_id("0000000000000000000"));
}

TEST(EverIdValidation, WrongLengthsAreInvalid)
{
    CHECK_FALSE(is_valid_ever_id("213821006490014632"));    // 18
    CHECK_FALSE(is_valid_ever_id("21382100649001463231"));  // 20
    CHECK_FALSE(is_valid_ever_id(""));
    CHECK_FALSE(is_valid_ever_id("1"));
}

TEST(EverIdValidation, LettersAndSignsAreInvalid)
{
    CHECK_FALSE(is_valid_ever_id("213821006490014632a"));
    CHECK_FALSE(is_valid_ever_id("a138210064900146323"));
    CHECK_FALSE(is_valid_ever_id("+138210064900146323"));
    CHECK_FALSE(is_valid_ever_id("-138210064900146323"));
    CHECK_FALSE(is_valid_ever_id("21382100649001463.3"));
    CHECK_FALSE(is_valid_ever_id("amp-abcdefghijklmno"));
}

TEST(EverIdValidation, SpacesAreInvalid)
{
    CHECK_FALSE(is_valid_ever_id(" 138210064900146323"));
    CHECK_FALSE(is_valid_ever_id("213821006490014632 "));
    CHECK_FALSE(is_valid_ever_id("2138210064 00146323"));
    CHECK_FALSE(is_valid_ever_id(" 2138210064900146323"));
    CHECK_FALSE(is_valid_ever_id("2138210064900146323\n"));
}

TEST(EverIdValidation, EmbeddedNulIsInvalid)
{
    CHECK_FALSE(is_valid_ever_id(std::string_view("213821006490014\0" "323", 19)));
}
