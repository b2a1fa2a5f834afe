// The default page name (content ID) of a page hit, as Mapp's server
// libraries and the Smart Pixel name a page when the site sets none.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mapptrack {

// `host` + `path`, lower-cased, without the query: `www.example.com/shop/cart.html`.
//
// - `host` as in the page URL: the host name with `:port` when the port is
//   not the scheme's default (the libraries' requestURL and the pixel's
//   location.host include it).
// - `path` as the visitor sent it, percent-escapes kept (the pixel's
//   location.pathname and the libraries' parsed URL keep them; decoding
//   would name the same page differently from a pixel on the same site).
//   The glue passes the raw request path (r->parsed_uri.path), not r->uri.
// - `params_to_add` (MappTrackContentIdParams): each parameter present in
//   `query` with a non-empty value is added as `?name=value&name=value`,
//   value decoded, in the order of the list. That is the libraries'
//   useParamsForDefaultPageName form (PHP getDefaultPageName, Java, Smart
//   Pixel): they iterate the configured list, so the name does not depend on
//   the order of the URL's parameters. A parameter given twice counts once
//   (its first value, as the Smart Pixel reads it).
//
// Lower-casing is ASCII only; the libraries also lower-case non-ASCII
// letters of decoded parameter values (mb_strtolower). Empty result: "".
// Does not throw except std::bad_alloc.
std::string default_page_name(std::string_view host, std::string_view path, std::string_view query,
                              const std::vector<std::string>& params_to_add);

}  // namespace mapptrack
