// IP anonymisation (MappTrackAnonymizeIP).
#include "mapptrack/ip.h"

#include <arpa/inet.h>

#include <cstring>

namespace mapptrack {

std::string anonymize_ip(std::string_view ip) {
    if (ip.find('\0') != std::string_view::npos) return std::string();
    const std::string text(ip);
    char out[INET6_ADDRSTRLEN];
    unsigned char v4[4];
    if (inet_pton(AF_INET, text.c_str(), v4) == 1) {
        v4[3] = 0;
        return inet_ntop(AF_INET, v4, out, sizeof out) ? std::string(out) : std::string();
    }
    unsigned char v6[16];
    if (inet_pton(AF_INET6, text.c_str(), v6) == 1) {
        std::memset(v6 + 6, 0, 10);  // keep the first 48 bits
        return inet_ntop(AF_INET6, v6, out, sizeof out) ? std::string(out) : std::string();
    }
    return std::string();
}

}  // namespace mapptrack
