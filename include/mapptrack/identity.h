// Who the visitor is for Mapp (docs/design.md §5): opted out, anonymous, known or new.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mapptrack/defaults.h"
#include "mapptrack/cookies.h"

namespace mapptrack {

// MappTrackAnonymousCookie's mode, the Smart Pixel's anonymousOptIn switch.
enum class AnonymousCookieMode {
    OptOut,  // the cookie present (any value) -> anonymous; the default
    OptIn,   // anonymous unless the cookie is present with a non-empty value
};

inline constexpr std::string_view kDefaultAnonymousCookie = "miCookieOptOut";

// MappTrackDoNotTrack: what a Do Not Track or Global Privacy Control signal does.
enum class DoNotTrackRule { Off, Skip, Anonymous };

struct IdentityRules {
    const std::vector<std::string>* track_ids = nullptr;  // configured, in order
    std::string_view cookie_name;     // MappTrackCookieName (empty: wteid_<first id>)
    // MappTrackAnonymousCookie NAME [optout|optin]; an empty name means the default.
    std::string_view anonymous_cookie = kDefaultAnonymousCookie;
    AnonymousCookieMode anonymous_mode = AnonymousCookieMode::OptOut;
    DoNotTrackRule do_not_track = DoNotTrackRule::Off;
    // MappTrackConsentCookie NAME [regex]: without that cookie (or with a value
    // its regex refuses) the visitor is anonymous. Empty: no consent needed.
    std::string_view consent_cookie;
    // The regex, evaluated by the host (httpd's own engine); null: any value is consent.
    bool (*consent_matches)(const void* regex, std::string_view value) = nullptr;
    const void* consent_regex = nullptr;
};

// The request's own privacy signals, as it sent them (empty when absent).
struct PrivacySignals {
    std::string_view dnt;  // the DNT header
    std::string_view gpc;  // the Sec-GPC header
};

// DNT: 1 or Sec-GPC: 1, exactly.
bool asks_not_to_be_tracked(const PrivacySignals& signals) noexcept;

struct Identity {
    enum class Kind {
        OptedOut,   // webtrekkOptOut: send nothing
        Anonymous,  // the anonymous cookie says so (see IdentityRules): nc=1, no IDs
        Known,      // an ever-ID from a cookie
        Unknown,    // no valid ever-ID found (the caller may issue one)
    };
    Kind kind = Kind::Unknown;
    std::string ever_id;  // for Known
};

// Every identity and privacy rule, in order: webtrekkOptOut present:
// OptedOut. The anonymous cookie (rules' name and mode): Anonymous. A DNT/GPC
// signal: OptedOut under DoNotTrackRule::Skip, Anonymous under ::Anonymous.
// Consent required and not given: Anonymous. Otherwise the ever-ID, read in
// this order: wtstp_eid, the configured cookie name, wteid_<id> for each track
// ID, wt3_eid (entry for a track ID), wt_eid; invalid IDs are ignored.
// Does not throw except std::bad_alloc.
Identity resolve_identity(const CookieList& cookies, const IdentityRules& rules,
                          const PrivacySignals& signals = {});

// `optout` / `optin` (case-insensitive), MappTrackAnonymousCookie's second word.
std::optional<AnonymousCookieMode> parse_anonymous_cookie_mode(std::string_view word) noexcept;

// The name of the ever-ID cookie the module sets.
std::string ever_id_cookie_name(const IdentityRules& rules);

struct EverIdCookie {
    std::string name;
    std::string value;
    long max_age = defaults::kCookieMaxAge;
    std::string domain;  // empty: host-only
    bool secure = false;
};

// `name=value; Path=/; Max-Age=…; HttpOnly; SameSite=Lax[; Secure][; Domain=…]`
std::string format_set_cookie(const EverIdCookie& cookie);

}  // namespace mapptrack
