// Sec-CH-UA* headers -> X-WT-SEC-CH-UA* parameters (client_hints.h).
#include "mapptrack/client_hints.h"

#include "mapptrack/text.h"

#include <algorithm>
#include <array>

namespace mapptrack {
namespace {

constexpr std::string_view kHeaderPrefix = "sec-ch-ua";
constexpr std::string_view kParamPrefix = "X-WT-SEC-CH-UA";
constexpr std::size_t kMaxNameChars = 64;

// Suffixes after `sec-ch-ua`, in the order they are sent.
constexpr std::array<std::string_view, 11> kKnown = {
    "",      "-full-version-list", "-model",        "-mobile", "-platform", "-platform-version",
    "-arch", "-bitness",           "-full-version", "-wow64",  "-form-factors"};

char upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

// The lower-case suffix after `sec-ch-ua` ("" or "-…"), or false when
// `name` is not a client hint header we pass on.
bool hint_suffix(std::string_view name, std::string* suffix) {
    if (name.size() < kHeaderPrefix.size() || name.size() > kMaxNameChars) return false;
    for (std::size_t i = 0; i < kHeaderPrefix.size(); ++i) {
        if (ascii_lower(name[i]) != kHeaderPrefix[i]) return false;
    }
    const std::string_view rest = name.substr(kHeaderPrefix.size());
    if (!rest.empty() && (rest.size() < 2 || rest.front() != '-' || rest.back() == '-')) return false;
    suffix->clear();
    for (char c : rest) {
        if (!is_name_char(c)) return false;
        suffix->push_back(ascii_lower(c));
    }
    return true;
}

std::string param_name(std::string_view suffix) {
    std::string out(kParamPrefix);
    for (char c : suffix) out.push_back(upper(c));
    return out;
}

}  // namespace

bool is_client_hint_param_name(std::string_view name) {
    if (name.substr(0, kParamPrefix.size()) != kParamPrefix) return false;
    const std::string_view rest = name.substr(kParamPrefix.size());
    if (name.size() - 5 > kMaxNameChars) return false;  // "X-WT-" + header name
    if (rest.empty()) return true;
    if (rest.size() < 2 || rest.front() != '-' || rest.back() == '-') return false;
    return std::all_of(rest.begin(), rest.end(),
                       [](char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'; });
}

HeaderPairs client_hint_params(const HeaderPairs& headers) {
    struct Found {
        std::string suffix;
        const std::string* value;
    };
    std::vector<Found> found;
    std::string suffix;
    for (const auto& [name, value] : headers) {
        if (!hint_suffix(name, &suffix)) continue;
        const bool again =
            std::any_of(found.begin(), found.end(), [&](const Found& f) { return f.suffix == suffix; });
        if (again) continue;  // the first of a repeated header wins
        if (value.empty() || value.size() > kMaxClientHintBytes) continue;
        found.push_back({suffix, &value});
    }
    const auto rank = [](const std::string& s) {
        return static_cast<std::size_t>(std::find(kKnown.begin(), kKnown.end(), s) - kKnown.begin());
    };
    std::stable_sort(found.begin(), found.end(),
                     [&](const Found& a, const Found& b) { return rank(a.suffix) < rank(b.suffix); });
    HeaderPairs out;
    for (const Found& f : found) {
        if (out.size() == kMaxClientHints) break;
        out.emplace_back(param_name(f.suffix), *f.value);
    }
    return out;
}

}  // namespace mapptrack
