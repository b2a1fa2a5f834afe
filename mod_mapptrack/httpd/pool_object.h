// C++ objects owned by an APR pool: made in its memory and destroyed by a
// pool cleanup, so their lifetime is the configuration's or the request's.
#pragma once

#include <new>
#include <utility>

#include <apr_pools.h>

namespace mapptrack::httpd {

template <typename T, typename... Args>
T* pool_new(apr_pool_t* pool, Args&&... args) {
    T* object = new (apr_palloc(pool, sizeof(T))) T(std::forward<Args>(args)...);
    apr_pool_cleanup_register(
        pool, object,
        [](void* p) -> apr_status_t {
            static_cast<T*>(p)->~T();
            return APR_SUCCESS;
        },
        apr_pool_cleanup_null);
    return object;
}

}  // namespace mapptrack::httpd
