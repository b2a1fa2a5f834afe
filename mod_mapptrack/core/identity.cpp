// Resolving the visitor's identity from Mapp cookies (docs/design.md §5).
#include "mapptrack/identity.h"

#include "mapptrack/encode.h"
#include "mapptrack/ever_id.h"

namespace mapptrack {
namespace {

// The Smart Pixel (enableAnonymousFunction, anonymousCookieName,
// anonymousOptIn) reads an empty cookie as absent. In opt-out mode any
// cookie of that name makes the visitor anonymous, empty or not (unchanged
// behaviour, and the safe side); in opt-in mode only a non-empty value is
// consent to be identified.
bool is_anonymous(const CookieList& cookies, const IdentityRules& rules) {
    const std::string_view name =
        rules.anonymous_cookie.empty() ? kDefaultAnonymousCookie : rules.anonymous_cookie;
    const auto cookie = find_cookie(cookies, name);
    if (rules.anonymous_mode == AnonymousCookieMode::OptIn) return !cookie || cookie->empty();
    return cookie.has_value();
}

}  // namespace

std::optional<AnonymousCookieMode> parse_anonymous_cookie_mode(std::string_view word) noexcept {
    std::string_view known[] = {"optout", "optin"};
    for (std::size_t k = 0; k < 2; ++k) {
        if (word.size() != known[k].size()) continue;
        bool same = true;
        for (std::size_t i = 0; i < word.size() && same; ++i) {
            const char c = word[i] >= 'A' && word[i] <= 'Z' ? static_cast<char>(word[i] - 'A' + 'a') : word[i];
            same = c == known[k][i];
        }
        if (same) return k == 0 ? AnonymousCookieMode::OptOut : AnonymousCookieMode::OptIn;
    }
    return std::nullopt;
}

std::string ever_id_cookie_name(const IdentityRules& rules) {
    if (!rules.cookie_name.empty()) return std::string(rules.cookie_name);
    if (rules.track_ids && !rules.track_ids->empty()) return "wteid_" + rules.track_ids->front();
    return "wteid";
}

bool asks_not_to_be_tracked(const PrivacySignals& signals) noexcept { return signals.dnt == "1" || signals.gpc == "1"; }

Identity resolve_identity(const CookieList& cookies, const IdentityRules& rules, const PrivacySignals& signals) {
    Identity identity;
    if (find_cookie(cookies, "webtrekkOptOut")) {
        identity.kind = Identity::Kind::OptedOut;
        return identity;
    }
    if (is_anonymous(cookies, rules)) {
        identity.kind = Identity::Kind::Anonymous;
        return identity;
    }
    const bool signalled = rules.do_not_track != DoNotTrackRule::Off && asks_not_to_be_tracked(signals);
    if (signalled && rules.do_not_track == DoNotTrackRule::Skip) {
        identity.kind = Identity::Kind::OptedOut;
        return identity;
    }
    bool consent = true;
    if (!rules.consent_cookie.empty()) {
        const std::optional<std::string_view> value = find_cookie(cookies, rules.consent_cookie);
        consent = value && (!rules.consent_matches || rules.consent_matches(rules.consent_regex, *value));
    }
    if (signalled || !consent) {
        identity.kind = Identity::Kind::Anonymous;
        return identity;
    }
    const auto accept = [&](std::optional<std::string_view> candidate) {
        if (!candidate || !is_valid_ever_id(*candidate)) return false;
        identity.kind = Identity::Kind::Known;
        identity.ever_id = std::string(*candidate);
        return true;
    };
    if (accept(find_cookie(cookies, "wtstp_eid"))) return identity;
    if (!rules.cookie_name.empty() && accept(find_cookie(cookies, rules.cookie_name))) {
        return identity;
    }
    if (rules.track_ids) {
        for (const std::string& id : *rules.track_ids) {
            if (accept(find_cookie(cookies, "wteid_" + id))) return identity;
        }
        if (const auto wt3 = find_cookie(cookies, "wt3_eid")) {
            // The pixel stores the list URL-encoded (`%3B111%7C…`): `;` cannot be in a cookie.
            const std::string list = percent_decode(*wt3);
            for (const std::string& id : *rules.track_ids) {
                if (accept(parse_wt3_eid(list, id))) return identity;
            }
        }
    }
    if (const auto wt = find_cookie(cookies, "wt_eid")) {
        // Pixel v2 wrote the plain ID or, like wt3_eid, a per-track-ID list.
        if (accept(wt)) return identity;
        if (rules.track_ids) {
            const std::string list = percent_decode(*wt);
            for (const std::string& id : *rules.track_ids) {
                if (accept(parse_wt3_eid(list, id))) return identity;
            }
        }
    }
    return identity;
}

std::string format_set_cookie(const EverIdCookie& cookie) {
    std::string out = cookie.name + "=" + cookie.value + "; Path=/; Max-Age=" +
                      std::to_string(cookie.max_age) + "; HttpOnly; SameSite=Lax";
    if (cookie.secure) out += "; Secure";
    if (!cookie.domain.empty()) out += "; Domain=" + cookie.domain;
    return out;
}

}  // namespace mapptrack
