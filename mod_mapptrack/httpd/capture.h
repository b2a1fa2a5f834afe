// From request to hit: a one-shot output filter decides the visitor's
// identity and sets the ever-ID cookie before headers leave; log_transaction
// builds the hit from the final response and queues it.
#pragma once

namespace mapptrack::httpd {

void register_capture_hooks();

}  // namespace mapptrack::httpd
