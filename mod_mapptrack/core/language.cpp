// Accept-Language -> `la` (language.h).
#include "mapptrack/language.h"

#include "mapptrack/text.h"

#include <optional>

namespace mapptrack {
namespace {

// RFC 9110 qvalue: 0, 1, 0.ddd or 1.000, as thousandths.
std::optional<int> parse_qvalue(std::string_view s) {
    if (s.empty() || (s[0] != '0' && s[0] != '1')) return std::nullopt;
    int q = (s[0] - '0') * 1000;
    if (s.size() == 1) return q;
    if (s[1] != '.' || s.size() > 5) return std::nullopt;
    int scale = 100;
    for (char c : s.substr(2)) {
        if (c < '0' || c > '9') return std::nullopt;
        q += (c - '0') * scale;
        scale /= 10;
    }
    if (q > 1000) return std::nullopt;
    return q;
}

// The lower-cased primary subtag of a language-range, if it is 2 to 8 letters.
std::optional<std::string> primary_subtag(std::string_view range) {
    const std::string_view primary = range.substr(0, range.find('-'));
    if (primary.size() < 2 || primary.size() > 8) return std::nullopt;
    std::string out;
    for (char c : primary) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c < 'a' || c > 'z') return std::nullopt;
        out.push_back(c);
    }
    // The subtags after the primary one must be well-formed too, or the
    // entry is not a language tag at all.
    std::string_view rest = range.substr(primary.size());
    while (!rest.empty()) {
        rest.remove_prefix(1);  // '-'
        const std::string_view sub = rest.substr(0, rest.find('-'));
        if (sub.empty() || sub.size() > 8) return std::nullopt;
        for (char c : sub) {
            const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
            if (!alnum) return std::nullopt;
        }
        rest.remove_prefix(sub.size());
    }
    return out;
}

}  // namespace

std::string primary_language(std::string_view accept_language) {
    std::string best;
    int best_q = 0;
    while (!accept_language.empty()) {
        const std::size_t comma = accept_language.find(',');
        const std::string_view entry = accept_language.substr(0, comma);
        accept_language =
            comma == std::string_view::npos ? std::string_view() : accept_language.substr(comma + 1);

        const std::size_t semi = entry.find(';');
        const auto lang = primary_subtag(trim(entry.substr(0, semi)));
        if (!lang) continue;
        int q = 1000;
        bool ok = true;
        std::string_view params = semi == std::string_view::npos ? std::string_view() : entry.substr(semi + 1);
        while (ok && !params.empty()) {
            const std::size_t next = params.find(';');
            const std::string_view param = trim(params.substr(0, next));
            params = next == std::string_view::npos ? std::string_view() : params.substr(next + 1);
            if (param.size() >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
                const auto parsed = parse_qvalue(param.substr(2));
                if (parsed) {
                    q = *parsed;
                } else {
                    ok = false;
                }
            } else {
                ok = false;  // Accept-Language has no other parameters
            }
        }
        if (!ok || q == 0) continue;
        if (q > best_q) {
            best_q = q;
            best = *lang;
            if (q == 1000) break;  // nothing later can beat it
        }
    }
    return best;
}

}  // namespace mapptrack
