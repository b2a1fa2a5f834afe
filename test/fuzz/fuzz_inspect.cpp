// The inspector (inspect.h, inspect_page.h) reads whatever reaches its
// location: a hostile line or cookie must never crash it, and its pages must
// stay well formed — the HTML never carries markup from the input, the JSON
// is always valid UTF-8 with no raw control byte.
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.h"
#include "mapptrack/inspect.h"
#include "mapptrack/inspect_page.h"
#include "mapptrack/inspect_store.h"

using namespace mapptrack;
using fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // Input: line \0 cookie (the cookie part optional).
    const std::string_view all(reinterpret_cast<const char*>(data), size);
    const std::size_t nul = all.find('\0');
    const std::string_view line = all.substr(0, nul);
    const std::string_view cookie = nul == std::string_view::npos ? std::string_view() : all.substr(nul + 1);
    const std::int64_t now = 1796250000000;

    const InspectedHit hit = inspect_hit("111111111111111", line, cookie, now);
    check(hit.line == line, "the line is kept as received", line);
    if (line.size() + 17 > 7 * 1024) check(!hit.violations.empty(), "a line over 7 KB is flagged", line);
    if (line.find("eor=1") == std::string_view::npos) check(!hit.violations.empty(), "no eor is flagged", line);

    // Through the store, as the handler does it.
    std::vector<unsigned char> block(InspectStore::bytes_for(2));
    auto store = InspectStore::create(block.data(), block.size(), 2);
    check(store.has_value(), "a store fits in bytes_for()");
    store->add("111111111111111", line, cookie, "GET", now);
    const std::vector<StoredHit> stored = store->recent(10);
    check(stored.size() == 1, "the hit is kept");
    check(stored[0].line == line.substr(0, kMaxStoredLine), "the stored line is the line (cut)", line);
    const std::vector<InspectedEntry> entries = inspect_entries(stored);

    const std::string page = inspect_html(entries, now);
    // Every '<' in the page is the page's own markup: none follows from the input.
    for (std::size_t i = page.find('<'); i != std::string::npos; i = page.find('<', i + 1)) {
        const std::string_view rest = std::string_view(page).substr(i + 1, 12);
        check(!(rest.size() > 6 && rest.substr(0, 6) == "script") && !(rest.size() > 3 && rest.substr(0, 3) == "img"),
              "no markup from the input in the HTML", line);
    }
    const std::string json = inspect_json(entries);
    check(!json.empty() && json.back() == '\n', "the JSON ends with a newline", json);
    for (std::size_t i = 0; i + 1 < json.size(); ++i) {
        const auto c = static_cast<unsigned char>(json[i]);
        check(c >= 0x20, "no raw control byte in the JSON", json);
    }
    check(fuzz::is_valid_utf8(json), "the JSON is valid UTF-8", json);
    return 0;
}
