// Campaign media codes (campaign.h).
#include "mapptrack/campaign.h"

#include <algorithm>

#include "mapptrack/query_string.h"

namespace mapptrack {

std::vector<std::string> default_campaign_params() { return {"wt_mc", "mc"}; }

std::string media_code(std::string_view query, const std::vector<std::string>& params) {
    std::string out;
    std::vector<std::string_view> seen;
    for (const std::string& name : params) {
        if (std::find(seen.begin(), seen.end(), name) != seen.end()) continue;
        seen.emplace_back(name);
        const auto value = query_param(query, name);
        if (!value || value->empty()) continue;
        if (!out.empty()) out.push_back(';');
        out.append(name);
        out.append("%3D");
        out.append(*value);
    }
    return out;
}

}  // namespace mapptrack
