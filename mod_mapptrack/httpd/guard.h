// The C/C++ boundary: no exception may cross into httpd. Every hook, filter,
// directive handler and cleanup runs its body through guarded().
#pragma once

#include <exception>
#include <utility>

namespace mapptrack::httpd {

// Runs `body`; on any exception calls `on_error(what)` and returns its result.
template <typename Body, typename OnError>
auto guarded(Body&& body, OnError&& on_error) noexcept -> decltype(body()) {
    try {
        return std::forward<Body>(body)();
    } catch (const std::exception& e) {
        return std::forward<OnError>(on_error)(e.what());
    } catch (...) {
        return std::forward<OnError>(on_error)("unknown exception");
    }
}

}  // namespace mapptrack::httpd
