// libcurl's own reading of a URL, for the targets that compare ours with it.
#pragma once

#include <curl/curl.h>

#include <cctype>
#include <cstdlib>
#include <string>

#include "fuzz_common.h"

namespace fuzz {

// Scheme, host (lower case, IPv6 brackets stripped), path, query and port
// (the scheme's default when none is given); ok = false when libcurl refuses it.
struct CurlView {
    bool ok = false;
    std::string scheme, host, path, query;
    long port = 0;
};

inline CurlView curl_parse(const std::string& url) {
    CurlView v;
    CURLU* h = curl_url();
    if (!h) fuzz::fail("curl_url failed");
    if (curl_url_set(h, CURLUPART_URL, url.c_str(), CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK) {
        char* part = nullptr;
        v.ok = true;
        if (curl_url_get(h, CURLUPART_SCHEME, &part, 0) == CURLUE_OK) { v.scheme = part; curl_free(part); } else v.ok = false;
        if (curl_url_get(h, CURLUPART_HOST, &part, 0) == CURLUE_OK) { v.host = part; curl_free(part); } else v.ok = false;
        if (curl_url_get(h, CURLUPART_PATH, &part, 0) == CURLUE_OK) { v.path = part; curl_free(part); } else v.ok = false;
        if (curl_url_get(h, CURLUPART_QUERY, &part, 0) == CURLUE_OK) { v.query = part; curl_free(part); }
        if (curl_url_get(h, CURLUPART_PORT, &part, CURLU_DEFAULT_PORT) == CURLUE_OK) {
            v.port = std::strtol(part, nullptr, 10);
            curl_free(part);
        } else {
            v.ok = false;
        }
    }
    curl_url_cleanup(h);
    // Lower case, IPv6 brackets stripped.
    for (char& c : v.host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (v.host.size() >= 2 && v.host.front() == '[' && v.host.back() == ']') v.host = v.host.substr(1, v.host.size() - 2);
    return v;
}

}  // namespace fuzz
