// Outbound HTTP to the track server. The interface lets the dispatcher be
// tested alone; the libcurl implementation is the one the module uses.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "mapptrack/defaults.h"

namespace mapptrack {

struct OutboundRequest {
    bool post = false;
    std::string url;
    std::string body;                  // for POST
    std::vector<std::string> headers;  // "Name: value"
    unsigned timeout_ms = defaults::kTimeoutMs;  // whole transfer; connecting gets at most this
    std::string proxy;                 // MappTrackOutboundProxy, or empty for none
    bool keep_headers = false;         // fill OutboundResponse::headers (tracing)
};

struct OutboundResponse {
    // Unresolvable: the host name did not resolve. Invalid: the request
    // could not even be made (malformed URL) and never will be.
    enum class Outcome { Answered, ConnectFailed, Unresolvable, TimedOut, Aborted, Invalid, Failed };
    Outcome outcome = Outcome::Failed;
    long status = 0;                       // when Answered
    // Not answered, but the request was sent: the track server may have
    // received (and counted) it.
    bool maybe_received = false;
    std::string error;                     // human-readable, when not Answered
    std::string content_type;
    std::string location;                  // for redirects (optout.php?redirect=…)
    std::string body;                      // capped
    std::vector<std::string> set_cookies;  // raw Set-Cookie values
    // With keep_headers: the answer's status line and header lines, without
    // CRLF (bounded: kMaxKeptHeaders lines of at most kMaxKeptHeaderBytes).
    std::vector<std::string> headers;
};

inline constexpr std::size_t kMaxKeptHeaders = 100;
inline constexpr std::size_t kMaxKeptHeaderBytes = 8192;

class Transport {
public:
    virtual ~Transport() = default;
    virtual OutboundResponse perform(const OutboundRequest& request) = 0;
};

struct CurlTransportOptions {
    std::string user_agent = "mod_mapptrack";
    const std::atomic<bool>* abort = nullptr;   // set => in-flight transfers end now
    std::size_t max_body = 64 * 1024;
};

// One reused easy handle (keep-alive, DNS cache); use from one thread at a time.
std::unique_ptr<Transport> make_curl_transport(const CurlTransportOptions& options);

// Transports for request threads (sync mode, the relay): idle ones are kept
// so connections to the track server are reused across requests.
class TransportPool {
public:
    TransportPool(CurlTransportOptions options, std::size_t max_idle);
    TransportPool(const TransportPool&) = delete;
    TransportPool& operator=(const TransportPool&) = delete;

    class Lease {
    public:
        Lease(TransportPool* pool, std::unique_ptr<Transport> transport)
            : pool_(pool), transport_(std::move(transport)) {}
        Lease(Lease&&) = default;
        ~Lease();
        Transport& operator*() const { return *transport_; }
        Transport* operator->() const { return transport_.get(); }

    private:
        TransportPool* pool_;
        std::unique_ptr<Transport> transport_;
    };

    Lease acquire();

private:
    void give_back(std::unique_ptr<Transport> transport) noexcept;

    CurlTransportOptions options_;
    std::size_t max_idle_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<Transport>> idle_;
};

// Delivered (2xx), worth retrying (connect failure, unresolvable host,
// timeout, 408, 429, 5xx), or rejected for good (other statuses, a request
// that cannot be made).
enum class Verdict { Delivered, Retry, Rejected };
Verdict classify(const OutboundResponse& response) noexcept;

// "HTTP 503", or the transport's error text, for log messages.
std::string describe_outcome(const OutboundResponse& response);

}  // namespace mapptrack
