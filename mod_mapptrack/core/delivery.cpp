// The visitor's hash (delivery.h): all hits of one visitor take one queue.
#include "mapptrack/delivery.h"

#include <functional>

namespace mapptrack {

std::uint64_t visitor_hash(std::string_view ever_id, std::string_view ip, std::string_view agent) {
    if (!ever_id.empty()) return std::hash<std::string_view>{}(ever_id);
    std::string key;
    key.reserve(ip.size() + 1 + agent.size());
    key.append(ip).append(1, '\n').append(agent);
    return std::hash<std::string>{}(key);
}

}  // namespace mapptrack
