// Hit lines from outside the module (hit_line.h): a relayed pixel request, a
// batch body line, a spool record. Nothing the sender wrote may reach a URL
// unchecked, and nothing it claims about the visitor survives.
#include "mapptrack/hit_line.h"

#include "mapptrack/hit.h"

#include <algorithm>
#include <array>

#include "mapptrack/encode.h"
#include "mapptrack/ever_id.h"

namespace mapptrack {
namespace {

bool is_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// RFC 3986 `query` characters other than pct-encoded: unreserved, sub-delims, ':', '@', '/', '?'.
bool is_query_char(char c) {
    if (is_alnum(c)) return true;
    switch (c) {
    case '-': case '.': case '_': case '~':                        // unreserved
    case '!': case '$': case '&': case '\'': case '(': case ')':   // sub-delims
    case '*': case '+': case ',': case ';': case '=':
    case ':': case '@': case '/': case '?':
        return true;
    default:
        return false;
    }
}

bool is_rest_char(char c) { return is_alnum(c) || c == '.' || c == '_' || c == '-'; }

// A parameter name as a lenient parser on the track server might read it:
// %-decoded, '+' as space, then only its letters and digits, lower-cased.
// `X-WT-IP`, `x_wt_ip`, `X-WT-IP%20`, `+X-WT-IP` and `X%2DWT%2DIP` all read "xwtip".
// Only short names matter (every name checked has at most 5 characters), so
// the reading stops past 8 and lives on the stack: no allocation per parameter.
class NormalisedName {
public:
    explicit NormalisedName(std::string_view name) {
        for (std::size_t i = 0; i < name.size(); ++i) {
            char c = name[i];
            if (c == '%' && i + 2 < name.size() && hex_value(name[i + 1]) >= 0 && hex_value(name[i + 2]) >= 0) {
                c = static_cast<char>(hex_value(name[i + 1]) * 16 + hex_value(name[i + 2]));
                i += 2;
            }
            if (!is_alnum(c)) continue;  // '+' (a space), '-', '_', '%', controls: all dropped
            if (size_ == sizeof buf_) {
                too_long_ = true;
                return;
            }
            buf_[size_++] = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
        }
    }
    bool is(std::string_view name) const { return !too_long_ && std::string_view(buf_, size_) == name; }

private:
    char buf_[8];
    std::size_t size_ = 0;
    bool too_long_ = false;
};

bool is_claim(const NormalisedName& name, bool anonymous) {
    if (name.is("xwtip") || name.is("xwtua")) return true;
    if (!anonymous) return false;
    static constexpr std::array<std::string_view, 4> kIdentity = {"eid", "ceid", "one", "nc"};
    for (std::string_view identity : kIdentity) {
        if (name.is(identity)) return true;
    }
    return false;
}

template <typename Each>
void for_each_piece(std::string_view query, Each&& each) {
    while (true) {
        const std::size_t amp = query.find('&');
        each(query.substr(0, amp));
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
}

}  // namespace

bool is_clean_query(std::string_view query) {
    if (query.empty() || query.size() > kMaxForeignLineBytes) return false;
    for (std::size_t i = 0; i < query.size(); ++i) {
        const char c = query[i];
        if (c == '%') {
            if (i + 2 >= query.size()) return false;
            if (hex_value(query[i + 1]) < 0 || hex_value(query[i + 2]) < 0) return false;
            i += 2;
        } else if (!is_query_char(c)) {
            return false;
        }
    }
    return true;
}

std::optional<HitLine> parse_hit_line(std::string_view line) {
    if (line.size() > kMaxForeignLineBytes) return std::nullopt;
    const std::size_t question = line.find('?');
    if (question == std::string_view::npos) return std::nullopt;
    const std::string_view rest = line.substr(0, question);
    const std::string_view query = line.substr(question + 1);
    if (!rest.empty()) {
        if (rest.size() > 40 || rest.substr(0, 2) != "wt") return std::nullopt;
        for (char c : rest) {
            if (!is_rest_char(c)) return std::nullopt;
        }
        if (rest.find("..") != std::string_view::npos) return std::nullopt;
    }
    if (!is_clean_query(query)) return std::nullopt;
    HitLine hit;
    hit.rest = rest.empty() ? std::string("wt") : std::string(rest);
    hit.query = std::string(query);
    return hit;
}

std::string remove_client_claims(std::string_view query, bool anonymous) {
    std::string out;
    for_each_piece(query, [&](std::string_view piece) {
        if (piece.empty()) return;
        if (is_claim(NormalisedName(piece.substr(0, piece.find('='))), anonymous)) return;
        if (!out.empty()) out.push_back('&');
        out.append(piece);
    });
    return out;
}

std::string rewrite_hit_query(std::string_view query, const ClientFacts& client) {
    std::string out = remove_client_claims(query, client.anonymous);
    // The module's own parameters go before a final eor=1, which must stay last.
    constexpr std::string_view kEor = "eor=1";
    bool final_eor = false;
    if (out == kEor) {
        out.clear();
        final_eor = true;
    } else if (out.size() > kEor.size() && out.compare(out.size() - kEor.size(), kEor.size(), kEor) == 0 &&
               out[out.size() - kEor.size() - 1] == '&') {
        out.resize(out.size() - kEor.size() - 1);
        final_eor = true;
    }
    if (!out.empty()) out.push_back('&');
    // The user agent whole, as in page hits, as far as Mapp's 7 KB line allows
    // (at least 512 bytes of it); none at all when the client sent none.
    if (!client.user_agent.empty()) {
        const std::size_t used = out.size() + 128;
        out += "X-WT-UA=";
        append_query_value(out, client.user_agent, kNoLimit,
                           std::max<std::size_t>(512, kMaxLineBytes > used ? kMaxLineBytes - used : 0));
        out.push_back('&');
    }
    out += "X-WT-IP=";
    append_query_value(out, client.ip, 64);
    if (client.anonymous) out += "&nc=1";
    if (final_eor) out += "&eor=1";
    return out;
}

std::string add_ever_id(std::string_view query, std::string_view ever_id, bool anonymous) {
    // Only digits go in: the value comes from a cookie the browser may have been given by anyone.
    if (anonymous || !is_valid_ever_id(ever_id)) return std::string(query);
    std::string out;
    bool own = false;
    for_each_piece(query, [&](std::string_view piece) {
        if (piece.empty()) return;
        const std::size_t eq = piece.find('=');
        if (NormalisedName(piece.substr(0, eq)).is("eid")) {
            // The pixel's own eid wins; an empty one is no identity and gives way.
            if (eq != std::string_view::npos && eq + 1 < piece.size()) own = true;
            else return;
        }
        if (!out.empty()) out.push_back('&');
        out.append(piece);
    });
    if (own) return std::string(query);
    constexpr std::string_view kEor = "eor=1";
    const bool final_eor = out == kEor || (out.size() > kEor.size() &&
                                          out.compare(out.size() - kEor.size(), kEor.size(), kEor) == 0 &&
                                          out[out.size() - kEor.size() - 1] == '&');
    if (final_eor) out.resize(out.size() - std::min(out.size(), kEor.size() + 1));
    if (!out.empty()) out.push_back('&');
    out.append("eid=").append(ever_id);
    if (final_eor) out.append("&eor=1");
    return out;
}

std::string rewrite_hit_line(const HitLine& line, const ClientFacts& client) {
    return line.rest + "?" + rewrite_hit_query(line.query, client);
}

}  // namespace mapptrack
