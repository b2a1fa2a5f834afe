// Helpers shared by the libFuzzer targets: property checks that abort with a
// message (so libFuzzer saves the input), and small independent reference
// implementations (UTF-8 validation, query splitting) to check the core against.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fuzz {

// A broken property: print what and abort (libFuzzer reports a deadly signal
// and writes the input to its artifact file).
[[noreturn]] inline void fail(const char* message, std::string_view detail = {}) {
    std::fprintf(stderr, "\n*** PROPERTY BROKEN: %s\n", message);
    if (!detail.empty()) {
        std::fprintf(stderr, "*** detail (%zu bytes): ", detail.size());
        for (unsigned char c : detail.substr(0, 2048)) {
            if (c >= 0x20 && c < 0x7F && c != '\\') std::fputc(c, stderr);
            else std::fprintf(stderr, "\\x%02X", c);
        }
        std::fputc('\n', stderr);
    }
    std::fflush(stderr);
    std::abort();
}

inline void check(bool cond, const char* message, std::string_view detail = {}) {
    if (!cond) fail(message, detail);
}

inline bool is_unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == '~';
}

inline bool is_upper_hex(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

inline bool is_hex(unsigned char c) {
    return is_upper_hex(c) || (c >= 'a' && c <= 'f');
}

// Only unreserved characters and %XX with upper-case hex digits.
inline bool is_encoded_value(std::string_view s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (is_unreserved(c)) continue;
        if (c == '%' && i + 2 < s.size() &&
            is_upper_hex(static_cast<unsigned char>(s[i + 1])) &&
            is_upper_hex(static_cast<unsigned char>(s[i + 2]))) {
            i += 2;
            continue;
        }
        return false;
    }
    return true;
}

// Independent strict UTF-8 decoder: the code points, or false when invalid
// (overlong forms, surrogates, > U+10FFFF, truncated sequences).
inline bool decode_utf8(std::string_view s, std::vector<std::uint32_t>* out) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto b0 = static_cast<unsigned char>(s[i]);
        std::uint32_t cp;
        std::size_t n;
        if (b0 < 0x80) { cp = b0; n = 1; }
        else if ((b0 & 0xE0) == 0xC0) { cp = b0 & 0x1F; n = 2; }
        else if ((b0 & 0xF0) == 0xE0) { cp = b0 & 0x0F; n = 3; }
        else if ((b0 & 0xF8) == 0xF0) { cp = b0 & 0x07; n = 4; }
        else return false;
        if (i + n > s.size()) return false;
        for (std::size_t k = 1; k < n; ++k) {
            const auto b = static_cast<unsigned char>(s[i + k]);
            if ((b & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (b & 0x3F);
        }
        static constexpr std::uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        if (out) out->push_back(cp);
        i += n;
    }
    return true;
}

inline bool is_valid_utf8(std::string_view s) { return decode_utf8(s, nullptr); }

inline bool has_c0_or_del(std::string_view s) {
    for (unsigned char c : s) {
        if (c < 0x20 || c == 0x7F) return true;
    }
    return false;
}

// `a=1&b&c=2` into (name, value) pieces; `piece_has_eq` tells `b` from `b=`.
struct Param {
    std::string_view name;
    std::string_view value;
    bool has_eq = false;
};

inline std::vector<Param> split_query(std::string_view q) {
    std::vector<Param> out;
    for (;;) {
        const std::size_t amp = q.find('&');
        const std::string_view piece = q.substr(0, amp);
        Param p;
        const std::size_t eq = piece.find('=');
        p.name = piece.substr(0, eq);
        p.has_eq = eq != std::string_view::npos;
        p.value = p.has_eq ? piece.substr(eq + 1) : std::string_view();
        out.push_back(p);
        if (amp == std::string_view::npos) break;
        q.remove_prefix(amp + 1);
    }
    return out;
}

// Own %XX decoder (malformed escapes kept as they are).
inline std::string pct_decode(std::string_view s) {
    const auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() &&
            hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
            i += 2;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

// The letters and digits of a parameter name after %-decoding, lower-cased:
// what decides whether it is a spelling of X-WT-IP / X-WT-UA (hit_line.h).
inline std::string name_key(std::string_view name) {
    std::string out;
    for (unsigned char c : pct_decode(name)) {
        if (c >= 'A' && c <= 'Z') out.push_back(static_cast<char>(c - 'A' + 'a'));
        else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) out.push_back(static_cast<char>(c));
    }
    return out;
}

inline bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

inline std::string show(std::string_view a, std::string_view b) {
    std::string out(a);
    out += " | ";
    out += b;
    return out;
}

}  // namespace fuzz
