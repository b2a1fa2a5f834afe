// Helpers the unit tests share.
#pragma once

#include <sys/mman.h>

#include <cstddef>

namespace mapptrack::test {

// Anonymous shared memory, as httpd's apr_shm gives the children: what one
// forked process writes, the others see.
struct SharedMemory {
    explicit SharedMemory(std::size_t n) : bytes(n) {
        memory = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    }
    ~SharedMemory() { munmap(memory, bytes); }
    SharedMemory(const SharedMemory&) = delete;
    SharedMemory& operator=(const SharedMemory&) = delete;
    void* memory;
    std::size_t bytes;
};

}  // namespace mapptrack::test
