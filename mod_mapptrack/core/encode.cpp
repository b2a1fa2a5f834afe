// Percent-encoding of visitor-supplied text (see encode.h for the rules).
#include "mapptrack/encode.h"

#include <algorithm>
#include <cstdint>

namespace mapptrack {
namespace {

// What each byte asks for: one table lookup instead of a chain of compares
// (this runs for every byte of every hit's URL, user agent and referrer).
enum ByteKind : unsigned char { kCopy, kEscape, kDrop, kMultiByte };

struct ByteKinds {
    ByteKind kind[256];
    constexpr ByteKinds() : kind() {
        for (int c = 0; c < 256; ++c) {
            const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                                    c == '-' || c == '_' || c == '.' || c == '~';
            kind[c] = c >= 0x80 ? kMultiByte : (c < 0x20 || c == 0x7F) ? kDrop : unreserved ? kCopy : kEscape;
        }
    }
};
constexpr ByteKinds kKinds;

// Length of the valid UTF-8 sequence starting at s[i], or 0 if invalid.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = byte(i);
    if (c < 0x80) return 1;
    std::size_t len;
    std::uint32_t cp;
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
    if (i + len > s.size()) return 0;
    for (std::size_t k = 1; k < len; ++k) {
        if ((byte(i + k) & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (byte(i + k) & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are invalid.
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    return len;
}

constexpr char kHex[] = "0123456789ABCDEF";
constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace

void append_query_value(std::string& out, std::string_view raw, std::size_t max_chars,
                        std::size_t max_bytes) {
    // Encoded into a stack buffer and appended in chunks: no push_back per
    // byte, and no reservation beyond what is written.
    constexpr std::size_t kChunk = 256;
    constexpr std::size_t kLongest = 12;  // the most one character can write (4 bytes × 3)
    char buf[kChunk];
    std::size_t n = 0;
    std::size_t chars = 0;
    std::size_t bytes = 0;
    std::size_t i = 0;
    const auto escape = [&](unsigned char c) {
        buf[n] = '%';
        buf[n + 1] = kHex[c >> 4];
        buf[n + 2] = kHex[c & 0x0F];
        n += 3;
    };
    const auto flush_if_full = [&] {
        if (n > kChunk - kLongest) {
            out.append(buf, n);
            n = 0;
        }
    };
    while (i < raw.size() && chars < max_chars) {
        const auto c = static_cast<unsigned char>(raw[i]);
        switch (kKinds.kind[c]) {
            case kCopy: {
                // A run of plain characters, as far as the limits and the
                // buffer allow: most of a URL or user agent is such runs.
                const std::size_t room = std::min({max_chars - chars, max_bytes - bytes, kChunk - n, raw.size() - i});
                if (room == 0) goto done;  // only the byte limit can be used up here
                const char* src = raw.data() + i;
                std::size_t k = 0;
                do {
                    buf[n + k] = src[k];
                    ++k;
                } while (k < room && kKinds.kind[static_cast<unsigned char>(src[k])] == kCopy);
                n += k;
                i += k;
                bytes += k;
                chars += k;
                flush_if_full();
                continue;
            }
            case kEscape:
                if (bytes + 3 > max_bytes) goto done;
                escape(c);
                bytes += 3;
                ++i;
                break;
            case kDrop:  // controls removed; they count as no character
                ++i;
                continue;
            case kMultiByte: {
                const std::size_t len = utf8_sequence_length(raw, i);
                // Invalid: U+FFFD for one bad byte, then resynchronise.
                const std::string_view piece = len ? raw.substr(i, len) : std::string_view(kReplacement, 3);
                if (bytes + 3 * piece.size() > max_bytes) goto done;
                for (char b : piece) escape(static_cast<unsigned char>(b));
                bytes += 3 * piece.size();
                i += len ? len : 1;
                break;
            }
        }
        ++chars;
        flush_if_full();
    }
done:
    out.append(buf, n);
}

std::string encode_query_value(std::string_view raw, std::size_t max_chars, std::size_t max_bytes) {
    std::string out;
    out.reserve(raw.size() < 256 ? raw.size() * 3 : raw.size());
    append_query_value(out, raw, max_chars, max_bytes);
    return out;
}

std::string percent_decode(std::string_view encoded) {
    const auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    out.reserve(encoded.size());
    for (std::size_t i = 0; i < encoded.size(); ++i) {
        if (encoded[i] == '%' && i + 2 < encoded.size()) {
            const int hi = hex(encoded[i + 1]);
            const int lo = hex(encoded[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out.push_back(static_cast<char>(hi * 16 + lo));
                i += 2;
                continue;
            }
        }
        out.push_back(encoded[i]);
    }
    return out;
}

}  // namespace mapptrack
