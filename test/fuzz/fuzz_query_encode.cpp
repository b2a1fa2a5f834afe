// Query value encoding (encode.h): whatever the visitor's text and the limits,
// the output holds only RFC 3986 unreserved characters and %XX (upper-case
// hex), fits max_bytes and max_chars, and decodes to clean UTF-8 (no C0, no
// DEL) that is exactly the longest fitting prefix, by characters, of the
// cleaned input (invalid bytes as U+FFFD, controls removed).
#include <fuzzer/FuzzedDataProvider.h>

#include <string>
#include <vector>

#include "fuzz_common.h"
#include "mapptrack/encode.h"

using namespace mapptrack;
using fuzz::check;

namespace {

// Reference: the input's characters after cleaning, each as its UTF-8 bytes.
std::vector<std::string> cleaned_chars(std::string_view raw) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < raw.size()) {
        std::size_t n = 0;
        for (std::size_t len = 1; len <= 4 && i + len <= raw.size(); ++len) {
            std::vector<std::uint32_t> cps;
            if (fuzz::decode_utf8(raw.substr(i, len), &cps) && cps.size() == 1) {
                n = len;
                break;
            }
        }
        if (n == 0) {
            out.emplace_back("\xEF\xBF\xBD");  // one bad byte: U+FFFD, go on at the next byte
            i += 1;
            continue;
        }
        const auto c = static_cast<unsigned char>(raw[i]);
        if (!(n == 1 && (c < 0x20 || c == 0x7F))) out.emplace_back(raw.substr(i, n));
        i += n;
    }
    return out;
}

std::string reference_encode(std::string_view s) {
    static const char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (fuzz::is_unreserved(c)) {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        }
    }
    return out;
}

std::size_t pick_limit(FuzzedDataProvider& in, std::size_t small_max) {
    switch (in.ConsumeIntegralInRange<int>(0, 3)) {
        case 0: return kNoLimit;
        case 1: return in.ConsumeIntegralInRange<std::size_t>(0, 12);
        default: return in.ConsumeIntegralInRange<std::size_t>(0, small_max);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    const std::size_t max_chars = pick_limit(in, 300);
    const std::size_t max_bytes = pick_limit(in, 3000);
    const std::string prefix = in.ConsumeBool() ? in.ConsumeRandomLengthString(16) : std::string();
    const std::string raw = in.ConsumeRemainingBytesAsString();

    const std::string out = encode_query_value(raw, max_chars, max_bytes);
    check(fuzz::is_encoded_value(out), "output holds more than unreserved characters and %XX (upper case)", out);
    check(out.size() <= max_bytes, "output is longer than max_bytes", out);
    const std::string decoded = percent_decode(out);
    check(decoded == fuzz::pct_decode(out), "percent_decode disagrees with a plain %XX decoder", out);
    check(fuzz::is_valid_utf8(decoded), "output does not decode to valid UTF-8", out);
    check(!fuzz::has_c0_or_del(decoded), "output decodes to a C0 control or DEL", out);

    // Exactly the longest prefix of the cleaned input that fits both limits.
    const std::vector<std::string> chars = cleaned_chars(raw);
    std::string expected_text;
    std::size_t taken = 0;
    std::size_t bytes = 0;
    while (taken < chars.size() && taken < max_chars) {
        const std::size_t need = reference_encode(chars[taken]).size();
        if (bytes + need > max_bytes) break;
        bytes += need;
        expected_text += chars[taken];
        ++taken;
    }
    check(decoded == expected_text, "output is not the longest fitting prefix of the cleaned input",
          fuzz::show(decoded, expected_text));
    check(out == reference_encode(expected_text), "output is not the canonical encoding of its text", out);

    // Encoding clean text again changes nothing.
    check(encode_query_value(decoded) == out, "encoding the decoded output again gives something else", out);
    // append_query_value appends the same.
    std::string appended = prefix;
    append_query_value(appended, raw, max_chars, max_bytes);
    check(appended == prefix + out, "append_query_value differs from encode_query_value", appended);

    // percent_decode of arbitrary text agrees with the reference too.
    check(percent_decode(raw) == fuzz::pct_decode(raw), "percent_decode disagrees with a plain %XX decoder", raw);
    return 0;
}
