// The campaign media code of a page hit (`mc`), from the page URL's query.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mapptrack {

// MappTrackCampaignParams' default, `wt_mc mc`: the parameters the Smart
// Pixel and the libraries' MappIntelligenceCampaign look for. (A fresh
// vector: nothing global with a destructor.)
std::vector<std::string> default_campaign_params();

// The raw value for Hit::media_code: for each parameter of `params` present
// in `query` with a non-empty value, `name%3Dvalue` (value decoded), joined
// by `;`; "" when there is none. That is the Smart Pixel's form (its
// campaign plugin builds `wt_mc%3D<value>` and encodes it once more), and
// the form the libraries document (`new MappIntelligenceCampaign("wt_mc%3Dfoo.bar")`):
// Mapp matches it against the account's media-code parameter names.
// Hostile values are harmless here: encode_hit_line encodes the whole value.
// Does not throw except std::bad_alloc.
std::string media_code(std::string_view query, const std::vector<std::string>& params);

}  // namespace mapptrack
