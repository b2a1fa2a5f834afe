// The visitor of a request: resolve_identity (the core's rules) fed with the
// directory's configuration and the request's privacy headers.
#pragma once

#include <string>
#include <vector>

#include "mapptrack/cookies.h"
#include "mapptrack/identity.h"

#include "config.h"

namespace mapptrack::httpd {

// The visitor: resolve_identity with the directory's rules and the request's DNT/GPC headers.
Identity identify(const request_rec* r, const DirConfig* conf, const CookieList& cookies,
                  const std::vector<std::string>& ids);

}  // namespace mapptrack::httpd
