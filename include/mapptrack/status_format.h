// The status figures as text: JSON (the default of mapptrack-status),
// Prometheus text format 0.0.4, and mod_status's HTML section and ?auto lines.
#pragma once

#include <string>

#include "mapptrack/status.h"

namespace mapptrack {

std::string status_json(const StatusSnapshot& snapshot, std::int64_t now_ms);
std::string status_prometheus(const StatusSnapshot& snapshot);
// For mod_status: an HTML fragment (escaped), and "Key: value" lines.
std::string status_html(const StatusSnapshot& snapshot, std::int64_t now_ms);
std::string status_auto(const StatusSnapshot& snapshot);

}  // namespace mapptrack
