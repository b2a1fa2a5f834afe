// Outbound HTTP to the track server. The interface lets the dispatcher be
// tested alone; the libcurl implementation is the one the module uses.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

namespace mapptrack {

struct OutboundRequest {
    bool post = false;
    std::string url;
    std::string body;                  // for POST
    std::vector<std::string> headers;  // "Name: value"
    unsigned timeout_ms = 2000;        // whole transfer; connecting gets at most this
};

struct OutboundResponse {
    enum class Outcome { Answered, ConnectFailed, TimedOut, Aborted, Failed };
    Outcome outcome = Outcome::Failed;
    long status = 0;                       // when Answered
    std::string error;                     // human-readable, when not Answered
    std::string content_type;
    std::string body;                      // capped
    std::vector<std::string> set_cookies;  // raw Set-Cookie values
};

class Transport {
public:
    virtual ~Transport() = default;
    virtual OutboundResponse perform(const OutboundRequest& request) = 0;
};

struct CurlTransportOptions {
    std::string user_agent = "mod_mapptrack";
    std::string proxy;                          // MappTrackOutboundProxy, or empty
    const std::atomic<bool>* abort = nullptr;   // set => in-flight transfers end now
    std::size_t max_body = 64 * 1024;
};

// One reused easy handle (keep-alive, DNS cache); use from one thread at a time.
std::unique_ptr<Transport> make_curl_transport(const CurlTransportOptions& options);

// Delivered (2xx), worth retrying (connect failure, timeout, 408, 429, 5xx),
// or rejected for good (other statuses).
enum class Verdict { Delivered, Retry, Rejected };
Verdict classify(const OutboundResponse& response) noexcept;

}  // namespace mapptrack
