// SetHandler mapptrack-inspect: a local track server. It takes hits like
// Mapp's (/{ids}/wt… GET, /{ids}/batch POST), keeps the last
// MappTrackInspectSize of them in shared memory, and shows them decoded.
#pragma once

namespace mapptrack::httpd {

void register_inspect_hooks();

}  // namespace mapptrack::httpd
