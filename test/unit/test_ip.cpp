// Visitor IP anonymisation (ip.h, docs/design.md §4): IPv4 last octet, IPv6 last 80 bits.
#include <string>
#include <string_view>

#include "mapptrack/ip.h"

#include <CppUTest/TestHarness.h>

using mapptrack::anonymize_ip;

TEST_GROUP(AnonymizeIp){};

TEST(AnonymizeIp, IPv4LastOctetIsZeroed)
{
    STRCMP_EQUAL("192.168.1.0", anonymize_ip("192.168.1.77").c_str());
    STRCMP_EQUAL("203.0.113.0", anonymize_ip("203.0.113.255").c_str());
    STRCMP_EQUAL("10.0.0.0", anonymize_ip("10.0.0.0").c_str());
}

TEST(AnonymizeIp, IPv6Last80BitsAreZeroed)
{
    STRCMP_EQUAL("2001:db8:1::", anonymize_ip("2001:db8:1:2:3:4:5:6").c_str());
}

TEST(AnonymizeIp, IPv6ResultIsInCanonicalForm)
{
    STRCMP_EQUAL("2001:db8:abcd::", anonymize_ip("2001:0DB8:ABCD:0012:0000:0000:0000:0001").c_str());
    STRCMP_EQUAL("2001:db8::", anonymize_ip("2001:db8::1").c_str());
}

TEST(AnonymizeIp, IPv6KeepsExactlyTheFirst48Bits)
{
    // The 4th group is bits 48..63: zeroed. The 3rd group is kept whole.
    STRCMP_EQUAL("2001:db8:ffff::", anonymize_ip("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff").c_str());
}

TEST(AnonymizeIp, GarbageGivesEmpty)
{
    STRCMP_EQUAL("", anonymize_ip("").c_str());
    STRCMP_EQUAL("", anonymize_ip("garbage").c_str());
    STRCMP_EQUAL("", anonymize_ip("256.1.1.1").c_str());
    STRCMP_EQUAL("", anonymize_ip("1.2.3").c_str());
    STRCMP_EQUAL("", anonymize_ip("1.2.3.4.5").c_str());
    STRCMP_EQUAL("", anonymize_ip("192.168.1.77&nc=1").c_str());
    STRCMP_EQUAL("", anonymize_ip("2001:db8::g").c_str());
    STRCMP_EQUAL("", anonymize_ip("example.com").c_str());
}

TEST(AnonymizeIp, TextAroundAnAddressIsNotIgnored)
{
    STRCMP_EQUAL("", anonymize_ip(" 192.168.1.77").c_str());
    STRCMP_EQUAL("", anonymize_ip("192.168.1.77 ").c_str());
    STRCMP_EQUAL("", anonymize_ip("192.168.1.77\n").c_str());
}

TEST(AnonymizeIp, TextAfterAnEmbeddedNulIsNotIgnored)
{
    // The whole view is the input, not just what comes before a NUL.
    STRCMP_EQUAL("", anonymize_ip(std::string_view("192.168.1.77\0x", 14)).c_str());
    STRCMP_EQUAL("", anonymize_ip(std::string_view("2001:db8::1\0zz", 14)).c_str());
}
