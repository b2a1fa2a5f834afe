// Variant B: `SetHandler mapptrack-proxy`, the first-party relay for the
// browser's tracking pixel (docs/design.md §8).
#pragma once

namespace mapptrack::httpd {

void register_relay_hooks();

}  // namespace mapptrack::httpd
