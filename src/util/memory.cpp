// return_free_memory: purge jemalloc's arenas when it is the allocator, else trim glibc's
// (see memory.h).
#include "util/memory.h"

#include <cstddef>
#include <cstdlib>  // defines __GLIBC__ on glibc

#if defined(__GLIBC__)
#include <malloc.h>
#endif

// jemalloc's control interface, resolved only when jemalloc is linked in (the release
// binary; not the sanitizer builds), so this file needs no jemalloc header.
extern "C" int mallctl(const char* name, void* oldp, std::size_t* oldlenp, void* newp, std::size_t newlen)
    __attribute__((weak));

namespace sonic {

void return_free_memory() {
  if (mallctl) {
    // MALLCTL_ARENAS_ALL is 4096: every arena's unused dirty pages go back now rather than
    // after jemalloc's 10 s decay.
    mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0);
    return;
  }
#if defined(__GLIBC__)
  ::malloc_trim(0);
#endif
}

}  // namespace sonic
