// The endpoints the configuration tracks to (known_endpoints.h).
#include "known_endpoints.h"

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "mapptrack/target.h"

#include "config.h"
#include "queued_delivery.h"
#include "shared_memory.h"

#include <http_core.h>

namespace mapptrack::httpd {
namespace {

struct Known {
    struct Site {
        DeliveryOptions options;
        const server_rec* server;  // its figures' row is this server's
    };
    std::map<std::string, Site> domains;  // domain URL -> the first server naming it
    std::set<std::string> ids;
    std::vector<std::string> patterns;               // MappTrackAllowDomain
    DeliveryOptions main_options;
};

void add_section(Known& known, const DirConfig* c, const Known::Site& site) {
    if (!c) return;
    if (c->domain) known.domains.emplace(c->domain, site);
    if (c->track_ids) {
        for (const std::string& id : track_ids_of(c)) known.ids.insert(id);
    }
}

// A section's own record, and the <If>/<Files> sections inside it.
void add_sections(Known& known, const ap_conf_vector_t* section, const Known::Site& site, int depth = 0) {
    if (!section || depth > 16) return;
    add_section(known, dir_config(section), site);
    const auto* core = static_cast<const core_dir_config*>(ap_get_core_module_config(section));
    if (!core) return;
    for (const apr_array_header_t* nested : {core->sec_if, core->sec_file}) {
        for (int i = 0; nested && i < nested->nelts; ++i) {
            add_sections(known, APR_ARRAY_IDX(nested, i, ap_conf_vector_t*), site, depth + 1);
        }
    }
}

void add_all(Known& known, const apr_array_header_t* sections, const Known::Site& site) {
    for (int i = 0; sections && i < sections->nelts; ++i) {
        add_sections(known, APR_ARRAY_IDX(sections, i, ap_conf_vector_t*), site);
    }
}

}  // namespace

EndpointResolver make_endpoint_resolver(server_rec* main_server) {
    auto known = std::make_shared<Known>();
    known->main_options = delivery_options(main_server);
    if (const apr_array_header_t* allowed = server_config(main_server)->allow_domains) {
        for (int i = 0; i < allowed->nelts; ++i) known->patterns.emplace_back(APR_ARRAY_IDX(allowed, i, const char*));
    }
    for (server_rec* s = main_server; s; s = s->next) {
        const Known::Site site{delivery_options(s), s};
        add_sections(*known, s->lookup_defaults, site);
        const auto* core = static_cast<const core_server_config*>(ap_get_core_module_config(s->module_config));
        if (core) {
            add_all(*known, core->sec_dir, site);
            add_all(*known, core->sec_url, site);
        }
    }
    return [known, main_server](std::string_view endpoint) -> std::optional<DeliveryOptions> {
        const std::size_t slash = endpoint.rfind('/');
        if (slash == std::string_view::npos) return std::nullopt;
        const std::string domain(endpoint.substr(0, slash));
        std::string error;
        const auto ids = parse_track_ids(endpoint.substr(slash + 1), &error);
        if (!ids) return std::nullopt;
        if (const auto it = known->domains.find(domain); it != known->domains.end()) {
            for (const std::string& id : *ids) {
                if (!known->ids.count(id)) return std::nullopt;
            }
            DeliveryOptions options = it->second.options;
            options.status_row = status_row(it->second.server, std::string(endpoint.substr(slash + 1)).c_str());
            return options;
        }
        const auto parsed = parse_track_domain(domain, &error);
        if (parsed && parsed->url() == domain && host_allowed(known->patterns, *parsed)) {
            DeliveryOptions options = known->main_options;
            options.status_row = status_row(main_server, std::string(endpoint.substr(slash + 1)).c_str());
            return options;
        }
        return std::nullopt;
    };
}

}  // namespace mapptrack::httpd
