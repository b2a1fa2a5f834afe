// The figures as text (status_format.h): Prometheus text format 0.0.4 read
// back line by line (HELP and TYPE once per family before its samples,
// counters in _total, cumulative buckets ending in +Inf = _count, the sum in
// seconds, label values escaped); JSON and mod_status's HTML with hostile
// names escaped; ?auto lines; totals over rows and children.
#include "mapptrack/status_format.h"

#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <CppUTest/TestHarness.h>

using namespace mapptrack;

namespace {

StatusRow row(const std::string& vhost, const std::string& ids, std::uint64_t base)
{
    StatusRow r;
    r.vhost = vhost;
    r.track_ids = ids;
    for (unsigned k = 0; k < static_cast<unsigned>(Count::kCount); ++k) r.counts[k] = base + k;
    r.drops[static_cast<unsigned>(Drop::QueueFull)] = base;
    r.drops[static_cast<unsigned>(Drop::Rejected)] = 2;
    r.skips[static_cast<unsigned>(Skip::NotPage)] = 7;
    r.latency_buckets[0] = 3;
    r.latency_buckets[2] = 1;
    r.latency_buckets[kLatencyBuckets - 1] = 1;
    r.latency_count = 5;
    r.latency_sum_us = 400002500;  // 400.0025 s
    return r;
}

StatusSnapshot snapshot()
{
    StatusSnapshot s;
    s.since_ms = 1796250000000;
    s.rows.push_back(row("www.example.com:80", "111111111111111", 10));
    StatusRow hostile = row("evil\"\\\n<script>&'.example:80", "222</td>", 100);
    hostile.last_error = "HTTP 503 <b>\"bad\"</b> & more";
    hostile.last_error_ms = 1796250100000;
    s.rows.push_back(hostile);
    s.children.push_back(ChildGauges{4242, 3, 1000});
    s.children.push_back(ChildGauges{4243, 4, 24});
    return s;
}

std::vector<std::string> lines(const std::string& text)
{
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}

// "name{labels} value" -> name, labels, value (labels as written).
struct Sample {
    std::string name, labels, value;
};

Sample sample(const std::string& l)
{
    Sample s;
    const std::size_t brace = l.find('{');
    const std::size_t space = l.rfind(' ');
    s.name = l.substr(0, brace == std::string::npos ? space : brace);
    s.labels = brace == std::string::npos ? "" : l.substr(brace, space - brace);
    s.value = l.substr(space + 1);
    return s;
}

std::string family_of(const std::string& name)
{
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        const std::string sfx(suffix);
        if (name.size() > sfx.size() && name.compare(name.size() - sfx.size(), sfx.size(), sfx) == 0 &&
            name.find("latency") != std::string::npos) {
            return name.substr(0, name.size() - sfx.size());
        }
    }
    return name;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_GROUP(StatusFormat){};

TEST(StatusFormat, PrometheusFamiliesHaveHelpAndTypeOnceBeforeTheirSamples)
{
    const std::string text = status_prometheus(snapshot());
    std::map<std::string, std::string> type;  // family -> type
    std::set<std::string> helped, sampled;
    for (const std::string& l : lines(text)) {
        CHECK_TEXT(!l.empty(), "an empty line in the exposition");
        if (l.rfind("# HELP ", 0) == 0) {
            const std::string f = l.substr(7, l.find(' ', 7) - 7);
            CHECK_TEXT(helped.insert(f).second, ("HELP twice for " + f).c_str());
            CHECK_TEXT(!sampled.count(f), ("HELP after samples of " + f).c_str());
            continue;
        }
        if (l.rfind("# TYPE ", 0) == 0) {
            const std::string f = l.substr(7, l.find(' ', 7) - 7);
            CHECK_TEXT(type.emplace(f, l.substr(l.rfind(' ') + 1)).second, ("TYPE twice for " + f).c_str());
            CHECK_TEXT(helped.count(f), ("TYPE before HELP for " + f).c_str());
            continue;
        }
        CHECK_TEXT(l[0] != '#', l.c_str());
        const Sample s = sample(l);
        const std::string f = family_of(s.name);
        CHECK_TEXT(type.count(f), ("a sample without TYPE: " + l).c_str());
        CHECK_TEXT(s.name.rfind("mapptrack_", 0) == 0, l.c_str());
        if (type[f] == "counter") CHECK_TEXT(contains(f, "_total") && f.size() > 6 && f.substr(f.size() - 6) == "_total", l.c_str());
        CHECK_TEXT(!s.value.empty() && s.value.find_first_not_of("0123456789.e+-") == std::string::npos, l.c_str());
        sampled.insert(f);
    }
    STRCMP_EQUAL("histogram", type["mapptrack_delivery_latency_seconds"].c_str());
    STRCMP_EQUAL("counter", type["mapptrack_hits_sent_total"].c_str());
    STRCMP_EQUAL("gauge", type["mapptrack_server_spool_bytes"].c_str());
}

TEST(StatusFormat, PrometheusBucketsAreCumulativeAndTheSumIsInSeconds)
{
    const std::string text = status_prometheus(snapshot());
    const std::string labels = "vhost=\"www.example.com:80\",track_id=\"111111111111111\"";
    std::vector<std::uint64_t> buckets;
    std::string inf, count, sum;
    for (const std::string& l : lines(text)) {
        const Sample s = sample(l);
        if (!contains(s.labels, labels)) continue;
        if (s.name == "mapptrack_delivery_latency_seconds_bucket") {
            buckets.push_back(std::stoull(s.value));
            if (contains(s.labels, "le=\"+Inf\"")) inf = s.value;
        }
        if (s.name == "mapptrack_delivery_latency_seconds_count") count = s.value;
        if (s.name == "mapptrack_delivery_latency_seconds_sum") sum = s.value;
    }
    CHECK_EQUAL(kLatencyBuckets, buckets.size());
    for (std::size_t i = 1; i < buckets.size(); ++i) CHECK(buckets[i] >= buckets[i - 1]);
    CHECK_EQUAL(3u, buckets[0]);
    CHECK_EQUAL(4u, buckets[2]);
    STRCMP_EQUAL("5", inf.c_str());
    STRCMP_EQUAL("5", count.c_str());
    DOUBLES_EQUAL(400.0025, std::stod(sum), 1e-6);
    CHECK(contains(text, "le=\"0.005\""));
    CHECK(contains(text, "le=\"300\""));
}

TEST(StatusFormat, PrometheusCountsDropsAndGaugesAreTheSnapshots)
{
    const std::string text = status_prometheus(snapshot());
    const std::string site = "{vhost=\"www.example.com:80\",track_id=\"111111111111111\"";
    CHECK(contains(text, "mapptrack_pages_total" + site + "} 10\n"));
    CHECK(contains(text, "mapptrack_hits_sent_total" + site + "} " +
                             std::to_string(10 + static_cast<unsigned>(Count::Sent)) + "\n"));
    CHECK(contains(text, "mapptrack_hits_dropped_total" + site + ",reason=\"queue_full\"} 10\n"));
    CHECK(contains(text, "mapptrack_hits_dropped_total" + site + ",reason=\"rejected\"} 2\n"));
    CHECK(contains(text, "mapptrack_pages_skipped_total" + site + ",reason=\"not_page\"} 7\n"));
    CHECK(contains(text, "mapptrack_queue_depth_hits{pid=\"4242\"} 3\n"));
    CHECK(contains(text, "mapptrack_server_queue_depth_hits 7\n"));
    CHECK(contains(text, "mapptrack_server_spool_bytes 1024\n"));
    CHECK(contains(text, "mapptrack_start_time_seconds 1796250000\n"));
    // Only the row with an error has a last-error time.
    CHECK(contains(text, "mapptrack_last_error_timestamp_seconds{vhost=\"evil"));
    CHECK_FALSE(contains(text, "mapptrack_last_error_timestamp_seconds" + site));
}

TEST(StatusFormat, PrometheusLabelValuesAreEscaped)
{
    const std::string text = status_prometheus(snapshot());
    CHECK(contains(text, "vhost=\"evil\\\"\\\\\\n<script>&'.example:80\""));
    // Invalid UTF-8, which Prometheus would refuse, shown as U+FFFD; valid kept.
    StatusSnapshot s;
    s.rows.push_back(row("caf\xc3\xa9\xff.example:80", "1", 1));
    CHECK(contains(status_prometheus(s), "vhost=\"caf\xc3\xa9\xef\xbf\xbd.example:80\""));
    for (const std::string& l : lines(text)) CHECK_FALSE(l.rfind("<script>", 0) == 0);  // no line split by the \n
}

TEST(StatusFormat, JsonHasTotalsRowsAndChildrenWithHostileNamesEscaped)
{
    const std::string json = status_json(snapshot(), 1796250060000);
    CHECK(json.rfind("{\"since\":1796250000,", 0) == 0);
    CHECK(contains(json, "\"uptime_seconds\":60"));
    CHECK(contains(json, "\"queue_depth\":7,\"spool_bytes\":1024"));
    CHECK(contains(json, "\"vhost\":\"www.example.com:80\",\"track_ids\":\"111111111111111\""));
    CHECK(contains(json, "\"vhost\":\"evil\\\"\\\\\\u000a\\u003cscript>&'.example:80\""));
    CHECK(contains(json, "\"message\":\"HTTP 503 \\u003cb>\\\"bad\\\"\\u003c/b> & more\""));
    CHECK(contains(json, "\"last_error\":null"));
    CHECK(contains(json, "{\"pid\":4242,\"queue_depth\":3,\"spool_bytes\":1000}"));
    // Totals: pages 10 + 100.
    CHECK(contains(json, "\"totals\":{\"pages\":110,"));
    CHECK_FALSE(contains(json, "\n\""));  // one line, then the final newline
    CHECK_EQUAL('\n', json.back());
    // Balanced braces and brackets outside strings: well-formed enough to parse.
    int depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < json.size(); ++i) {
        const char c = json[i];
        if (in_string) {
            if (c == '\\') ++i;
            else if (c == '"') in_string = false;
            continue;
        }
        if (c == '"') in_string = true;
        if (c == '{' || c == '[') ++depth;
        if (c == '}' || c == ']') --depth;
        CHECK(depth >= 0);
    }
    CHECK_EQUAL(0, depth);
    CHECK_FALSE(in_string);
}

TEST(StatusFormat, ModStatusHtmlEscapesAndAutoSumsEverything)
{
    const std::string html = status_html(snapshot(), 1796250060000);
    CHECK_FALSE(contains(html, "<script>"));
    CHECK_FALSE(contains(html, "222</td>"));
    CHECK(contains(html, "evil&quot;\\"));
    CHECK(contains(html, "&lt;script&gt;&amp;&#39;.example:80"));
    CHECK(contains(html, "HTTP 503 &lt;b&gt;&quot;bad&quot;&lt;/b&gt; &amp; more"));
    CHECK(contains(html, "<td>www.example.com:80</td><td>111111111111111</td><td>10</td>"));

    const std::string text = status_auto(snapshot());
    CHECK(text.rfind("MappTrackPages: 110\n", 0) == 0);
    CHECK(contains(text, "\nMappTrackDropped: 114\n"));  // 10 + 2 + 100 + 2
    CHECK(contains(text, "\nMappTrackSkipped: 14\n"));
    CHECK(contains(text, "\nMappTrackQueueDepth: 7\n"));
    CHECK(contains(text, "\nMappTrackSpoolBytes: 1024\n"));
    for (const std::string& l : lines(text)) {
        CHECK_TEXT(l.rfind("MappTrack", 0) == 0 && contains(l, ": "), l.c_str());
    }
}

TEST(StatusFormat, AnEmptySnapshotIsStillValid)
{
    StatusSnapshot empty;
    const std::string text = status_prometheus(empty);
    CHECK(contains(text, "# TYPE mapptrack_hits_sent_total counter\n"));
    CHECK(contains(text, "mapptrack_server_queue_depth_hits 0\n"));
    CHECK(contains(status_json(empty, 0), "\"rows\":[],\"children\":[]"));
    CHECK(contains(status_auto(empty), "MappTrackSent: 0\n"));
}
