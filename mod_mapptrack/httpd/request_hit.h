// Turning a request into a hit: the Hit built from the request that reached
// the site and the one that served the page (owned copies, nothing from r->pool).
#pragma once

#include "mapptrack/hit.h"

#include "config.h"
#include "request_note.h"

namespace mapptrack::httpd {

// The hit for the page `last` served to the request `orig` (time, URL and
// headers as the visitor sent them; configuration of what was served).
Hit build_hit(request_rec* orig, request_rec* last, const DirConfig* conf, const RequestNote& who);

}  // namespace mapptrack::httpd
