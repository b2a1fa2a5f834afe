// The visitor's language for a page hit (`la`), from Accept-Language.
#pragma once

#include <string>
#include <string_view>

namespace mapptrack {

// The primary language subtag of the visitor's preferred language, lower
// case: `de-DE,de;q=0.9,en;q=0.8` -> `de`. The Smart Pixel sends the first
// two letters of navigator.language, which browsers put first in
// Accept-Language; here the entry with the highest q wins, ties going to the
// earlier one (the first, for every browser). `*`, q=0 and malformed entries
// are skipped. The subtag is sent whole when it has 3 to 8 letters (`fil`),
// where the pixel would cut it to 2 (`fi`, another language).
// The result is empty or [a-z]{2,8}, so no input can add or end a parameter.
// Does not throw except std::bad_alloc.
std::string primary_language(std::string_view accept_language);

}  // namespace mapptrack
