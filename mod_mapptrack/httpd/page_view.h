// Is this response a page view? The page rule (docs/design.md §7) or
// MappTrackCondition, and prefetches, which are not.
#pragma once

#include <httpd.h>

#include "config.h"

namespace mapptrack::httpd {

// A prefetch or prerender (Sec-Purpose, Purpose, X-Moz): not a page view.
bool is_prefetch_request(const request_rec* r);

// The page rule, or MappTrackCondition when configured, as far as it can be
// told now (the identity filter: cookie, sync send). A failing condition
// counts as false here and is not logged.
bool is_tracked_response(request_rec* r, const DirConfig* conf);

// MappTrackCondition evaluated after the response (log_transaction): this
// evaluation decides whether a hit is sent. A failure logs MT0020 (at most
// once a minute per process) and counts as false. `content_type_at_start`
// stands in for the content type httpd removes from a 204/304.
bool condition_holds_after_response(request_rec* r, const DirConfig* conf, const char* content_type_at_start);

}  // namespace mapptrack::httpd
