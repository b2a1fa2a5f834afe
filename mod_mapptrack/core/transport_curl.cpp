// The libcurl transport: one reused easy handle per delivery thread, so
// connections, DNS and TLS sessions stay warm between requests.
#include <curl/curl.h>

#include <strings.h>

#include <algorithm>
#include <cstring>

#include "mapptrack/transport.h"

namespace mapptrack {
namespace {

class CurlTransport final : public Transport {
public:
    explicit CurlTransport(const CurlTransportOptions& options)
        : options_(options), handle_(curl_easy_init()) {
        if (handle_) set_fixed_options();
    }
    ~CurlTransport() override {
        if (handle_) curl_easy_cleanup(handle_);
        curl_slist_free_all(header_list_);
    }
    CurlTransport(const CurlTransport&) = delete;
    CurlTransport& operator=(const CurlTransport&) = delete;

    OutboundResponse perform(const OutboundRequest& request) override;

private:
    void set_fixed_options();
    bool use_headers(const std::vector<std::string>& headers);

    static size_t on_body(char* data, size_t size, size_t count, void* self) noexcept;
    static size_t on_header(char* data, size_t size, size_t count, void* self) noexcept;
    static int on_progress(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) noexcept;

    CurlTransportOptions options_;
    CURL* handle_;
    OutboundResponse* current_ = nullptr;
    bool keep_headers_ = false;
    char error_[CURL_ERROR_SIZE] = {0};
    // The last request's header list, kept while the next request has the
    // same headers (a delivery thread's batches all do).
    curl_slist* header_list_ = nullptr;
};

bool header_is(std::string_view line, std::string_view name) {
    if (line.size() <= name.size() || line[name.size()] != ':') return false;
    return strncasecmp(line.data(), name.data(), name.size()) == 0;
}

std::string_view header_value(std::string_view line, std::size_t name_size) {
    std::string_view v = line.substr(name_size + 1);
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
    return v;
}

size_t CurlTransport::on_body(char* data, size_t size, size_t count, void* self) noexcept {
    auto* t = static_cast<CurlTransport*>(self);
    const size_t n = size * count;
    try {
        std::string& body = t->current_->body;
        if (body.size() < t->options_.max_body) {
            body.append(data, std::min(n, t->options_.max_body - body.size()));
        }
    } catch (...) {
        return 0;  // fails the transfer instead of throwing through libcurl
    }
    return n;
}

size_t CurlTransport::on_header(char* data, size_t size, size_t count, void* self) noexcept {
    auto* t = static_cast<CurlTransport*>(self);
    const size_t n = size * count;
    const std::string_view line(data, n);
    try {
        OutboundResponse& r = *t->current_;
        if (t->keep_headers_) {
            if (line.rfind("HTTP/", 0) == 0) r.headers.clear();
            std::string_view kept = line;
            while (!kept.empty() && (kept.back() == '\r' || kept.back() == '\n')) kept.remove_suffix(1);
            if (!kept.empty() && r.headers.size() < kMaxKeptHeaders) {
                r.headers.emplace_back(kept.substr(0, kMaxKeptHeaderBytes));
            }
        }
        if (line.rfind("HTTP/", 0) == 0) {  // a new response (after 100 Continue, say)
            r.set_cookies.clear();
            r.content_type.clear();
            r.location.clear();
        } else if (header_is(line, "Set-Cookie")) {
            r.set_cookies.emplace_back(header_value(line, 10));
        } else if (header_is(line, "Content-Type")) {
            r.content_type = std::string(header_value(line, 12));
        } else if (header_is(line, "Location")) {
            r.location = std::string(header_value(line, 8));
        }
    } catch (...) {
        return 0;
    }
    return n;
}

int CurlTransport::on_progress(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) noexcept {
    const auto* t = static_cast<CurlTransport*>(self);
    return t->options_.abort && t->options_.abort->load(std::memory_order_relaxed) ? 1 : 0;
}

// Options that are the same for every request, set once: the handle keeps
// them, and its connection and DNS caches, between requests.
void CurlTransport::set_fixed_options() {
    CURL* h = handle_;
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, options_.user_agent.c_str());
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &CurlTransport::on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &CurlTransport::on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, this);
    if (options_.abort) {
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &CurlTransport::on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, this);
    }
}

constexpr const char* kNoExpect = "Expect:";  // no 100-continue round trip

// True if `list` holds exactly `headers` and then kNoExpect.
bool same_headers(const curl_slist* list, const std::vector<std::string>& headers) {
    for (const std::string& header : headers) {
        if (!list || header != list->data) return false;
        list = list->next;
    }
    return list && std::strcmp(list->data, kNoExpect) == 0 && !list->next;
}

// Points the handle at a header list for `headers` (and kNoExpect), rebuilt
// only when they differ from the last request's.
bool CurlTransport::use_headers(const std::vector<std::string>& headers) {
    if (header_list_ && same_headers(header_list_, headers)) return true;
    curl_easy_setopt(handle_, CURLOPT_HTTPHEADER, nullptr);
    curl_slist_free_all(header_list_);
    header_list_ = nullptr;
    curl_slist* list = nullptr;
    for (const std::string& header : headers) {
        curl_slist* longer = curl_slist_append(list, header.c_str());
        if (!longer) {
            curl_slist_free_all(list);
            return false;
        }
        list = longer;
    }
    curl_slist* longer = curl_slist_append(list, kNoExpect);
    if (!longer) {
        curl_slist_free_all(list);
        return false;
    }
    header_list_ = longer;
    curl_easy_setopt(handle_, CURLOPT_HTTPHEADER, header_list_);
    return true;
}

OutboundResponse CurlTransport::perform(const OutboundRequest& request) {
    OutboundResponse response;
    if (!handle_) {
        response.error = "libcurl could not create a handle";
        return response;
    }
    CURL* h = handle_;
    error_[0] = '\0';
    if (!use_headers(request.headers)) {
        response.error = "out of memory for the request headers";
        return response;
    }
    curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout_ms));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.timeout_ms));
    // "" disables proxies from the environment (http_proxy…): only the admin's counts.
    curl_easy_setopt(h, CURLOPT_PROXY, request.proxy.c_str());
    if (request.post) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);  // also undoes a previous POST
    }

    current_ = &response;
    keep_headers_ = request.keep_headers;
    const CURLcode rc = curl_easy_perform(h);
    current_ = nullptr;

    switch (rc) {
        case CURLE_OK: {
            long status = 0;
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
            response.outcome = OutboundResponse::Outcome::Answered;
            response.status = status;
            return response;
        }
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_PROXY:
            response.outcome = OutboundResponse::Outcome::ConnectFailed;
            break;
        case CURLE_COULDNT_RESOLVE_HOST:
            response.outcome = OutboundResponse::Outcome::Unresolvable;
            break;
        case CURLE_URL_MALFORMAT:
        case CURLE_UNSUPPORTED_PROTOCOL:
            response.outcome = OutboundResponse::Outcome::Invalid;
            break;
        case CURLE_OPERATION_TIMEDOUT:
            response.outcome = OutboundResponse::Outcome::TimedOut;
            break;
        case CURLE_ABORTED_BY_CALLBACK:
            response.outcome = OutboundResponse::Outcome::Aborted;
            break;
        default:
            response.outcome = OutboundResponse::Outcome::Failed;
            break;
    }
    response.error = error_[0] ? error_ : curl_easy_strerror(rc);
    long sent = 0;  // bytes of the request written (0 when connecting failed)
    if (curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &sent) == CURLE_OK && sent > 0) {
        response.maybe_received = true;
    }
    return response;
}

}  // namespace

std::unique_ptr<Transport> make_curl_transport(const CurlTransportOptions& options) {
    return std::make_unique<CurlTransport>(options);
}

TransportPool::TransportPool(CurlTransportOptions options, std::size_t max_idle)
    : options_(std::move(options)), max_idle_(max_idle) {}

TransportPool::Lease TransportPool::acquire() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!idle_.empty()) {
            std::unique_ptr<Transport> t = std::move(idle_.back());
            idle_.pop_back();
            return Lease(this, std::move(t));
        }
    }
    return Lease(this, make_curl_transport(options_));
}

void TransportPool::give_back(std::unique_ptr<Transport> transport) noexcept {
    try {
        std::lock_guard<std::mutex> lock(mutex_);
        if (idle_.size() < max_idle_) idle_.push_back(std::move(transport));
    } catch (...) {
    }
}

TransportPool::Lease::~Lease() {
    if (pool_ && transport_) pool_->give_back(std::move(transport_));
}

Verdict classify(const OutboundResponse& response) noexcept {
    if (response.outcome == OutboundResponse::Outcome::Invalid) return Verdict::Rejected;
    if (response.outcome != OutboundResponse::Outcome::Answered) return Verdict::Retry;
    const long s = response.status;
    if (s >= 200 && s < 300) return Verdict::Delivered;
    if (s == 408 || s == 429 || s >= 500) return Verdict::Retry;
    return Verdict::Rejected;
}

std::string describe_outcome(const OutboundResponse& r) {
    if (r.outcome == OutboundResponse::Outcome::Answered) return "HTTP " + std::to_string(r.status);
    return r.error.empty() ? std::string("no answer") : r.error;
}

}  // namespace mapptrack
