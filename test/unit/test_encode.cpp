// Percent-encoding of visitor-supplied text (encode.h): whatever a visitor
// sends, the encoded value can never end a query parameter or add one.
#include <cctype>
#include <cstddef>
#include <string>
#include <string_view>

#include "mapptrack/encode.h"

#include <CppUTest/TestHarness.h>

using mapptrack::encode_query_value;
using mapptrack::kNoLimit;
using mapptrack::percent_decode;

namespace {

const std::string kReplacement = "\xEF\xBF\xBD";  // U+FFFD

bool is_unreserved(unsigned char c)
{
    return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

// Only RFC 3986 unreserved characters and complete %XX escapes.
bool is_well_formed(std::string_view s)
{
    for (std::size_t i = 0; i < s.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c == '%') {
            if (i + 2 >= s.size())
                return false;
            if (!std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
                !std::isxdigit(static_cast<unsigned char>(s[i + 2])))
                return false;
            i += 2;
        } else if (!is_unreserved(c)) {
            return false;
        }
    }
    return true;
}

// Upper-cases the hex digits of escapes, so expectations do not depend on
// the (unspecified) case of the hex digits.
std::string upper_escapes(std::string s)
{
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            s[i + 1] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[i + 1])));
            s[i + 2] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[i + 2])));
            i += 2;
        }
    }
    return s;
}

// Strict UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view s)
{
    std::size_t i = 0;
    while (i < s.size()) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        std::size_t n;
        unsigned cp;
        if (c < 0x80) {
            ++i;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + n >= s.size())
            return false;
        for (std::size_t k = 1; k <= n; ++k) {
            unsigned char cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n + 1;
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

// True when `s` is nothing but one or more U+FFFD.
bool only_replacements(std::string_view s)
{
    if (s.empty() || s.size() % kReplacement.size() != 0)
        return false;
    for (std::size_t i = 0; i < s.size(); i += kReplacement.size())
        if (s.substr(i, kReplacement.size()) != kReplacement)
            return false;
    return true;
}

std::string repeat(std::string_view piece, std::size_t min_bytes)
{
    std::string s;
    while (s.size() < min_bytes)
        s += piece;
    return s;
}

}  // namespace

TEST_GROUP(Encode){};

TEST(Encode, AmpersandInUserAgentCannotStartAParameter)
{
    std::string out = encode_query_value("Mozilla/5.0&eid=1234567890123456789&one=1");
    CHECK(out.find('&') == std::string::npos);
    CHECK(out.find('=') == std::string::npos);
    CHECK(is_well_formed(out));
    STRCMP_EQUAL("Mozilla/5.0&eid=1234567890123456789&one=1", percent_decode(out).c_str());
}

TEST(Encode, EachQueryMetacharacterBecomesAnEscape)
{
    const struct {
        const char* raw;
        const char* encoded;
    } cases[] = {
        {"&", "%26"}, {"=", "%3D"}, {",", "%2C"}, {"#", "%23"}, {"%", "%25"},
        {"+", "%2B"}, {" ", "%20"}, {"?", "%3F"}, {"/", "%2F"}, {";", "%3B"},
        {"\"", "%22"}, {"<", "%3C"}, {">", "%3E"}, {"'", "%27"}, {"\\", "%5C"},
    };
    for (const auto& c : cases)
        STRCMP_EQUAL(c.encoded, upper_escapes(encode_query_value(c.raw)).c_str());
}

TEST(Encode, SpaceIsPercentTwentyNeverPlus)
{
    STRCMP_EQUAL("a%20b", upper_escapes(encode_query_value("a b")).c_str());
}

TEST(Encode, UnreservedCharactersStayAsTheyAre)
{
    const std::string unreserved =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
    STRCMP_EQUAL(unreserved.c_str(), encode_query_value(unreserved).c_str());
}

TEST(Encode, CarriageReturnAndLineFeedAreRemoved)
{
    std::string out = encode_query_value("a\r\nSet-Cookie: x=1\r\n\r\nb");
    CHECK(is_well_formed(out));
    STRCMP_EQUAL("aSet-Cookie: x=1b", percent_decode(out).c_str());
    CHECK(upper_escapes(out).find("%0D") == std::string::npos);
    CHECK(upper_escapes(out).find("%0A") == std::string::npos);
}

TEST(Encode, NulAndEveryOtherControlByteAreRemoved)
{
    std::string raw;
    for (int c = 0x00; c <= 0x1F; ++c) {
        raw += 'a';
        raw += static_cast<char>(c);
    }
    raw += 'a';
    raw += '\x7F';
    raw += 'b';
    CHECK_EQUAL(static_cast<std::size_t>(67), raw.size());  // the NUL is in the view
    std::string out = encode_query_value(std::string_view(raw.data(), raw.size()));
    std::string expected(33, 'a');
    expected += 'b';
    STRCMP_EQUAL(expected.c_str(), out.c_str());
}

TEST(Encode, NulDoesNotEndTheValue)
{
    const char raw[] = {'a', '\0', 'b', '&', 'c'};
    std::string out = encode_query_value(std::string_view(raw, sizeof raw));
    STRCMP_EQUAL("ab&c", percent_decode(out).c_str());
}

TEST(Encode, InvalidUtf8ByteBecomesReplacementCharacter)
{
    STRCMP_EQUAL("%EF%BF%BD", upper_escapes(encode_query_value("\xFF")).c_str());
    STRCMP_EQUAL("a%EF%BF%BDb", upper_escapes(encode_query_value("a\xFF" "b")).c_str());
}

TEST(Encode, LoneContinuationByteBecomesReplacementCharacter)
{
    STRCMP_EQUAL("x%EF%BF%BDy", upper_escapes(encode_query_value("x\x80y")).c_str());
}

TEST(Encode, TruncatedMultiByteSequenceBecomesReplacementCharacter)
{
    std::string at_end = percent_decode(encode_query_value("a\xC3"));
    STRCMP_EQUAL(("a" + kReplacement).c_str(), at_end.c_str());

    // A 3-byte sequence cut short by an ASCII byte: the ASCII byte survives.
    std::string mid = percent_decode(encode_query_value("\xE2\x82x"));
    CHECK(is_valid_utf8(mid));
    CHECK(mid.size() > 1 && mid.back() == 'x');
    CHECK(only_replacements(std::string_view(mid).substr(0, mid.size() - 1)));
}

TEST(Encode, OverlongEncodingOfSlashIsNotDecodedAsSlash)
{
    std::string decoded = percent_decode(encode_query_value("\xC0\xAF"));
    CHECK(decoded.find('/') == std::string::npos);
    CHECK(only_replacements(decoded));
}

TEST(Encode, Utf16SurrogateCodePointIsInvalid)
{
    std::string decoded = percent_decode(encode_query_value("\xED\xA0\x80"));
    CHECK(only_replacements(decoded));
}

TEST(Encode, CodePointAboveU10FFFFIsInvalid)
{
    std::string decoded = percent_decode(encode_query_value("\xF4\x90\x80\x80"));
    CHECK(only_replacements(decoded));
}

TEST(Encode, ValidMultiByteUtf8IsKept)
{
    // é (2 bytes), € (3 bytes), 😀 (4 bytes)
    std::string out = encode_query_value("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
    STRCMP_EQUAL("%C3%A9%E2%82%AC%F0%9F%98%80", upper_escapes(out).c_str());
}

TEST(Encode, PercentSignCannotFormAnEscapeOfItsOwn)
{
    std::string raw = "%41%0d%0a%26";
    std::string out = encode_query_value(raw);
    STRCMP_EQUAL("%2541%250d%250a%2526", upper_escapes(out).c_str());
    STRCMP_EQUAL(raw.c_str(), percent_decode(out).c_str());
}

TEST(Encode, EmptyInputGivesEmptyOutput)
{
    STRCMP_EQUAL("", encode_query_value("").c_str());
    STRCMP_EQUAL("", encode_query_value("\r\n\t").c_str());
}

TEST(Encode, TenKilobytesWithoutLimitAreEncodedWhole)
{
    std::string raw(10240, '&');
    std::string out = encode_query_value(raw);
    CHECK_EQUAL(static_cast<std::size_t>(3 * 10240), out.size());
    STRCMP_EQUAL(raw.c_str(), percent_decode(out).c_str());
}

TEST(Encode, MaxCharsCountsCharactersNotBytes)
{
    std::string raw = repeat("\xC3\xA9", 10240);  // 5120 × é
    std::string out = encode_query_value(raw, 255);
    std::string decoded = percent_decode(out);
    CHECK_EQUAL(static_cast<std::size_t>(255), utf8_chars(decoded));
    STRCMP_EQUAL(repeat("\xC3\xA9", 510).c_str(), decoded.c_str());
}

TEST(Encode, MaxCharsOfZeroGivesEmptyOutput)
{
    STRCMP_EQUAL("", encode_query_value("abc", 0).c_str());
}

TEST(Encode, MaxBytesFitsPlainAsciiExactly)
{
    std::string out = encode_query_value(std::string(10240, 'a'), kNoLimit, 100);
    STRCMP_EQUAL(std::string(100, 'a').c_str(), out.c_str());
}

TEST(Encode, MaxBytesNeverSplitsAnEscape)
{
    std::string out = encode_query_value(std::string(10240, '&'), kNoLimit, 100);
    std::string expected;
    for (int i = 0; i < 33; ++i)
        expected += "%26";
    STRCMP_EQUAL(expected.c_str(), upper_escapes(out).c_str());
}

TEST(Encode, MaxBytesNeverSplitsAMultiByteCharacter)
{
    std::string raw = repeat("\xF0\x9F\x98\x80", 10240);  // 😀 is 12 encoded bytes
    std::string out = encode_query_value(raw, kNoLimit, 100);
    CHECK_EQUAL(static_cast<std::size_t>(96), out.size());
    STRCMP_EQUAL(repeat("\xF0\x9F\x98\x80", 32).c_str(), percent_decode(out).c_str());
}

TEST(Encode, CutAtAnyByteLimitIsTheLongestWholePrefixThatFits)
{
    // 1 + 3 + 6 + 9 + 12 + 3 encoded bytes per round: every alignment occurs.
    const std::string raw = repeat("a&\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80 ", 10240);
    for (std::size_t max_bytes = 0; max_bytes <= 200; ++max_bytes) {
        std::string out = encode_query_value(raw, kNoLimit, max_bytes);
        CHECK_TEXT(out.size() <= max_bytes, ("limit " + std::to_string(max_bytes)).c_str());
        CHECK_TEXT(is_well_formed(out), ("limit " + std::to_string(max_bytes)).c_str());
        std::string decoded = percent_decode(out);
        CHECK(is_valid_utf8(decoded));
        CHECK_TEXT(starts_with(raw, decoded), ("limit " + std::to_string(max_bytes)).c_str());
        // The next character would not have fitted.
        std::size_t next_len = 1;
        unsigned char lead = static_cast<unsigned char>(raw[decoded.size()]);
        if (lead >= 0xF0)
            next_len = 4;
        else if (lead >= 0xE0)
            next_len = 3;
        else if (lead >= 0xC0)
            next_len = 2;
        std::string next = encode_query_value(raw.substr(decoded.size(), next_len));
        CHECK_TEXT(out.size() + next.size() > max_bytes,
                   ("cut too early at limit " + std::to_string(max_bytes)).c_str());
    }
}

TEST(Encode, CharAndByteLimitsTogetherTheSmallerWins)
{
    std::string raw(10240, 'a');
    STRCMP_EQUAL(std::string(10, 'a').c_str(), encode_query_value(raw, 10, 100).c_str());
    STRCMP_EQUAL(std::string(10, 'a').c_str(), encode_query_value(raw, 100, 10).c_str());
}

TEST(Encode, RemovedControlBytesDoNotCountTowardsTheLimit)
{
    // Removed bytes produce no output, so they cannot push real text out.
    std::string raw = std::string(100, '\n') + "abc";
    STRCMP_EQUAL("abc", encode_query_value(raw, kNoLimit, 3).c_str());
}

TEST(Encode, InvalidBytesCutStillGiveWholeReplacementCharacters)
{
    std::string raw(10240, '\xFF');
    std::string out = encode_query_value(raw, kNoLimit, 100);
    CHECK(out.size() <= 100);
    CHECK_EQUAL(static_cast<std::size_t>(99), out.size());  // 11 × %EF%BF%BD
    CHECK(only_replacements(percent_decode(out)));
}

TEST(Encode, AppendKeepsWhatIsAlreadyThere)
{
    std::string out = "p=";
    mapptrack::append_query_value(out, "a b&c");
    STRCMP_EQUAL("p=a%20b%26c", upper_escapes(out).c_str());
}

TEST(Encode, AppendLimitsApplyToTheAppendedValue)
{
    std::string out = "xyz=";
    mapptrack::append_query_value(out, "&&&&", kNoLimit, 6);
    STRCMP_EQUAL("xyz=%26%26", upper_escapes(out).c_str());
    std::string out2 = "k=";
    mapptrack::append_query_value(out2, "abcdef", 2);
    STRCMP_EQUAL("k=ab", out2.c_str());
}

// The byte-by-byte encoder the table-driven one replaced, kept as the
// specification it must match exactly.
std::string reference_encode(std::string_view raw, std::size_t max_chars, std::size_t max_bytes)
{
    const auto sequence = [&](std::size_t i) -> std::size_t {
        const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(raw[k]); };
        const unsigned char c = byte(i);
        if (c < 0x80)
            return 1;
        std::size_t len;
        unsigned cp;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + len > raw.size())
            return 0;
        for (std::size_t k = 1; k < len; ++k) {
            if ((byte(i + k) & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (byte(i + k) & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        return len;
    };
    std::string out;
    std::size_t chars = 0, bytes = 0, i = 0;
    while (i < raw.size() && chars < max_chars) {
        std::size_t len = sequence(i);
        std::string_view piece;
        if (len == 0) {
            piece = kReplacement;
            len = 1;
        } else {
            piece = raw.substr(i, len);
        }
        i += len;
        const auto lead = static_cast<unsigned char>(piece[0]);
        if (piece.size() == 1 && (lead < 0x20 || lead == 0x7F))
            continue;
        std::size_t encoded = 0;
        for (unsigned char c : piece)
            encoded += is_unreserved(c) && c < 0x80 ? 1 : 3;
        if (bytes + encoded > max_bytes)
            break;
        for (unsigned char c : piece) {
            if (is_unreserved(c) && c < 0x80) {
                out.push_back(static_cast<char>(c));
            } else {
                static const char hex[] = "0123456789ABCDEF";
                out.push_back('%');
                out.push_back(hex[c >> 4]);
                out.push_back(hex[c & 0x0F]);
            }
        }
        bytes += encoded;
        ++chars;
    }
    return out;
}

TEST(Encode, MatchesTheByteByByteEncoderOnRandomInputAndLimits)
{
    // Pieces that exercise every branch: plain, reserved, controls, valid and
    // invalid UTF-8 of each length, truncated sequences.
    const char* const pieces[] = {"a", "Z", "9", "-", "~", " ", "&", "=", "%", "+", "#", "\r", "\n", "\x7F",
                                  "\x01", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xFF", "\x80",
                                  "\xC3", "\xE2\x82", "\xED\xA0\x80", "\xC0\xAF", "\xF4\x90\x80\x80"};
    const std::size_t npieces = sizeof pieces / sizeof pieces[0];
    unsigned seed = 12345;
    const auto next = [&] {
        seed = seed * 1103515245u + 12345u;
        return (seed >> 8) & 0xFFFF;
    };
    for (int round = 0; round < 3000; ++round) {
        std::string raw;
        const unsigned len = next() % (round % 10 == 0 ? 400 : 40);
        for (unsigned k = 0; k < len; ++k) {
            if (round % 7 == 0 && next() % 8 == 0)
                raw += std::string(next() % 700, 'a');  // runs longer than any internal buffer
            else if (next() % 4 == 0)
                raw.push_back(static_cast<char>(next() & 0xFF));  // any byte at all
            else
                raw += pieces[next() % npieces];
        }
        const std::size_t max_chars = next() % 3 == 0 ? kNoLimit : next() % 300;
        const std::size_t max_bytes = next() % 3 == 0 ? kNoLimit : next() % 1200;
        const std::string expected = reference_encode(raw, max_chars, max_bytes);
        STRCMP_EQUAL(expected.c_str(), encode_query_value(raw, max_chars, max_bytes).c_str());
        std::string appended = "k=";
        mapptrack::append_query_value(appended, raw, max_chars, max_bytes);
        STRCMP_EQUAL(("k=" + expected).c_str(), appended.c_str());
    }
}

TEST_GROUP(Decode){};

TEST(Decode, EscapesOfEitherCaseAreDecoded)
{
    STRCMP_EQUAL("AB", percent_decode("%41%42").c_str());
    STRCMP_EQUAL("\xC3\xA9", percent_decode("%c3%a9").c_str());
    STRCMP_EQUAL("\xC3\xA9", percent_decode("%C3%A9").c_str());
}

TEST(Decode, PlusStaysPlus)
{
    STRCMP_EQUAL("a+b", percent_decode("a+b").c_str());
}

TEST(Decode, BadEscapesAreKeptAsTheyAre)
{
    STRCMP_EQUAL("%", percent_decode("%").c_str());
    STRCMP_EQUAL("%4", percent_decode("%4").c_str());
    STRCMP_EQUAL("%zz", percent_decode("%zz").c_str());
    STRCMP_EQUAL("100%", percent_decode("100%").c_str());
    STRCMP_EQUAL("%G1x", percent_decode("%G1x").c_str());
    STRCMP_EQUAL("%A", percent_decode("%%41").c_str());
}

TEST(Decode, EncodedNulDecodesToANulByte)
{
    std::string out = percent_decode("a%00b");
    CHECK_EQUAL(static_cast<std::size_t>(3), out.size());
    CHECK(out[1] == '\0');
}

TEST(Decode, RoundTripOfHostileValidUtf8IsExact)
{
    const std::string raw =
        "https://www.example.com/a b?x=1&y=2,3#frag%20+plus;semi/\"'<>\\"
        "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80~_.-";
    std::string out = encode_query_value(raw);
    CHECK(is_well_formed(out));
    STRCMP_EQUAL(raw.c_str(), percent_decode(out).c_str());
}

TEST(Decode, RoundTripGivesTheSanitizedText)
{
    const char raw[] = "a\r\nb\0c\x7F" "d\xFF" "e";
    std::string out = encode_query_value(std::string_view(raw, sizeof raw - 1));
    std::string expected = "abcd" + kReplacement + "e";
    STRCMP_EQUAL(expected.c_str(), percent_decode(out).c_str());
    // Encoding the sanitized text again changes nothing.
    STRCMP_EQUAL(out.c_str(), encode_query_value(percent_decode(out)).c_str());
}
