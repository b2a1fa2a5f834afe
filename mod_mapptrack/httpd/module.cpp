// The module record and hook registration; everything else lives in the
// files named for what they do (config, capture, lifecycle, relay, status, inspector).
#include "capture.h"
#include "config.h"
#include "inspect_handler.h"
#include "lifecycle.h"
#include "relay.h"
#include "status_handler.h"

namespace {

void register_hooks(apr_pool_t*) {
    mapptrack::httpd::register_lifecycle_hooks();
    mapptrack::httpd::register_capture_hooks();
    mapptrack::httpd::register_relay_hooks();
    mapptrack::httpd::register_status_hooks();
    mapptrack::httpd::register_inspect_hooks();
}

}  // namespace

extern "C" {
module AP_MODULE_DECLARE_DATA mapptrack_module = {
    STANDARD20_MODULE_STUFF,
    mapptrack::httpd::create_dir_config,
    mapptrack::httpd::merge_dir_config,
    mapptrack::httpd::create_server_config,
    mapptrack::httpd::merge_server_config,
    mapptrack::httpd::directives,
    register_hooks,
};
}
