// Who the visitor is for Mapp (design §6): opted out, anonymous, known or new.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "mapptrack/cookies.h"

namespace mapptrack {

struct IdentityRules {
    const std::vector<std::string>* track_ids = nullptr;  // configured, in order
    std::string_view cookie_name;     // MappTrackCookieName (empty: wteid_<first id>)
};

struct Identity {
    enum class Kind {
        OptedOut,   // webtrekkOptOut: send nothing
        Anonymous,  // miCookieOptOut: nc=1, no IDs
        Known,      // an ever-ID from a cookie
        Unknown,    // no valid ever-ID found (the caller may issue one)
    };
    Kind kind = Kind::Unknown;
    std::string ever_id;  // for Known
};

// Read order: wtstp_eid, the configured cookie name, wteid_<id> for each
// track ID, wt3_eid (entry for a track ID), wt_eid. Invalid IDs are ignored.
Identity resolve_identity(const CookieList& cookies, const IdentityRules& rules);

// The name of the ever-ID cookie the module sets.
std::string ever_id_cookie_name(const IdentityRules& rules);

struct EverIdCookie {
    std::string name;
    std::string value;
    long max_age = 15552000;
    std::string domain;  // empty: host-only
    bool secure = false;
};

// `name=value; Path=/; Max-Age=…; HttpOnly; SameSite=Lax[; Secure][; Domain=…]`
std::string format_set_cookie(const EverIdCookie& cookie);

}  // namespace mapptrack
