// JSON and HTML escaping, and UTC times, for the status and inspector pages (escape.h).
#include "mapptrack/escape.h"

#include <cstdio>
#include <ctime>

namespace mapptrack {

std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept {
    if (i >= s.size()) return 0;
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    if (!n || i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k) {
        if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
    }
    // No overlong forms, no UTF-16 surrogates, nothing above U+10FFFF.
    const auto c1 = static_cast<unsigned char>(s[i + 1]);
    if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 >= 0xa0) || (c == 0xf0 && c1 < 0x90) ||
        (c == 0xf4 && c1 >= 0x90)) {
        return 0;
    }
    return n;
}

namespace {

// `s` with each ASCII byte given to `ascii` (which appends it, escaped as it
// must be), valid UTF-8 kept as it is, and anything else appended as `invalid`.
template <typename Ascii>
std::string escaped(std::string_view s, Ascii ascii, const char* invalid) {
    std::string out;
    out.reserve(s.size() + 2);
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            ascii(out, c);
        } else if (const std::size_t n = utf8_sequence_length(s, i)) {
            out.append(s.substr(i, n));
            i += n - 1;
        } else {
            out += invalid;
        }
    }
    return out;
}

}  // namespace

std::string json_quote(std::string_view s) {
    const auto ascii = [](std::string& out, unsigned char c) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else if (c == '<') {
            out += "\\u003c";
        } else {
            out += static_cast<char>(c);
        }
    };
    return "\"" + escaped(s, ascii, "\\ufffd") + "\"";
}

std::string html_escape(std::string_view s) {
    const auto ascii = [](std::string& out, unsigned char c) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    out += "&#xfffd;";
                } else {
                    out += static_cast<char>(c);
                }
        }
    };
    return escaped(s, ascii, "&#xfffd;");
}

std::string iso8601_utc(std::int64_t ms, bool with_milliseconds) {
    const std::time_t t = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[40];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    char out[56];
    if (with_milliseconds) {
        std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(((ms % 1000) + 1000) % 1000));
    } else {
        std::snprintf(out, sizeof out, "%sZ", buf);
    }
    return out;
}

}  // namespace mapptrack
