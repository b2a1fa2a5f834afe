// The module record and hook registration; everything else lives in the
// files named for what they do (config, capture, lifecycle).
#include "capture.h"
#include "config.h"
#include "lifecycle.h"
#include "relay.h"

namespace {

void register_hooks(apr_pool_t*) {
    mapptrack::httpd::register_lifecycle_hooks();
    mapptrack::httpd::register_capture_hooks();
    mapptrack::httpd::register_relay_hooks();
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
