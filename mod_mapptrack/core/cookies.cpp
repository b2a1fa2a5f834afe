// Parsing the visitor's Cookie header and keeping only Mapp's cookies.
#include "mapptrack/cookies.h"

#include "mapptrack/text.h"

namespace mapptrack {
namespace {

bool is_cookie_token(std::string_view name) {
    for (char c : name) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7F || std::string_view("()<>@,;:\\\"/[]?={}").find(c) != std::string_view::npos) {
            return false;
        }
    }
    return !name.empty();
}

bool is_cookie_value(std::string_view value) {
    for (char c : value) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7F || c == '"' || c == ',' || c == ';' || c == '\\') return false;
    }
    return true;
}

}  // namespace

CookieList parse_cookie_header(std::string_view header) {
    CookieList cookies;
    while (!header.empty()) {
        // httpd joins repeated Cookie lines with ", ": a comma separates
        // cookies too (it is not a cookie-octet), so no site cookie can hide
        // inside a Mapp cookie's value.
        const std::size_t end = header.find_first_of(";,");
        std::string_view piece = header.substr(0, end);
        header = end == std::string_view::npos ? std::string_view() : header.substr(end + 1);
        const std::size_t eq = piece.find('=');
        if (eq == std::string_view::npos) continue;
        const std::string_view name = trim(piece.substr(0, eq));
        std::string_view value = trim(piece.substr(eq + 1));
        if (name.empty()) continue;
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
            value = value.substr(1, value.size() - 2);
        }
        cookies.emplace_back(name, value);
    }
    return cookies;
}

std::optional<std::string_view> find_cookie(const CookieList& cookies, std::string_view name) {
    for (const auto& [n, v] : cookies) {
        if (n == name) return v;
    }
    return std::nullopt;
}

bool is_mapp_cookie_name(std::string_view name) {
    return starts_with(name, "wt") || name == "webtrekkOptOut" || name == "miCookieOptOut";
}

std::string mapp_cookie_header(const CookieList& cookies) {
    std::string out;
    for (const auto& [name, value] : cookies) {
        if (!is_mapp_cookie_name(name) || !is_cookie_token(name)) continue;
        // Only RFC 6265 cookie-octets: nothing that could end the header or
        // the cookie, or be read back as another value.
        if (!is_cookie_value(value)) continue;
        if (!out.empty()) out += "; ";
        out.append(name);
        out.push_back('=');
        out.append(value);
    }
    return out;
}

std::optional<std::string_view> parse_wt3_eid(std::string_view value, std::string_view track_id) {
    if (track_id.empty()) return std::nullopt;
    while (!value.empty()) {
        const std::size_t end = value.find(';');
        std::string_view entry = value.substr(0, end);
        value = end == std::string_view::npos ? std::string_view() : value.substr(end + 1);
        const std::size_t bar = entry.find('|');
        if (bar == std::string_view::npos || entry.substr(0, bar) != track_id) continue;
        std::string_view id = entry.substr(bar + 1);
        return id.substr(0, id.find('#'));
    }
    return std::nullopt;
}

}  // namespace mapptrack
