// Default page names (page_name.h).
#include "mapptrack/page_name.h"

#include <algorithm>

#include "mapptrack/query_string.h"

namespace mapptrack {

std::string default_page_name(std::string_view host, std::string_view path, std::string_view query,
                              const std::vector<std::string>& params_to_add) {
    std::string name;
    name.reserve(host.size() + path.size());
    name.append(host);
    name.append(path.substr(0, path.find_first_of("?#")));
    char sep = '?';
    std::vector<std::string_view> seen;
    for (const std::string& param : params_to_add) {
        if (std::find(seen.begin(), seen.end(), param) != seen.end()) continue;
        seen.emplace_back(param);
        const auto value = query_param(query, param);
        if (!value || value->empty()) continue;  // as the libraries: empty values are left out
        name.push_back(sep);
        sep = '&';
        name.append(param);
        name.push_back('=');
        name.append(*value);
    }
    for (char& c : name) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return name;
}

}  // namespace mapptrack
