// Process lifecycle: libcurl set up once in the parent, the delivery
// threads started per child in child_init and drained at child exit.
#pragma once

#include "mapptrack/dispatcher.h"
#include "mapptrack/transport.h"

namespace mapptrack::httpd {

void register_lifecycle_hooks();

// This process's dispatcher, or nullptr (parent, or the threads did not start).
Dispatcher* dispatcher() noexcept;

// This process's transports for request threads (sync mode, relay), or nullptr.
TransportPool* transport_pool() noexcept;

}  // namespace mapptrack::httpd
