// The request note lives in r->request_config, under this module's index.
#include "request_note.h"

#include "config.h"

#include <http_config.h>

namespace mapptrack::httpd {

RequestNote* request_note(const request_rec* r) {
    return static_cast<RequestNote*>(ap_get_module_config(r->request_config, &mapptrack_module));
}

void set_request_note(request_rec* r, RequestNote* note) {
    ap_set_module_config(r->request_config, &mapptrack_module, note);
}

}  // namespace mapptrack::httpd
