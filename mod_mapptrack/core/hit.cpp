// Encoding a Hit into the `wt?` request line of docs/design.md §4.
#include "mapptrack/hit.h"

#include <algorithm>
#include <array>
#include <string_view>

#include "mapptrack/client_hints.h"
#include "mapptrack/encode.h"

namespace mapptrack {
namespace {

// Room the URL and the referrer keep together, and the user agent keeps,
// before optional parameters give way to them.
constexpr std::size_t kUrlRoom = 1024;
constexpr std::size_t kUserAgentRoom = 512;
// The line stays strictly under kMaxLineBytes.
constexpr std::size_t kLineBudget = kMaxLineBytes - 1;

std::string encode_or_zero(std::string_view raw, std::size_t max_chars, std::size_t max_bytes) {
    std::string encoded = encode_query_value(raw, max_chars, max_bytes);
    return encoded.empty() ? std::string("0") : encoded;
}

void add_param(std::string& out, std::string_view name, std::string_view encoded_value) {
    out.push_back('&');
    out.append(name);
    out.push_back('=');
    out.append(encoded_value);
}

// Mapp's 255-character limit holds for each value of a `;` list (products,
// several media codes), so each is cut on its own; `;` is sent as %3B.
void append_list_value(std::string& out, std::string_view raw) {
    for (;;) {
        const std::size_t semi = raw.find(';');
        append_query_value(out, raw.substr(0, semi), kMaxTextChars);
        if (semi == std::string_view::npos) break;
        out.append("%3B");
        raw.remove_prefix(semi + 1);
    }
}

std::string encode_list_value(std::string_view raw) {
    std::string out;
    append_list_value(out, raw);
    return out;
}

void append_number(std::string& out, std::int64_t n) {
    // By hand: std::to_chars and std::to_string cost several times more here.
    char buf[24];
    char* p = buf + sizeof buf;
    std::uint64_t v = n < 0 ? 0 - static_cast<std::uint64_t>(n) : static_cast<std::uint64_t>(n);
    do {
        *--p = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v);
    if (n < 0) *--p = '-';
    out.append(p, static_cast<std::size_t>(buf + sizeof buf - p));
}

// `&name=` and the encoded value; nothing at all when the value encodes to nothing.
void append_encoded_param(std::string& out, std::string_view name, std::string_view raw,
                          std::size_t max_chars = kNoLimit) {
    const std::size_t start = out.size();
    out.push_back('&');
    out.append(name);
    out.push_back('=');
    const std::size_t value_start = out.size();
    append_query_value(out, raw, max_chars);
    if (out.size() == value_start) out.resize(start);
}

void append_or_zero(std::string& out, std::string_view raw, std::size_t max_chars) {
    const std::size_t start = out.size();
    append_query_value(out, raw, max_chars);
    if (out.size() == start) out.push_back('0');
}

bool is_language(std::string_view s) {
    if (s.size() < 2 || s.size() > 8) return false;
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

bool has_param(const Hit& hit, std::string_view name) {
    return std::any_of(hit.params.begin(), hit.params.end(), [&](const auto& p) { return p.first == name; });
}

}  // namespace

bool is_valid_param_name(std::string_view name) {
    if (name.empty() || name.size() > 32) return false;
    const auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
    if (!alpha(name[0])) return false;
    for (char c : name) {
        if (!alpha(c) && !(c >= '0' && c <= '9') && c != '_') return false;
    }
    // Parameters the module sets itself can not be overridden. (`la`, `mc`,
    // `mca` can: an admin's MappTrackParam replaces the module's own.)
    static constexpr std::array<std::string_view, 8> reserved = {"p",   "eid", "ceid", "one",
                                                                 "nc",  "eor", "fns",  "mts"};
    return std::find(reserved.begin(), reserved.end(), name) == reserved.end();
}

std::string encode_hit_line(const Hit& hit) { return encode_hit_line(hit, nullptr); }

namespace {

// The line as it is when nothing has to be cut or dropped, which is almost
// every hit: encoded straight into one string, in the order of the full
// algorithm below (which gives the same line whenever this one fits).
std::string whole_line(const Hit& hit) {
    std::string line;
    // Most text is ASCII with a few escapes; growth covers the rest.
    line.reserve(128 + (hit.content_id.size() + hit.referrer.size() + hit.user_agent.size() + hit.url.size() +
                        hit.custom_ever_id.size()) * 3 / 2);
    line.append("wt?p=");
    append_number(line, hit.pixel_version);
    line.push_back(',');
    append_or_zero(line, hit.content_id, kMaxTextChars);
    line.append(",0,0,0,0,");
    append_number(line, hit.time_ms);
    line.push_back(',');
    append_or_zero(line, hit.referrer, kNoLimit);
    append_encoded_param(line, "X-WT-UA", hit.user_agent);
    line.append("&X-WT-IP=");
    append_query_value(line, hit.ip, 64);
    line.append("&X-WT-RQ=");
    append_query_value(line, hit.url);
    if (!hit.anonymous) {
        append_encoded_param(line, "eid", hit.ever_id, 64);
        append_encoded_param(line, "ceid", hit.custom_ever_id, kMaxTextChars);
        if (hit.new_visitor) line.append("&one=1");
    } else {
        line.append("&nc=1");
    }
    if (is_language(hit.language) && !has_param(hit, "la")) line.append("&la=").append(hit.language);
    if (!hit.media_code.empty() && !has_param(hit, "mc")) {
        const std::size_t start = line.size();
        line.append("&mc=");
        const std::size_t value_start = line.size();
        append_list_value(line, hit.media_code);
        if (line.size() == value_start) {
            line.resize(start);
        } else if (!has_param(hit, "mca")) {
            line.append("&mca=c");
        }
    }
    for (const auto& [name, value] : hit.client_hints) {
        if (!is_client_hint_param_name(name) || value.size() > kMaxClientHintBytes) continue;
        append_encoded_param(line, name, value);
    }
    for (const auto& [name, value] : hit.params) {
        if (!is_valid_param_name(name)) continue;
        line.push_back('&');
        line.append(name);
        line.push_back('=');
        append_list_value(line, value);
    }
    line.append("&eor=1");
    return line;
}

}  // namespace

std::string encode_hit_line(const Hit& hit, HitLineStats* stats) {
    HitLineStats local;
    HitLineStats& st = stats ? *stats : local;
    st = HitLineStats{};
    {
        std::string line = whole_line(hit);
        if (line.size() <= kLineBudget) return line;
    }

    std::string content_id = encode_or_zero(hit.content_id, kMaxTextChars, kNoLimit);
    std::string user_agent = encode_query_value(hit.user_agent);
    std::string custom_ever_id =
        hit.anonymous ? std::string() : encode_query_value(hit.custom_ever_id, kMaxTextChars);
    const std::string ip = encode_query_value(hit.ip, 64);
    const std::string ever_id = hit.anonymous ? std::string() : encode_query_value(hit.ever_id, 64);
    std::string referrer = encode_query_value(hit.referrer);
    std::string url = encode_query_value(hit.url);

    // Optional parameters, each a whole `&name=value…` fragment so that one
    // is dropped whole (mc goes with its mca).
    std::vector<std::string> optional;
    if (is_language(hit.language) && !has_param(hit, "la")) {
        optional.emplace_back("&la=" + hit.language);
    }
    if (!hit.media_code.empty() && !has_param(hit, "mc")) {
        std::string mc = encode_list_value(hit.media_code);
        // The libraries send the campaign action with the media code; `c`
        // (click) is their default (MappIntelligenceCampaign).
        if (!mc.empty()) optional.emplace_back("&mc=" + mc + (has_param(hit, "mca") ? "" : "&mca=c"));
    }
    for (const auto& [name, value] : hit.client_hints) {
        if (!is_client_hint_param_name(name) || value.size() > kMaxClientHintBytes) continue;
        std::string fragment;
        add_param(fragment, name, encode_query_value(value));
        if (fragment.size() > name.size() + 2) optional.push_back(std::move(fragment));
    }
    for (const auto& [name, value] : hit.params) {
        if (!is_valid_param_name(name)) continue;
        std::string fragment;
        add_param(fragment, name, encode_list_value(value));
        optional.push_back(std::move(fragment));
    }
    std::vector<bool> dropped(optional.size(), false);

    const std::string head_start = "wt?p=" + std::to_string(hit.pixel_version) + ",";
    const std::string head_end = ",0,0,0,0," + std::to_string(hit.time_ms) + ",";
    const auto identity_size = [&] {
        std::size_t n = 0;
        if (!hit.anonymous) {
            if (!ever_id.empty()) n += 5 + ever_id.size();
            if (!custom_ever_id.empty()) n += 6 + custom_ever_id.size();
            if (hit.new_visitor) n += 6;
        } else {
            n += 5;
        }
        return n;
    };
    const auto total = [&] {
        std::size_t n = head_start.size() + content_id.size() + head_end.size() +
                        std::max<std::size_t>(referrer.size(), 1);  // empty is sent as "0"
        if (!user_agent.empty()) n += 9 + user_agent.size();
        n += 9 + ip.size() + 9 + url.size() + identity_size() + 6;  // "&eor=1"
        for (std::size_t i = 0; i < optional.size(); ++i) {
            if (!dropped[i]) n += optional[i].size();
        }
        return n;
    };
    const auto excess = [&] {
        const std::size_t n = total();
        return n > kLineBudget ? n - kLineBudget : 0;
    };
    // Re-encodes `raw` into `*encoded` at most `bytes` long.
    const auto cut_to = [&](std::string* encoded, std::string_view raw, std::size_t max_chars,
                            std::size_t bytes) {
        if (encoded->size() <= bytes) return;
        *encoded = encode_query_value(raw, max_chars, bytes);
        st.cut = true;
    };

    // 1. URL and referrer, down to kUrlRoom together; the URL goes first but
    //    keeps at least half of the room.
    if (excess() > 0) {
        const std::size_t others = total() - url.size() - referrer.size();
        const std::size_t room = std::max(kLineBudget > others ? kLineBudget - others : 0, kUrlRoom);
        if (url.size() + referrer.size() > room) {
            const std::size_t url_room =
                std::max(room > referrer.size() ? room - referrer.size() : 0, std::min(url.size(), room / 2));
            cut_to(&url, hit.url, kNoLimit, url_room);
            cut_to(&referrer, hit.referrer, kNoLimit, room > url.size() ? room - url.size() : 0);
        }
    }
    // 2. The user agent, down to kUserAgentRoom (a real one fits in that).
    if (const std::size_t over = excess(); over > 0 && user_agent.size() > kUserAgentRoom) {
        cut_to(&user_agent, hit.user_agent, kNoLimit, std::max(user_agent.size() - over, kUserAgentRoom));
    }
    // 3. Optional parameters, the longest first.
    while (excess() > 0) {
        std::size_t longest = optional.size();
        for (std::size_t i = 0; i < optional.size(); ++i) {
            if (!dropped[i] && (longest == optional.size() || optional[i].size() > optional[longest].size())) {
                longest = i;
            }
        }
        if (longest == optional.size()) break;
        dropped[longest] = true;
        ++st.dropped_params;
    }
    // 4. Still too long (many multi-byte characters everywhere): shorten the
    //    longest text, by the excess or at least by half, until it fits.
    for (std::size_t over = excess(); over > 0; over = excess()) {
        struct Text {
            std::string* encoded;
            std::string_view raw;
            std::size_t max_chars;
        };
        const std::array<Text, 5> texts = {Text{&user_agent, hit.user_agent, kNoLimit},
                                           Text{&content_id, hit.content_id, kMaxTextChars},
                                           Text{&custom_ever_id, hit.custom_ever_id, kMaxTextChars},
                                           Text{&url, hit.url, kNoLimit},
                                           Text{&referrer, hit.referrer, kNoLimit}};
        const Text& longest = *std::max_element(texts.begin(), texts.end(), [](const Text& a, const Text& b) {
            return a.encoded->size() < b.encoded->size();
        });
        const std::size_t size = longest.encoded->size();
        if (size <= 1) break;  // nothing left to cut (cannot happen with the fixed parts' sizes)
        cut_to(longest.encoded, longest.raw, longest.max_chars, std::max(size > over ? size - over : 0, size / 2));
        if (content_id.empty()) content_id = "0";
    }
    if (referrer.empty()) referrer = "0";

    std::string line;
    line.reserve(total());
    line += head_start;
    line += content_id;
    line += head_end;
    line += referrer;
    if (!user_agent.empty()) add_param(line, "X-WT-UA", user_agent);
    add_param(line, "X-WT-IP", ip);
    add_param(line, "X-WT-RQ", url);
    if (!hit.anonymous) {
        if (!ever_id.empty()) add_param(line, "eid", ever_id);
        if (!custom_ever_id.empty()) add_param(line, "ceid", custom_ever_id);
        if (hit.new_visitor) add_param(line, "one", "1");
    } else {
        add_param(line, "nc", "1");
    }
    for (std::size_t i = 0; i < optional.size(); ++i) {
        if (!dropped[i]) line += optional[i];
    }
    line += "&eor=1";
    return line;
}

}  // namespace mapptrack
