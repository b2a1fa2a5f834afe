// The defaults of the directives, written once: the core's option structs
// and the httpd glue's getters both take them from here (docs/directives.md
// states them for users).
#pragma once

#include <cstdint>

namespace mapptrack::defaults {

inline constexpr int kPixelVersion = 300;                     // MappTrackPixelVersion
inline constexpr long kCookieMaxAge = 15552000;               // MappTrackCookieMaxAge: 180 days
inline constexpr unsigned kTimeoutMs = 2000;                  // MappTrackTimeout
inline constexpr unsigned kBatchSize = 50;                    // MappTrackBatchSize
inline constexpr unsigned kBatchDelayMs = 200;                // MappTrackBatchDelay
inline constexpr unsigned kThreads = 2;                       // MappTrackThreads
inline constexpr unsigned long kQueueSize = 10000;            // MappTrackQueueSize
inline constexpr unsigned kRetries = 5;                       // MappTrackRetries
inline constexpr std::uint64_t kSpoolMaxBytes = 256ull << 20; // MappTrackSpoolMaxSize
inline constexpr unsigned long kRelayMaxLines = 100;          // MappTrackRelayMaxLines
inline constexpr unsigned long kRelayMaxBody = 256 * 1024;    // MappTrackRelayMaxBody
inline constexpr unsigned kInspectSize = 200;                 // MappTrackInspectSize

}  // namespace mapptrack::defaults
