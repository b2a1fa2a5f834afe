// Visitor IP handling.
#pragma once

#include <string>
#include <string_view>

namespace mapptrack {

// IPv4: last octet zeroed. IPv6: last 80 bits zeroed. Anything else: "".
std::string anonymize_ip(std::string_view ip);

}  // namespace mapptrack
