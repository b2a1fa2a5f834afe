// Percent-encoding of visitor-supplied text (see encode.h for the rules).
#include "mapptrack/encode.h"

#include <cstdint>

namespace mapptrack {
namespace {

bool is_unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == '~';
}

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
    std::size_t chars = 0;
    std::size_t bytes = 0;
    std::size_t i = 0;
    while (i < raw.size() && chars < max_chars) {
        std::size_t len = utf8_sequence_length(raw, i);
        std::string_view piece;
        if (len == 0) {
            piece = std::string_view(kReplacement, 3);
            len = 1;  // skip one bad byte, then resynchronise
        } else {
            piece = raw.substr(i, len);
        }
        i += len;
        const auto lead = static_cast<unsigned char>(piece[0]);
        if (piece.size() == 1 && (lead < 0x20 || lead == 0x7F)) continue;  // controls removed

        std::size_t encoded = 0;
        for (unsigned char c : piece) encoded += is_unreserved(c) ? 1 : 3;
        if (bytes + encoded > max_bytes) break;
        for (unsigned char c : piece) {
            if (is_unreserved(c)) {
                out.push_back(static_cast<char>(c));
            } else {
                out.push_back('%');
                out.push_back(kHex[c >> 4]);
                out.push_back(kHex[c & 0x0F]);
            }
        }
        bytes += encoded;
        ++chars;
    }
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
