// The inspector's pages: HTML (no JavaScript, readable in any browser) and
// JSON, of the stored hits decoded by inspect_hit().
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mapptrack/inspect.h"
#include "mapptrack/inspect_store.h"

namespace mapptrack {

struct InspectedEntry {
    StoredHit stored;
    InspectedHit hit;
};

std::vector<InspectedEntry> inspect_entries(const std::vector<StoredHit>& stored);
std::string inspect_html(const std::vector<InspectedEntry>& entries, std::int64_t now_ms);
std::string inspect_json(const std::vector<InspectedEntry>& entries);

}  // namespace mapptrack
