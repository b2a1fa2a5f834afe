// The figures as text (status_format.h). Keys come from the configuration
// (ServerName, track IDs): every output escapes them for its own syntax.
#include "mapptrack/status_format.h"

#include "mapptrack/escape.h"

#include <cinttypes>
#include <cstdio>
#include <ctime>

namespace mapptrack {
namespace {

constexpr unsigned kCounts = static_cast<unsigned>(Count::kCount);
constexpr unsigned kDrops = static_cast<unsigned>(Drop::kCount);
constexpr unsigned kSkips = static_cast<unsigned>(Skip::kCount);

std::string num(std::uint64_t v) { return std::to_string(v); }

std::string seconds(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

// Microseconds as seconds, exactly ("%g" would round a long sum away).
std::string seconds_from_us(std::uint64_t us) {
    std::string out = std::to_string(us / 1000000);
    std::string frac = std::to_string(1000000 + us % 1000000).substr(1);
    while (!frac.empty() && frac.back() == '0') frac.pop_back();
    return frac.empty() ? out : out + "." + frac;
}

std::string bound(std::size_t i) { return i + 1 < kLatencyBuckets ? seconds(kLatencyBounds[i]) : "+Inf"; }

// A label value: \\, " and newline escaped as the format says, and invalid
// UTF-8 (which Prometheus refuses) as U+FFFD.
std::string label_value(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '"') {
            out += "\\\"";
        } else if (c == '\n') {
            out += "\\n";
        } else if (static_cast<unsigned char>(c) < 0x80) {
            out += c;
        } else if (const std::size_t n = utf8_sequence_length(s, i)) {
            out.append(s.substr(i, n));
            i += n - 1;
        } else {
            out += "\xef\xbf\xbd";
        }
    }
    return out;
}

std::uint64_t dropped(const StatusRow& r) {
    std::uint64_t n = 0;
    for (std::uint64_t v : r.drops) n += v;
    return n;
}

std::uint64_t skipped(const StatusRow& r) {
    std::uint64_t n = 0;
    for (std::uint64_t v : r.skips) n += v;
    return n;
}

StatusRow totals(const StatusSnapshot& s) {
    StatusRow t;
    for (const StatusRow& r : s.rows) {
        for (unsigned k = 0; k < kCounts; ++k) t.counts[k] += r.counts[k];
        for (unsigned k = 0; k < kDrops; ++k) t.drops[k] += r.drops[k];
        for (unsigned k = 0; k < kSkips; ++k) t.skips[k] += r.skips[k];
        for (std::size_t k = 0; k < kLatencyBuckets; ++k) t.latency_buckets[k] += r.latency_buckets[k];
        t.latency_count += r.latency_count;
        t.latency_sum_us += r.latency_sum_us;
        if (r.last_error_ms > t.last_error_ms) {
            t.last_error = r.last_error;
            t.last_error_ms = r.last_error_ms;
        }
    }
    return t;
}

std::uint64_t queue_depth(const StatusSnapshot& s) {
    std::uint64_t n = 0;
    for (const ChildGauges& c : s.children) n += c.queue_depth;
    return n;
}

std::uint64_t spool_bytes(const StatusSnapshot& s) {
    std::uint64_t n = 0;
    for (const ChildGauges& c : s.children) n += c.spool_bytes;
    return n;
}

std::string row_json(const StatusRow& r) {
    std::string out;
    for (unsigned k = 0; k < kCounts; ++k) {
        out += json_quote(name(static_cast<Count>(k))) + ":" + num(r.counts[k]) + ",";
    }
    out += "\"dropped\":{";
    for (unsigned k = 0; k < kDrops; ++k) {
        out += (k ? "," : "") + json_quote(name(static_cast<Drop>(k))) + ":" + num(r.drops[k]);
    }
    out += "},\"skipped\":{";
    for (unsigned k = 0; k < kSkips; ++k) {
        out += (k ? "," : "") + json_quote(name(static_cast<Skip>(k))) + ":" + num(r.skips[k]);
    }
    out += "},\"latency\":{\"count\":" + num(r.latency_count) +
           ",\"sum_seconds\":" + seconds_from_us(r.latency_sum_us) + ",\"buckets\":{";
    std::uint64_t cumulative = 0;
    for (std::size_t k = 0; k < kLatencyBuckets; ++k) {
        cumulative += r.latency_buckets[k];
        out += (k ? "," : "") + json_quote(bound(k)) + ":" + num(cumulative);
    }
    out += "}},\"last_error\":";
    if (r.last_error.empty()) {
        out += "null";
    } else {
        out += "{\"message\":" + json_quote(r.last_error) + ",\"time\":" + json_quote(iso8601_utc(r.last_error_ms, false)) +
               ",\"unix\":" + std::to_string(r.last_error_ms / 1000) + "}";
    }
    return out;
}

}  // namespace

std::string status_json(const StatusSnapshot& s, std::int64_t now_ms) {
    std::string out = "{\"since\":" + std::to_string(s.since_ms / 1000) +
                      ",\"since_time\":" + json_quote(iso8601_utc(s.since_ms, false)) +
                      ",\"uptime_seconds\":" + std::to_string(now_ms > s.since_ms ? (now_ms - s.since_ms) / 1000 : 0) +
                      ",\"queue_depth\":" + num(queue_depth(s)) + ",\"spool_bytes\":" + num(spool_bytes(s)) +
                      ",\"totals\":{" + row_json(totals(s)) + "},\"rows\":[";
    bool first = true;
    for (const StatusRow& r : s.rows) {
        out += (first ? "" : ",") + std::string("{\"vhost\":") + json_quote(r.vhost) +
               ",\"track_ids\":" + json_quote(r.track_ids) + "," + row_json(r) + "}";
        first = false;
    }
    out += "],\"children\":[";
    first = true;
    for (const ChildGauges& c : s.children) {
        out += (first ? "" : ",") + std::string("{\"pid\":") + std::to_string(c.pid) +
               ",\"queue_depth\":" + num(c.queue_depth) + ",\"spool_bytes\":" + num(c.spool_bytes) + "}";
        first = false;
    }
    return out + "]}\n";
}

std::string status_prometheus(const StatusSnapshot& s) {
    std::string out;
    const auto family = [&](const char* metric, const char* type, const char* help) {
        out += std::string("# HELP ") + metric + " " + help + "\n# TYPE " + metric + " " + type + "\n";
    };
    const auto labels = [](const StatusRow& r, const std::string& more = std::string()) {
        return "{vhost=\"" + label_value(r.vhost) + "\",track_id=\"" + label_value(r.track_ids) + "\"" + more + "}";
    };
    struct CountFamily {
        Count count;
        const char* metric;
        const char* help;
    };
    static const CountFamily kFamilies[] = {
        {Count::Pages, "mapptrack_pages_total", "Requests judged pages (tracked, or skipped for a reason other than not-page and unconfigured)."},
        {Count::Queued, "mapptrack_hits_queued_total", "Hits accepted for delivery, into the queue or the spool."},
        {Count::Sent, "mapptrack_hits_sent_total", "Hits the track server took (2xx)."},
        {Count::Retried, "mapptrack_hits_retried_total", "Hits sent again after a failed attempt."},
        {Count::Spooled, "mapptrack_hits_spooled_total", "Hits written to the spool."},
        {Count::Replayed, "mapptrack_hits_replayed_total", "Hits from the spool that were delivered."},
        {Count::Requests, "mapptrack_requests_total", "HTTP requests made to the track server."},
        {Count::RelayRequests, "mapptrack_relay_requests_total", "Requests the mapptrack-proxy relay answered."},
        {Count::RelayFallbacks, "mapptrack_relay_fallbacks_total", "Relay requests answered with the module's GIF because the track server failed."},
    };
    for (const CountFamily& f : kFamilies) {
        family(f.metric, "counter", f.help);
        for (const StatusRow& r : s.rows) {
            out += std::string(f.metric) + labels(r) + " " + num(r.counts[static_cast<unsigned>(f.count)]) + "\n";
        }
    }
    family("mapptrack_hits_dropped_total", "counter", "Hits never delivered, by reason.");
    for (const StatusRow& r : s.rows) {
        for (unsigned k = 0; k < kDrops; ++k) {
            out += "mapptrack_hits_dropped_total" + labels(r, std::string(",reason=\"") + name(static_cast<Drop>(k)) + "\"") +
                   " " + num(r.drops[k]) + "\n";
        }
    }
    family("mapptrack_pages_skipped_total", "counter", "Requests not tracked, by their MAPPTRACK=skipped:<reason> outcome.");
    for (const StatusRow& r : s.rows) {
        for (unsigned k = 0; k < kSkips; ++k) {
            out += "mapptrack_pages_skipped_total" + labels(r, std::string(",reason=\"") + name(static_cast<Skip>(k)) + "\"") +
                   " " + num(r.skips[k]) + "\n";
        }
    }
    family("mapptrack_delivery_latency_seconds", "histogram", "Time from a hit being queued to the track server's 2xx.");
    for (const StatusRow& r : s.rows) {
        std::uint64_t cumulative = 0;
        for (std::size_t k = 0; k < kLatencyBuckets; ++k) {
            cumulative += r.latency_buckets[k];
            out += "mapptrack_delivery_latency_seconds_bucket" + labels(r, ",le=\"" + bound(k) + "\"") + " " +
                   num(cumulative) + "\n";
        }
        out += "mapptrack_delivery_latency_seconds_sum" + labels(r) + " " +
               seconds_from_us(r.latency_sum_us) + "\n";
        out += "mapptrack_delivery_latency_seconds_count" + labels(r) + " " + num(r.latency_count) + "\n";
    }
    family("mapptrack_last_error_timestamp_seconds", "gauge", "When the last delivery to this site failed (Unix time).");
    for (const StatusRow& r : s.rows) {
        if (!r.last_error.empty()) {
            out += "mapptrack_last_error_timestamp_seconds" + labels(r) + " " + std::to_string(r.last_error_ms / 1000) + "\n";
        }
    }
    family("mapptrack_queue_depth_hits", "gauge", "Hits in a child process's delivery queue.");
    for (const ChildGauges& c : s.children) {
        out += "mapptrack_queue_depth_hits{pid=\"" + std::to_string(c.pid) + "\"} " + num(c.queue_depth) + "\n";
    }
    family("mapptrack_spool_bytes", "gauge", "Bytes of spool segments a child process holds.");
    for (const ChildGauges& c : s.children) {
        out += "mapptrack_spool_bytes{pid=\"" + std::to_string(c.pid) + "\"} " + num(c.spool_bytes) + "\n";
    }
    family("mapptrack_server_queue_depth_hits", "gauge", "Hits in the delivery queues of all child processes.");
    out += "mapptrack_server_queue_depth_hits " + num(queue_depth(s)) + "\n";
    family("mapptrack_server_spool_bytes", "gauge", "Bytes of spool segments all child processes hold.");
    out += "mapptrack_server_spool_bytes " + num(spool_bytes(s)) + "\n";
    family("mapptrack_start_time_seconds", "gauge", "When the figures started (the server's last full start, Unix time).");
    out += "mapptrack_start_time_seconds " + std::to_string(s.since_ms / 1000) + "\n";
    return out;
}

std::string status_html(const StatusSnapshot& s, std::int64_t now_ms) {
    std::string out = "<hr />\n<h2>mod_mapptrack</h2>\n<dl><dt>Queue depth: " + num(queue_depth(s)) +
                      " hits, spool: " + num(spool_bytes(s)) + " bytes, counting since " +
                      html_escape(iso8601_utc(s.since_ms, false)) + " (" +
                      std::to_string(now_ms > s.since_ms ? (now_ms - s.since_ms) / 1000 : 0) +
                      " s)</dt></dl>\n<table border=\"0\"><tr><th>VirtualHost</th><th>Track IDs</th><th>Pages</th>"
                      "<th>Queued</th><th>Sent</th><th>Retried</th><th>Spooled</th><th>Replayed</th>"
                      "<th>Dropped</th><th>Skipped</th><th>Relayed</th><th>Last error</th></tr>\n";
    for (const StatusRow& r : s.rows) {
        out += "<tr><td>" + html_escape(r.vhost) + "</td><td>" + html_escape(r.track_ids) + "</td>";
        for (Count c : {Count::Pages, Count::Queued, Count::Sent, Count::Retried, Count::Spooled, Count::Replayed}) {
            out += "<td>" + num(r.counts[static_cast<unsigned>(c)]) + "</td>";
        }
        out += "<td>" + num(dropped(r)) + "</td><td>" + num(skipped(r)) + "</td><td>" +
               num(r.counts[static_cast<unsigned>(Count::RelayRequests)]) + "</td><td>" +
               (r.last_error.empty() ? std::string("-") : html_escape(iso8601_utc(r.last_error_ms, false) + " " + r.last_error)) +
               "</td></tr>\n";
    }
    return out + "</table>\n";
}

std::string status_auto(const StatusSnapshot& s) {
    const StatusRow t = totals(s);
    const auto c = [&](Count k) { return num(t.counts[static_cast<unsigned>(k)]); };
    return "MappTrackPages: " + c(Count::Pages) + "\nMappTrackQueued: " + c(Count::Queued) +
           "\nMappTrackSent: " + c(Count::Sent) + "\nMappTrackRetried: " + c(Count::Retried) +
           "\nMappTrackSpooled: " + c(Count::Spooled) + "\nMappTrackReplayed: " + c(Count::Replayed) +
           "\nMappTrackDropped: " + num(dropped(t)) + "\nMappTrackSkipped: " + num(skipped(t)) +
           "\nMappTrackRelayRequests: " + c(Count::RelayRequests) + "\nMappTrackQueueDepth: " + num(queue_depth(s)) +
           "\nMappTrackSpoolBytes: " + num(spool_bytes(s)) + "\n";
}

}  // namespace mapptrack
