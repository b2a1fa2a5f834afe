// Encoding a Hit into the `wt?` request line of design §5.
#include "mapptrack/hit.h"

#include <algorithm>
#include <array>
#include <string_view>

#include "mapptrack/encode.h"

namespace mapptrack {
namespace {

// Room the URL and the referrer always keep; the other values give way to it
// when a line would grow past kMaxLineBytes.
constexpr std::size_t kUrlRoom = 1024;

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

}  // namespace

bool is_valid_param_name(std::string_view name) {
    if (name.empty() || name.size() > 32) return false;
    const auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
    if (!alpha(name[0])) return false;
    for (char c : name) {
        if (!alpha(c) && !(c >= '0' && c <= '9') && c != '_') return false;
    }
    // Parameters the module sets itself can not be overridden.
    static constexpr std::array<std::string_view, 8> reserved = {"p",   "eid", "ceid", "one",
                                                                 "nc",  "eor", "fns",  "mts"};
    return std::find(reserved.begin(), reserved.end(), name) == reserved.end();
}

std::string encode_hit_line(const Hit& hit) {
    // Text values: 255 characters each.
    std::string content_id = encode_or_zero(hit.content_id, kMaxTextChars, kNoLimit);
    std::string user_agent = encode_query_value(hit.user_agent, kMaxTextChars);
    std::string custom_ever_id = hit.anonymous ? std::string() : encode_query_value(hit.custom_ever_id, kMaxTextChars);
    const std::string ip = encode_query_value(hit.ip, 64);
    std::vector<std::pair<std::string_view, std::string>> params;
    for (const auto& [name, value] : hit.params) {
        if (is_valid_param_name(name)) params.emplace_back(name, encode_query_value(value, kMaxTextChars));
    }

    const std::string head_start = "wt?p=" + std::to_string(hit.pixel_version) + ",";
    const std::string head_end = ",0,0,0,0," + std::to_string(hit.time_ms) + ",";
    const auto fixed_size = [&] {
        std::size_t n = head_start.size() + content_id.size() + head_end.size() + 1 +  // "0" referrer
                        40 + user_agent.size() + ip.size() + 64 + custom_ever_id.size() + 40;
        for (const auto& [name, value] : params) n += name.size() + value.size() + 2;
        return n;
    };
    // Too long (many multi-byte characters): drop custom parameters from the
    // end, then shorten the longest of user agent, content ID and custom ID.
    while (fixed_size() + kUrlRoom > kMaxLineBytes) {
        const std::size_t excess = fixed_size() + kUrlRoom - kMaxLineBytes;
        if (!params.empty()) {
            params.pop_back();
            continue;
        }
        struct Text {
            std::string* encoded;
            std::string_view raw;
        };
        const std::array<Text, 3> texts = {Text{&user_agent, hit.user_agent},
                                           Text{&content_id, hit.content_id},
                                           Text{&custom_ever_id, hit.custom_ever_id}};
        const Text& longest = *std::max_element(texts.begin(), texts.end(), [](const Text& a, const Text& b) {
            return a.encoded->size() < b.encoded->size();
        });
        const std::size_t size = longest.encoded->size();
        *longest.encoded = encode_query_value(longest.raw, kMaxTextChars,
                                              std::max(size > excess ? size - excess : 0, size / 2));
        if (content_id.empty()) content_id = "0";
    }

    std::string tail;
    if (!hit.anonymous) {
        if (!hit.ever_id.empty()) add_param(tail, "eid", encode_query_value(hit.ever_id, 64));
        if (!custom_ever_id.empty()) add_param(tail, "ceid", custom_ever_id);
        if (hit.new_visitor) add_param(tail, "one", "1");
    } else {
        add_param(tail, "nc", "1");
    }
    for (const auto& [name, value] : params) add_param(tail, name, value);
    tail += "&eor=1";

    const std::string head = head_start + content_id + head_end;
    const std::string middle = "&X-WT-UA=" + user_agent + "&X-WT-IP=" + ip + "&X-WT-RQ=";
    const std::size_t fixed = head.size() + middle.size() + tail.size() + 1;  // +1 for "0"
    const std::size_t room = kMaxLineBytes > fixed + 1 ? kMaxLineBytes - fixed - 1 : 0;

    std::string referrer = encode_query_value(hit.referrer);
    std::string url = encode_query_value(hit.url);
    if (referrer.size() + url.size() > room) {
        // Cut the URL first, but keep at least half the room for it.
        const std::size_t url_room =
            std::max(room > referrer.size() ? room - referrer.size() : 0,
                     std::min(url.size(), room / 2));
        url = encode_query_value(hit.url, kNoLimit, url_room);
        referrer = encode_query_value(hit.referrer, kNoLimit, room - url.size());
    }
    if (referrer.empty()) referrer = "0";

    std::string line;
    line.reserve(head.size() + referrer.size() + middle.size() + url.size() + tail.size());
    line += head;
    line += referrer;
    line += middle;
    line += url;
    line += tail;
    return line;
}

}  // namespace mapptrack
