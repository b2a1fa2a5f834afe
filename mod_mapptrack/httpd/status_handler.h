// SetHandler mapptrack-status: the server-wide figures as JSON (default) or
// Prometheus text (?format=prometheus); and a section on mod_status's page.
#pragma once

namespace mapptrack::httpd {

void register_status_hooks();

}  // namespace mapptrack::httpd
