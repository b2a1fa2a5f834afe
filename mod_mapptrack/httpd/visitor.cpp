#include "visitor.h"

#include "request_headers.h"

namespace mapptrack::httpd {

Identity identify(const request_rec* r, const DirConfig* conf, const CookieList& cookies,
                  const std::vector<std::string>& ids) {
    return resolve_identity(cookies, identity_rules(conf, &ids),
                            PrivacySignals{header_or_empty(r, "DNT"), header_or_empty(r, "Sec-GPC")});
}

}  // namespace mapptrack::httpd
