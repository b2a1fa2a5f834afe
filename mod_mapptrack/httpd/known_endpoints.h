// The endpoints ({domain}/{ids}) the configuration tracks to: a spooled
// record is only ever replayed to one of them, with that server's delivery
// options — never to a host or proxy named by the record itself.
#pragma once

#include "mapptrack/dispatcher.h"

#include <httpd.h>

namespace mapptrack::httpd {

// Reads every server's and every section's MappTrackDomain/MappTrackId (and
// the MappTrackAllowDomain patterns, for .htaccess domains) once, in
// child_init. The resolver accepts `{domain}/{ids}` when the domain is one of
// them (or allowed by a pattern) and every ID is configured (any IDs for a
// pattern-allowed domain: tenants choose their own).
EndpointResolver make_endpoint_resolver(server_rec* main_server);

}  // namespace mapptrack::httpd
