// Variant B: `SetHandler mapptrack-proxy`, the first-party relay for the
// browser's tracking pixel (design §7).
#pragma once

namespace mapptrack::httpd {

void register_relay_hooks();

}  // namespace mapptrack::httpd
