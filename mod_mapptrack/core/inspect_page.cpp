// The inspector's pages (inspect_page.h). Everything shown came from
// outside (a hit's text): escaped for HTML or JSON, always.
#include "mapptrack/inspect_page.h"

#include "mapptrack/escape.h"

#include <cstdio>
#include <ctime>

namespace mapptrack {
namespace {

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
        out += "<section>\n<h2>#" + std::to_string(e.stored.number) + " " + html_escape(e.stored.method) +
               " for track IDs " + html_escape(hit.track_ids) + "</h2>\n<p class=\"meta\">received " +
               iso8601_utc(e.stored.received_ms, true) + " (" + std::to_string(age) + " s ago)</p>\n";
        out += "<p>Visitor: ever-ID <b>" + (hit.ever_id.empty() ? std::string("none") : html_escape(hit.ever_id)) +
               "</b>, IP " + (hit.ip.empty() ? std::string("none") : html_escape(hit.ip)) + ", user agent " +
               (hit.user_agent.empty() ? std::string("none") : html_escape(hit.user_agent)) +
               (hit.anonymous ? ", anonymous (nc=1)" : "") + "</p>\n";
        if (hit.violations.empty()) {
            out += "<p class=\"ok\">No rule broken.</p>\n";
        } else {
            out += "<ul class=\"bad\">";
            for (const std::string& v : hit.violations) out += "<li>" + html_escape(v) + "</li>";
            out += "</ul>\n";
        }
        out += "<table><tr><th colspan=\"2\">p</th></tr>";
        for (const InspectedField& f : hit.page) out += "<tr><td>" + html_escape(f.label) + "</td><td>" + html_escape(f.value) + "</td></tr>";
        out += "</table>\n<table><tr><th>parameter</th><th>meaning</th><th>value</th></tr>";
        for (const InspectedParam& p : hit.params) {
            out += "<tr><td>" + html_escape(p.key) + "</td><td>" + html_escape(p.label) + "</td><td>" + html_escape(p.value) + "</td></tr>";
        }
        out += "</table>\n<p><code>" + html_escape(hit.line) + "</code></p>\n</section>\n";
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
        out += "{\"number\":" + std::to_string(e.stored.number) + ",\"received\":" + json_quote(iso8601_utc(e.stored.received_ms, true)) +
               ",\"received_unix_ms\":" + std::to_string(e.stored.received_ms) + ",\"method\":" + json_quote(e.stored.method) +
               ",\"track_ids\":" + json_quote(hit.track_ids) + ",\"line\":" + json_quote(hit.line) +
               ",\"truncated\":" + (e.stored.truncated ? "true" : "false") + ",\"identity\":{\"ever_id\":" +
               json_quote(hit.ever_id) + ",\"ip\":" + json_quote(hit.ip) + ",\"user_agent\":" + json_quote(hit.user_agent) +
               ",\"anonymous\":" + (hit.anonymous ? "true" : "false") + "},\"page\":[";
        for (std::size_t i = 0; i < hit.page.size(); ++i) {
            out += (i ? "," : "") + std::string("{\"label\":") + json_quote(hit.page[i].label) +
                   ",\"value\":" + json_quote(hit.page[i].value) + "}";
        }
        out += "],\"params\":[";
        for (std::size_t i = 0; i < hit.params.size(); ++i) {
            out += (i ? "," : "") + std::string("{\"key\":") + json_quote(hit.params[i].key) +
                   ",\"label\":" + json_quote(hit.params[i].label) + ",\"value\":" + json_quote(hit.params[i].value) + "}";
        }
        out += "],\"violations\":[";
        for (std::size_t i = 0; i < hit.violations.size(); ++i) out += (i ? "," : "") + json_quote(hit.violations[i]);
        out += "]}";
    }
    return out + "]}\n";
}

}  // namespace mapptrack
