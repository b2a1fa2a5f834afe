// Hit lines that come from outside the module (a relayed pixel request or
// batch body, a spool record): what may pass, and how the module's own
// parameters replace whatever the sender claimed.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace mapptrack {

// The longest hit line accepted from outside (a relayed line, a spool record).
inline constexpr std::size_t kMaxForeignLineBytes = 16 * 1024;

// A parsed `wt…?query` or `?query` line. `rest` is the pixel endpoint
// ("wt", "wt<random>", "wt.pl"; "wt" for the `?query` form).
struct HitLine {
    std::string rest;
    std::string query;
};

// Accepts exactly `wt[A-Za-z0-9._-]{0,38}?query` and `?query` (then rest = "wt"),
// at most kMaxForeignLineBytes, where the query is not empty and holds only
// RFC 3986 query characters (unreserved, sub-delims, ':', '@', '/', '?') and
// well-formed %XX escapes: no space, control, non-ASCII, '#', '%' without two
// hex digits, and no ".." in rest. Anything else: nullopt.
std::optional<HitLine> parse_hit_line(std::string_view line);

// True for a query that parse_hit_line would accept after "?".
bool is_clean_query(std::string_view query);

// What the module itself knows of the visitor, and puts into every relayed hit.
struct ClientFacts {
    std::string_view user_agent;  // raw User-Agent (encoded here)
    std::string_view ip;          // already anonymised when configured
    bool anonymous = false;       // drop eid, ceid and one; add nc=1
};

// The query with every parameter the sender may not set removed: X-WT-IP and
// X-WT-UA in any spelling whose letters and digits, lower-cased, read "xwtip"
// or "xwtua" after %-decoding (`x-wt-ip`, `X-WT-IP%20`, `+X-WT-IP`, `X_WT_UA`);
// when anonymous also eid, ceid, one and nc. Then X-WT-UA and X-WT-IP of
// `client` (and nc=1 when anonymous) are added, before a final `eor=1` if there
// is one; X-WT-UA whole (as far as the 7 KB line allows, at least 512 bytes)
// and left out for a client that sent no user agent. Empty pieces (`&&`) are
// dropped. The result is a clean query.
std::string rewrite_hit_query(std::string_view query, const ClientFacts& client);

// The first half of rewrite_hit_query alone: `query` without X-WT-IP/X-WT-UA in
// any of those spellings (and, when anonymous, eid, ceid, one and nc), empty
// pieces dropped, nothing added. For relayed requests that carry no hit (cc,
// optout…, hm): the client travels in headers there. Does not make a query clean.
std::string remove_client_claims(std::string_view query, bool anonymous);

// A queued relay hit keeps the visitor's identity in its line, because a batch
// carries no cookies: `query` with `eid=<ever_id>` added before a final `eor=1`,
// its empty pieces and empty eids dropped. Unchanged when `anonymous`, when the
// query has an eid of its own (a piece whose name reads "eid" as above, with a
// non-empty value), or when `ever_id` is not a valid ever-ID (19 digits), so
// that a cookie value cannot add parameters. A clean query stays clean.
std::string add_ever_id(std::string_view query, std::string_view ever_id, bool anonymous);

// `rest + "?" + rewrite_hit_query(query)`, for a line parse_hit_line accepted.
std::string rewrite_hit_line(const HitLine& line, const ClientFacts& client);

}  // namespace mapptrack
