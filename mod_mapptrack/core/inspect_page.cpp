// The inspector's pages (inspect_page.h). Everything shown came from
// outside (a hit's text): escaped for HTML or JSON, always.
#include "mapptrack/inspect_page.h"

#include <cstdio>
#include <ctime>

namespace mapptrack {
namespace {

std::string html(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (unsigned char c : s) {
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
    }
    return out;
}

std::size_t utf8_length(std::string_view s, std::size_t i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    if (!n || i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k) {
        if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
    }
    const auto c1 = static_cast<unsigned char>(s[i + 1]);
    if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 >= 0xa0) || (c == 0xf0 && c1 < 0x90) ||
        (c == 0xf4 && c1 >= 0x90)) {
        return 0;
    }
    return n;
}

std::string json(std::string_view s) {
    std::string out = "\"";
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else if (c == '<') {
            out += "\\u003c";  // never "</script>" in a page that embeds it
        } else if (c < 0x80) {
            out += static_cast<char>(c);
        } else if (const std::size_t n = utf8_length(s, i)) {
            out.append(s.substr(i, n));
            i += n - 1;
        } else {
            out += "\\ufffd";
        }
    }
    return out + "\"";
}

// Invalid UTF-8 shown as U+FFFD in HTML as well.
std::string clean_utf8(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            out += static_cast<char>(c);
        } else if (const std::size_t n = utf8_length(s, i)) {
            out.append(s.substr(i, n));
            i += n - 1;
        } else {
            out += "\xef\xbf\xbd";
        }
    }
    return out;
}

std::string h(std::string_view s) { return html(clean_utf8(s)); }

std::string iso_time(std::int64_t ms) {
    const std::time_t t = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[40];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    char out[48];
    std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(((ms % 1000) + 1000) % 1000));
    return out;
}

const char* kStyle =
    "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}"
    "section{border:1px solid #ccc;border-radius:6px;padding:.8em 1em;margin:1em 0}"
    "h2{font-size:1.1em;margin:.2em 0}table{border-collapse:collapse;margin:.5em 0}"
    "td,th{border:1px solid #ddd;padding:.2em .5em;text-align:left;vertical-align:top;font-size:.9em}"
    "th{background:#f4f4f4}code{word-break:break-all;font-size:.85em}"
    ".bad{background:#fde8e8;border:1px solid #e0a0a0;padding:.3em 1.5em}"
    ".ok{color:#1a7f37}.meta{color:#555}";

}  // namespace

std::vector<InspectedEntry> inspect_entries(const std::vector<StoredHit>& stored) {
    std::vector<InspectedEntry> out;
    out.reserve(stored.size());
    for (const StoredHit& s : stored) {
        InspectedEntry e;
        e.stored = s;
        e.hit = inspect_hit(s.track_ids, s.line, s.cookie, s.received_ms);
        if (s.truncated) e.hit.violations.push_back("the line was longer than the inspector keeps (cut)");
        out.push_back(std::move(e));
    }
    return out;
}

std::string inspect_html(const std::vector<InspectedEntry>& entries, std::int64_t now_ms) {
    std::string out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                      "<title>mod_mapptrack inspector</title><style>";
    out += kStyle;
    out += "</style></head><body>\n<h1>mod_mapptrack inspector</h1>\n"
           "<p class=\"meta\">The hits this server received as a track server, newest first, decoded and "
           "checked against Mapp's rules. Reload the page to see new ones; <a href=\"?format=json\">JSON</a>.</p>\n";
    if (entries.empty()) {
        out += "<p>No hits yet. Point MappTrackDomain (or the pixel's trackDomain) at this location, e.g. "
               "<code>MappTrackDomain http://127.0.0.1/inspect</code>, and request a page.</p>\n";
    } else {
        out += "<p>" + std::to_string(entries.size()) + " hit(s).</p>\n";
    }
    for (const InspectedEntry& e : entries) {
        const InspectedHit& hit = e.hit;
        const std::int64_t age = now_ms > e.stored.received_ms ? (now_ms - e.stored.received_ms) / 1000 : 0;
        out += "<section>\n<h2>#" + std::to_string(e.stored.number) + " " + h(e.stored.method) +
               " for track IDs " + h(hit.track_ids) + "</h2>\n<p class=\"meta\">received " +
               iso_time(e.stored.received_ms) + " (" + std::to_string(age) + " s ago)</p>\n";
        out += "<p>Visitor: ever-ID <b>" + (hit.ever_id.empty() ? std::string("none") : h(hit.ever_id)) +
               "</b>, IP " + (hit.ip.empty() ? std::string("none") : h(hit.ip)) + ", user agent " +
               (hit.user_agent.empty() ? std::string("none") : h(hit.user_agent)) +
               (hit.anonymous ? ", anonymous (nc=1)" : "") + "</p>\n";
        if (hit.violations.empty()) {
            out += "<p class=\"ok\">No rule broken.</p>\n";
        } else {
            out += "<ul class=\"bad\">";
            for (const std::string& v : hit.violations) out += "<li>" + h(v) + "</li>";
            out += "</ul>\n";
        }
        out += "<table><tr><th colspan=\"2\">p</th></tr>";
        for (const InspectedField& f : hit.page) out += "<tr><td>" + h(f.label) + "</td><td>" + h(f.value) + "</td></tr>";
        out += "</table>\n<table><tr><th>parameter</th><th>meaning</th><th>value</th></tr>";
        for (const InspectedParam& p : hit.params) {
            out += "<tr><td>" + h(p.key) + "</td><td>" + h(p.label) + "</td><td>" + h(p.value) + "</td></tr>";
        }
        out += "</table>\n<p><code>" + h(hit.line) + "</code></p>\n</section>\n";
    }
    return out + "</body></html>\n";
}

std::string inspect_json(const std::vector<InspectedEntry>& entries) {
    std::string out = "{\"hits\":[";
    bool first = true;
    for (const InspectedEntry& e : entries) {
        const InspectedHit& hit = e.hit;
        out += first ? "" : ",";
        first = false;
        out += "{\"number\":" + std::to_string(e.stored.number) + ",\"received\":" + json(iso_time(e.stored.received_ms)) +
               ",\"received_unix_ms\":" + std::to_string(e.stored.received_ms) + ",\"method\":" + json(e.stored.method) +
               ",\"track_ids\":" + json(hit.track_ids) + ",\"line\":" + json(hit.line) +
               ",\"truncated\":" + (e.stored.truncated ? "true" : "false") + ",\"identity\":{\"ever_id\":" +
               json(hit.ever_id) + ",\"ip\":" + json(hit.ip) + ",\"user_agent\":" + json(hit.user_agent) +
               ",\"anonymous\":" + (hit.anonymous ? "true" : "false") + "},\"page\":[";
        for (std::size_t i = 0; i < hit.page.size(); ++i) {
            out += (i ? "," : "") + std::string("{\"label\":") + json(hit.page[i].label) +
                   ",\"value\":" + json(hit.page[i].value) + "}";
        }
        out += "],\"params\":[";
        for (std::size_t i = 0; i < hit.params.size(); ++i) {
            out += (i ? "," : "") + std::string("{\"key\":") + json(hit.params[i].key) +
                   ",\"label\":" + json(hit.params[i].label) + ",\"value\":" + json(hit.params[i].value) + "}";
        }
        out += "],\"violations\":[";
        for (std::size_t i = 0; i < hit.violations.size(); ++i) out += (i ? "," : "") + json(hit.violations[i]);
        out += "]}";
    }
    return out + "]}\n";
}

}  // namespace mapptrack
